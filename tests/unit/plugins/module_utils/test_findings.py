# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit: check adapters (audit/checks.py) on realistic module results, routing, root causes, order, diff (audit/build.py)."""
import copy
import os

import pytest

from ansible_collections.voipops.voip.plugins.module_utils.estate import load_estate
from ansible_collections.voipops.voip.plugins.module_utils import sla
from ansible_collections.voipops.voip.plugins.module_utils.audit import build as B
from ansible_collections.voipops.voip.plugins.module_utils.audit import checks as C
from ansible_collections.voipops.voip.plugins.module_utils.gateways import generic
from ansible_collections.voipops.voip.plugins.module_utils.handsets import registrations as hreg

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
NOW = "2026-11-27T16:30:00Z"  # Friday 17:30 in Amsterdam


@pytest.fixture(scope="module")
def estate():
    return load_estate(os.path.join(ROOT, "inventories", "lab", "estate.yml"))


UAS = {
    "hs-1001": ("sip:1001@voip.lab", "Yealink SIP-T54W 96.86.0.100"),
    "hs-1002": ("sip:1002@voip.lab", "PolycomVVX-VVX_450-UA/6.4.6.2410"),
    "hs-1003": ("sip:1003@voip.lab", "snomD785/10.1.159.12"),
    "hs-1004": ("sip:1004@voip.lab", "Grandstream GRP2614 1.0.13.3"),
    "hs-3001": ("sip:3001@voip.lab", "Yealink SIP-T54W 96.86.0.110"),
}


# the lab's multi-line devices: one contact per line, all with the device's User-Agent
LINES = {
    "dect-1010": (["1010", "1011"], "Yealink W70B 146.85.0.20"),
    "ata-1020": (["1020", "1021"], "Cisco ATA191-MPP/12.0.1"),
}


def contacts(skip=(), extra=()):
    out = []
    for name, (aor, ua) in sorted(UAS.items()):
        if name in skip:
            continue
        out.append({"aor": aor, "contact": "sip:%s@127.0.0.1:40%s" % (aor[4:8], aor[7]), "expires": 3500,
                    "user_agent": ua, "received": "", "socket": "udp:127.0.0.1:5060", "call_id": "c-" + name, "cseq": 2})
    for name, (users, ua) in sorted(LINES.items()):
        if name in skip:
            continue
        for user in users:
            out.append({"aor": "sip:%s@voip.lab" % user, "contact": "sip:%s@127.0.0.1:41%s" % (user, user[-2:]),
                        "expires": 3500, "user_agent": ua, "received": "", "socket": "udp:127.0.0.1:5060",
                        "call_id": "c-%s-%s" % (name, user), "cseq": 2})
    out.extend(extra)
    return out


def ds1(los_on_second=False):
    return [{"index": 2, "if_index": 2, "name": "E1 0/0", "line_status": 1, "alarms": [], "severity": "ok", "state": "up"},
            {"index": 3, "if_index": 3, "name": "E1 0/1", "line_status": 64 if los_on_second else 1,
             "alarms": ["LOS"] if los_on_second else [], "severity": "critical" if los_on_second else "ok",
             "state": "down" if los_on_second else "up"}]


def interfaces(second_down=False):
    def iface(i, name, oper):
        return {"index": i, "name": name, "admin_status": "up", "oper_status": oper, "fault": oper != "up"}
    return [iface(1, "eth0", "up"), iface(2, "E1 0/0", "up"), iface(3, "E1 0/1", "down" if second_down else "up")]


def snmp_results(mgw1_los=False, mgw2_ok=True, cpu=12.0, kamailio_procs=8):
    cs1 = {"name": "cs1", "host": "127.0.0.1", "port": 1161, "ok": True, "error": None, "facts": {
        "host": {"processor_load_avg": cpu, "storage": []},
        "ucd": {"memory": {"real_used_percent": 41.0}, "disks": [{"path": "/", "percent_used": 52}],
                "processes": [{"name": "kamailio", "count": kamailio_procs, "error": kamailio_procs == 0,
                               "error_message": "No kamailio process running" if kamailio_procs == 0 else None}]}}}
    mgw1 = {"name": "mgw1", "ok": True, "facts": {"interfaces": interfaces(mgw1_los), "ds1": ds1(mgw1_los)}}
    mgw2 = {"name": "mgw2", "ok": mgw2_ok, "error": None if mgw2_ok else "mgw2: timeout after 2.0s",
            "facts": {"interfaces": interfaces(), "ds1": ds1()[:1]} if mgw2_ok else {}}
    return [cs1, mgw1, mgw2]


def dispatcher(mgw1="active", mgw2="active"):
    return [{"setid": 1, "uri": "sip:127.0.0.1:5080", "flags": "AP" if mgw1 == "active" else "IP", "state": mgw1},
            {"setid": 1, "uri": "sip:127.0.0.1:5081", "flags": "AP" if mgw2 == "active" else "IP", "state": mgw2}]


def probes(down=(), error=()):
    """Results as voipops.voip.sip_probe returns them (targets given as host:port)."""
    out = []
    for name, port in (("cs1", 5060), ("mgw1", 5080), ("mgw2", 5081)):
        res = {"target": "127.0.0.1:%d" % port, "uri": "sip:127.0.0.1:%d" % port, "host": "127.0.0.1", "port": port,
               "transport": "udp", "status": "ok", "reachable": True, "code": 200, "reason": "OK", "rtt_ms": 0.4,
               "error": None}
        if name in down:
            res.update(status="timeout", reachable=False, code=None, reason=None, rtt_ms=None,
                       error="no answer within 2.0s")
        elif name in error:
            res.update(status="error", code=503, reason="Service Unavailable")
        out.append(res)
    return out


def run_checks(estate, down=(), reg_skip=(), reg_extra=(), **snmp):
    return [C.from_sip_probe(probes(down), estate),
            C.from_rpc([{"name": "cs1", "ok": "cs1" not in down, "error": None if "cs1" not in down else "connection refused"}], estate),
            C.from_dispatcher(dispatcher(**{k: "inactive" for k in down if k.startswith("mgw")}), estate, callserver="cs1"),
            C.from_snmp(snmp_results(**snmp), estate),
            C.from_registrations([] if "cs1" in down else contacts(reg_skip, reg_extra), estate, callserver="cs1")]


def by_kind(audit):
    return dict(((f["component"], f["kind"]), f) for f in audit["findings"])


def test_clean_lab_has_no_findings(estate):
    audit = B.build_audit(run_checks(estate), estate, NOW)
    assert audit["status"] == "ok" and audit["findings"] == [] and audit["tickets"] == []
    checked = set(c for chk in audit["checks"] for c in chk["checked"])
    # every component the checks can see was checked (and passed)
    assert {"cs1", "mgw1", "mgw2", "e1-mgw1-0", "e1-mgw1-1", "pri-mgw2-0", "hs-1001", "hs-3001"} <= checked


def test_e1_loss_of_signal_is_one_p1_ticket_for_the_carrier(estate):
    audit = B.build_audit(run_checks(estate, mgw1_los=True), estate, NOW)
    assert len(audit["tickets"]) == 1
    (f,) = audit["findings"]
    assert (f["component"], f["kind"], f["supplier"], f["priority"]) == ("e1-mgw1-1", "e1_alarm", "telco", "P1")
    assert f["details"]["alarms"] == ["LOS"] and "interface" in f["details"]
    # telco is 24x7: P1 response 30m, resolve 6h from 17:30 local
    assert f["response_due"] == "2026-11-27T18:00:00+01:00" and f["resolve_due"] == "2026-11-27T23:30:00+01:00"
    assert audit["status"] == "critical" and audit["suppliers"]["telco"]["tickets"] == [f["id"]]
    assert audit["sites"]["ams"]["status"] == "critical" and audit["sites"]["rtm"]["status"] == "ok"


def test_callserver_down_is_one_ticket_with_the_phones_behind_it(estate):
    audit = B.build_audit(run_checks(estate, down=("cs1",)), estate, NOW)
    kinds = by_kind(audit)
    root = kinds[("cs1", "sip_unreachable")]
    assert audit["tickets"] == [root["id"]]
    assert root["priority"] == "P1" and root["supplier"] == "acme" and root["impact"] == "estate"
    assert {"hs-1001", "hs-1002", "hs-1003", "hs-1004", "hs-3001", "sip-telco"} <= set(root["affected"])
    children = [kinds[k] for k in kinds if kinds[k]["id"] != root["id"]]
    assert {(c["component"], c["kind"]) for c in children} == {
        ("cs1", "rpc_unreachable"), ("hs-1001", "not_registered"), ("hs-1002", "not_registered"),
        ("hs-1003", "not_registered"), ("hs-1004", "not_registered"), ("hs-3001", "not_registered"),
        ("dect-1010", "not_registered"), ("ata-1020", "not_registered")}
    assert all(c["root_cause"] == root["id"] and c["response_due"] is None for c in children)
    assert sorted(root["children"]) == sorted(c["id"] for c in children)
    assert audit["summary"]["tickets"] == 1 and audit["summary"]["suppressed"] == 8


def test_independent_faults_are_ordered_by_priority_then_dependency(estate):
    # mgw2 dead (site rtm, P1 for acme), one phone unregistered (P4, phonecare business hours)
    audit = B.build_audit(run_checks(estate, down=("mgw2",), mgw2_ok=False, reg_skip=("hs-1001",)), estate, NOW)
    tickets = [f for f in audit["findings"] if f["root_cause"] is None]
    assert [(t["order"], t["component"], t["kind"], t["priority"]) for t in tickets] == [
        (1, "mgw2", "sip_unreachable", "P1"), (2, "hs-1001", "not_registered", "P4")]
    kinds = by_kind(audit)
    # mgw2's dispatcher state and SNMP silence are the same fault, as children
    assert kinds[("mgw2", "dispatcher_inactive")]["root_cause"] == tickets[0]["id"]
    assert kinds[("mgw2", "snmp_unreachable")]["root_cause"] == tickets[0]["id"]
    # phonecare works business hours: P4 response 2d = two 10h business days from Friday 17:30 -> Tuesday 17:30
    hs = tickets[1]
    assert hs["supplier"] == "phonecare" and hs["coverage"] == "business_hours"
    assert hs["response_due"] == "2026-12-01T17:30:00+01:00"


def test_firmware_unknown_devices_and_stale(estate):
    stale = {"aor": "sip:1004@voip.lab", "expires": 0, "user_agent": "Grandstream GRP2614 1.0.13.3"}
    intruder = {"aor": "sip:1099@voip.lab", "expires": 300, "user_agent": "Yealink SIP-T46U 66.86.0.15",
                "received": "sip:10.9.9.9:5060"}
    regs = contacts(skip=("hs-1004",), extra=[stale, intruder])
    regs[0] = dict(regs[0], user_agent="Yealink SIP-T54W 96.85.0.5")  # hs-1001 on an old release
    audit = B.build_audit([C.from_registrations(regs, estate, callserver="cs1")], estate, NOW)
    kinds = by_kind(audit)
    fw = kinds[("hs-1001", "firmware_not_approved")]
    assert fw["details"]["firmware"] == "96.85.0.5" and fw["priority"] == "P4" and fw["supplier"] == "phonecare"
    assert kinds[("hs-1004", "stale_registration")]["severity"] == "warning"
    unknown = kinds[("cs1", "unknown_devices")]
    assert [d["aor"] for d in unknown["details"]["devices"]] == ["sip:1099@voip.lab"]
    assert unknown["supplier"] == "acme"
    assert ("hs-3001", "firmware_not_approved") not in kinds  # 96.86.0.110 is approved
    assert len(audit["findings"]) == 3


def test_callserver_host_thresholds_and_missing_process(estate):
    audit = B.build_audit([C.from_snmp(snmp_results(cpu=97.0, kamailio_procs=0), estate)], estate, NOW)
    kinds = by_kind(audit)
    assert kinds[("cs1", "cpu_high")]["severity"] == "major"
    proc = kinds[("cs1", "process:kamailio")]
    assert proc["severity"] == "critical" and proc["priority"] == "P1"


def test_certificates(estate):
    certs = [{"name": "cs1", "host": "127.0.0.1", "port": 5061, "not_after": "2026-12-01T00:00:00Z"},
             {"name": "mgw1", "host": "127.0.0.1", "port": 443, "not_after": "2026-11-01T00:00:00Z"},
             {"name": "mgw2", "host": "127.0.0.1", "port": 443, "not_after": "2027-11-01T00:00:00Z"}]
    res = C.from_certificates(certs, estate, NOW)
    kinds = dict(((f["component"], f["kind"]), f) for f in res["findings"])
    assert kinds[("cs1", "cert_expiring:5061")]["severity"] == "major"
    assert kinds[("mgw1", "cert_expired:443")]["severity"] == "critical"
    assert len(kinds) == 2 and res["checked"] == ["cs1", "mgw1", "mgw2"]


def test_ids_are_stable_and_diff_against_previous(estate):
    first = B.build_audit(run_checks(estate, mgw1_los=True, reg_skip=("hs-1002",)), estate, NOW)
    # next morning: the E1 persists, the phone is back, the callserver CPU is high
    later = "2026-11-28T07:00:00Z"
    second = B.build_audit(run_checks(estate, mgw1_los=True, cpu=85.0), estate, later, previous=copy.deepcopy(first))
    e1_first = by_kind(first)[("e1-mgw1-1", "e1_alarm")]
    e1 = by_kind(second)[("e1-mgw1-1", "e1_alarm")]
    assert e1["id"] == e1_first["id"] and e1["status"] == "persisting"
    assert e1["first_seen"] == "2026-11-27T16:30:00Z"  # SLA clock started at the first sighting
    assert e1["resolve_due"] == e1_first["resolve_due"] and e1["overdue"] is True
    cpu = by_kind(second)[("cs1", "cpu_high")]
    assert cpu["status"] == "new" and second["changes"]["new"] == [cpu["id"]]
    assert [r["component"] for r in second["changes"]["resolved"]] == ["hs-1002"]
    assert second["summary"]["overdue"] == 1 and second["previous_generated_at"] == first["generated_at"]


def test_tickets_at_or_above(estate):
    audit = B.build_audit(run_checks(estate, mgw1_los=True, reg_skip=("hs-1001",)), estate, NOW)
    assert [t["priority"] for t in B.tickets_at_or_above(audit, "P1")] == ["P1"]
    assert [t["priority"] for t in B.tickets_at_or_above(audit, "P4")] == ["P1", "P4"]


def test_version_compare():
    assert hreg.compare_versions("96.86.0.9", "96.86.0.100") == -1
    assert hreg.compare_versions("10.1.159.12", "10.1.159.12") == 0
    assert hreg.compare_versions("1.0.13.3", "1.0.9") == 1
    assert hreg.compare_versions("8.5.2b", "8.5.2a") == 1


def test_the_one_user_agent_parser():
    """The registration domain's parser (the fallback copy in the audit is gone): same answers."""
    assert hreg.parse_user_agent("Yealink SIP-T54W 96.86.0.100") == {
        "vendor": "yealink", "model": "T54W", "firmware": "96.86.0.100", "mac": None}
    assert hreg.parse_user_agent("friendly-scanner") is None


def test_rerun_of_the_same_audit_time_reproduces_it(estate):
    first = B.build_audit(run_checks(estate, mgw1_los=True), estate, NOW)
    second = B.build_audit(run_checks(estate, mgw1_los=True, reg_skip=("hs-1002",)), estate, "2026-11-27T17:00:00Z",
                           previous=copy.deepcopy(first))
    assert B.build_audit(run_checks(estate, mgw1_los=True), estate, NOW, previous=copy.deepcopy(first)) == first
    again = B.build_audit(run_checks(estate, mgw1_los=True, reg_skip=("hs-1002",)), estate, "2026-11-27T17:00:00Z",
                          previous=copy.deepcopy(second))
    assert again == second and again["changes"]["new"] == second["changes"]["new"] != []


def test_rpc_from_a_callserver_info_loop(estate):
    loop = [{"item": {"voipops_component": {"name": "cs1"}, "voipops_rpc_url": "http://127.0.0.1:9/RPC"}, "failed": True,
             "msg": "http://127.0.0.1:9/RPC: connection refused"}]
    (f,) = C.from_rpc(loop, estate)["findings"]
    assert (f["component"], f["kind"]) == ("cs1", "rpc_unreachable") and "connection refused" in f["summary"]
    ok = [{"item": {"voipops_component": {"name": "cs1"}}, "failed": False, "changed": False, "callserver": {}}]
    assert C.from_rpc(ok, estate) == {"check": "callserver_rpc", "checked": ["cs1"], "findings": []}


def test_sip_probe_error_codes(estate):
    res = C.from_sip_probe(probes(error=("mgw1",)), estate)
    (f,) = res["findings"]
    assert (f["component"], f["kind"], f["severity"]) == ("mgw1", "sip_error", "major")
    assert "503 Service Unavailable" in f["summary"] and res["checked"] == ["cs1", "mgw1", "mgw2"]


def gateway_info(mgw1_los=False, mgw2_down=False):
    """voipops.voip.gateway_info ``gateways`` records, made by the gateway family from the same evidence."""
    snmp = dict((r["name"], r) for r in snmp_results(mgw1_los=mgw1_los, mgw2_ok=not mgw2_down))
    out = []
    for name, port in (("mgw1", 5080), ("mgw2", 5081)):
        down = name == "mgw2" and mgw2_down
        sip = {"status": "timeout" if down else "ok", "reachable": not down, "code": None if down else 200,
               "uri": "sip:127.0.0.1:%d" % port, "error": "no answer within 2.0s" if down else None}
        entry = {"state": "inactive" if down else "active", "flags": "IP" if down else "AP", "setid": 1, "uri": sip["uri"]}
        poll = dict(snmp[name], host="127.0.0.1", port=1611)
        out.append(generic.merge({"name": name, "sip_uri": sip["uri"]}, sip, entry, True, poll))
    return out


def test_gateway_info_gives_the_same_findings_as_the_separate_modules(estate):
    separate = B.build_audit(run_checks(estate, down=("mgw2",), mgw2_ok=False, mgw1_los=True), estate, NOW)
    combined = B.build_audit(C.from_gateway_info(gateway_info(mgw1_los=True, mgw2_down=True), estate, callserver="cs1"),
                             estate, NOW)

    def ids(audit):
        return sorted((f["id"], f["root_cause"], f["priority"]) for f in audit["findings"])
    assert ids(combined) == ids(separate)
    assert [by_kind(combined)[k]["kind"] for k in (("mgw2", "sip_unreachable"), ("e1-mgw1-1", "e1_alarm"))] == [
        "sip_unreachable", "e1_alarm"]
    clean = C.from_gateway_info(gateway_info(), estate)
    assert all(r["findings"] == [] for r in clean) and {r["check"] for r in clean} == {"sip_options", "dispatcher", "snmp"}
    # the audit takes the gateway's verdict: what the record's problems say, not a second reading of its evidence
    records = gateway_info(mgw1_los=True, mgw2_down=True)
    assert [r["status"] for r in records] == ["degraded", "down"]
    records[0]["problems"] = []
    taken = B.build_audit(C.from_gateway_info(records, estate, callserver="cs1"), estate, NOW)
    assert ("e1-mgw1-1", "e1_alarm") not in by_kind(taken) and ("mgw2", "sip_unreachable") in by_kind(taken)
    with pytest.raises(ValueError, match="no problems"):
        C.from_gateway_info([dict(records[1], problems=None)], estate)


def test_handset_info_and_registrations_agree(estate):
    info = {"handsets": [], "unknown": [{"user": "1099", "user_agent": "Linphone/5.2.0", "vendor": None,
                                         "reason": "registered as 1099, which no handset of the estate uses"}]}
    for name in ("hs-1001", "hs-1002", "hs-1003", "hs-1004", "hs-3001"):
        aor, ua = UAS[name]
        reg = name != "hs-1004"
        if name == "hs-1002":
            ua = "Yealink SIP-T54W 96.86.0.110"  # somebody swapped the Poly for a Yealink
        info["handsets"].append({"name": name, "registered": reg, "user_agent": ua if reg else None,
                                 "firmware": ua.split()[-1].split("/")[-1] if reg else None,
                                 "contacts": [{"expires": 3000}] if reg else []})
    from_info = C.from_handset_info(info, estate, callserver="cs1")
    regs = contacts(skip=("hs-1004",), extra=[{"aor": "sip:1099@voip.lab", "expires": 300, "user_agent": "Linphone/5.2.0"}])
    regs[1] = dict(regs[1], user_agent="Yealink SIP-T54W 96.86.0.110")
    by_aor = {}
    for c in regs:
        by_aor.setdefault(c["aor"], []).append(dict((k, v) for k, v in c.items() if k != "aor"))
    from_regs = C.from_registrations(by_aor, estate, callserver="cs1")  # callserver_info's by_aor shape

    def kinds(res):
        return sorted((f["component"], f["kind"]) for f in res["findings"])
    assert kinds(from_info) == kinds(from_regs) == [
        ("cs1", "unknown_devices"), ("hs-1002", "device_mismatch"), ("hs-1004", "not_registered")]
    assert sorted(f["id"] for f in from_info["findings"]) == sorted(f["id"] for f in from_regs["findings"])


def test_resource_pressure_is_not_an_outage(estate):
    audit = B.build_audit([C.from_snmp(snmp_results(cpu=97.0), estate)], estate, NOW)
    (f,) = audit["findings"]
    assert (f["kind"], f["priority"], f["supplier"]) == ("cpu_high", "P2", "acme")
    audit = B.build_audit([C.from_snmp(snmp_results(cpu=85.0), estate)], estate, NOW)
    assert audit["findings"][0]["priority"] == "P4"


def test_e1_alarm_reaches_the_trunk_when_the_gateway_reports_ifname_not_ifdescr(estate):
    """Real gateways have ifName (IF-MIB ifXTable) 'e1-0-1' and ifDescr 'E1 0/1'; the estate may name either."""
    def iface(i, name, descr, alias, oper):
        return {"index": i, "name": name, "descr": descr, "alias": alias, "admin_status": "up", "oper_status": oper,
                "fault": oper != "up"}
    results = snmp_results()
    results[1]["facts"] = {
        "interfaces": [iface(1, "eth0", "eth0", "LAN uplink", "up"), iface(2, "e1-0-0", "E1 0/0", "PSTN trunk A", "up"),
                       iface(3, "e1-0-1", "E1 0/1", "PSTN trunk B", "down")],
        "ds1": [{"index": 2, "if_index": 2, "name": "e1-0-0", "line_status": 1, "alarms": [], "severity": "ok"},
                {"index": 3, "if_index": 3, "name": "e1-0-1", "line_status": 64, "alarms": ["LOS"], "severity": "critical"}]}
    checked = C.from_snmp(results, estate)
    (f,) = [x for x in checked["findings"] if x["check"] == "snmp"]
    assert (f["component"], f["kind"]) == ("e1-mgw1-1", "e1_alarm")
    assert "e1-mgw1-0" in checked["checked"] and "e1-mgw1-1" in checked["checked"]


def test_an_expiring_certificate_must_be_resolved_before_it_expires(estate):
    """A certificate that expires in days is a P2 risk: its SLA resolve deadline falls before the expiry."""
    for days, kind in ((5, "cert_expiring:5061"), (25, "cert_expiring:5061")):
        not_after = (sla.to_utc(NOW) + __import__("datetime").timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
        audit = B.build_audit([C.from_certificates([{"name": "cs1", "host": "127.0.0.1", "port": 5061,
                                                     "not_after": not_after}], estate, NOW)], estate, NOW)
        (f,) = audit["findings"]
        assert f["kind"] == kind and f["availability"] is False
        assert sla.to_utc(f["resolve_due"]) < sla.to_utc(not_after), (days, f["priority"], f["resolve_due"])
    assert f["priority"] == "P4"  # 25 days left: a warning, routine
    near = B.build_audit([C.from_certificates([{"name": "cs1", "host": "127.0.0.1", "port": 5061,
                                                "not_after": "2026-12-01T00:00:00Z"}], estate, NOW)], estate, NOW)
    assert near["findings"][0]["priority"] == "P2" and near["findings"][0]["supplier"] == "acme"
