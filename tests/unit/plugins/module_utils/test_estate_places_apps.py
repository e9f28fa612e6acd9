# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Physical places (rooms, racks, patch panels, where components stand) and application links in the estate: their
validation (file, line, field), the location every finding carries, and an application link's place in the
dependency tree of the audit."""
import http.server
import json
import os
import socket
import textwrap
import threading

import pytest

from ansible_collections.voipops.voip.plugins.module_utils import apps
from ansible_collections.voipops.voip.plugins.module_utils.audit import build as B
from ansible_collections.voipops.voip.plugins.module_utils.audit import checks as C
from ansible_collections.voipops.voip.plugins.module_utils.audit import report as R
from ansible_collections.voipops.voip.plugins.module_utils.diagnose import card
from ansible_collections.voipops.voip.plugins.module_utils.estate import load_estate, overlay_endpoints
from ansible_collections.voipops.voip.plugins.module_utils.source import SourceErrors

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
BASE = """\
version: 1
sites:
  - name: ams
    subnets: [10.1.0.0/16]
    extensions: ["2000-2999"]
    dids: ["+31201234000-+31201234999"]
    timezone: Europe/Amsterdam
    handset_maintainer: phonecare
    handset_depends_on: [cs1]
suppliers:
  - name: acme
    coverage: 24x7
    sla:
      P1: {response: 15m, resolve: 4h}
      P2: {response: 30m, resolve: 8h}
      P3: {response: 4h, resolve: 2d}
      P4: {response: 1d, resolve: 10d}
  - name: phonecare
    coverage: business_hours
    sla:
      P1: {response: 1h, resolve: 4h}
      P2: {response: 2h, resolve: 1d}
      P3: {response: 1d, resolve: 3d}
      P4: {response: 2d, resolve: 10d}
callservers:
  - name: cs1
    site: ams
    maintainer: acme
    address: 10.1.0.10
"""

LAB_ESTATE = os.path.join(ROOT, "inventories", "lab", "estate.yml")
NOW = "2026-11-27T16:30:00Z"

PLACES = """\
rooms:
  - {name: dc1, site: ams}
racks:
  - {name: r1, room: dc1, units: 10}
patch_panels:
  - {name: pp1, rack: r1, unit: 10, ports: 12}
gateways:
  - name: gw1
    kind: mgw
    site: ams
    maintainer: acme
    address: 10.1.0.20
    location: {rack: r1, unit: 4, height: 2, patch: "pp1:3", switch_port: "sw1 Gi1/0/3"}
"""


def write(tmp_path, text):
    path = tmp_path / "estate.yml"
    path.write_text(BASE + textwrap.dedent(text))
    return str(path)


def line(path, marker, nth=1):
    """1-based line of the nth line of the file that contains ``marker`` (so the tests do not count lines)."""
    with open(path) as handle:
        hits = [n for n, text in enumerate(handle, 1) if marker in text]
    return hits[nth - 1]


def errors_of(path):
    with pytest.raises(SourceErrors) as info:
        load_estate(path)
    return sorted(((os.path.basename(e.path), e.line, e.field, e.message) for e in info.value.errors),
                  key=lambda e: (e[1] or 0, e[2] or ""))


def test_a_component_knows_its_room_rack_units_and_ports(tmp_path):
    est = load_estate(write(tmp_path, PLACES))
    loc = est.location_of("gw1")
    assert loc == {"site": "ams", "room": "dc1", "rack": "r1", "unit": "U4-U5", "patch_port": "pp1:3",
                   "switch_port": "sw1 Gi1/0/3", "circuit_id": None,
                   "text": "ams / dc1 / rack r1 U4-U5 / patch pp1:3 / switch sw1 Gi1/0/3"}
    assert est.racks["r1"]["site"] == "ams" and est.patch_panels["pp1"]["room"] == "dc1"


def test_every_place_error_names_file_line_and_field(tmp_path):
    path = write(tmp_path, PLACES + """\
  - name: gw2
    kind: mgw
    site: ams
    maintainer: acme
    address: 10.1.0.21
    location: {rack: r1, unit: 5, patch: "pp1:3", switch_port: "SW1 gi1/0/3"}
  - name: gw3
    kind: mgw
    site: ams
    maintainer: acme
    address: 10.1.0.22
    location: {rack: r1, unit: 10}
  - name: gw4
    kind: mgw
    site: ams
    maintainer: acme
    address: 10.1.0.23
    location: {rack: r9, patch: "pp1:13"}
  - name: gw5
    kind: mgw
    site: ams
    maintainer: acme
    address: 10.1.0.24
    location: {rack: r1, unit: 10, height: 2}
  - name: gw6
    kind: mgw
    site: ams
    maintainer: acme
    address: 10.1.0.25
    location: {unit: 1, patch: "pp1"}
racks_extra_marker: null
""".replace("racks_extra_marker: null\n", ""))
    # a rack in an unknown room and a room in an unknown site, appended as their own sections would be refused
    # twice (duplicate keys), so they get an estate of their own below
    errs = errors_of(path)
    at = dict(((e[1], e[2]), e[3]) for e in errs)
    assert all(e[0] == "estate.yml" for e in errs)
    gw2, gw3, gw4, gw5, gw6 = (line(path, "location:", n) for n in (2, 3, 4, 5, 6))
    assert "U5 of rack 'r1' is already taken by gateway 'gw1'" in at[(gw2, "location.unit")]
    assert "patch port pp1:3 is already used by gateway 'gw1'" in at[(gw2, "location.patch")]
    assert "switch port SW1 gi1/0/3 is already used by gateway 'gw1'" in at[(gw2, "location.switch_port")]
    assert "U10 of rack 'r1' is already taken by patch panel 'pp1'" in at[(gw3, "location.unit")]
    assert "unknown rack 'r9'" in at[(gw4, "location.rack")]
    assert "port 13 is outside patch panel 'pp1' (1-12)" in at[(gw4, "location.patch")]
    assert "U10-U11 is outside rack 'r1' (U1-U10)" in at[(gw5, "location.unit")]
    assert "a unit needs its rack" in at[(gw6, "location.unit")]
    assert "is not a patch port like 'ams-pp01:12'" in at[(gw6, "location.patch")]
    assert len(errs) == 9


def test_places_in_unknown_sites_rooms_and_racks(tmp_path):
    path = write(tmp_path, """\
rooms:
  - {name: dc1, site: ams}
  - {name: dc2, site: nowhere}
racks:
  - {name: r1, room: dc1}
  - {name: r2, room: dc9}
  - {name: r3, room: dc1, site: rtm}
patch_panels:
  - {name: pp1, rack: r7}
gateways:
  - name: gw1
    kind: mgw
    site: rtm
    maintainer: acme
    address: 10.1.0.20
    location: {room: dc1}
""")
    at = dict(((e[1], e[2]), e[3]) for e in errors_of(path))
    assert "unknown site 'nowhere'" in at[(line(path, "site: nowhere"), "site")]
    assert "unknown room 'dc9'" in at[(line(path, "room: dc9"), "room")]
    assert "unknown site 'rtm'" in at[(line(path, "site: rtm"), "site")]
    assert "unknown rack 'r7'" in at[(line(path, "rack: r7"), "rack")]
    assert "unknown site 'rtm'" in at[(line(path, "site: rtm", 2), "site")]


def test_a_device_in_a_room_of_another_site(tmp_path):
    base_two_sites = BASE.replace("callservers:", """\
  - name: other
    coverage: 24x7
    sla:
      P1: {response: 15m, resolve: 4h}
      P2: {response: 30m, resolve: 8h}
      P3: {response: 4h, resolve: 2d}
      P4: {response: 1d, resolve: 10d}
callservers:""").replace("sites:\n", """sites:
  - name: rtm
    subnets: [10.2.0.0/16]
    timezone: Europe/Amsterdam
""", 1)
    path = tmp_path / "estate.yml"
    path.write_text(base_two_sites + textwrap.dedent("""\
        rooms:
          - {name: dc1, site: ams}
        racks:
          - {name: r1, room: dc1}
        gateways:
          - name: gw1
            kind: mgw
            site: rtm
            maintainer: acme
            address: 10.2.0.20
            location: {rack: r1, room: dc1}
        """))
    ((_file, where, field, message),) = errors_of(str(path))
    assert (where, field) == (line(str(path), "location:"), "location.rack")
    assert message == "room 'dc1' is in site 'ams', not in the gateway's site 'rtm'"


APPS = """\
applications:
  - name: directory
    kind: directory
    endpoint: ldaps://ldap.example.net
    ldap: {bind_dn: "cn=probe,dc=example", password: {env: DIR_PW}, search_base: "dc=example"}
    supplier: acme
    depends_on: [cs1]
"""


def test_an_application_link_is_a_component_of_its_supplier(tmp_path):
    est = load_estate(write(tmp_path, APPS))
    app = est.component("directory")
    assert (app["type"], app["kind"], app["maintainer"], app["endpoint"]) == (
        "application", "directory", "acme", "ldaps://ldap.example.net")
    assert app["ldap"]["password"] == {"env": "DIR_PW"} and app["ldap"]["min_entries"] == 1
    assert est.descendants("cs1") >= {"directory"}


def test_every_application_error_names_file_line_and_field(tmp_path):
    path = write(tmp_path, """\
applications:
  - name: a1
    kind: fax
    endpoint: ftp://host/
    supplier: acme
  - name: a2
    kind: directory
    endpoint: ldap://dir.example.net:389
    ldap: {bind_dn: "cn=x", password: "S3cret-inline"}
    supplier: acme
  - name: a3
    kind: alarm
    endpoint: tcp://alarm.example.net:9000
    expect: {status: 200}
  - name: a5
    kind: alarm
    endpoint: tcp://alarm.example.net
    supplier: acme
  - name: a4
    kind: cti
    endpoint: https://cti.example.net/health
    expect: {status: 999, body: "(unclosed"}
    ldap: {search_base: "dc=x"}
    supplier: nobody
    depends_on: [nothing]
""")
    errs = errors_of(path)
    at = dict(((e[1], e[2]), e[3]) for e in errs)
    assert "'fax' is not one of: cti, contact_centre" in at[(line(path, "kind: fax"), "kind")]
    assert "is not an endpoint like tcp://host:port" in at[(line(path, "ftp://"), "endpoint")]
    secret = at[(line(path, "S3cret-inline"), "ldap.password")]
    assert "must be a reference {env: NAME}, {file: PATH} or {var: NAME}" in secret and "S3cret" not in secret
    assert "needs a port" in at[(line(path, "tcp://alarm.example.net\n"), "endpoint")]
    assert "is required (the supplier responsible for the link)" in at[(line(path, "name: a3"), "supplier")]
    assert len(errs) == 11
    assert "only for an http(s):// or sip: endpoint" in at[(line(path, "status: 200"), "expect")]
    assert "status codes are 100-699" in at[(line(path, "status: 999"), "expect.status")]
    assert "is not a regular expression" in at[(line(path, "status: 999"), "expect.body")]
    assert "only for an ldap:// or ldaps:// endpoint" in at[(line(path, "search_base: \"dc=x\""), "ldap")]
    assert "unknown supplier 'nobody'" in at[(line(path, "supplier: nobody"), "supplier")]
    assert "unknown component 'nothing'" in at[(line(path, "depends_on: [nothing]"), "depends_on")]
    assert all("S3cret" not in e[3] for e in errs)


# --------------------------------------------------------------------------------------------
# The audit: locations on findings, application links in the dependency tree
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lab_estate():
    return load_estate(LAB_ESTATE)


def app_results(down=(), wrong=()):
    out = []
    for name in ("directory", "cti", "paging", "alarm"):
        res = {"name": name, "status": "ok", "ok": True, "error": None, "details": {}}
        if name in down:
            res.update(status="down", ok=False, error="refused: nothing listens there")
        elif name in wrong:
            res.update(status="error", ok=False, error="bind as cn=admin,dc=voip,dc=lab failed: invalidCredentials")
        out.append(res)
    return out


def sip_down(*names):
    ports = {"cs1": 5060, "mgw1": 5080, "mgw2": 5081}
    return [{"target": "127.0.0.1:%d" % p, "uri": "sip:127.0.0.1:%d" % p, "host": "127.0.0.1", "port": p,
             "status": "timeout" if n in names else "ok", "reachable": n not in names,
             "code": None if n in names else 200, "reason": None, "error": "no answer" if n in names else None}
            for n, p in sorted(ports.items())]


def audit_of(estate, results, previous=None):
    return B.build_audit(C.from_results(results, estate, NOW), estate, NOW, previous=previous)


def test_a_link_that_is_down_is_a_ticket_for_its_supplier(lab_estate):
    audit = audit_of(lab_estate, {"applications": app_results(down=["directory"], wrong=["alarm"])})
    tickets = dict((f["component"], f) for f in audit["findings"] if f["id"] in audit["tickets"])
    assert set(tickets) == {"directory", "alarm"}
    assert (tickets["directory"]["kind"], tickets["directory"]["severity"], tickets["directory"]["supplier"]) == (
        "link_down", "critical", "acme")
    assert (tickets["alarm"]["kind"], tickets["alarm"]["severity"], tickets["alarm"]["supplier"]) == (
        "link_error", "major", "phonecare")
    assert tickets["directory"]["priority"] == "P2"  # critical x group
    checked = [c for c in audit["checks"] if c["name"] == "applications"][0]["checked"]
    assert checked == ["alarm", "cti", "directory", "paging"]


def test_a_link_down_because_its_component_is_down_is_a_symptom_not_a_second_ticket(lab_estate):
    audit = audit_of(lab_estate, {"sip_probe": sip_down("mgw1"), "applications": app_results(down=["paging"])})
    by = dict(((f["component"], f["check"]), f) for f in audit["findings"])
    gw, paging = by[("mgw1", "sip_options")], by[("paging", "applications")]
    assert gw["id"] in audit["tickets"] and paging["id"] not in audit["tickets"]
    assert paging["root_cause"] == gw["id"] and paging["id"] in gw["children"]
    assert "paging" in gw["affected"]
    # the same link down with its gateway up is its own ticket
    alone = audit_of(lab_estate, {"sip_probe": sip_down(), "applications": app_results(down=["paging"])})
    (ticket,) = [f for f in alone["findings"] if f["id"] in alone["tickets"]]
    assert (ticket["component"], ticket["supplier"], ticket["root_cause"]) == ("paging", "phonecare", None)


def test_the_link_under_a_dead_callserver(lab_estate):
    audit = audit_of(lab_estate, {"sip_probe": sip_down("cs1"), "applications": app_results(down=["cti"])})
    (root,) = [f for f in audit["findings"] if f["id"] in audit["tickets"]]
    assert root["component"] == "cs1"
    cti = [f for f in audit["findings"] if f["component"] == "cti"][0]
    assert cti["root_cause"] == root["id"]


def test_every_ticket_says_where_to_go_in_json_html_webhook_and_card(lab_estate):
    audit = audit_of(lab_estate, {"sip_probe": sip_down("mgw2")})
    (ticket,) = [f for f in audit["findings"] if f["id"] in audit["tickets"]]
    where = {"site": "rtm", "room": "rtm-mer", "rack": "rtm-r01", "unit": "U10", "patch_port": "rtm-pp01:1",
             "switch_port": "rtm-sw1 Gi1/0/1", "circuit_id": None,
             "text": "rtm / rtm-mer / rack rtm-r01 U10 / patch rtm-pp01:1 / switch rtm-sw1 Gi1/0/1"}
    assert ticket["location"] == where
    assert json.loads(R.render_json(audit))["findings"][0]["location"] == where
    assert R.webhook_payload(audit)["tickets"][0]["location"] == where
    html = R.render_html(audit)
    assert '<td class="where">%s</td>' % where["text"] in html
    assert 'class="room" data-site="rtm" data-room="rtm-mer" data-tickets="1"' in html
    result = {"target": {"by": "extension", "value": "3001"}, "checked_at": NOW, "steps": [],
              "cause": {"level": "cause", "kind": "gateway_down", "summary": "mgw2 does not answer"},
              "responsible": {"supplier": "acme", "location": ticket["location"]}}
    assert "Where: " + where["text"] in card.render(result)


def test_a_trunk_stands_where_its_gateway_terminates_it(lab_estate):
    loc = lab_estate.location_of("pri-mgw2-0")
    assert (loc["rack"], loc["patch_port"], loc["circuit_id"]) == ("rtm-r01", "rtm-pp01:13", "TLC-RTM-PRI-0001")
    loc = lab_estate.location_of("sip-telco")  # no location: where cs1 (its a end) stands
    assert (loc["rack"], loc["unit"], loc["circuit_id"]) == ("ams-r01", "U20-U21", None)


def test_the_lab_overlay_gives_a_password_reference_never_a_value(lab_estate):
    data = lab_estate.as_dict()["components"]
    overlay_endpoints(data, {"applications": [{"name": "directory", "endpoint": "ldap://127.0.0.1:40001/",
                                               "password": {"file": "/lab/secrets/ldap-admin"}}]})
    assert data["directory"]["endpoint"] == "ldap://127.0.0.1:40001/"
    assert data["directory"]["ldap"]["password"] == {"file": "/lab/secrets/ldap-admin"}


# --------------------------------------------------------------------------------------------
# The probes, against real sockets on loopback
# --------------------------------------------------------------------------------------------

class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        body = b"status: green\n" if self.path == "/health" else b"nope"
        self.send_response(200 if self.path == "/health" else 503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def closed_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_http_and_tcp_probes(http_server):
    dead = closed_port()
    base = "http://127.0.0.1:%d" % http_server
    results = apps.probe_many([
        {"name": "ok", "endpoint": base + "/health", "expect": {"status": [200], "body": "green"}},
        {"name": "body", "endpoint": base + "/health", "expect": {"body": "^red"}},
        {"name": "status", "endpoint": base + "/other"},
        {"name": "tcp", "endpoint": "tcp://127.0.0.1:%d" % http_server},
        {"name": "dead", "endpoint": "tcp://127.0.0.1:%d" % dead},
    ], timeout=2)
    got = dict((r["name"], (r["status"], r["error"])) for r in results)
    assert got["ok"] == ("ok", None)
    assert got["body"] == ("error", "the body does not match '^red'")
    assert got["status"] == ("error", "HTTP 503")
    assert got["tcp"] == ("ok", None)
    assert got["dead"][0] == "down" and got["dead"][1].startswith("refused")


def test_password_references(tmp_path, monkeypatch):
    (tmp_path / "pw").write_text("from-file\n")
    monkeypatch.setenv("H15B_PW", "from-env")
    assert apps.resolve_password({"file": "pw"}, base_dir=str(tmp_path)) == "from-file"
    assert apps.resolve_password({"env": "H15B_PW"}) == "from-env"
    assert apps.resolve_password({"var": "dir"}, secrets={"dir": "from-var"}) == "from-var"
    with pytest.raises(ValueError, match="no secret 'other' was passed"):
        apps.resolve_password({"var": "other"}, secrets={"dir": "from-var"})
