"""The health audit against the real lab: faults injected into real parts are found once, routed to the right
supplier with the right priority and SLA deadlines, and shown on the HTML page a person reads."""
import datetime
import http.server
import json
import os
import signal
import subprocess
import threading
import time
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.voipops.voip.roles.lab.files.phonesim import sim as phonesim
from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio import KamailioRPC
from conftest import ROOT, LAB_DIR, read_endpoints, wait_for
from tests.support import certs, htmlcheck

pytestmark = [pytest.mark.lab, pytest.mark.slow]

# The audit's clock, frozen: a Friday, 17:30 in Amsterdam.  Everything the audit judges by time (certificates here)
# is made relative to this moment, never to the day the suite runs.
NOW_UTC = datetime.datetime(2026, 11, 27, 16, 30, tzinfo=datetime.timezone.utc)
NOW = NOW_UTC.strftime("%Y-%m-%dT%H:%M:%SZ")
LOCAL = datetime.timezone(datetime.timedelta(hours=1))
OUTPUT = os.path.join(ROOT, "tests", "output", "health_audit")
# The lab's "callserver host" is this test machine, busy running the tests: its CPU says nothing about Kamailio.
THRESHOLDS = {"cpu_warning": 101, "cpu_critical": 101}


def local(minutes_after_now):
    return (NOW_UTC + datetime.timedelta(minutes=minutes_after_now)).astimezone(LOCAL).isoformat()


@pytest.fixture(scope="module")
def inventory(lab, tmp_path_factory):
    path = tmp_path_factory.mktemp("inv") / "lab.estate.yml"
    path.write_text("plugin: voipops.voip.estate\nestate_file: %s\nendpoints_file: %s\nhandsets: none\n" % (
        os.path.join(ROOT, "inventories", "lab", "estate.yml"), os.path.join(LAB_DIR, "endpoints.json")))
    return str(path)


def audit(ansible, inventory, dest, **extra):
    extra_vars = {"health_audit_dest": str(dest), "health_audit_now": NOW, "health_audit_thresholds": THRESHOLDS,
                  "health_audit_fail_on_priority": "none"}
    extra_vars.update(extra)
    rc, out, _recap = ansible.playbook("playbooks/health_audit.yml", extra_vars=extra_vars,
                                       inventory=[inventory, os.path.join(ROOT, "inventories/lab/hosts.yml")])
    report = None
    if os.path.exists(os.path.join(str(dest), "health_audit.json")):
        with open(os.path.join(str(dest), "health_audit.json")) as handle:
            report = json.load(handle)
    return rc, out, report


def snmpset_line_status(gateway, if_index, value):
    env = dict(os.environ, MIBS="", SNMP_PERSISTENT_DIR=os.path.join(LAB_DIR, "snmp-client"))
    subprocess.run(["snmpset", "-v2c", "-c", gateway["snmp"]["community"], "-On", "-t", "2", "-r", "1",
                    "127.0.0.1:%d" % gateway["snmp"]["port"], "1.3.6.1.2.1.10.18.6.1.10.%d" % if_index, "i", str(value)],
                   check=True, capture_output=True, env=env)


class Receiver(object):
    """A local webhook receiver (what a ticketing system would be)."""

    def __init__(self):
        self.posts = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802  pylint: disable=invalid-name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.posts.append({"headers": dict(self.headers), "body": json.loads(body)})
                self.send_response(202)
                self.end_headers()

            def log_message(self, *args):  # pylint: disable=arguments-differ
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/hooks/voip" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def infrastructure(report):
    return [f for f in report["findings"] if f["component_type"] != "handset"]


def test_clean_lab_has_no_findings(lab, ansible, inventory, tmp_path):
    rc, out, report = audit(ansible, inventory, tmp_path)
    assert rc == 0, out[-4000:]
    assert report["findings"] == [], [(f["component"], f["kind"], f["summary"]) for f in report["findings"]]
    assert report["status"] == "ok"
    checked = dict((c["name"], c["checked"]) for c in report["checks"])
    # every part was really looked at: both gateways, their trunks, the callserver on every path, the certificate
    assert {"mgw1", "mgw2"} <= set(checked["sip_options"]) and {"mgw1", "mgw2"} <= set(checked["dispatcher"])
    assert {"e1-mgw1-0", "e1-mgw1-1", "pri-mgw2-0"} <= set(checked["snmp"])
    assert "cs1" in checked["sip_options"] and "cs1" in checked["callserver_rpc"] and "cs1" in checked["certificates"]
    assert set(lab["phones"]["names"]) <= set(checked["registrations"])


def test_injected_faults_are_each_found_once_routed_and_shown(lab, ansible, inventory, lab_component, tmp_path):
    eps = read_endpoints()
    mgw1 = [g for g in eps["gateways"] if g["name"] == "mgw1"][0]
    cert = eps["provisioning"]["certificate"]
    receiver = Receiver()
    try:
        # 1. a gateway's SIP stack dies; 2. an E1 of mgw1 loses signal; 3. the HTTPS certificate expires 5 days after
        # the audit's (frozen) now; lab_up sees the new certificate and restarts nginx with it
        lab_component.stop("mgw2-sip")
        snmpset_line_status(mgw1, 3, 64)
        certs.write_self_signed(cert, os.path.join(os.path.dirname(cert), "prov.key"), "prov.voip.lab",
                                NOW_UTC - datetime.timedelta(days=360), NOW_UTC + datetime.timedelta(days=5))
        rc, out, _recap = ansible.playbook("playbooks/lab_up.yml")
        assert rc == 0, out[-3000:]
        # lab_up restarted the crashed gateway: kill it again, and wait until the callserver's dispatcher sees it
        lab_component.stop("mgw2-sip")

        def mgw2_inactive():
            res = ansible.module("callserver_info", {"rpc_url": eps["callserver"]["rpc_url"], "gather": ["gateways"]})
            return [g for g in res["callserver"]["gateways"] if g["duid"] == "mgw2" and g["state"] == "inactive"]
        wait_for(mgw2_inactive, timeout=40, interval=2, what="mgw2 inactive in the dispatcher")

        rc, out, report = audit(ansible, inventory, tmp_path, health_audit_webhook_url=receiver.url)
        assert rc == 0, out[-4000:]
        # the same audit as a gate: the play fails on P1 with the reason, after the reports went out
        rc_p1, out_p1, _report = audit(ansible, inventory, tmp_path / "p1", health_audit_fail_on_priority="P1")
    finally:
        snmpset_line_status(mgw1, 3, 1)
        if os.path.exists(cert):
            os.unlink(cert)  # lab_component.restore() makes a normal one again
        receiver.close()

    tickets = [f for f in infrastructure(report) if f["root_cause"] is None]
    by = dict(((f["component"], f["kind"].split(":")[0]), f) for f in tickets)
    assert sorted(by) == [("cs1", "cert_expiring"), ("e1-mgw1-1", "e1_alarm"), ("mgw2", "sip_unreachable")], sorted(by)

    gw = by[("mgw2", "sip_unreachable")]          # acme, 24x7: P1 respond 15m, resolve 4h
    assert (gw["priority"], gw["supplier"], gw["site"]) == ("P1", "acme", "rtm")
    assert (gw["response_due"], gw["resolve_due"]) == (local(15), local(240))
    symptoms = [f for f in report["findings"] if f["root_cause"] == gw["id"]]
    assert [(s["component"], s["kind"]) for s in symptoms] == [("mgw2", "dispatcher_inactive")]

    e1 = by[("e1-mgw1-1", "e1_alarm")]             # the carrier's E1, not the gateway: telco P1 30m / 6h
    assert (e1["priority"], e1["supplier"], e1["site"]) == ("P1", "telco", "ams")
    assert (e1["response_due"], e1["resolve_due"]) == (local(30), local(360))
    assert e1["details"]["alarms"] == ["LOS"]

    tls = by[("cs1", "cert_expiring")]             # a risk: P2 for acme (30m / 8h), resolved before it expires
    assert (tls["priority"], tls["supplier"]) == ("P2", "acme")
    assert (tls["response_due"], tls["resolve_due"]) == (local(30), local(480))
    assert tls["details"]["days_left"] == 5.0 and tls["details"]["not_after"].startswith("2026-12-02T16:30:00")

    assert report["status"] == "critical" and report["summary"]["by_priority"]["P1"] == 2
    assert [f["component"] for f in tickets if f["order"] <= 3][:2] == ["mgw2", "e1-mgw1-1"]  # fault-handling order

    # the ticketing system got exactly the new tickets, with the supplier's contact and deadlines
    (post,) = receiver.posts
    sent = dict((t["component"], t) for t in post["body"]["tickets"])
    assert {"mgw2", "e1-mgw1-1", "cs1"} <= set(sent)
    assert sent["e1-mgw1-1"]["supplier_contact"]["email"] == "servicedesk@telco.example"

    # JUnit for AWX/CI: one failure per ticket, the symptom skipped
    junit = ET.parse(os.path.join(str(tmp_path), "health_audit.junit.xml")).getroot()
    failures = [tc.get("classname") for tc in junit.iter("testcase") if tc.find("failure") is not None]
    assert {"sip_options.mgw2", "snmp.e1-mgw1-1", "certificates.cs1"} <= set(failures)

    # the page a person reads, rendered by a real browser
    dom = htmlcheck.chromium(os.path.join(str(tmp_path), "health_audit.html"), "faults", OUTPUT)
    rows = dict((r["attrs"]["data-component"], r) for r in dom.find(**{"class": "ticket"}))
    assert (rows["mgw2"]["attrs"]["data-priority"], rows["mgw2"]["attrs"]["data-supplier"]) == ("P1", "acme")
    assert (rows["e1-mgw1-1"]["attrs"]["data-priority"], rows["e1-mgw1-1"]["attrs"]["data-supplier"]) == ("P1", "telco")
    assert "LOS" in rows["e1-mgw1-1"]["text"] and "Fri 27 Nov 23:30" in rows["e1-mgw1-1"]["text"]
    assert rows["cs1"]["attrs"]["data-priority"] == "P2"
    (overall,) = dom.find(id="overall")
    assert overall["attrs"]["data-status"] == "critical"

    assert rc_p1 != 0
    assert "at or above P1" in out_p1 and "mgw2" in out_p1 and "e1-mgw1-1" in out_p1
    assert os.path.exists(os.path.join(str(tmp_path), "p1", "health_audit.html"))


def test_handset_faults_go_to_the_handset_supplier_on_its_business_hours(lab, ansible, inventory, extra_subscriber, tmp_path):
    """A phone switched off, a phone on a firmware that is not approved, a device nobody knows."""
    phones = lab["phones"]["state_dir"]
    rpc_url = lab["callserver"]["rpc_url"]
    stray = extra_subscriber("1099")   # an account outside the estate
    running = dict((p["name"], p["firmware"]) for p in phonesim.control(phones, "status")["phones"])
    switched = phonesim.control(phones, "firmware", name="hs-1001", version="96.85.0.5")
    try:
        phonesim.control(phones, "stop", name="hs-1002")
        phonesim.control(phones, "add", name="stray", user=stray["username"], password=stray["password"],
                         user_agent="Linphone/5.2.0 (belle-sip/5.2.0)")

        def seen():
            regs = ansible.module("callserver_info", {"rpc_url": rpc_url, "gather": ["registrations"]})
            by_aor = regs["callserver"]["registrations"]["by_aor"]
            return ("1002" not in by_aor and "1099" in by_aor
                    and any("96.85.0.5" in c["user_agent"] for c in by_aor.get("1001", [])))
        wait_for(seen, timeout=30, interval=1, what="the callserver to see the three handset faults")
        rc, out, report = audit(ansible, inventory, tmp_path)
        assert rc == 0, out[-4000:]
    finally:
        phonesim.control(phones, "start", name="hs-1002")
        phonesim.control(phones, "firmware", name="hs-1001", version=running["hs-1001"])
        phonesim.control(phones, "remove", name="stray")
    assert switched["firmware"] == "96.85.0.5" and switched["user_agent"].endswith("96.85.0.5")

    by = dict(((f["component"], f["kind"]), f) for f in report["findings"])
    assert sorted(by) == [("cs1", "unknown_devices"), ("hs-1001", "firmware_not_approved"), ("hs-1002", "not_registered")]
    off, fw, stray = by[("hs-1002", "not_registered")], by[("hs-1001", "firmware_not_approved")], by[("cs1", "unknown_devices")]
    # phonecare works business hours (Mon-Fri 08:00-18:00 Amsterdam): a P4 on Friday 17:30 is answered within 2 business
    # days (Tuesday 17:30) and resolved within 10 (Friday 11 December 17:30)
    for f in (off, fw):
        assert (f["priority"], f["supplier"], f["coverage"]) == ("P4", "phonecare", "business_hours")
        assert (f["response_due"], f["resolve_due"]) == ("2026-12-01T17:30:00+01:00", "2026-12-11T17:30:00+01:00")
    assert fw["details"]["firmware"] == "96.85.0.5" and "96.86.0.110" in fw["details"]["approved"]
    # an unknown device on the callserver is the callserver maintainer's (24x7): P4 within 1 day / 10 days
    assert (stray["priority"], stray["supplier"]) == ("P4", "acme")
    assert (stray["response_due"], stray["resolve_due"]) == (local(24 * 60), local(10 * 24 * 60))
    (device,) = stray["details"]["devices"]
    assert device["aor"] == "1099" and device["user_agent"].startswith("Linphone/5.2.0")
    assert report["status"] == "warning"


# "killed" (SIGKILL) runs on a lab of its own (test_health_audit_killed.py): a killed Kamailio reloads registrations up
# to one usrloc write-back old (db_mode 2, 10 s), which would leak stale contacts into the tests after it
@pytest.mark.parametrize("fault", ["hung"])
def test_the_audit_reports_when_the_callserver_is_down_and_keeps_its_secrets(lab, ansible, inventory, lab_component,
                                                                             tmp_path, fault):
    """The audit that matters most: Kamailio dead (SIGKILL) or hung (SIGSTOP).  The reports and the webhook still go
    out with a P1 for the callserver's supplier, the play then fails on P1, and no secret reaches the job output."""
    eps = read_endpoints()
    communities = sorted(set([g["snmp"]["community"] for g in eps["gateways"]] + [eps["callserver"]["snmp"]["community"]]))
    receiver = Receiver()
    secret_hook = receiver.url + "/T0SECRET/B0SECRET/XyZsEcReT"
    token = "Bearer s3cr3t-t0ken-never-logged"
    pid = None
    rpc = KamailioRPC(lab["callserver"]["rpc_url"])
    before = set(c["aor"] for c in rpc.registrations())
    try:
        if fault == "killed":
            # the lab's usrloc writes back every 10 s (db_mode 2): let one write-back pass, so that the restarted
            # Kamailio reloads the registrations as they are now, not an earlier test's unregistered device or old
            # User-Agent; the kill itself is as sudden as any crash
            time.sleep(12)
            lab_component.stop("kamailio")
        else:
            pid = read_endpoints()["pids"]["kamailio"]
            os.killpg(pid, signal.SIGSTOP)
        rc, out, report = audit(ansible, inventory, tmp_path, health_audit_fail_on_priority="P1",
                                health_audit_webhook_url=secret_hook, health_audit_check_timeout=30,
                                health_audit_rpc_timeout=3.0,
                                health_audit_webhook_headers={"Authorization": token})
    finally:
        if pid:
            os.killpg(pid, signal.SIGCONT)
        receiver.close()
        lab_component.restore()
        # leave the lab as this test found it: every phone that was registered before is registered again (a phone
        # whose refresh failed while Kamailio was down retries on its own schedule)
        wait_for(lambda: before <= set(c["aor"] for c in rpc.registrations()), 120,
                 what="the phones registered before the fault to register again")
    assert rc != 0 and "at or above P1" in out, out[-3000:]           # the play fails on P1 ... after reporting
    for name in ("health_audit.json", "health_audit.html", "health_audit.junit.xml"):
        assert os.path.exists(os.path.join(str(tmp_path), name)), name
    cs1 = [f for f in report["findings"] if f["component"] == "cs1" and f["priority"] == "P1"]
    assert cs1 and cs1[0]["supplier"] == "acme", [(f["component"], f["kind"], f["priority"]) for f in report["findings"]]
    # the checks that depend on the callserver are symptoms of it, not tickets of their own
    assert not [f for f in report["findings"] if f["kind"] == "check_failed" and f["id"] in report["tickets"]]
    (post,) = receiver.posts
    assert "cs1" in [t["component"] for t in post["body"]["tickets"]]
    assert post["headers"]["Authorization"] == token
    # every file, the audit history database included (read as bytes: a secret in it would still be found)
    everything = out + "".join(open(os.path.join(str(tmp_path), n), "rb").read().decode("utf-8", "replace")
                               for n in os.listdir(str(tmp_path)) if os.path.isfile(os.path.join(str(tmp_path), n)))
    for secret in ["T0SECRET", "XyZsEcReT", "s3cr3t-t0ken"] + communities:
        assert secret not in everything, secret
