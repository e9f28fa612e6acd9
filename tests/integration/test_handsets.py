# -*- coding: utf-8 -*-
"""Handsets against the real lab: nginx serves what handset_provision writes, 50 simulated phones of five
vendors fetch it, register to Kamailio with digest auth, and obey handset_resync's NOTIFY."""
import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import string
import subprocess
import sys

import pytest

from ansible_collections.voipops.voip.plugins.module_utils import sip
from ansible_collections.voipops.voip.roles.lab.files.phonesim import sim as phonesim, vendors
from ansible_collections.voipops.voip.plugins.module_utils.handsets import registrations

from conftest import ROOT, wait_for

pytestmark = [pytest.mark.lab, pytest.mark.slow]

N = 50
FIRST_EXT = 7001
GHOST_EXT = FIRST_EXT + N          # provisioned, never plugged in
STRAY_EXT = FIRST_EXT + N + 1      # a softphone nobody put in the estate
SUBDIR = "it-handsets"


def _password():
    rng = random.SystemRandom()
    return "".join(rng.choice(string.ascii_letters + string.digits) for _i in range(20))


class Fleet(object):
    def __init__(self, lab, ansible, tmp):
        self.lab = lab
        self.ansible = ansible
        self.tmp = tmp
        self.root = os.path.join(lab["provisioning"]["root"], SUBDIR)
        self.url = lab["provisioning"]["url"] + SUBDIR + "/"
        self.access_log = lab["provisioning"]["access_log"]
        self.rpc_url = lab["callserver"]["rpc_url"]
        self.phones = phonesim.make_fleet(N, first_extension=FIRST_EXT, prefix="it")
        self.ghost = {"name": "it-ghost", "mac": "80:5e:c0:ff:00:01", "vendor": "yealink", "model": "T46S",
                      "user": str(GHOST_EXT)}
        self.users = [{"extension": str(ext), "display_name": "Tester %d" % ext, "sip_password": _password()}
                      for ext in range(FIRST_EXT, STRAY_EXT + 1)]
        self.state_dir = os.path.join(tmp, "phonesim")
        self.proc = None

    @property
    def estate(self):
        keys = ("name", "mac", "vendor", "model", "user")
        return [dict((k, p[k]) for k in keys) for p in self.phones] + [self.ghost]

    def provision_args(self, **extra):
        args = {"root": self.root, "provisioning_url": self.url, "registrar": "127.0.0.1",
                "registrar_port": self.lab["callserver"]["sip_port"], "expires": 60, "timezone": "Europe/Amsterdam",
                "language": "nl", "handsets": self.estate, "users": self.users[:-1]}
        args.update(extra)
        return args

    # -- callserver accounts (the lab's real Kamailio reads the subscriber table on every REGISTER)
    def add_subscribers(self):
        realm = self.lab["domain"]
        with sqlite3.connect(self.lab["callserver"]["db_path"], timeout=10) as db:
            for u in self.users:
                ha1 = hashlib.md5(("%s:%s:%s" % (u["extension"], realm, u["sip_password"])).encode()).hexdigest()
                db.execute("INSERT OR REPLACE INTO subscriber (username, domain, password, ha1, ha1b) VALUES (?,?,?,?,?)",
                           (u["extension"], realm, "", ha1, ""))

    def remove_subscribers(self):
        with sqlite3.connect(self.lab["callserver"]["db_path"], timeout=10) as db:
            db.execute("DELETE FROM subscriber WHERE CAST(username AS INTEGER) BETWEEN ? AND ?", (FIRST_EXT, STRAY_EXT))

    # -- the simulated phones
    def start(self, failures=()):
        os.makedirs(self.state_dir, exist_ok=True)
        cfg = os.path.join(self.tmp, "fleet.yml")
        with open(cfg, "w") as handle:
            json.dump({"provisioning_url": self.url, "handsets": self.phones, "failures": list(failures),
                       "reboot_delay": 0.5, "retry": 2.0}, handle)
        log = open(os.path.join(self.tmp, "phonesim.log"), "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "tools.phonesim", "--config", cfg, "--state-dir", self.state_dir],
                                     cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)

    def status(self):
        try:
            with open(os.path.join(self.state_dir, "status.json")) as handle:
                return json.load(handle)
        except (IOError, ValueError):
            return None

    def phone(self, name):
        return next(p for p in self.status()["phones"] if p["name"] == name)

    def wait_registered(self, count=N, timeout=60):
        def ok():
            st = self.status()
            return st and st["states"].get("registered", 0) >= count and st
        return wait_for(ok, timeout, what="%d simulated phones registered" % count)

    def access_lines(self):
        with open(self.access_log) as handle:
            return handle.readlines()


@pytest.fixture(scope="module")
def fleet(lab, ansible, tmp_path_factory):
    f = Fleet(lab, ansible, str(tmp_path_factory.mktemp("handsets")))
    shutil.rmtree(f.root, ignore_errors=True)
    f.add_subscribers()
    out = ansible.module("handset_provision", f.provision_args())
    assert out.get("changed") and not out.get("failed"), out
    f.start(failures=[{"vendor": "cisco", "firmware": "11.3.9", "mode": "bad_image"},
                      {"vendor": "poly", "model": "Edge E450", "firmware": "8.1.0.100", "mode": "bricked"}])
    try:
        f.wait_registered()
        yield f
    finally:
        f.stop()
        f.remove_subscribers()
        shutil.rmtree(f.root, ignore_errors=True)


def test_fifty_provisioned_phones_register_and_handset_info_knows_them(fleet, ansible):
    st = fleet.wait_registered()
    assert st["states"] == {"registered": N}
    lines = "".join(fleet.access_lines())
    for p in fleet.phones:    # every phone fetched its vendor's file names with its vendor's HTTP User-Agent
        for name in vendors.boot_requests(p["vendor"], p["mac"], p["model"]):
            ua = vendors.user_agent(p["vendor"], p["model"], p["running_firmware"], registrations.normalize_mac(p["mac"]), kind="http")
            assert '"GET /%s/%s HTTP/1.1" 200' % (SUBDIR, name) in lines and ua in lines

    # A softphone registering with an account the estate does not bind to any handset.
    stray = next(u for u in fleet.users if u["extension"] == str(STRAY_EXT))

    async def register_stray():
        ep = await sip.SipEndpoint.create("127.0.0.1", 0, user_agent="Linphone/5.2.0 (belle-sip/5.2.0)")
        try:
            registrar = "127.0.0.1:%d" % fleet.lab["callserver"]["sip_port"]
            resp = await ep.register(registrar, stray["extension"], registrar, stray["sip_password"], expires=60)
            assert resp.code == 200
            info = ansible.module("handset_info", {"rpc_url": fleet.rpc_url, "handsets": fleet.estate})
            await ep.register(registrar, stray["extension"], registrar, stray["sip_password"], expires=0)
            return info
        finally:
            ep.close()

    info = sip.run_sync(register_stray())
    assert not info["changed"] and not info.get("failed"), info
    by_name = dict((h["name"], h) for h in info["handsets"])
    for p in fleet.phones:
        h = by_name[p["name"]]
        assert h["registered"], h
        assert (h["vendor"], h["model"], h["firmware"]) == (p["vendor"], p["model"], p["running_firmware"])
        assert h["address"].startswith("127.0.0.1:") and h["registered_for_s"] is not None
    assert info["unregistered"] == ["it-ghost"]
    strays = [u for u in info["unknown"] if u["user"] == str(STRAY_EXT)]
    assert len(strays) == 1 and strays[0]["vendor"] is None and "Linphone" in strays[0]["user_agent"]
    assert info["summary"]["registered"] == N


def test_display_name_change_reaches_the_phone(fleet, ansible):
    target = fleet.phones[2]                       # a Snom D785
    user = next(u for u in fleet.users if u["extension"] == target["user"])
    user["display_name"] = "Renamed Tester"
    diff = ansible.module("handset_provision", fleet.provision_args(), check=True, diff=True)
    assert diff["changed"] and diff["changed_handsets"] == [target["name"]]
    assert user["sip_password"] not in json.dumps(diff)
    out = ansible.module("handset_provision", fleet.provision_args())
    assert out["changed"] and out["changed_handsets"] == [target["name"]]
    assert ansible.module("handset_provision", fleet.provision_args())["changed"] is False

    before = fleet.phone(target["name"])
    mark = len(fleet.access_lines())
    res = ansible.module("handset_resync", {"rpc_url": fleet.rpc_url, "handsets": fleet.estate,
                                            "names": out["changed_handsets"]})
    assert res["summary"]["ok"] == 1 and res["results"][0]["event"] == "check-sync;reboot=false", res
    wait_for(lambda: fleet.phone(target["name"])["registrations"] > before["registrations"], 20,
             what="the phone to re-register")
    after = fleet.phone(target["name"])
    assert after["display_name"] == "Renamed Tester" and after["state"] == "registered"
    fetched = [l for l in fleet.access_lines()[mark:] if "/%s/" % SUBDIR in l]
    mac = registrations.mac_hex(registrations.normalize_mac(target["mac"]), upper=True)
    assert any("GET /%s/%s.xml HTTP/1.1\" 200" % (SUBDIR, mac) in l for l in fetched), fetched
    assert all(mac in l for l in fetched), "only the notified phone re-fetched"


def test_each_vendor_receives_its_own_notify_event(fleet, ansible):
    res = ansible.module("handset_resync", {"rpc_url": fleet.rpc_url, "handsets": fleet.estate, "concurrency": 50})
    assert res["summary"] == {"targets": N, "ok": N, "failed": 0, "not_notified": 1}, res["summary"]
    assert res["not_notified"] == [{"name": "it-ghost", "reason": "not registered and no address given"}]
    expected = {"yealink": "check-sync", "poly": "check-sync", "snom": "check-sync;reboot=false",
                "grandstream": "check-sync", "cisco": "resync"}
    for r in res["results"]:
        assert r["event"] == expected[r["vendor"]] and r["code"] == 200
    wait_for(lambda: all(p["events"] and p["events"][-1] == expected[p["vendor"]] for p in fleet.status()["phones"]),
             10, what="every phone to have received its vendor's event")


def test_resync_from_a_handsets_file_with_a_summary(fleet, ansible, tmp_path):
    # the estate as a file (as handset_provision reads it) instead of a module argument, and counts instead of records
    hfile = tmp_path / "handsets.json"
    hfile.write_text(json.dumps({"handsets": fleet.estate}))
    res = ansible.module("handset_resync", {"rpc_url": fleet.rpc_url, "handsets_file": str(hfile),
                                            "details": "summary", "concurrency": 50})
    assert not res["failed"] and "results" not in res, res
    assert res["summary"] == {"targets": N, "ok": N, "failed": 0, "not_notified": 1}, res["summary"]
    assert res["outcomes"] == {"ok": N} and res["failures"] == []
    assert res["not_notified"] == [{"name": "it-ghost", "reason": "not registered and no address given"}]


def test_bad_input_is_rejected_and_nothing_written(fleet, ansible):
    def snapshot():
        out = {}
        for dirpath, _d, names in os.walk(fleet.root):
            for n in names:
                full = os.path.join(dirpath, n)
                out[full] = os.stat(full).st_mtime_ns
        return out

    before = snapshot()
    args = fleet.provision_args()
    args["handsets"] = [dict(h) for h in args["handsets"]]
    args["handsets"][0]["mac"] = "80:5e:c0:zz:00:00"
    args["handsets"][1]["model"] = "VVX9999"
    args["handsets"][2]["user"] = "6999"
    out = ansible.module("handset_provision", args)
    assert out["failed"] and len(out["errors"]) == 3
    assert "not a MAC" in out["msg"] and "unknown Poly model 'VVX9999'" in out["msg"] and "user '6999' does not exist" in out["msg"]
    assert snapshot() == before


def test_firmware_rollout_with_bad_image_and_bricked_phone(fleet, ansible):
    fw = os.path.join(fleet.root, "firmware")
    images = {
        ("yealink", "T54W(T57W,T53W,T53,T53C,T54,T57)-96.86.0.120.rom"): b"Y" * 70000,
        ("cisco", "sip78xx.11-3-9MPP.loads"): b"C" * 50000,
        ("cisco", "sip88xx.11-3-9MPP.loads"): b"D" * 50000,
        ("poly", "8.1.0.100/EdgeE.sip.ld"): b"E" * 60000,
    }
    for (vendor, rel), data in images.items():
        path = os.path.join(fw, vendor, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)
    out = ansible.module("handset_provision", fleet.provision_args())
    assert out["changed"]
    changed = set(out["changed_handsets"])
    t54w = [p["name"] for p in fleet.phones if p["model"] == "T54W"]
    cisco = [p["name"] for p in fleet.phones if p["vendor"] == "cisco"]
    edge = [p["name"] for p in fleet.phones if p["model"] == "Edge E450"]
    assert set(t54w + cisco + edge) <= changed
    res = ansible.module("handset_resync", {"rpc_url": fleet.rpc_url, "handsets": fleet.estate,
                                            "names": sorted(changed)})
    assert res["summary"]["ok"] == len(changed), res

    def settled():
        st = fleet.status()
        phones = dict((p["name"], p) for p in st["phones"])
        return (all(phones[n]["firmware"] == "96.86.0.120" and phones[n]["state"] == "registered" for n in t54w)
                and all(phones[n]["state"] == "bricked" for n in edge)
                and all(phones[n]["upgrades"] and phones[n]["upgrades"][-1]["result"] == "rejected" for n in cisco)
                and phones)
    phones = wait_for(settled, 30, what="the rollout to settle")
    for n in cisco:          # bad image: checksum fails, stays on the old version and registered
        assert phones[n]["firmware"] == "11.3.7" and phones[n]["state"] == "registered"
        assert phones[n]["upgrades"][-1]["reason"] == "size/sha256 mismatch"
    info = ansible.module("handset_info", {"rpc_url": fleet.rpc_url, "handsets": fleet.estate})
    by_name = dict((h["name"], h) for h in info["handsets"])
    assert all(by_name[n]["firmware"] == "96.86.0.120" for n in t54w)
    assert sorted(info["unregistered"]) == sorted(edge + ["it-ghost"]), (
        [by_name[n] for n in edge], [phones[n] for n in edge])
