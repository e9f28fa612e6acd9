# -*- coding: utf-8 -*-
"""Service KPIs from the lab's Kamailio counters: a first audit is the baseline; calls through gateway group 1
(two answered by a lab gateway, two refused because the group has no gateway in service) are counted by
Kamailio's statistics module, and the second audit computes ASR/NER/SER from the counters' change and files
a low-NER finding on the callserver, in the JSON, HTML and JUnit reports."""
import json
import os
import signal
import xml.etree.ElementTree as ET

import pytest
import requests

from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio import KamailioRPC
from conftest import ROOT, LAB_DIR, wait_for

pytestmark = [pytest.mark.lab]


@pytest.fixture
def caller(lab, extra_subscriber):
    acct = extra_subscriber("1097")
    cs = lab["callserver"]
    return {"proxy": "%s:%d" % (cs["host"], cs["sip_port"]), "domain": lab["domain"], "username": acct["username"],
            "password": acct["password"], "hold": 0.1, "ring_timeout": 4.0}


def ok(result):
    assert not result.get("failed"), result.get("msg") or result.get("_stderr")
    return result


def audit(ansible, lab, dest, now):
    info = ok(ansible.module("callserver_info", {"rpc_url": lab["callserver"]["rpc_url"], "gather": ["statistics"]}))
    ok(ansible.module("audit_report", {
        "estate_file": os.path.join(ROOT, "inventories", "lab", "estate.yml"),
        "endpoints_file": os.path.join(LAB_DIR, "endpoints.json"), "dest": str(dest), "now": now,
        "results": {"rpc": [{"item": "cs1", "callserver": info["callserver"]}]},
        "thresholds": {"kpi_min_samples": 2}}))
    with open(os.path.join(str(dest), "health_audit.json")) as handle:
        return info["callserver"]["counters"], json.load(handle)


def set_group_state(ansible, lab, flags):
    """``dispatcher.set_state <flags> 1 all`` over the lab's JSON-RPC (README.dispatcher 5.6)."""
    resp = requests.post(lab["callserver"]["rpc_url"], timeout=5,
                         json={"jsonrpc": "2.0", "method": "dispatcher.set_state", "params": [flags, 1, "all"], "id": 1})
    assert "error" not in resp.json(), resp.text


def test_kpis_from_the_callservers_counters_between_two_audits(ansible, lab, caller, tmp_path):
    first_counters, first = audit(ansible, lab, tmp_path, "2026-12-07T08:00:00Z")
    assert first["kpis"]["first"] is True and "baseline" in first["kpis"]["note"]
    assert "invites" in first_counters["gateway_groups"]["1"]
    assert not [f for f in first["findings"] if f["check"] == "kpi"]

    answered = ok(ansible.module("sip_call", dict(caller, targets=["90001", "90002"])))["calls"]
    assert [c["code"] for c in answered] == [200, 200]
    set_group_state(ansible, lab, "d")  # every gateway of set 1 out of service: the calls are refused (503)
    try:
        refused = ok(ansible.module("sip_call", dict(caller, targets=["90003", "90004"])))["calls"]
    finally:
        set_group_state(ansible, lab, "ap")
    assert [c["code"] for c in refused] == [503, 503]

    counters, second = audit(ansible, lab, tmp_path, "2026-12-07T09:00:00Z")
    kpis = second["kpis"]
    assert kpis["baseline_at"] == "2026-12-07T08:00:00Z" and kpis["restarted"] is False
    group = kpis["gateway_groups"]["1"]
    assert (group["invites"], group["answered"]) == (4, 2)
    assert group["failure_codes"] == {"5xx": 2, "503": 2, "noroute": 2}
    assert (group["asr"], group["ner"], group["ser"]) == (50.0, 50.0, 50.0)
    assert group["trend"]["ner"] is None  # the baseline audit had no KPIs to compare with
    assert counters["gateway_groups"]["1"]["invites"] - first_counters["gateway_groups"]["1"]["invites"] == 4
    kinds = dict((f["kind"], f) for f in second["findings"] if f["check"] == "kpi")
    assert {"ner_low_group1", "ser_low_group1"} <= set(kinds) and "asr_low_group1" not in kinds
    assert kinds["ner_low_group1"]["component"] == "cs1" and "503 x2" in kinds["ner_low_group1"]["summary"]

    html = (tmp_path / "health_audit.html").read_text()
    assert 'data-kpi="ner" data-scope="gateway group 1"' in html and "kpi-low" in html
    junit = ET.parse(str(tmp_path / "health_audit.junit.xml")).getroot()
    cases = dict((c.get("name"), c) for s in junit.iter("testsuite") if s.get("name") == "kpi" for c in s.iter("testcase"))
    assert cases["ner gateway group 1"].find("failure") is not None
    assert cases["asr gateway group 1"].find("failure") is None


def test_a_callserver_restart_between_two_audits_is_seen_and_its_counters_start_again(
        ansible, lab, caller, lab_component, tmp_path):
    """Kamailio's counters start from zero when it restarts: the audit after a real restart says so (``restarted``)
    and takes the counters since the restart as the change, instead of a negative one."""
    rpc = KamailioRPC(lab["callserver"]["rpc_url"])
    before = set(c["aor"] for c in rpc.registrations())
    ok(ansible.module("sip_call", dict(caller, targets=["90001"])))  # the counters the first audit sees are not zero
    first_counters, first = audit(ansible, lab, tmp_path, "2026-12-07T10:00:00Z")
    assert first_counters["gateway_groups"]["1"]["invites"] >= 1
    try:
        # a clean stop (SIGTERM: usrloc writes its registrations back), then the lab starts Kamailio again
        lab_component.stop("kamailio", sig=signal.SIGTERM)
    finally:
        lab_component.restore()
        wait_for(lambda: before <= set(c["aor"] for c in KamailioRPC(lab["callserver"]["rpc_url"]).registrations()),
                 120, what="the phones registered before the restart to be registered again")
    answered = ok(ansible.module("sip_call", dict(caller, targets=["90002"])))["calls"]
    assert [c["code"] for c in answered] == [200]
    counters, second = audit(ansible, lab, tmp_path, "2026-12-07T11:00:00Z")
    assert counters["gateway_groups"]["1"]["invites"] == 1  # Kamailio counted from zero again
    kpis = second["kpis"]
    assert kpis["restarted"] is True and kpis["baseline_at"] == "2026-12-07T10:00:00Z"
    group = kpis["gateway_groups"]["1"]
    # since the restart: the one call just placed (never a negative change)
    assert (group["invites"], group["answered"]) == (1, 1)
