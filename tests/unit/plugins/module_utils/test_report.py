# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reports: JSON schema, JUnit, webhook against a real local HTTP receiver, HTML in headless Chromium."""
import copy
import http.server
import json
import os
import sys
import threading
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.voipops.voip.plugins.module_utils.audit import build as B
from tests.support import htmlcheck
from ansible_collections.voipops.voip.plugins.module_utils.audit import report as R
from ansible_collections.voipops.voip.plugins.module_utils.estate import load_estate

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # shared samples, also under --import-mode=importlib
from test_findings import NOW, run_checks  # noqa: E402  realistic module results (same folder)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
OUTPUT = os.path.join(ROOT, "tests", "output", "report")


@pytest.fixture(scope="module")
def estate():
    return load_estate(os.path.join(ROOT, "inventories", "lab", "estate.yml"))


@pytest.fixture(scope="module")
def faulty(estate):
    """mgw2 dead (with its dispatcher and SNMP symptoms), E1 LOS on mgw1, one phone unregistered."""
    return B.build_audit(run_checks(estate, down=("mgw2",), mgw2_ok=False, mgw1_los=True, reg_skip=("hs-1001",)),
                         estate, NOW)


def test_json_is_stable_and_round_trips(faulty):
    text = R.render_json(faulty)
    assert text == R.render_json(json.loads(text))
    data = json.loads(text)
    assert data["schema_version"] == 1 and data["status"] == "critical"
    assert set(data) >= {"generated_at", "summary", "tickets", "findings", "suppliers", "sites", "changes", "checks"}
    for f in data["findings"]:
        assert set(f) >= {"id", "check", "component", "kind", "severity", "priority", "supplier", "response_due",
                          "resolve_due", "root_cause", "children", "affected", "order", "first_seen", "status"}


def test_junit_fails_once_per_ticket_and_skips_symptoms(faulty):
    root = ET.fromstring(R.render_junit(faulty))
    assert root.get("failures") == "3" and root.get("skipped") == "2"
    failures = {(c.get("classname"), c.find("failure").get("type")) for c in root.iter("testcase") if c.find("failure") is not None}
    assert failures == {("sip_options.mgw2", "P1"), ("snmp.e1-mgw1-1", "P1"), ("registrations.hs-1001", "P4")}
    skipped = [c for c in root.iter("testcase") if c.find("skipped") is not None]
    assert {c.get("classname") for c in skipped} == {"dispatcher.mgw2", "snmp.mgw2"}
    assert all("mgw2 does not answer SIP OPTIONS" in c.find("skipped").get("message") for c in skipped)
    passed = [c for c in root.iter("testcase") if len(c) == 0]
    assert {"sip_options.cs1", "registrations.hs-1002"} <= {c.get("classname") for c in passed}


def test_write_reports_only_rewrites_changed_files(faulty, tmp_path):
    first = R.write_reports(faulty, str(tmp_path / "out"), check_mode=True)
    assert all(v["changed"] for v in first.values()) and not (tmp_path / "out").exists()
    R.write_reports(faulty, str(tmp_path / "out"))
    again = R.write_reports(faulty, str(tmp_path / "out"))
    assert not any(v["changed"] for v in again.values())
    assert R.read_previous(again["json"]["path"])["tickets"] == faulty["tickets"]
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(R.ReportError, match="bad.json"):
        R.read_previous(str(tmp_path / "bad.json"))


class _Receiver(object):
    """A real HTTP server on a free loopback port recording POSTed JSON bodies."""

    def __init__(self, status=200):
        self.bodies, self.headers = [], []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                outer.bodies.append(json.loads(self.rfile.read(length)))
                outer.headers.append(dict(self.headers))
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/hook" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    rec = _Receiver()
    yield rec
    rec.close()


def test_webhook_posts_only_new_findings(estate, faulty, receiver):
    res = R.post_webhook(receiver.url, faulty, headers={"Authorization": "Bearer t0k"})
    assert res == {"sent": True, "count": 3, "status_code": 200, "url": receiver.url}
    (body,) = receiver.bodies
    assert receiver.headers[0]["Authorization"] == "Bearer t0k"
    assert body["event"] == "new_findings" and [t["priority"] for t in body["tickets"]] == ["P1", "P1", "P4"]
    e1 = [t for t in body["tickets"] if t["component"] == "e1-mgw1-1"][0]
    assert e1["supplier"] == "telco" and e1["supplier_contact"]["email"] == "servicedesk@telco.example"
    assert e1["resolve_due"] == "2026-11-27T23:30:00+01:00"
    # the next audit with the same faults has nothing new: nothing is sent
    second = B.build_audit(run_checks(estate, down=("mgw2",), mgw2_ok=False, mgw1_los=True, reg_skip=("hs-1001",)),
                           estate, "2026-11-27T17:00:00Z", previous=copy.deepcopy(faulty))
    assert R.post_webhook(receiver.url, second)["sent"] is False and len(receiver.bodies) == 1


def test_webhook_error_names_the_url(faulty):
    bad = _Receiver(status=500)
    try:
        with pytest.raises(R.ReportError, match="answered HTTP 500") as info:
            R.post_webhook(bad.url, faulty)
        assert bad.url in str(info.value)
    finally:
        bad.close()
    with pytest.raises(R.ReportError, match="127.0.0.1:9/"):
        R.post_webhook("http://127.0.0.1:9/", faulty, timeout=2)


def test_html_is_self_contained(faulty):
    page = R.render_html(faulty)
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org", "") and "src=" not in page
    evil = copy.deepcopy(faulty)
    evil["findings"][0]["summary"] = "<img src=x onerror=alert(1)>"
    assert "<img src=x" not in R.render_html(evil)


def test_html_with_a_supplier_contact_that_has_no_phone_or_no_contact(faulty):
    # docs/own_estate.md's smallest estate: a contact with a name and an e-mail address only
    partial = copy.deepcopy(faulty)
    names = sorted(partial["suppliers"])
    partial["suppliers"][names[0]]["contact"] = {"name": "Integrator NOC", "email": "noc@integrator.example"}
    partial["suppliers"][names[1]].pop("contact", None)
    page = R.render_html(partial)
    assert "Integrator NOC" in page and "mailto:noc@integrator.example" in page


def chromium(page_path, name):
    return htmlcheck.chromium(page_path, name, OUTPUT)


def test_html_rendered_in_chromium_shows_the_faults(faulty, tmp_path):
    path = tmp_path / "health_audit.html"
    path.write_text(R.render_html(faulty))
    dom = chromium(str(path), "faulty")
    (header,) = dom.find(id="overall")
    assert header["attrs"]["data-status"] == "critical" and "Action required" in header["text"]
    rows = dom.find(**{"class": "ticket"})
    assert [(r["attrs"]["data-component"], r["attrs"]["data-priority"], r["attrs"]["data-supplier"]) for r in rows] == [
        ("mgw2", "P1", "acme"), ("e1-mgw1-1", "P1", "telco"), ("hs-1001", "P4", "phonecare")]
    e1 = rows[1]["text"]
    assert "E1 0/1 on mgw1: LOS" in e1 and "Fri 27 Nov 18:00" in e1 and "Fri 27 Nov 23:30" in e1
    # the business-hours supplier's deadline skips the weekend (Friday 17:30 + 2 business days)
    assert "Tue 01 Dec 17:30" in rows[2]["text"]
    assert "2 symptoms grouped here" in " ".join(rows[0]["text"].split())
    (telco,) = dom.find(id="supplier-telco")
    assert telco["attrs"]["data-tickets"] == "1" and "servicedesk@telco.example" in telco["text"]
    sites = dict((s["attrs"]["data-site"], s["attrs"]["data-status"]) for s in dom.find(**{"class": "site"}))
    assert sites == {"ams": "critical", "rtm": "critical"}
    (changes,) = dom.find(id="changes")
    assert changes["attrs"]["data-new"] == "3" and "none on record" in changes["text"]


def test_html_clean_and_resolved_in_chromium(estate, faulty, tmp_path):
    clean = B.build_audit(run_checks(estate), estate, "2026-11-28T07:00:00Z", previous=copy.deepcopy(faulty))
    path = tmp_path / "clean.html"
    path.write_text(R.render_html(clean))
    dom = chromium(str(path), "clean-after-faults")
    assert dom.find(id="overall")[0]["attrs"]["data-status"] == "ok"
    assert dom.find(**{"class": "ticket"}) == []
    assert "No findings" in dom.find(id="order")[0]["text"]
    resolved = dom.find(**{"class": "resolved-item"})
    assert len(resolved) == 3 and any("E1 0/1 on mgw1: LOS" in r["text"] for r in resolved)
    assert dom.find(id="changes")[0]["attrs"]["data-resolved"] == "3"
