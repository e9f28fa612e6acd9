# -*- coding: utf-8 -*-
"""The generic gateway family (gateways/generic.py): evidence (SIP, dispatcher, SNMP) -> problems -> status + reasons."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.voipops.voip.plugins.module_utils import snmp_decode as d
from ansible_collections.voipops.voip.plugins.module_utils.gateways import base
from ansible_collections.voipops.voip.plugins.module_utils.gateways import generic as g

GW = {"name": "mgw1", "host": "127.0.0.1", "sip_port": 5080, "sip_uri": "sip:127.0.0.1:5080", "dispatcher_setid": 1}
SIP_OK = {"status": "ok", "reachable": True, "code": 200, "reason": "OK", "rtt_ms": 0.7, "uri": "sip:127.0.0.1:5080"}
SIP_TIMEOUT = {"status": "timeout", "reachable": False, "code": None, "error": "no answer within 2.0 s"}
DS_ACTIVE = {"setid": 1, "uri": "sip:127.0.0.1:5080", "flags": "AP", "state": "active", "duid": ""}


def _snmp(line_status=(1, 1), oper=(1, 1, 1), lapd=(3, 3)):
    """A real-shaped poller result built from the decoders (2 E1 + eth0)."""
    vb = {d.SYS_NAME: b"mgw1", d.SYS_UPTIME: 4242000}
    for i, name in ((1, b"eth0"), (2, b"E1 0/0"), (3, b"E1 0/1")):
        vb["%s.2.%d" % (d.IF_ENTRY, i)] = name
        vb["%s.7.%d" % (d.IF_ENTRY, i)] = 1
        vb["%s.8.%d" % (d.IF_ENTRY, i)] = oper[i - 1]
    for i, st in zip((2, 3), line_status):
        vb["%s.2.%d" % (d.DSX1_CONFIG_ENTRY, i)] = i
        vb["%s.10.%d" % (d.DSX1_CONFIG_ENTRY, i)] = st
    for idx, trunk, st in ((299, 2, lapd[0]), (399, 3, lapd[1])):
        vb["%s.%d" % (d.ISDN_LAPD_OPER_STATUS_OID, idx)] = st
        vb["%s.%d.%d" % (d.IF_STACK_STATUS, idx, trunk)] = 1
    facts = d.decode(["system", "interfaces", "ds1", "isdn"], vb)
    return {"ok": True, "error": None, "host": "127.0.0.1", "port": 161, "facts": facts}


def test_all_good_is_ok():
    rec = g.merge(GW, SIP_OK, DS_ACTIVE, True, _snmp())
    assert rec["status"] == "ok" and rec["reasons"] == [] and rec["alarms"] == []
    assert rec["dispatcher"]["state"] == "active" and rec["snmp"]["system"]["name"] == "mgw1"


def test_one_e1_in_los_is_degraded_with_the_alarm_named():
    rec = g.merge(GW, SIP_OK, DS_ACTIVE, True, _snmp(line_status=(64, 1), oper=(1, 2, 1)))
    assert rec["status"] == "degraded"
    assert rec["reasons"] == ["E1/T1 E1 0/0: LOS"]  # the E1's own ifOperStatus down is not repeated
    assert rec["alarms"] == [{"line": "E1 0/0", "if_index": 2, "alarms": ["LOS"], "severity": "critical"}]


def test_all_e1_in_alarm_is_down():
    status, reasons = g.verdict(SIP_OK, DS_ACTIVE, True, _snmp(line_status=(64, 32 + 8)))
    assert status == "down"
    assert reasons[0] == "all 2 E1/T1 lines in alarm"
    assert "E1/T1 E1 0/1: AIS+LOF" in reasons


def test_far_end_alarm_and_d_channel_down_are_degraded():
    status, reasons = g.verdict(SIP_OK, DS_ACTIVE, True, _snmp(line_status=(2, 1), lapd=(3, 1)))
    assert status == "degraded"
    assert reasons == ["E1/T1 E1 0/0: RAI", "ISDN D channel E1 0/1 is inactive"]


def test_sip_dead_and_dispatcher_inactive_is_down_with_both_reasons():
    ds = dict(DS_ACTIVE, state="inactive", flags="IP")
    status, reasons = g.verdict(SIP_TIMEOUT, ds, True, _snmp())
    assert status == "down"
    assert reasons == ["SIP OPTIONS not answered (no answer within 2.0 s)",
                       "callserver dispatcher marks it inactive (flags IP)"]


def test_not_in_dispatcher_is_down_and_unknown_callserver_blames_nobody():
    assert g.verdict(SIP_OK, None, True, _snmp())[0] == "down"
    rec = g.merge(GW, SIP_OK, None, False, _snmp())
    assert rec["status"] == "ok" and rec["dispatcher"] == {"state": "unknown"}


def test_snmp_silent_but_sip_fine_is_degraded():
    status, reasons = g.verdict(SIP_OK, DS_ACTIVE, True, {"ok": False, "error": "mgw1: no SNMP response"})
    assert (status, reasons) == ("degraded", ["SNMP not answering: mgw1: no SNMP response"])


def test_dispatcher_matching_by_duid_then_uri():
    entries = [{"setid": 1, "uri": "sip:10.0.0.9:5060", "duid": "mgw1", "state": "active"},
               {"setid": 1, "uri": "sip:127.0.0.1:5080;transport=udp", "duid": "", "state": "inactive"},
               {"setid": 2, "uri": "sip:127.0.0.1:5081", "duid": "", "state": "active"}]
    assert g.match_dispatcher(GW, entries) is entries[0]
    assert g.match_dispatcher(dict(GW, name="other"), entries) is entries[1]
    assert g.match_dispatcher({"name": "x", "sip_uri": "sip:127.0.0.1:5081", "dispatcher_setid": 1}, entries) is None
    assert g.match_dispatcher({"name": "x", "host": "127.0.0.1", "sip_port": 5081}, entries) is entries[2]


def test_snmp_target_defaults_to_gateway_host():
    t = g.snmp_target({"name": "gw", "sip_uri": "sip:10.1.1.1:5080", "snmp": {"community": "ro-secret"}},
                      {"version": "2c", "port": 1161})
    assert t == {"name": "gw", "host": "10.1.1.1", "port": 1161, "version": "2c", "community": "ro-secret"}


# ---------------------------------------------------------------------------------------------------------------
# The gateway interface and its one severity model (gateways/base.py)
# ---------------------------------------------------------------------------------------------------------------

def test_families_are_found_by_name_and_an_unknown_one_lists_the_known():
    family = base.get_family("generic")
    assert isinstance(family, base.GatewayFamily) and family.family == "generic"
    with pytest.raises(base.GatewayError, match=r"unknown gateway family 'audiocodes-rest' \(known: audiocodes_rest, generic\)"):
        base.get_family("audiocodes-rest")
    with pytest.raises(base.GatewayError, match="firmware is not managed by this family"):
        family.firmware_status(GW)
    rec = g.merge(GW, dict(SIP_OK, server="AudioCodes/7.40A.500"), DS_ACTIVE, True, _snmp())
    assert family.version(rec) == "AudioCodes/7.40A.500"


def test_the_record_verdict_and_the_findings_come_from_the_same_problems():
    ds = dict(DS_ACTIVE, state="inactive", flags="IP")
    rec = g.merge(GW, SIP_TIMEOUT, ds, True, _snmp(line_status=(64, 32 + 8), lapd=(3, 1)))
    problems = rec["problems"]
    # every reason of the record is one problem's reason, in the same order
    assert rec["reasons"] == [p["reason"] for p in problems if p["effect"] == "down"] + [
        p["reason"] for p in problems if p["effect"] == "degraded"]
    assert rec["status"] == "down"
    kinds = [(p["kind"], p["severity"], p["effect"]) for p in problems]
    assert kinds == [("sip_unreachable", "critical", "down"), ("dispatcher_inactive", "critical", "down"),
                     ("e1_alarm:E1 0/0", "critical", "degraded"), ("e1_alarm:E1 0/1", "critical", "degraded"),
                     ("all_lines_in_alarm", None, "down"), ("isdn_d_channel_down:E1 0/1", "major", "degraded")]
    # a line problem says what it is on the estate trunk the line carries
    assert problems[2]["line"] == {"names": ["e1 0/0"], "kind": "e1_alarm", "severity": "critical",
                                   "about": "E1 0/0 on mgw1: LOS"}
    assert problems[5]["line"]["names"] == ["e1 0/1"]
    with pytest.raises(ValueError, match="unknown effect"):
        base.problem("snmp", "x", "major", "broken", "r", "s")
