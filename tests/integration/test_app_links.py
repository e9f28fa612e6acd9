"""Application links and physical places against the real lab: the lab's directory (Debian's slapd) probed by
voipops.voip.app_probe with a bind and a search; then, in one health audit run, slapd killed by its pid (a ticket for
the link's supplier) and mgw1's SIP stack killed (the paging link behind mgw1 is a symptom under mgw1's ticket, not a
second ticket), with mgw1's place (room, rack, unit, patch port) in the JSON report, the HTML page and the webhook."""
import http.server
import json
import os
import threading

import pytest

from conftest import ROOT, LAB_DIR, read_endpoints

pytestmark = [pytest.mark.lab, pytest.mark.slow]

THRESHOLDS = {"cpu_warning": 101, "cpu_critical": 101}  # the lab's callserver host is this busy test machine
MGW1_WHERE = "ams / ams-dc1 / rack ams-r01 U30 / patch ams-pp01:3 / switch ams-sw1 Gi1/0/3"


@pytest.fixture(scope="module")
def inventory(lab, tmp_path_factory):
    path = tmp_path_factory.mktemp("inv") / "lab.estate.yml"
    path.write_text("plugin: voipops.voip.estate\nestate_file: %s\nendpoints_file: %s\nhandsets: none\n" % (
        os.path.join(ROOT, "inventories", "lab", "estate.yml"), os.path.join(LAB_DIR, "endpoints.json")))
    return str(path)


def directory_target():
    (entry,) = [a for a in read_endpoints()["applications"] if a["name"] == "directory"]
    return {"name": "directory", "kind": "directory", "endpoint": entry["endpoint"],
            "ldap": {"bind_dn": "cn=admin,dc=voip,dc=lab", "password": entry["password"],
                     "search_base": "ou=people,dc=voip,dc=lab", "filter": "(objectClass=inetOrgPerson)",
                     "min_entries": 3}}


def test_the_lab_directory_answers_a_bind_and_a_search(lab, ansible):
    good = directory_target()
    wrong = dict(good, name="wrong-password", ldap=dict(good["ldap"], password={"var": "not_it"}))
    res = ansible.module("app_probe", {"targets": [good, wrong], "secrets": {"not_it": "Not-The-Password-1"}})
    assert not res["failed"], res
    ok, bad = res["results"]
    assert (ok["status"], ok["error"]) == ("ok", None), ok
    # the lab seeds its four subscribers; the search stops once it has seen min_entries of them
    assert ok["details"] == {"bound_as": "cn=admin,dc=voip,dc=lab", "entries": 3}
    assert (bad["status"], bad["error"]) == ("error", "bind as cn=admin,dc=voip,dc=lab failed: invalidCredentials")
    with open(os.path.join(LAB_DIR, "secrets", "ldap-admin")) as handle:
        password = handle.readline().strip()
    assert password not in json.dumps(res)


class _Hook(http.server.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    _Hook.received = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d/hook" % server.server_address[1], _Hook.received
    server.shutdown()
    server.server_close()


def test_dead_links_are_tickets_for_their_supplier_or_symptoms_of_their_component(
        lab, ansible, inventory, lab_component, webhook, tmp_path):
    url, received = webhook
    lab_component.stop("slapd")
    lab_component.stop("mgw1-sip")
    rc, out, _recap = ansible.playbook("playbooks/health_audit.yml", inventory=[
        inventory, os.path.join(ROOT, "inventories/lab/hosts.yml")], extra_vars={
        "health_audit_dest": str(tmp_path), "health_audit_thresholds": THRESHOLDS,
        "health_audit_fail_on_priority": "none", "health_audit_webhook_url": url})
    assert rc == 0, out[-4000:]
    with open(os.path.join(str(tmp_path), "health_audit.json")) as handle:
        audit = json.load(handle)
    tickets = dict((f["component"], f) for f in audit["findings"] if f["id"] in audit["tickets"])
    findings = dict(((f["component"], f["check"]), f) for f in audit["findings"])

    # the directory down: its own ticket, for its supplier
    directory = tickets["directory"]
    assert (directory["kind"], directory["supplier"], directory["priority"]) == ("link_down", "acme", "P2")
    assert directory["summary"].startswith("directory link directory (ldap://127.0.0.1:")

    # paging goes through mgw1: a symptom under mgw1's ticket, not a ticket of its own
    assert "paging" not in tickets
    paging = findings[("paging", "applications")]
    assert paging["kind"] == "link_down" and paging["root_cause"] == tickets["mgw1"]["id"]
    assert paging["id"] in tickets["mgw1"]["children"]

    # where to go for mgw1: in the JSON, the HTML page (its where column and the per-room list) and the webhook
    assert tickets["mgw1"]["location"]["text"] == MGW1_WHERE
    assert tickets["mgw1"]["location"]["patch_port"] == "ams-pp01:3"
    with open(os.path.join(str(tmp_path), "health_audit.html")) as handle:
        html = handle.read()
    assert '<td class="where">%s</td>' % MGW1_WHERE in html
    assert 'class="room" data-site="ams" data-room="ams-dc1"' in html
    (payload,) = received
    sent = dict((t["component"], t) for t in payload["tickets"])
    assert sent["mgw1"]["location"]["text"] == MGW1_WHERE
    assert sent["directory"]["location"]["site"] == "ams"
