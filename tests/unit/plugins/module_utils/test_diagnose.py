# -*- coding: utf-8 -*-
"""The triage's reasoning (diagnose/steps.py), its access-log reader, its routing and its run order, without a lab."""
import datetime
import os

import pytest

from ansible_collections.voipops.voip.plugins.module_utils import sla
from ansible_collections.voipops.voip.plugins.module_utils.callservers.base import UserSnapshot
from ansible_collections.voipops.voip.plugins.module_utils.diagnose import accesslog, card, engine, gather, route, steps
from ansible_collections.voipops.voip.plugins.module_utils.estate import load_estate

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 12, 7, 10, 0, 0, tzinfo=UTC)   # a Monday, 11:00 in Amsterdam
HS = {"name": "hs-1001", "vendor": "yealink", "model": "T54W", "mac": "00:15:65:10:01:01", "site": "ams", "user": "1001"}


@pytest.fixture(scope="module")
def estate():
    return load_estate(os.path.join(ROOT, "inventories", "lab", "estate.yml"))


def ev(**parts):
    base = {"now": NOW, "target": {"by": "extension", "value": "1001", "extension": "1001", "handset": "hs-1001"}}
    base.update(parts)
    return base


def kinds(observations, level=None):
    return [o["kind"] for o in observations if level is None or o["level"] == level]


# ------------------------------------------------------------------------------------------ access log
def test_access_log_lines_of_the_prov_and_the_combined_format():
    rec = accesslog.parse_line('127.0.0.1 [2026-12-07T13:55:11+00:00] "GET /prov/001565100101.cfg HTTP/1.1" 200 403 '
                               '"Yealink SIP-T54W 96.86.0.110 00:15:65:10:01:01"\n')
    assert rec["name"] == "001565100101.cfg" and rec["status"] == 200
    assert rec["time"] == datetime.datetime(2026, 12, 7, 13, 55, 11, tzinfo=UTC)
    assert rec["user_agent"].startswith("Yealink")
    comb = accesslog.parse_line('10.31.4.7 - - [07/Dec/2026:14:55:11 +0100] "GET /cfgc074ad100104.xml?x=1 HTTP/1.1" 404 153 '
                                '"-" "Grandstream Model HW GRP2614 SW 1.0.13.3 DevId c074ad100104"')
    assert comb["name"] == "cfgc074ad100104.xml" and comb["status"] == 404
    assert comb["time"] == datetime.datetime(2026, 12, 7, 13, 55, 11, tzinfo=UTC)
    assert accesslog.parse_line("garbage line") is None
    assert accesslog.mac_in_name("snomD785-000413100103.htm") == "000413100103"
    assert accesslog.mac_in_name("000000000000.cfg") is None


def test_access_log_keeps_the_files_asked_for_and_failed_requests_of_devices(tmp_path):
    path = tmp_path / "access.log"
    path.write_text(
        '127.0.0.1 [2026-12-07T09:00:00+00:00] "GET /001565100101.cfg HTTP/1.1" 200 403 "Yealink SIP-T54W 96.86.0.110"\n'
        'not a log line\n'
        '127.0.0.1 [2026-12-07T09:01:00+00:00] "GET /0004f2100102.cfg HTTP/1.1" 200 255 "Poly"\n'
        '127.0.0.1 [2026-12-07T09:02:00+00:00] "GET /001565aabbcc.cfg HTTP/1.1" 404 153 "Yealink SIP-T54W 96.86.0.110"\n')
    log = accesslog.AccessLog.read(str(path), names=["001565100101.cfg"])
    assert log.skipped == 1
    assert log.first == datetime.datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    assert [r["name"] for r in log.records] == ["001565100101.cfg", "001565aabbcc.cfg"]
    assert [r["status"] for r in log.fetches(["001565100101.cfg"])] == [200]


# ------------------------------------------------------------------------------------------ 1. profile
def user(**extra):
    u = {"id": "E1001", "name": "Ada", "extension": "1001", "class_of_service": "national", "features": []}
    u.update(extra)
    return u


def test_profile_missing_user_and_number_in_cooling_are_causes():
    missing = steps.profile(ev(profile={"checked": True, "user": None, "subscriber": False, "cooling": None}))
    assert kinds(missing, "cause") == ["user_missing"]
    cooled = steps.profile(ev(profile={"checked": True, "user": None, "subscriber": False,
                                       "cooling": {"until": "2027-03-01T00:00:00Z", "employee_id": "E0042"}}))
    assert kinds(cooled, "cause") == ["number_in_cooling"]
    assert "E0042" in cooled[0]["summary"] and "2027-03-01" in cooled[0]["summary"]


def test_profile_unmanaged_subscriber_is_no_cause():
    out = steps.profile(ev(profile={"checked": True, "user": None, "subscriber": True}))
    assert kinds(out, "cause") == [] and kinds(out) == ["unmanaged"]


def test_profile_dnd_and_forward_only_while_active():
    on = steps.profile(ev(profile={"checked": True, "user": user(features=[{"name": "dnd"}])}))
    assert kinds(on, "cause") == ["dnd_on"]
    ended = steps.profile(ev(profile={"checked": True, "user": user(features=[
        {"name": "dnd", "until": "2026-12-01T00:00:00Z"}, {"name": "cfu", "target": "1002", "until": "2026-12-31T00:00:00Z"}])}))
    assert kinds(ended, "cause") == ["forward_all"]
    assert "feature_expired" in kinds(ended)


def test_profile_grant_expired_is_a_cause_an_active_one_is_not():
    expired = steps.profile(ev(profile={"checked": True, "user": user(
        class_of_service_grant={"class_of_service": "international", "until": "2026-12-07T09:59:59Z"})}))
    assert kinds(expired, "cause") == ["grant_expired"]
    active = steps.profile(ev(profile={"checked": True, "user": user(
        class_of_service_grant={"class_of_service": "international", "until": "2026-12-07T10:00:01Z"})}))
    assert kinds(active, "cause") == [] and "grant_active" in kinds(active)


# ------------------------------------------------------------------------------------------ 2. handset
def prov(files=None, last=None, log_start="2026-12-01T00:00:00Z", unknown=()):
    files = files if files is not None else [{"name": "001565100101.cfg", "present": True,
                                              "mtime": "2026-12-07T08:00:00Z", "username": "1001"}]
    return {"checked": True, "files": files, "last_ok": last, "log_start": log_start, "unknown": list(unknown)}


FETCH = {"time": "2026-12-07T09:00:00Z", "addr": "10.31.4.7", "status": 200, "user_agent": "Yealink SIP-T54W 96.86.0.110"}
FW_OK = {"running": "96.86.0.110", "approved": ["96.86.0.100", "96.86.0.110"], "source": "registration"}


def test_handset_provisioning_file_missing_or_for_another_user():
    out = steps.handset(ev(handset=HS, provisioning=prov(files=[{"name": "001565100101.cfg", "present": False}]), firmware=FW_OK))
    assert kinds(out, "cause") == ["provisioning_missing"]
    other = prov(files=[{"name": "001565100101.cfg", "present": True, "mtime": "2026-12-07T08:00:00Z", "username": "1002"}])
    out = steps.handset(ev(handset=HS, provisioning=other, firmware=FW_OK))
    assert kinds(out, "cause") == ["provisioning_wrong_user"]


def test_handset_stale_when_the_file_changed_after_the_last_fetch():
    fresh = steps.handset(ev(handset=HS, provisioning=prov(last=FETCH), firmware=FW_OK))
    assert kinds(fresh, "cause") == [] and "fetched" in kinds(fresh)
    changed = prov(files=[{"name": "001565100101.cfg", "present": True, "mtime": "2026-12-07T09:30:00Z", "username": "1001"}],
                   last=FETCH)
    assert kinds(steps.handset(ev(handset=HS, provisioning=changed, firmware=FW_OK)), "cause") == ["provisioning_stale"]
    # never fetched: stale only when the log reaches back before the change, else the log cannot tell
    assert kinds(steps.handset(ev(handset=HS, provisioning=prov(), firmware=FW_OK)), "cause") == ["provisioning_stale"]
    short_log = prov(log_start="2026-12-07T09:00:00Z")
    out = steps.handset(ev(handset=HS, provisioning=short_log, firmware=FW_OK))
    assert kinds(out, "cause") == [] and "no_fetch_in_log" in kinds(out, "warning")


def test_handset_firmware_against_the_approved_list_in_version_order():
    wrong = dict(FW_OK, running="96.86.0.50")
    out = steps.handset(ev(handset=HS, provisioning=prov(last=FETCH), firmware=wrong))
    assert kinds(out, "cause") == ["firmware_not_approved"]
    assert "96.86.0.110" in out[-1]["action"]
    same = dict(FW_OK, running="96.86.00.110")   # the same version written differently
    assert kinds(steps.handset(ev(handset=HS, provisioning=prov(last=FETCH), firmware=same)), "cause") == []
    nopolicy = steps.handset(ev(handset=HS, provisioning=prov(last=FETCH), firmware={"running": "1", "approved": None}))
    assert "firmware_no_policy" in kinds(nopolicy)


# ------------------------------------------------------------------------------------------ 3. registration
def contact(**extra):
    c = {"aor": "1001", "contact": "sip:1001@10.31.4.7:5060", "address": "10.31.4.7:5060", "expires": 50,
         "user_agent": "Yealink SIP-T54W 96.86.0.110", "handset": "hs-1001", "differences": []}
    c.update(extra)
    return c


def test_registration_none_is_offline_unless_an_unknown_mac_asked_for_its_file():
    off = steps.registration(ev(handset=HS, provisioning=prov(), registrations={"checked": True, "contacts": []}))
    assert kinds(off, "cause") == ["not_registered"] and off[0]["component"] == "hs-1001"
    swap = prov(unknown=[{"mac": "00:15:65:99:00:01", "time": "2026-12-07T09:50:00Z", "status": 404, "vendor": "yealink"}])
    out = steps.registration(ev(handset=HS, provisioning=swap, registrations={"checked": True, "contacts": []}))
    assert kinds(out, "cause") == ["mac_swap"] and "00:15:65:99:00:01" in out[0]["summary"]


def test_registration_from_another_device_stale_and_several():
    other = contact(handset="hs-1001", differences=["mac"], user_agent="Yealink SIP-T54W 96.86.0.110 00:15:65:99:00:01")
    assert kinds(steps.registration(ev(handset=HS, registrations={"checked": True, "contacts": [other]})), "cause") == ["other_device"]
    softphone = contact(handset=None, user_agent="Linphone/5.2")
    assert kinds(steps.registration(ev(handset=HS, registrations={"checked": True, "contacts": [softphone]})), "cause") == \
        ["other_device"]
    stale = contact(expires=0)
    assert kinds(steps.registration(ev(handset=HS, registrations={"checked": True, "contacts": [stale]})), "cause") == \
        ["registration_stale"]
    both = steps.registration(ev(handset=HS, registrations={"checked": True, "contacts": [contact(), softphone]}))
    assert kinds(both, "cause") == [] and kinds(both, "warning") == ["several_devices"]


# ------------------------------------------------------------------------------------------ 4./5. reachability, path
def test_reachability_a_silent_contact_is_a_cause_and_the_test_call_is_reported_not_done():
    silent = steps.reachability(ev(handset=HS, options={"checked": True, "results": [
        {"target": "sip:1001@10.31.4.7:5060", "status": "timeout", "reachable": False}]}))
    assert kinds(silent, "cause") == ["contact_unreachable"]
    ok = steps.reachability(ev(handset=HS, options={"checked": True, "results": [
        {"target": "sip:1001@10.31.4.7:5060", "status": "ok", "reachable": True, "code": 200, "rtt_ms": 3}]}))
    assert kinds(ok, "cause") == [] and "test_call_not_done" in kinds(ok, "info")


def test_path_gateway_down_by_options_or_dispatcher_and_open_tickets():
    up = {"name": "mgw1", "dispatcher": "active", "options": "ok"}
    assert kinds(steps.path(ev(path={"site": "ams", "gateways": [up]})), "cause") == []
    refused = dict(up, options="refused")
    assert kinds(steps.path(ev(path={"site": "ams", "gateways": [refused]})), "cause") == ["gateway_down"]
    inactive = dict(up, dispatcher="inactive")
    assert kinds(steps.path(ev(path={"site": "ams", "gateways": [inactive]})), "cause") == ["gateway_down"]
    ticket = {"id": "abc", "component": "lan-ams", "availability": True, "summary": "switch down", "priority": "P2",
              "supplier": "phonecare"}
    assert kinds(steps.path(ev(path={"site": "ams", "gateways": [up], "tickets": [ticket]})), "cause") == ["open_ticket"]
    advisory = dict(ticket, availability=False)
    assert kinds(steps.path(ev(path={"site": "ams", "gateways": [up], "tickets": [advisory]})), "warning") == ["open_ticket"]


def test_conclude_takes_the_first_cause_else_the_newest_change():
    a = steps.obs("handset", "x", "cause", "first")
    b = steps.obs("path", "y", "cause", "second")
    c = steps.obs("changes", "journal", "suspect", "a change")
    assert steps.conclude([a, b, c]) is a
    assert steps.conclude([steps.obs("profile", "exists", "ok", "fine"), c]) is c
    assert steps.conclude([steps.obs("profile", "exists", "ok", "fine")]) is None


# ------------------------------------------------------------------------------------------ evidence filters (pure)
def test_journal_rows_of_this_user_since_the_window():
    since = NOW - datetime.timedelta(days=14)
    rows = [{"id": 1, "when": "2026-12-06T08:00:00Z", "op": "update", "employee_id": "E1001", "what": "dnd on"},
            {"id": 2, "when": "2026-10-01T08:00:00Z", "op": "update", "employee_id": "E1001", "what": "too old"},
            {"id": 3, "when": "2026-12-06T09:00:00Z", "op": "delete", "employee_id": "E0042", "what": "leaver",
             "before": {"extension": "1001"}},
            {"id": 4, "when": "2026-12-06T09:00:00Z", "op": "create", "employee_id": "E7", "what": "other"}]
    assert [r["id"] for r in gather.journal_touching(rows, "1001", "E1001", since)] == [1, 3]


def test_the_exported_journal_adds_the_rows_the_database_no_longer_has(estate, tmp_path):
    from ansible_collections.voipops.voip.plugins.module_utils import journal
    row = {"id": 7, "when": "2026-12-07T08:00:00Z", "op": "update", "employee_id": "E1001", "who": "hr", "what": "dnd"}
    old = {"id": 3, "when": "2026-12-06T08:00:00Z", "op": "create", "employee_id": "E1001", "who": "hr", "what": "join"}
    path = str(tmp_path / "audit.jsonl")
    journal.export([old, row], path)
    g = gather.Gatherer(estate, FakeDriver(journal=[row]), now=NOW, audit_log=path)
    found = g.changes({"target": {"extension": "1001", "employee_id": "E1001"}})["journal"]
    assert [r["id"] for r in found] == [3, 7]


def test_open_tickets_on_the_path_only():
    audit = {"generated_at": "2026-12-07T06:00:00Z", "tickets": ["t1", "t2"],
             "findings": [{"id": "t1", "component": "lan-ams", "summary": "down"}, {"id": "t2", "component": "mgw2"},
                          {"id": "s1", "component": "hs-1001", "root_cause": "t1"}]}
    assert [t["id"] for t in gather.open_tickets(audit, {"lan-ams", "cs1", "hs-1001"})] == ["t1"]


def test_release_records_naming_the_phone():
    since = NOW - datetime.timedelta(days=14)
    records = [{"when": "2026-12-05T20:00:00Z", "summary": "wave 2 firmware", "handsets": ["hs-1001", "hs-1002"]},
               {"when": "2026-12-05T21:00:00Z", "summary": "by MAC", "devices": [{"mac": "0015.6510.0101"}]},
               {"when": "2026-12-05T20:00:00Z", "summary": "wave 3", "handsets": ["hs-10010"]},
               {"when": "2026-01-05T20:00:00Z", "summary": "old wave", "handsets": ["hs-1001"]}]
    assert [r["summary"] for r in gather.records_touching(records, ["hs-1001", "00:15:65:10:01:01", "1001"], since)] == \
        ["wave 2 firmware", "by MAC"]


def test_unknown_devices_are_the_vendors_failed_requests_after_the_last_good_fetch_from_the_site():
    def rec(minute, mac, status=404, addr="10.31.4.9", ua="Yealink SIP-T54W 96.86.0.110"):
        return {"time": datetime.datetime(2026, 12, 7, 9, minute, tzinfo=UTC), "mac_hex": mac, "status": status,
                "addr": addr, "path": "/%s.cfg" % mac, "user_agent": ua}
    records = [rec(1, "001565990001"),                       # before the last good fetch
               rec(5, "001565990002"),                       # the replacement
               rec(6, "001565100101"),                       # the estate's own phone
               rec(7, "001565990003", status=200),           # answered: the server knows it
               rec(8, "001565990004", addr="10.32.1.1"),     # another site's network
               rec(9, "c074ad990005", ua="Grandstream Model HW GRP2614 SW 1.0.13.3 DevId c074ad990005")]   # another vendor
    after = datetime.datetime(2026, 12, 7, 9, 3, tzinfo=UTC)
    found = gather.unknown_devices(records, {"001565100101"}, "yealink", after, ["10.31.0.0/16"])
    assert [d["mac"] for d in found] == ["00:15:65:99:00:02"]
    assert [d["mac"] for d in gather.unknown_devices(records, {"001565100101"}, "yealink")] == \
        ["00:15:65:99:00:01", "00:15:65:99:00:02", "00:15:65:99:00:04"]


# ------------------------------------------------------------------------------------------ routing
def test_routing_is_the_audits(estate):
    handset = steps.obs("registration", "not_registered", "cause", "off", severity="major", component="hs-1001")
    r = route.responsible(handset, estate, NOW)
    assert r["supplier"] == "phonecare" and r["priority"] == "P3" and r["coverage"] == "business_hours"
    want = sla.deadlines(NOW, "P3", estate.suppliers["phonecare"], estate.sites["ams"])
    assert (r["response_due"], r["resolve_due"]) == (want["response_due"], want["resolve_due"])
    gateway = steps.obs("path", "gateway_down", "cause", "mgw1 down", severity="critical", component="mgw1")
    r = route.responsible(gateway, estate, NOW)
    assert r["supplier"] == "acme" and r["priority"] == "P1" and r["contact"]["email"] == "noc@acme.example"
    profile = steps.obs("profile", "dnd_on", "cause", "dnd", severity="minor")
    assert route.responsible(profile, estate, NOW)["supplier"] == route.ADMINISTRATION


# ------------------------------------------------------------------------------------------ run order (engine)
class FakeDriver(object):
    """Stands in for a callserver driver: the data a driver returns, no platform."""
    rpc_url = "http://127.0.0.1:9/RPC"
    db_url = "sqlite:////nonexistent"

    def __init__(self, users=(), unmanaged=(), contacts=(), dispatcher=(), journal=()):
        self._snap = UserSnapshot(users=list(users), unmanaged=list(unmanaged))
        self._contacts, self._dispatcher, self._journal = list(contacts), list(dispatcher), list(journal)

    def read_users(self, now=None):
        return self._snap

    def registrations(self):
        return self._contacts

    def dispatcher(self):
        return self._dispatcher

    def journal_rows(self):
        return self._journal


def test_the_run_stops_at_the_first_cause_but_still_lists_the_recent_changes(estate):
    journal = [{"id": 7, "when": "2026-12-07T08:00:00Z", "op": "update", "employee_id": "E1001", "who": "hr-batch",
                "what": "E1001: features dnd"}]
    driver = FakeDriver(users=[user(features=[{"name": "dnd"}])], journal=journal)
    result = engine.run(gather.Gatherer(estate, driver, now=NOW, sip_options=False), handset="hs-1001")
    assert result["verdict"] == "cause" and result["cause"]["kind"] == "dnd_on"
    assert result["stopped_at"] == "profile"
    status = dict((s["name"], s["status"]) for s in result["steps"])
    assert status == {"profile": "cause", "handset": "not_run", "registration": "not_run", "reachability": "not_run",
                      "path": "not_run", "changes": "suspect"}
    assert result["target"]["employee_id"] == "E1001" and result["handset"]["mac"] == "00:15:65:10:01:01"
    lines = card.render(result)
    assert lines[0].startswith("Triage of handset hs-1001 (extension 1001)")
    assert any(line.startswith("Cause: [dnd_on]") for line in lines)
    assert any("E1001: features dnd" in line for line in lines)


def test_a_clean_run_finds_nothing_and_an_unknown_target_is_refused(estate):
    reg = {"aor": "1001", "contact": "sip:1001@127.0.0.1:5999", "expires": 40, "user_agent": "Yealink SIP-T54W 96.86.0.110",
           "received": ""}
    driver = FakeDriver(unmanaged=["1001"], contacts=[reg])
    result = engine.run(gather.Gatherer(estate, driver, now=NOW, sip_options=False), extension="1001")
    assert result["verdict"] == "no_fault_found" and result["cause"] is None and result["responsible"] is None
    assert result["evidence"]["firmware"]["running"] == "96.86.0.110"
    by_did = FakeDriver(users=[user(aliases=["+31201234101"])], contacts=[reg])
    result = engine.run(gather.Gatherer(estate, by_did, now=NOW, sip_options=False), extension="+31201234101")
    assert result["target"]["extension"] == "1001" and result["target"]["alias"] == "+31201234101"
    assert result["handset"]["name"] == "hs-1001" and result["verdict"] == "no_fault_found"
    with pytest.raises(gather.TargetError):
        gather.Gatherer(estate, driver, now=NOW).target(mac="00:15:65:ff:ff:01")
    with pytest.raises(gather.TargetError):
        gather.Gatherer(estate, driver, now=NOW).target(handset="hs-9999")
