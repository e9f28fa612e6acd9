# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test calls in the health audit: sip_call results -> findings (audit/checks.py), and through the whole build."""
import os

import pytest

from ansible_collections.voipops.voip.plugins.module_utils.audit import build as B
from ansible_collections.voipops.voip.plugins.module_utils.audit import checks as C
from ansible_collections.voipops.voip.plugins.module_utils.estate import load_estate

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
NOW = "2026-11-27T16:30:00Z"


@pytest.fixture(scope="module")
def estate():
    return load_estate(os.path.join(ROOT, "inventories", "lab", "estate.yml"))


def call(target, kind, name, classification="answered", code=200, pdd=12.0, ringing=False, error=None):
    answered = classification == "answered"
    reasons = {200: "OK", 486: "Busy Here", 503: "Service Unavailable", 404: "Not Found",
               407: "Proxy Authentication Required", 487: "Request Terminated"}
    return {"target": target, "kind": kind, "name": name, "uri": "sip:%s@voip.lab" % target, "via": "proxy",
            "classification": classification, "code": code, "reason": reasons.get(code),
            "answered": answered, "ringing": ringing, "post_dial_delay_ms": pdd, "setup_ms": pdd, "call_id": "c-" + target,
            "error": error}


def gw_info(name, reachable=True):
    return {"name": name, "problems": [], "sip": {"status": "ok" if reachable else "timeout", "reachable": reachable}}


def by_kind(result):
    return dict(((f["component"], f["kind"]), f) for f in result["findings"])


def test_all_answered_is_clean_and_lists_what_was_checked(estate):
    res = C.from_test_calls({"calls": [call("sip:90001@127.0.0.1:5080", "gateway", "mgw1"), call("90001", "group", "external"),
                                       call("1001", "phone", "hs-1001")]}, estate)
    assert res["findings"] == [] and res["checked"] == ["cs1", "hs-1001", "mgw1"]


def test_gateway_that_answers_options_but_fails_calls(estate):
    calls = [call("sip:90001@127.0.0.1:5080", "gateway", "mgw1", "rejected", 503),
             call("sip:90001@127.0.0.1:5081", "gateway", "mgw2", "unreachable", None, pdd=None, error="no answer")]
    res = C.from_test_calls(calls, estate, options_ok={"mgw1"})
    f = by_kind(res)
    assert f[("mgw1", "call_failed")]["severity"] == "major"
    assert "mgw1 answers SIP OPTIONS but fails a test call straight to it: rejected, 503" in f[("mgw1", "call_failed")]["summary"]
    assert f[("mgw1", "call_failed")]["details"]["options_answered"] is True
    assert "mgw2 fails a test call" in f[("mgw2", "call_failed")]["summary"]
    assert f[("mgw2", "call_failed")]["availability"] is True


def test_gateway_group_failing_is_critical_on_the_callserver_one_id_per_group(estate):
    calls = [call("90001", "group", "external", "rejected", 503), call("00311234", "group", "international", "rejected", 503)]
    res = C.from_test_calls(calls, estate)
    kinds = sorted(f["kind"] for f in res["findings"])
    assert kinds == ["group_call_failed_external", "group_call_failed_international"]
    assert all(f["component"] == "cs1" and f["severity"] == "critical" for f in res["findings"])
    assert len(set(f["id"] for f in res["findings"])) == 2


def test_phone_sample_ringing_or_busy_is_fine_rejected_is_not(estate):
    calls = [call("1001", "phone", "hs-1001", "no_answer", 487, ringing=True), call("1002", "phone", "hs-1002", "busy", 486),
             call("1003", "phone", "hs-1003", "rejected", 404), call("1099", "phone", "not-in-estate", "rejected", 404)]
    res = C.from_test_calls(calls, estate)
    assert [(f["component"], f["kind"], f["severity"]) for f in res["findings"]] == [("hs-1003", "call_failed", "minor")]
    assert "1003 (hs-1003)" in res["findings"][0]["summary"] and "404 Not Found" in res["findings"][0]["summary"]
    assert "not-in-estate" not in res["checked"]


def test_slow_post_dial_delay_against_the_threshold(estate):
    calls = [call("1001", "phone", "hs-1001", pdd=4500.0), call("90001", "group", "external", pdd=200.0)]
    res = C.from_test_calls(calls, estate)
    (f,) = res["findings"]
    assert (f["component"], f["kind"], f["severity"], f["availability"]) == ("hs-1001", "slow_call_setup", "warning", False)
    assert "4500 ms" in f["summary"] and f["details"]["threshold_ms"] == 3000
    assert C.from_test_calls(calls, estate, thresholds={"post_dial_delay_warning_ms": 5000})["findings"] == []
    assert len(C.from_test_calls(calls, estate, thresholds={"post_dial_delay_warning_ms": 100})["findings"]) == 2


def test_refused_test_call_account_is_one_finding_not_a_fault_per_target(estate):
    calls = [call("90001", "group", "external", "auth_failed", 407), call("1001", "phone", "hs-1001", "auth_failed", 407)]
    res = C.from_test_calls(calls, estate)
    (f,) = res["findings"]
    assert (f["component"], f["kind"]) == ("cs1", "test_call_auth_failed") and "2 call(s)" in f["summary"]


def test_through_audit_report_results_with_options_from_gateway_info(estate):
    results = {"gateway_info": [gw_info("mgw1"), gw_info("mgw2")],
               "test_calls": {"calls": [call("sip:90001@127.0.0.1:5080", "gateway", "mgw1", "rejected", 500)],
                              "summary": {}}}
    checks = C.from_results(results, estate, NOW)
    tc = [c for c in checks if c["check"] == "test_calls"][0]
    assert "answers SIP OPTIONS but fails" in tc["findings"][0]["summary"]
    audit = B.build_audit(checks, estate, NOW)
    (f,) = [f for f in audit["findings"] if f["check"] == "test_calls"]
    assert f["component"] == "mgw1" and f["supplier"] and f["priority"]


def test_a_failed_test_call_task_is_a_finding(estate):
    (res,) = C.from_results({"test_calls": {"failed": True, "msg": "sip_call: targets[0]: target is empty"}}, estate, NOW)
    assert res["check"] == "test_calls" and res["findings"][0]["kind"] == "check_failed"


def test_no_calls_no_check(estate):
    """The audit's test-call task skipped (no test-call account): no empty test_calls check in the reports."""
    assert [c["check"] for c in C.from_results({"test_calls": []}, estate, NOW)] == []
    assert [c["check"] for c in C.from_results({"test_calls": {"calls": []}}, estate, NOW)] == []


# ---------------------------------------------------------------------------------------------- media
def media(loss=0.0, jitter=1.0, mos=4.41, received=50, error=None):
    return {"sent": 50, "received": received, "expected": 50, "lost": 50 - received, "loss_pct": loss, "jitter_ms": jitter,
            "rtt_ms": 1.0, "one_way_ms": 0.5, "burst_ratio": 1.0, "r_factor": 93.2, "mos": mos,
            "remote": "127.0.0.1:40000", "echoed": bool(received), "error": error}


def with_media(c, m):
    return dict(c, media=m)


def test_clean_media_is_no_finding(estate):
    res = C.from_test_calls([with_media(call("sip:90001@127.0.0.1:5080", "gateway", "mgw1"), media())], estate)
    assert res["findings"] == [] and res["checked"] == ["mgw1"]


def test_lossy_gateway_call_is_media_degraded_with_the_figures(estate):
    res = C.from_test_calls([with_media(call("sip:90001@127.0.0.1:5080", "gateway", "mgw1"),
                                        media(loss=20.0, jitter=2.0, mos=2.63, received=40)),
                             with_media(call("sip:90001@127.0.0.1:5081", "gateway", "mgw2"), media(loss=2.0, mos=4.2))],
                            estate)
    f = by_kind(res)
    bad = f[("mgw1", "media_degraded")]
    assert bad["severity"] == "minor" and bad["availability"] is False        # MOS below media_mos_minor 3.1
    assert "loss 20% (above 1%)" in bad["summary"] and "MOS 2.63 (below 3.6)" in bad["summary"]
    assert bad["details"]["media"]["loss_pct"] == 20.0 and bad["details"]["media"]["mos"] == 2.63
    assert bad["details"]["thresholds"]["media_loss_warning_pct"] == 1.0
    mild = f[("mgw2", "media_degraded")]
    assert mild["severity"] == "warning" and "loss 2% (above 1%)" in mild["summary"] and "MOS" not in mild["summary"]


def test_media_thresholds_are_the_estates(estate):
    c = with_media(call("sip:90001@127.0.0.1:5080", "gateway", "mgw1"), media(loss=2.0, jitter=45.0, mos=4.2))
    assert by_kind(C.from_test_calls([c], estate))[("mgw1", "media_degraded")]["summary"].endswith(
        "loss 2% (above 1%), jitter 45 ms (above 30 ms)")
    assert C.from_test_calls([c], estate, thresholds={"media_loss_warning_pct": 5, "media_jitter_warning_ms": 50})[
        "findings"] == []


def test_no_rtp_back_is_minor(estate):
    c = with_media(call("sip:90001@127.0.0.1:5080", "gateway", "mgw1"),
                   media(loss=100.0, mos=1.0, received=0, error="no RTP received from 127.0.0.1:40000 in 50 packets' time"))
    f = by_kind(C.from_test_calls([c], estate))[("mgw1", "media_degraded")]
    assert f["severity"] == "minor" and f["summary"].startswith(
        "the media of a test call to sip:90001@127.0.0.1:5080 (mgw1) is degraded: no RTP received")


def test_media_degraded_reaches_the_report(estate):
    c = with_media(call("sip:90001@127.0.0.1:5080", "gateway", "mgw1"), media(loss=20.0, mos=2.63, received=40))
    checks = C.from_results({"test_calls": {"calls": [c]}}, estate, NOW)
    found = [f for r in checks for f in r["findings"]]
    assert [(f["component"], f["kind"]) for f in found] == [("mgw1", "media_degraded")]
