# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""gateway_firmware against the lab: the lab's gateways (in the real Kamailio's dispatcher set 1), each one
roles/lab/files/gwsim process (AudioCodes REST API 7.40 and a SIP side that counts its calls): an upgrade that waits for a call on
the drained gateway, a busy (409) gateway retried, a refused image and a load that does not boot (stopped, that
gateway left drained and named, the others untouched or on the new version)."""
from __future__ import absolute_import, division, print_function

import json
import os
import re
import shutil
import signal
import subprocess
import threading

import pytest
import requests

from tests.integration.conftest import ROOT, wait_for
from tests.support.net import free_udp_port
from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio import KamailioRPC

pytestmark = pytest.mark.lab

OLD, NEW = "7.40A.100.001", "7.40A.250.001"


class Sim(object):
    """The simulator control of one lab gateway (roles/lab/files/gwsim: REST API and SIP side in one process)."""

    def __init__(self, url):
        self.base = url

    def control(self, **ctl):
        requests.post(self.base + "/control", json=ctl, timeout=5).raise_for_status()

    def state(self):
        return requests.get(self.base + "/state", timeout=5).json()


@pytest.fixture
def gws(lab):
    """The lab's two gateways, on the old version and in service; put back after the test."""
    out, mgmt = [], lab["gateway_management"]
    for gw in lab["gateways"]:
        api = mgmt["gateways"][gw["name"]]
        sim = Sim(api["sim_url"])
        wait_for(lambda sim=sim: (_answers(sim) or {"resetting": True})["resetting"] is False, 30,
                 what="the gateway simulator of %s" % gw["name"])
        sim.control(version=OLD, busy=0, active_calls=0, reset_seconds=1, clear=True)
        out.append(dict(name=gw["name"], api_url=api["api_url"], sip_uri=gw["sip_uri"], snmp=gw["snmp"], sim=sim,
                        password=mgmt["password"]))
    rpc = KamailioRPC(lab["callserver"]["rpc_url"])
    try:
        yield out
    finally:
        for gw in out:
            wait_for(lambda gw=gw: (_answers(gw["sim"]) or {"resetting": True})["resetting"] is False, 30,
                     what="the gateway simulator of %s" % gw["name"])
            gw["sim"].control(version=OLD, busy=0, active_calls=0)
            rpc.call("dispatcher.set_state", "ap", 1, gw["sip_uri"])


def _answers(sim):
    try:
        return sim.state()
    except requests.exceptions.RequestException:
        return None


def image(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def args(lab, gws, img, **extra):
    out = dict(rpc_url=lab["callserver"]["rpc_url"], image=img, version=NEW, username="admin",
               password=gws[0]["password"],
               gateways=[dict((k, v) for k, v in g.items() if k not in ("sim", "password")) for g in gws],
               drain_timeout=60, busy_delay=0.2, poll_interval=0.1, gate_timeout=30, boot_timeout=30)
    out.update(extra)
    return out


def state_of(lab, gw):
    return next(g["state"] for g in KamailioRPC(lab["callserver"]["rpc_url"]).dispatcher() if g["uri"] == gw["sip_uri"])


def test_upgrade_waits_for_the_call_on_the_drained_gateway(ansible, lab, gws, tmp_path):
    img = image(tmp_path, "new.cmp", "AUDIOCODES-CMP %s\n" % NEW)
    checked = ansible.module("gateway_firmware", args(lab, gws, img), check=True)
    assert not checked["failed"], checked["msg"]
    assert checked["changed"] and [g["status"] for g in checked["gateways"]] == ["would upgrade"] * 2
    assert [g["sim"].state()["uploads"] for g in gws] == [[], []]

    first = gws[0]
    first["sim"].control(active_calls=1)
    box = {}
    runner = threading.Thread(target=lambda: box.update(res=ansible.module("gateway_firmware", args(lab, gws, img))))
    runner.start()
    # the gateway is drained and its graceful reset waits for the call: no reset, no upload, no new calls
    waiting = wait_for(lambda: first["sim"].state()["pending_reset"], 60, what="the graceful reset to wait")
    assert waiting.startswith("waiting for 1 call")
    assert state_of(lab, first) == "disabled"
    assert first["sim"].state()["resets"] == 0 and first["sim"].state()["uploads"] == []
    first["sim"].control(active_calls=0)
    runner.join(120)
    res = box["res"]
    assert not res["failed"], res["msg"]
    assert res["record"] is None  # no record without a release id
    assert res["changed"] and [(g["name"], g["status"], g["after"]) for g in res["gateways"]] == \
        [(g["name"], "upgraded", NEW) for g in gws]
    assert all(g["gate"]["passed"] and not g["drained"] for g in res["gateways"])
    # the gate read each gateway's SNMP sysDescr (its snmpsim agent) and saw the new version there
    assert all(g["gate"]["snmp"]["passed"] and g["gate"]["snmp"]["sys_descr"].endswith("SW Version: %s" % NEW)
               for g in res["gateways"])
    assert [g["sim"].state()["version"] for g in gws] == [NEW, NEW]
    assert set(state_of(lab, g) for g in gws) == {"active"}
    assert gws[0]["password"] not in json.dumps(res)
    assert gws[0]["snmp"]["community"] not in json.dumps(res)

    again = ansible.module("gateway_firmware", args(lab, gws, img))
    assert not again["failed"] and not again["changed"]
    assert [g["status"] for g in again["gateways"]] == ["current", "current"]


def test_busy_gateway_is_retried(ansible, lab, gws, tmp_path):
    img = image(tmp_path, "new.cmp", "AUDIOCODES-CMP %s\n" % NEW)
    gws[1]["sim"].control(busy=3)
    res = ansible.module("gateway_firmware", args(lab, gws, img, drain_timeout=0))
    assert not res["failed"], res["msg"]
    second = res["gateways"][1]
    assert second["status"] == "upgraded" and sum("busy" in s for s in second["steps"]) == 3
    assert gws[1]["sim"].state()["uploads"] == [NEW]


def test_refused_image_stops_with_the_gateway_drained_and_named(ansible, lab, gws, tmp_path):
    img = image(tmp_path, "bad.cmp", "not a software load\n")
    res = ansible.module("gateway_firmware", args(lab, gws, img, drain_timeout=0))
    assert res["failed"] and res["failed_gateway"] == gws[0]["name"]
    assert "refused the image" in res["msg"] and "Provided software load is incorrect" in res["msg"]
    assert [g["status"] for g in res["gateways"]] == ["failed", "not started"]
    assert res["gateways"][0]["drained"] and state_of(lab, gws[0]) == "disabled"
    assert state_of(lab, gws[1]) == "active"
    assert [g["sim"].state()["version"] for g in gws] == [OLD, OLD]


def test_load_that_does_not_boot_on_the_second_gateway(ansible, lab, gws, tmp_path):
    good = image(tmp_path, "new.cmp", "AUDIOCODES-CMP %s\n" % NEW)
    noboot = image(tmp_path, "noboot.cmp", "AUDIOCODES-CMP %s\nNOBOOT\n" % NEW)
    # the first gateway gets the good load, then the same version's broken load goes to the second
    first = ansible.module("gateway_firmware", args(lab, gws[:1], good, drain_timeout=0))
    assert not first["failed"], first["msg"]
    res = ansible.module("gateway_firmware", args(lab, gws, noboot, drain_timeout=0))
    assert res["failed"] and res["failed_gateway"] == gws[1]["name"]
    assert [g["status"] for g in res["gateways"]] == ["current", "failed"]
    assert "came back on version %s" % OLD in res["msg"]
    assert gws[0]["sim"].state()["version"] == NEW and gws[1]["sim"].state()["version"] == OLD
    assert state_of(lab, gws[0]) == "active" and state_of(lab, gws[1]) == "disabled"


def test_gate_failure_on_the_new_load_rolls_back_to_the_previous_image(ansible, lab, gws, tmp_path):
    new = image(tmp_path, "new.cmp", "AUDIOCODES-CMP %s\n" % NEW)
    old = image(tmp_path, "old.cmp", "AUDIOCODES-CMP %s\n" % OLD)
    # the gateway's SIP side does not answer after the upgrade: its OPTIONS go to a port where nothing listens,
    # while its dispatcher entry is the lab's
    gw = dict(gws[0], dispatcher_uri=gws[0]["sip_uri"], sip_uri="sip:127.0.0.1:%d" % free_udp_port())
    res = ansible.module("gateway_firmware", args(lab, [gw, gws[1]], new, drain_timeout=0, gate_timeout=2,
                                                  rollback_image=old))
    assert res["failed"] and res["failed_gateway"] == gw["name"]
    first = res["gateways"][0]
    assert first["status"] == "rolled back" and first["rolled_back"] and first["drained"]
    assert dict((k, first["gate"][k]) for k in ("passed", "options", "dispatcher")) == {
        "passed": False, "options": False, "dispatcher": "active"}
    assert first["gate"]["snmp"]["passed"]  # the version was right in sysDescr; OPTIONS failed the gate
    assert first["after"] == OLD and gws[0]["sim"].state()["uploads"] == [NEW, OLD]
    assert gws[0]["sim"].state()["version"] == OLD and state_of(lab, gws[0]) == "disabled"
    assert [g["status"] for g in res["gateways"]][1:] == ["not started"] and gws[1]["sim"].state()["uploads"] == []


def test_gateway_whose_sysdescr_does_not_show_the_version_is_named_and_left_drained(ansible, lab, gws, tmp_path):
    """The status API says the new version, but the gateway's SNMP agent still describes the old one (here: its snmp
    settings lead to the other gateway's agent, which stays on the old load): the gate fails before the gateway
    returns to service; it stays drained and named, the next gateway is not touched."""
    img = image(tmp_path, "new.cmp", "AUDIOCODES-CMP %s\n" % NEW)
    gw = dict(gws[0], snmp=gws[1]["snmp"])
    res = ansible.module("gateway_firmware", args(lab, [gw, gws[1]], img, drain_timeout=0, gate_timeout=2))
    assert res["failed"] and res["failed_gateway"] == gw["name"]
    first = res["gateways"][0]
    assert (first["status"], first["after"], first["drained"]) == ("failed", NEW, True)
    snmp_gate = first["gate"]["snmp"]
    assert not first["gate"]["passed"] and not snmp_gate["passed"]
    assert snmp_gate["sys_descr"].endswith("SW Version: %s" % OLD)
    assert "SNMP sysDescr of %s does not show %s" % (gw["name"], NEW) in res["msg"] and "left drained" in res["msg"]
    assert "returned to service" not in first["steps"]
    assert gws[0]["sim"].state()["version"] == NEW and state_of(lab, gws[0]) == "disabled"
    assert [g["status"] for g in res["gateways"]][1:] == ["not started"] and gws[1]["sim"].state()["uploads"] == []
    assert gws[1]["snmp"]["community"] not in json.dumps(res)


def test_snmp_settings_are_checked(ansible, lab, gws, tmp_path):
    img = image(tmp_path, "new.cmp", "AUDIOCODES-CMP %s\n" % NEW)
    gw = dict(gws[0], snmp=dict(gws[0]["snmp"], community=None, version="2c"))
    res = ansible.module("gateway_firmware", args(lab, [gw], img))
    assert res["failed"] and "gateways[0].snmp" in res["msg"] and "community is required" in res["msg"]
    assert gws[0]["sim"].state()["uploads"] == [] and state_of(lab, gws[0]) == "active"


class Caller(object):
    """A sipp caller at a steady rate through the lab callserver to the gateway group (9xxx), as a lab subscriber
    (digest auth; roles/lab/files/uac_invite.xml: 2 s calls hung up by the caller). ``stop()`` ends it the way sipp
    documents (SIGUSR1: no new calls, the calls in progress finish) and returns its final counts."""

    def __init__(self, lab, tmp_path, rate=5):
        sub = lab["subscribers"][0]
        inf = tmp_path / "caller.csv"
        inf.write_text("SEQUENTIAL\n%s;%s;[authentication username=%s password=%s]\n" % (
            sub["username"], lab["domain"], sub["username"], sub["password"]))
        self.screen = tmp_path / "caller-screen.log"
        cmd = [shutil.which("sipp"), "127.0.0.1:%d" % lab["callserver"]["sip_port"],
               "-sf", os.path.join(ROOT, "roles/lab/files/uac_invite.xml"), "-inf", str(inf), "-s", "9000",
               "-i", "127.0.0.1", "-p", str(free_udp_port()), "-r", str(rate), "-l", "100", "-nostdin",
               "-trace_screen", "-screen_file", str(self.screen),
               "-trace_err", "-error_file", str(tmp_path / "caller-errors.log")]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGUSR1)
        try:
            _out, err = self.proc.communicate(timeout=60)
        finally:
            if self.proc.poll() is None:  # only the sipp this test started, by its process group
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        text = self.screen.read_text() if self.screen.exists() else ""
        counts = {}
        for key in ("Successful call", "Failed call"):
            found = re.findall(r"%s\s*\|\s*\d+\s*\|\s*(\d+)" % key, text)
            counts[key] = int(found[-1]) if found else None
        return counts["Successful call"], counts["Failed call"], (err or b"").decode(errors="replace")[-2000:]


def answered(gws):
    return [g["sim"].state()["calls_answered"] for g in gws]


def more_answered_by(gws, since, which):
    now = answered(gws)
    return all(now[i] > since[i] for i in which) and now


@pytest.fixture
def caller(lab, tmp_path):
    if not shutil.which("sipp"):
        pytest.skip("sipp (sip-tester) is not installed")
    box = []
    yield lambda: box.append(Caller(lab, tmp_path)) or box[0]
    for c in box:
        c.stop()


def test_rollout_with_calls_flowing_fails_no_call(ansible, lab, gws, caller, tmp_path):
    img = image(tmp_path, "new.cmp", "AUDIOCODES-CMP %s\n" % NEW)
    before = answered(gws)
    calls = caller()
    # calls flow through both gateways of the set before the rollout starts
    start = wait_for(lambda: more_answered_by(gws, before, (0, 1)), 30, what="calls through both gateways")
    res = ansible.module("gateway_firmware", args(lab, gws, img, drain_timeout=1))
    assert not res["failed"], res["msg"]
    assert [(g["status"], g["after"]) for g in res["gateways"]] == [("upgraded", NEW)] * 2
    # each graceful reset waited for real SIP calls on the drained gateway, and both carry calls again afterwards
    after = answered(gws)
    wait_for(lambda: more_answered_by(gws, after, (0, 1)), 30, what="calls through both upgraded gateways")
    ok, failed, err = calls.stop()
    assert failed == 0 and ok and ok > 0, err
    assert all(a > b for a, b in zip(answered(gws), start))
    assert [g["sim"].state()["version"] for g in gws] == [NEW, NEW]
    states = [g["sim"].state() for g in gws]
    assert [s["resets"] for s in states] == [2, 2]  # the graceful reset, then the new load
    # the graceful resets waited for the SIP calls on the drained gateways: no call was cut by a reset
    assert sum(s["graceful_waits"][-1] for s in states) > 0
    assert [s["calls_dropped"] for s in states] == [0, 0]
    assert [sys_descr(g).endswith("SW Version: %s" % NEW) for g in lab["gateways"]] == [True, True]
    assert set(state_of(lab, g) for g in gws) == {"active"}


def test_bad_load_on_the_second_gateway_with_calls_flowing(ansible, lab, gws, caller, tmp_path):
    good = image(tmp_path, "new.cmp", "AUDIOCODES-CMP %s\n" % NEW)
    noboot = image(tmp_path, "noboot.cmp", "AUDIOCODES-CMP %s\nNOBOOT\n" % NEW)
    before = answered(gws)
    calls = caller()
    wait_for(lambda: more_answered_by(gws, before, (0, 1)), 30, what="calls through both gateways")
    first = ansible.module("gateway_firmware", args(lab, gws[:1], good, drain_timeout=1))
    assert not first["failed"], first["msg"]
    res = ansible.module("gateway_firmware", args(lab, gws, noboot, drain_timeout=1, release_id="gw-noboot",
                                                  record_dir=str(tmp_path / "releases")))
    assert res["failed"] and res["failed_gateway"] == gws[1]["name"]
    # the release record names the failed gateway, each one's version before and after, 0600
    assert os.stat(res["record"]).st_mode & 0o777 == 0o600
    with open(res["record"]) as handle:
        rec = json.load(handle)
    summary = (rec["kind"], rec["status"], rec["summary"]["failed_gateway"])
    assert summary == ("gateway_firmware", "halted", gws[1]["name"])
    assert [(rec["targets"][g["name"]]["state"], rec["targets"][g["name"]]["before"],
             rec["targets"][g["name"]]["after"]) for g in gws] == [("done", NEW, NEW), ("failed", OLD, OLD)]
    assert rec["targets"][gws[1]["name"]]["drained"] and os.path.exists(res["page"])
    assert [g["status"] for g in res["gateways"]] == ["current", "failed"] and res["gateways"][1]["drained"]
    assert state_of(lab, gws[0]) == "active" and state_of(lab, gws[1]) == "disabled"
    # the calls keep succeeding, now all through the first gateway
    since = answered(gws)
    wait_for(lambda: more_answered_by(gws, since, (0,)), 30, what="calls through the first gateway")
    ok, failed, err = calls.stop()
    assert failed == 0 and ok and ok > 0, err
    assert answered(gws)[1] == since[1]
    assert [g["sim"].state()["version"] for g in gws] == [NEW, OLD]
    assert [sys_descr(g).rsplit(" ", 1)[-1] for g in lab["gateways"]] == [NEW, OLD]


def sys_descr(gw):
    """The gateway's SNMP sysDescr, read with net-snmp's snmpget from its snmpsim agent."""
    snmp = gw["snmp"]
    out = subprocess.run(["snmpget", "-v2c", "-c", snmp["community"], "-Oqv",
                          "%s:%d" % (snmp["host"], snmp["port"]), "1.3.6.1.2.1.1.1.0"],
                         env=dict(os.environ, SNMP_PERSISTENT_DIR=os.path.join(ROOT, ".state", "snmp"), MIBS=""),
                         capture_output=True, text=True, timeout=30, check=True)
    return out.stdout.strip().strip('"')
