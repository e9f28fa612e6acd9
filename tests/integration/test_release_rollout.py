# -*- coding: utf-8 -*-
"""Handset firmware releases against the real lab: nginx serves the files handset_release pins, six simulated
phones of five vendors (one with a bad image injected) re-sync, flash, reboot and register to Kamailio, and the
gate reads Kamailio's registrations.  A canary that passes; a wave that fails its gate and is rolled back while
the phones outside the release are never touched; kill -9 mid-wave and a rerun; a refusal outside the window;
the playbook in check mode and for real."""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import hashlib

import pytest

from ansible_collections.voipops.voip.roles.lab.files.phonesim import sim as phonesim
from ansible_collections.voipops.voip.plugins.module_utils.handsets import base

from conftest import ROOT, STATE, ansible_env, wait_for
from test_handsets import Fleet, _password

pytestmark = [pytest.mark.lab, pytest.mark.slow]

N = 6
FIRST_EXT = 7601
SUBDIR = "it-release"
ALWAYS = {"days": "mon-sun", "start": "00:00", "end": "00:00"}


def newer(version):
    parts = version.split(".")
    return ".".join(parts[:-1] + [str(int(parts[-1]) + 1)])


class ReleaseFleet(Fleet):
    """Six phones of their own (rl-00001 Yealink T54W, -2 Poly VVX450, -3 Snom D785, -4 Grandstream GRP2614,
    -5 Cisco CP-8841, -6 Yealink T46S), each pinned to the image it runs; a newer image for every family."""

    def __init__(self, lab, ansible, tmp):
        Fleet.__init__(self, lab, ansible, tmp)
        self.root = os.path.join(lab["provisioning"]["root"], SUBDIR)
        self.url = lab["provisioning"]["url"] + SUBDIR + "/"
        self.phones = phonesim.make_fleet(N, first_extension=FIRST_EXT, prefix="rl")
        self.users = [{"extension": str(FIRST_EXT + i), "display_name": "Release %d" % i, "sip_password": _password()}
                      for i in range(N)]
        self.by_name = dict((p["name"], p) for p in self.phones)
        self.users_file = os.path.join(tmp, "users.json")
        with open(self.users_file, "w") as handle:
            json.dump({"users": self.users}, handle)
        self.handsets_file = os.path.join(tmp, "handsets.json")
        with open(self.handsets_file, "w") as handle:
            json.dump({"handsets": self.estate}, handle)
        self.record_dir = os.path.join(tmp, "releases")

    @property
    def estate(self):
        return [{"name": p["name"], "mac": p["mac"], "vendor": p["vendor"], "model": p["model"], "user": p["user"],
                 "site": "ams", "firmware": p["running_firmware"]} for p in self.phones]

    def family(self, name):
        p = self.by_name[name]
        return base.get_profile(p["vendor"]).family(p["model"])

    def write_images(self):
        for p in self.phones:
            profile = base.get_profile(p["vendor"])
            fam = profile.family(p["model"])
            for version in (p["running_firmware"], newer(p["running_firmware"])):
                path = os.path.join(self.root, "firmware", p["vendor"], profile.firmware_path(fam, version))
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as handle:
                    handle.write(hashlib.sha256(path.encode()).digest() * 512)

    def provision_args(self, **extra):
        args = {"root": self.root, "provisioning_url": self.url, "registrar": "127.0.0.1",
                "registrar_port": self.lab["callserver"]["sip_port"], "expires": 60, "timezone": "Europe/Amsterdam",
                "firmware": "none", "handsets": self.estate, "users_file": self.users_file}
        args.update(extra)
        return args

    def release(self, rid, names, canary=1, then=("100%",), timeout="15s", window=None):
        targets, seen = [], set()
        for n in names:
            p = self.by_name[n]
            key = (p["vendor"], self.family(n))
            if key not in seen:
                seen.add(key)
                targets.append({"vendor": key[0], "family": key[1], "version": newer(p["running_firmware"])})
        doc = {"id": rid, "kind": "handset_firmware", "targets": targets, "scope": {"handsets": list(names)},
               "waves": {"canary": canary, "then": list(then)}, "window": window or ALWAYS,
               "gate": {"registered": "100%", "timeout": timeout, "unregistered_rise": 0}}
        path = os.path.join(self.tmp, "%s.yml" % rid)
        with open(path, "w") as handle:
            json.dump(doc, handle)       # JSON is YAML
        return path

    def release_args(self, path, **extra):
        args = dict(self.provision_args(), release_file=path, record_dir=self.record_dir,
                    rpc_url=self.rpc_url, poll_interval=0.3, max_waves=0)
        args.pop("handsets")
        args["handsets_file"] = self.handsets_file
        args.update(extra)
        return args

    def record(self, rid):
        with open(os.path.join(self.record_dir, "%s.json" % rid)) as handle:
            return json.load(handle)

    def phones_now(self):
        return dict((p["name"], p) for p in self.status()["phones"])

    def wait_on(self, name, firmware, timeout=30):
        """The simulator's status file (written about once a second) shows the phone registered on ``firmware``."""
        return wait_for(lambda: (self.phones_now()[name]["firmware"] == firmware
                                 and self.phones_now()[name]["state"] == "registered" and self.phones_now()),
                        timeout, what="%s registered on %s" % (name, firmware))


@pytest.fixture(scope="module")
def rfleet(lab, ansible, tmp_path_factory):
    f = ReleaseFleet(lab, ansible, str(tmp_path_factory.mktemp("release")))
    shutil.rmtree(f.root, ignore_errors=True)
    f.add_subscribers()
    f.write_images()
    out = ansible.module("handset_provision", f.provision_args())
    assert out.get("changed") and not out.get("failed"), out
    cisco = f.by_name["rl-00005"]
    f.start(failures=[{"vendor": "cisco", "firmware": newer(cisco["running_firmware"]), "mode": "bad_image"}])
    try:
        f.wait_registered(N)
        yield f
    finally:
        f.stop()
        with sqlite3.connect(lab["callserver"]["db_path"], timeout=10) as db:
            db.execute("DELETE FROM subscriber WHERE CAST(username AS INTEGER) BETWEEN ? AND ?",
                       (FIRST_EXT, FIRST_EXT + N - 1))
        shutil.rmtree(f.root, ignore_errors=True)


def _files(root):
    out = {}
    for dirpath, _d, names in os.walk(root):
        if "/firmware" in dirpath:
            continue
        for n in names:
            full = os.path.join(dirpath, n)
            with open(full, "rb") as handle:
                out[os.path.relpath(full, root)] = handle.read()
    return out


def test_canary_passes_then_a_wave_fails_its_gate_and_is_rolled_back(rfleet, ansible):
    yealink, cisco, t46s = "rl-00001", "rl-00005", "rl-00006"
    outside = ["rl-00002", "rl-00003", "rl-00004"]
    path = rfleet.release("it-canary", [yealink, t46s, cisco], timeout="8s")
    before_files = _files(rfleet.root)

    plan = ansible.module("handset_release", rfleet.release_args(path), check=True, diff=True)
    assert not plan["failed"], plan
    assert plan["verdict"] == "planned" and plan["changed"] and plan["next_wave"] == 1
    assert [w["names"] for w in plan["waves"]] == [[yealink], [t46s, cisco]]
    first = rfleet.by_name[yealink]["running_firmware"]
    assert plan["moves"] == [{"name": yealink, "from": first, "to": newer(first)}]
    assert not os.path.exists(os.path.join(rfleet.record_dir, "it-canary.json"))
    assert _files(rfleet.root) == before_files

    canary = ansible.module("handset_release", rfleet.release_args(path, max_waves=1))
    assert not canary["failed"], canary
    assert canary["verdict"] == "passed" and canary["waves_run"] == [1] and canary["gate"]["share"] == 1.0
    assert canary["targets"][yealink]["after"] == newer(first) and canary["status"] == "in_progress"
    assert rfleet.wait_on(yealink, newer(first))[t46s]["firmware"] == rfleet.by_name[t46s]["running_firmware"]   # not its wave yet

    wave = ansible.module("handset_release", rfleet.release_args(path))
    assert not wave["failed"], wave
    assert wave["verdict"] == "failed" and wave["status"] == "halted" and wave["waves_run"] == [2]
    assert wave["gate"]["passed"] is False and wave["gate"]["share"] == 0.5
    assert wave["failed_targets"] == {cisco: {"outcome": "image_refused", "before": "11.3.7", "after": "11.3.7",
                                      "to": "11.3.8"}}
    rec = rfleet.record("it-canary")
    assert rec["status"] == "halted" and [w["state"] for w in rec["waves"]] == ["done", "rolled_back"]
    assert rec["targets"][t46s]["state"] == "rolled_back" and rec["targets"][t46s]["outcome"] == "on_target"
    assert rec["targets"][yealink]["state"] == "done"
    # the wave's T46S had reached the new image; its file points at the previous one again and it goes back
    old = rfleet.by_name[t46s]["running_firmware"]
    phones = rfleet.wait_on(t46s, old)
    assert phones[cisco]["upgrades"][-1]["result"] == "rejected" and phones[cisco]["firmware"] == "11.3.7"
    assert phones[yealink]["firmware"] == newer(first)          # the passed canary keeps the release
    for name in outside:                                          # never notified, never moved
        assert phones[name]["events"] == [] and phones[name]["firmware"] == rfleet.by_name[name]["running_firmware"]
    page = open(os.path.join(rfleet.record_dir, "it-canary.md")).read()
    assert "Status: **halted**" in page and "image_refused" in page

    again = ansible.module("handset_release", rfleet.release_args(path))
    assert not again["failed"] and again["changed"] is False and again["verdict"] == "halted"


def test_killed_mid_wave_a_rerun_reaches_the_same_end_state(rfleet, ansible):
    names = ["rl-00002", "rl-00003", "rl-00004"]
    path = rfleet.release("it-kill", names, timeout="20s")
    args = rfleet.release_args(path)
    # the module itself, run directly (as Ansible runs it on the target), so that kill -9 hits the process doing
    # the work (Ansible's local connection puts its module process in a session of its own)
    argfile = os.path.join(rfleet.tmp, "kill-args.json")
    with open(argfile, "w") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, handle)
    env = ansible_env({"PYTHONPATH": os.path.join(STATE, "collections")})
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "plugins/modules/handset_release.py"), argfile],
                            cwd=rfleet.tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        def started():
            try:
                rec = rfleet.record("it-kill")
            except (IOError, ValueError):
                return None
            return rec["waves"] and rec["waves"][0]["state"] == "in_progress" and rec
        wait_for(started, 60, interval=0.05, what="the first wave to start")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
    killed = rfleet.record("it-kill")
    assert killed["status"] == "in_progress" and killed["waves"][0]["state"] == "in_progress"

    out = ansible.module("handset_release", args)
    assert not out["failed"], out
    assert out["status"] == "done" and out["verdict"] == "passed"
    rec = rfleet.record("it-kill")
    assert [w["state"] for w in rec["waves"]] == ["done", "done"]
    for name in names:
        target = newer(rfleet.by_name[name]["running_firmware"])
        phones = rfleet.wait_on(name, target)
        assert rec["targets"][name]["state"] == "done" and rec["targets"][name]["after"] == target
        assert phones[name]["firmware"] == target and phones[name]["state"] == "registered"
        assert len([u for u in phones[name]["upgrades"] if u["result"] == "ok"]) == 1     # flashed once
    assert rec["targets"]["rl-00002"]["before"] == rfleet.by_name["rl-00002"]["running_firmware"]
    again = ansible.module("handset_release", args)
    assert not again["failed"] and again["changed"] is False and again["status"] == "done"


def test_outside_the_window_the_release_is_refused_unless_forced(rfleet, ansible):
    path = rfleet.release("it-window", ["rl-00001"], window={"days": "mon-fri", "start": "22:00", "end": "05:00"})
    # Monday 2026-12-07 12:00 UTC = 13:00 in Amsterdam (the handsets' site has no estate here: UTC)
    out = ansible.module("handset_release", rfleet.release_args(path, now="2026-12-07T12:00:00Z"))
    assert out["failed"] and out["verdict"] == "refused"
    assert "Mon 2026-12-07 12:00 UTC is outside the maintenance window (mon,tue,wed,thu,fri 22:00-05:00" in out["msg"]
    assert not os.path.exists(os.path.join(rfleet.record_dir, "it-window.json"))
    plan = ansible.module("handset_release", rfleet.release_args(path, now="2026-12-07T12:00:00Z"), check=True)
    assert plan["window"]["open"] is False and plan["verdict"] == "planned"
    inside = ansible.module("handset_release", rfleet.release_args(path, now="2026-12-07T23:30:00Z"), check=True)
    assert inside["window"] == {"open": True, "detail": None}
    # the canary's T54W is already on this image: forcing runs a wave that has nothing to move, and the gate passes
    forced = ansible.module("handset_release", rfleet.release_args(path, now="2026-12-07T12:00:00Z", force=True))
    assert not forced["failed"] and forced["status"] == "done", forced
    assert any("forced outside the window" in e["what"] for e in rfleet.record("it-window")["events"])


def test_the_playbook_previews_with_check_then_rolls_out(rfleet, ansible):
    name = "rl-00006"            # rolled back above: back on its first image
    path = rfleet.release("it-playbook", [name])
    extra = {"release_file": path, "release_rollout_record_dir": rfleet.record_dir,
             "release_rollout_handsets_file": rfleet.handsets_file, "release_rollout_users_file": rfleet.users_file,
             "release_rollout_rpc_url": rfleet.rpc_url, "release_rollout_poll_interval": 0.3,
             "release_rollout_provisioning": dict((k, v) for k, v in rfleet.provision_args().items()
                                                  if k not in ("handsets", "users_file"))}
    rc, out, recap = ansible.playbook("playbooks/release_rollout.yml", extra_vars=extra, check=True, diff=True)
    assert rc == 0, out[-4000:]
    assert "%s: %s" % (name, newer(rfleet.by_name[name]["running_firmware"])) in out      # the diff: from/to
    assert not os.path.exists(os.path.join(rfleet.record_dir, "it-playbook.json"))
    rc, out, recap = ansible.playbook("playbooks/release_rollout.yml", extra_vars=extra)
    assert rc == 0 and recap["localhost"]["changed"] >= 1, out[-4000:]
    assert rfleet.record("it-playbook")["status"] == "done"
    rfleet.wait_on(name, newer(rfleet.by_name[name]["running_firmware"]))
    rc, out, recap = ansible.playbook("playbooks/release_rollout.yml", extra_vars=extra)
    assert rc == 0 and recap["localhost"]["changed"] == 0, out[-4000:]
    # a halted release fails the play, naming the phone and how it failed
    bad = dict(extra, release_file=rfleet.release("it-canary", ["rl-00001", "rl-00006", "rl-00005"], timeout="8s"))
    rc, out, recap = ansible.playbook("playbooks/release_rollout.yml", extra_vars=bad)
    assert rc != 0 and "rl-00005" in out and "image_refused" in out
