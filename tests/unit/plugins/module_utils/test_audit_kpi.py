# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Service KPIs of the health audit: the counters from stats.fetch, the KPI maths on worked counter deltas
(RFC 6076 SER/SEER, ITU-T E.411/E.425 ASR/NER), a restart, thresholds with a minimum sample, and the KPI
section in the JSON, HTML and JUnit reports."""
import datetime
import json
import os
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.voipops.voip.plugins.module_utils.audit import build as B
from ansible_collections.voipops.voip.plugins.module_utils.audit import checks as C
from ansible_collections.voipops.voip.plugins.module_utils.audit import kpi as K
from ansible_collections.voipops.voip.plugins.module_utils.audit import report as R
from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio import parse_counters
from ansible_collections.voipops.voip.plugins.module_utils.estate import load_estate

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
T1 = datetime.datetime(2026, 3, 2, 7, 0, tzinfo=datetime.timezone.utc)
T2 = datetime.datetime(2026, 3, 3, 7, 0, tzinfo=datetime.timezone.utc)


def group(**kw):
    """Counters of one gateway group (``c486=5`` -> the ``486`` counter)."""
    return dict((k.lstrip("c"), v) for k, v in kw.items())


def counters(accepted, rejected, **gw):
    return {"registrations": {"accepted": accepted, "rejected": rejected}, "gateway_groups": {"1": group(**gw)}}


def test_parse_counters_one_rule_per_counter():
    raw = {"registrar.accepted_regs": "120", "registrar.rejected_regs": "3", "registrar.max_expires": "3600",
           "script.gw1_invites": "40", "script.gw1_2xx": "31", "script.gw1_486": "5", "script.gw2_5xx": "7",
           "script.other": "9", "core.rcv_requests": "1000", "sl.200_replies": "80"}
    assert parse_counters(raw) == {"registrations": {"accepted": 120, "rejected": 3},
                                   "gateway_groups": {"1": {"invites": 40, "2xx": 31, "486": 5}, "2": {"5xx": 7}}}


def test_kpis_on_a_worked_delta():
    before = counters(1000, 10, invites=500, c2xx=400, c3xx=0, c4xx=60, c5xx=40, c486=50, c603=10, c503=40)
    # since then: 100 REGISTERs (96 accepted), 100 calls: 80 answered, 5 redirected (3xx), 6 busy, 1 declined (603),
    # 2 abandoned by the caller (487), 6 refused by the network (503)
    after = counters(1096, 14, invites=600, c2xx=480, c3xx=5, c4xx=68, c5xx=46, c486=56, c603=11, c487=2, c503=46)
    doc = K.compute(after, before, "2026-03-02T07:00:00Z")
    assert doc["restarted"] is False and doc["first"] is False
    assert doc["registration"] == {"attempted": 100, "accepted": 96, "rejected": 4, "registration_success": 96.0}
    g = doc["gateway_groups"]["1"]
    # SER = 80 / (100 - 5); SEER = (80 + 6 + 1) / 95 (RFC 6076 4.6/4.7: 486, 603 are effective, 487 is not)
    assert g["ser"] == round(100.0 * 80 / 95, 1) and g["seer"] == round(100.0 * 87 / 95, 1)
    # ASR = 80 / 100; NER = (80 + 6 + 1 + 2) / 100 (E.425: what the user did counts as effective)
    assert (g["asr"], g["ner"]) == (80.0, 89.0)
    assert g["failure_codes"] == {"3xx": 5, "4xx": 8, "5xx": 6, "486": 6, "487": 2, "503": 6, "603": 1}
    assert doc["sessions"]["ser"] == g["ser"]


def test_a_counter_that_went_down_is_a_restart_and_the_new_values_count():
    before = counters(5000, 50, invites=900, c2xx=850)
    after = counters(40, 10, invites=30, c2xx=15, c5xx=15, c503=15)
    doc = K.compute(after, before, "2026-03-02T07:00:00Z")
    assert doc["restarted"] is True and "restarted" in doc["note"]
    assert doc["registration"]["attempted"] == 50 and doc["registration"]["registration_success"] == 80.0
    assert doc["gateway_groups"]["1"]["asr"] == 50.0


def test_first_audit_is_the_baseline_without_kpis():
    doc = K.compute(counters(10, 0, invites=3, c2xx=3), None)
    assert doc["first"] and doc["registration"] is None and doc["gateway_groups"] == {} and "baseline" in doc["note"]
    assert K.rows(doc) == []


def test_trend_against_the_previous_audit():
    before = K.compute(counters(200, 0, invites=200, c2xx=190), counters(100, 0, invites=100, c2xx=95))
    now = K.add_trends(K.compute(counters(300, 0, invites=300, c2xx=250), counters(200, 0, invites=200, c2xx=190)), before)
    assert now["gateway_groups"]["1"]["trend"]["asr"] == "down" and now["registration"]["trend"] == "same"


@pytest.fixture(scope="module")
def estate():
    return load_estate(os.path.join(ROOT, "inventories", "lab", "estate.yml"))


def rpc(cnt):
    return {"rpc": [{"item": "cs1", "callserver": {"version": "kamailio 5.6.3", "counters": cnt}}]}


def audit(estate, cnt, previous=None, now=T2, thresholds=None):
    doc, kchecks = C.from_kpis(rpc(cnt), estate, now, previous=previous, thresholds=thresholds)
    a = B.build_audit(kchecks, estate, now, previous=previous)
    a["kpis"] = doc
    return json.loads(R.render_json(a))


def test_low_ner_is_a_finding_only_with_enough_calls(estate):
    first = audit(estate, counters(10, 0, invites=10, c2xx=10), now=T1)
    assert first["kpis"]["first"] and first["findings"] == []
    # 30 calls, 12 refused by the network (503): NER 60 % < 95 %, ASR 60 % ok (>= 50 %)
    second = audit(estate, counters(40, 0, invites=40, c2xx=28, c5xx=12, c503=12), previous=first)
    kinds = sorted(f["kind"] for f in second["findings"])
    assert kinds == ["ner_low_group1", "seer_low", "seer_low_group1", "ser_low", "ser_low_group1"]
    ner = [f for f in second["findings"] if f["kind"] == "ner_low_group1"][0]
    assert ner["component"] == "cs1" and ner["details"]["value_pct"] == 60.0 and ner["details"]["samples"] == 30
    assert "503 x12" in ner["summary"] and "2026-03-02T07:00:00Z" in ner["summary"]
    # the same calls with a higher minimum sample: not judged, no finding
    quiet = audit(estate, counters(40, 0, invites=40, c2xx=28, c5xx=12, c503=12), previous=first,
                  thresholds={"kpi_min_samples": 31})
    assert quiet["findings"] == [] and {r["status"] for r in quiet["kpis"]["table"]} == {"not_judged"}
    # thresholds from the estate/role: NER 50 % is fine
    lenient = audit(estate, counters(40, 0, invites=40, c2xx=28, c5xx=12, c503=12), previous=first,
                    thresholds={"ner_min_pct": 50, "ser_min_pct": 50, "seer_min_pct": 50})
    assert lenient["findings"] == []


def test_kpis_in_html_and_junit(estate):
    first = audit(estate, counters(10, 0, invites=10, c2xx=10), now=T1)
    second = audit(estate, counters(40, 0, invites=40, c2xx=28, c5xx=12, c503=12), previous=first)
    junit = ET.fromstring(R.render_junit(second))
    suite = [s for s in junit.iter("testsuite") if s.get("name") == "kpi"][0]
    cases = dict((c.get("name"), c) for c in suite.iter("testcase"))
    assert set(cases) == {"ser callserver", "seer callserver", "ser gateway group 1", "seer gateway group 1",
                          "asr gateway group 1", "ner gateway group 1", "registration_success callserver"}
    assert cases["ner gateway group 1"].find("failure") is not None
    assert cases["asr gateway group 1"].find("failure") is None
    # 30 REGISTERs, all accepted, but with a 20-attempt minimum that is judged ok
    assert len(cases["registration_success callserver"]) == 0
    html = R.render_html(second)
    assert 'id="kpis"' in html and 'data-kpi="ner" data-scope="gateway group 1"' in html and "60.0%" in html
    assert "kpi-low" in html
    assert 'id="kpis"' in R.render_html(first) and "baseline" in R.render_html(first)


def test_rerun_of_the_same_audit_keeps_its_kpis(estate):
    first = audit(estate, counters(10, 0, invites=10, c2xx=10), now=T1)
    second = audit(estate, counters(40, 0, invites=40, c2xx=28, c5xx=12, c503=12), previous=first)
    again = audit(estate, counters(45, 0, invites=45, c2xx=33, c5xx=12, c503=12), previous=second)  # same T2
    assert again["kpis"]["gateway_groups"] == second["kpis"]["gateway_groups"]


def test_no_counters_no_kpis(estate):
    assert C.from_kpis({"rpc": [{"item": "cs1", "callserver": {"version": "x"}}]}, estate, T2) == (None, [])
