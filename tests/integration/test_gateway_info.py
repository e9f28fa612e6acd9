# -*- coding: utf-8 -*-
"""gateway_info against the lab: snmpsim gateways (E1 flipped to LOS with snmpset), the gateway simulator (killed),
and Kamailio's dispatcher, merged into one record per gateway."""
from __future__ import absolute_import, division, print_function

import os
import subprocess
import tempfile

import pytest

from conftest import wait_for

pytestmark = pytest.mark.lab

DSX1_LINE_STATUS = "1.3.6.1.2.1.10.18.6.1.10"


def _args(lab, **extra):
    args = {"rpc_url": lab["callserver"]["rpc_url"], "gateways": lab["gateways"], "sip_timeout": 1.0}
    args.update(extra)
    return args


def _snmpset(gw, oid, value):
    s = gw["snmp"]
    env = dict(os.environ, MIBS="", SNMP_PERSISTENT_DIR=tempfile.gettempdir())
    subprocess.run(["snmpset", "-v2c", "-c", s["community"], "-On", "-t", "2", "-r", "1",
                    "%s:%d" % (s["host"], s["port"]), oid, "i", str(value)], env=env, check=True, capture_output=True)


def _by_uri(out):
    return dict((g["sip_uri"], g) for g in out["gateways"])


def _all_ok(ansible, lab):
    out = ansible.module("gateway_info", _args(lab))
    return out if out["_rc"] == 0 and out["summary"]["ok"] == len(lab["gateways"]) else None


def test_healthy_lab_gateways_are_ok_on_all_three_views(ansible, lab):
    # the dispatcher needs one answered OPTIONS ping before a gateway is "AP" (active, probing)
    out = wait_for(lambda: _all_ok(ansible, lab), 30, interval=2, what="all gateways ok")
    assert out["callserver"]["ok"] is True
    for gw in lab["gateways"]:
        rec = _by_uri(out)[gw["sip_uri"]]
        assert rec["reasons"] == [] and rec["alarms"] == []
        assert rec["sip"]["status"] == "ok" and rec["sip"]["code"] == 200
        assert rec["dispatcher"]["state"] == "active" and rec["dispatcher"]["uri"] == gw["sip_uri"]
        assert rec["snmp"]["ok"] is True
        assert [ln["alarms"] for ln in rec["snmp"]["ds1"]] == [[], []]
        assert rec["snmp"]["isdn"]["summary"]["total"] == 60


def test_e1_in_los_is_reported_as_alarm(ansible, lab):
    gw = lab["gateways"][0]
    wait_for(lambda: _all_ok(ansible, lab), 30, interval=2, what="all gateways ok")
    _snmpset(gw, DSX1_LINE_STATUS + ".2", 64)  # dsx1LossOfSignal on E1 0/0
    try:
        out = ansible.module("gateway_info", _args(lab))
        rec = _by_uri(out)[gw["sip_uri"]]
        assert rec["status"] == "degraded"
        assert [(a["if_index"], a["alarms"], a["severity"]) for a in rec["alarms"]] == [(2, ["LOS"], "critical")]
        assert len(rec["reasons"]) == 1 and rec["reasons"][0].endswith(": LOS")
        line = rec["snmp"]["ds1"][0]
        assert (line["line_status"], line["state"], line["status_flags"]) == (64, "down", ["dsx1LossOfSignal"])
        other = _by_uri(out)[lab["gateways"][1]["sip_uri"]]
        assert other["status"] == "ok"  # the other gateway is untouched

        # both E1s gone (LOS + AIS/LOF on the second): the gateway cannot carry PSTN calls at all
        _snmpset(gw, DSX1_LINE_STATUS + ".3", 32 + 8)
        out = ansible.module("gateway_info", _args(lab, gather=["ds1"]))
        rec = _by_uri(out)[gw["sip_uri"]]
        assert rec["status"] == "down" and rec["reasons"][0] == "all 2 E1/T1 lines in alarm"
        assert [a["alarms"] for a in rec["alarms"]] == [["LOS"], ["AIS", "LOF"]]
    finally:
        _snmpset(gw, DSX1_LINE_STATUS + ".2", 1)
        _snmpset(gw, DSX1_LINE_STATUS + ".3", 1)
    out = ansible.module("gateway_info", _args(lab, gather=["ds1"]))
    assert _by_uri(out)[gw["sip_uri"]]["alarms"] == []


def test_killed_gateway_is_down_on_options_and_dispatcher(ansible, lab, lab_component):
    wait_for(lambda: _all_ok(ansible, lab), 30, interval=2, what="all gateways ok")
    gw = lab["gateways"][0]
    lab_component.stop(gw["name"] + "-sip")

    def dispatcher_gave_up():
        out = ansible.module("gateway_info", _args(lab, gather=[]))
        rec = _by_uri(out)[gw["sip_uri"]]
        return rec if rec["dispatcher"]["state"] == "inactive" else None

    # Kamailio marks a gateway inactive after its ping interval + fr_timer
    rec = wait_for(dispatcher_gave_up, 40, interval=2, what="dispatcher to mark %s inactive" % gw["sip_uri"])
    assert rec["status"] == "down"
    assert rec["sip"]["reachable"] is False and rec["sip"]["status"] in ("timeout", "refused"), rec
    assert rec["reasons"][0].startswith("SIP OPTIONS not answered")
    assert rec["reasons"][1].startswith("callserver dispatcher marks it inactive")
    assert rec["snmp"] is None  # gather=[]: SNMP not asked

    # the SNMP agent of the same box still answers: the record keeps its facts
    out = ansible.module("gateway_info", _args(lab, gather=["system"]))
    rec = _by_uri(out)[gw["sip_uri"]]
    assert rec["status"] == "down" and rec["snmp"]["ok"] is True
    assert _by_uri(out)[lab["gateways"][1]["sip_uri"]]["status"] == "ok"


def test_callserver_unreachable_leaves_dispatcher_unknown(ansible, lab):
    out = ansible.module("gateway_info", _args(lab, rpc_url="http://127.0.0.1:9/RPC", timeout=1, gather=[]))
    assert out["_rc"] == 0
    assert out["callserver"]["ok"] is False and "127.0.0.1:9" in out["callserver"]["error"]
    for rec in out["gateways"]:
        assert rec["dispatcher"] == {"state": "unknown"}
        assert rec["reasons"][-1].startswith("callserver dispatcher view unavailable")
