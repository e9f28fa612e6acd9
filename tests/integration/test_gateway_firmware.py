# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""gateway_firmware against the lab: the lab's gateways (sipp UAS in the real Kamailio's dispatcher set 1) with their
management plane simulated by roles/lab/files/gwsim (AudioCodes REST API 7.40): an upgrade that waits for a call on
the drained gateway, a busy (409) gateway retried, a refused image and a load that does not boot (stopped, that
gateway left drained and named, the others untouched or on the new version)."""
from __future__ import absolute_import, division, print_function

import json
import os
import signal
import subprocess
import sys
import threading

import pytest
import requests

from tests.integration.conftest import ROOT, wait_for
from tests.support.net import free_udp_port
from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio import KamailioRPC

pytestmark = pytest.mark.lab

OLD, NEW = "7.40A.100.001", "7.40A.250.001"
PASSWORD = "gw-" + os.urandom(6).hex()


class Sim(object):
    def __init__(self, port):
        self.base = "http://127.0.0.1:%d" % port

    def control(self, **ctl):
        requests.post(self.base + "/sim/control", json=ctl, timeout=5).raise_for_status()

    def state(self):
        return requests.get(self.base + "/sim/state", timeout=5).json()


@pytest.fixture
def gws(lab, tmp_path):
    """Two simulated management planes paired with the lab's two gateways; the dispatcher is put back after."""
    secret = tmp_path / "password"
    secret.write_text(PASSWORD)
    procs, out = [], []
    try:
        for gw in lab["gateways"]:
            port_file = tmp_path / ("%s.port" % gw["name"])
            procs.append(subprocess.Popen([sys.executable, os.path.join(ROOT, "roles/lab/files/gwsim/gwsim.py"),
                                           "--port", "0", "--port-file", str(port_file), "--version", OLD,
                                           "--password-file", str(secret), "--reset-seconds", "1"],
                                          start_new_session=True))
            wait_for(port_file.exists, 10, what="the gateway simulator of %s" % gw["name"])
            port = int(port_file.read_text())
            out.append(dict(name=gw["name"], api_url="http://127.0.0.1:%d/api/v1" % port, sip_uri=gw["sip_uri"],
                            sim=Sim(port)))
        for gw in out:
            wait_for(lambda gw=gw: _answers(gw["sim"]), 10, what="the gateway simulator")
        yield out
    finally:
        for proc in procs:  # only the simulators this fixture started, by their process group
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
    rpc = KamailioRPC(lab["callserver"]["rpc_url"])
    for gw in lab["gateways"]:
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
    out = dict(rpc_url=lab["callserver"]["rpc_url"], image=img, version=NEW, username="admin", password=PASSWORD,
               gateways=[dict((k, v) for k, v in g.items() if k != "sim") for g in gws],
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
    assert res["changed"] and [(g["name"], g["status"], g["after"]) for g in res["gateways"]] == \
        [(g["name"], "upgraded", NEW) for g in gws]
    assert all(g["gate"]["passed"] and not g["drained"] for g in res["gateways"])
    assert [g["sim"].state()["version"] for g in gws] == [NEW, NEW]
    assert set(state_of(lab, g) for g in gws) == {"active"}
    assert PASSWORD not in json.dumps(res)

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
    assert first["gate"] == {"passed": False, "options": False, "dispatcher": "active"}
    assert first["after"] == OLD and gws[0]["sim"].state()["uploads"] == [NEW, OLD]
    assert gws[0]["sim"].state()["version"] == OLD and state_of(lab, gws[0]) == "disabled"
    assert [g["status"] for g in res["gateways"]][1:] == ["not started"] and gws[1]["sim"].state()["uploads"] == []
