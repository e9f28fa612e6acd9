"""The audit history and the SLA scorecard against the real lab: the health_audit playbook runs twice (a gateway's SIP
stack killed before the first run, the lab restored before the second), its history follows the ticket's life, and
voipops.voip.sla_report gives the supplier's figures for the period."""
import json
import os
import sqlite3

import pytest

from conftest import ROOT, LAB_DIR, read_endpoints, wait_for

pytestmark = [pytest.mark.lab, pytest.mark.slow]

# The audits' clock, frozen (a Friday in Amsterdam): 17:30 local, then 18:30 local
FIRST, SECOND = "2026-11-27T16:30:00Z", "2026-11-27T17:30:00Z"
THRESHOLDS = {"cpu_warning": 101, "cpu_critical": 101}  # the lab's callserver host is this busy test machine


@pytest.fixture(scope="module")
def inventory(lab, tmp_path_factory):
    path = tmp_path_factory.mktemp("inv") / "lab.estate.yml"
    path.write_text("plugin: voipops.voip.estate\nestate_file: %s\nendpoints_file: %s\nhandsets: none\n" % (
        os.path.join(ROOT, "inventories", "lab", "estate.yml"), os.path.join(LAB_DIR, "endpoints.json")))
    return str(path)


def audit(ansible, inventory, dest, now):
    rc, out, _recap = ansible.playbook("playbooks/health_audit.yml", inventory=[
        inventory, os.path.join(ROOT, "inventories/lab/hosts.yml")], extra_vars={
        "health_audit_dest": str(dest), "health_audit_now": now, "health_audit_thresholds": THRESHOLDS,
        "health_audit_fail_on_priority": "none"})
    assert rc == 0, out[-4000:]
    with open(os.path.join(str(dest), "health_audit.json")) as handle:
        return json.load(handle)


def test_the_history_follows_a_gateway_fault_and_the_scorecard_counts_it(
        lab, ansible, inventory, lab_component, tmp_path):
    rpc_url = read_endpoints()["callserver"]["rpc_url"]

    def mgw2_is(state):
        res = ansible.module("callserver_info", {"rpc_url": rpc_url, "gather": ["gateways"]})
        return [g for g in res["callserver"]["gateways"] if g["duid"] == "mgw2" and g["state"] == state]

    lab_component.stop("mgw2-sip")
    first = audit(ansible, inventory, tmp_path, FIRST)
    lab_component.restore()
    wait_for(lambda: mgw2_is("active"), timeout=60, interval=2, what="mgw2 active in the dispatcher again")
    second = audit(ansible, inventory, tmp_path, SECOND)

    (ticket,) = [f for f in first["findings"] if f["id"] in first["tickets"] and f["component"] == "mgw2"]
    assert (ticket["kind"], ticket["priority"], ticket["supplier"]) == ("sip_unreachable", "P1", "acme")
    assert second["tickets"] == []

    # the store is a SQLite file next to the reports (the role's default); the ticket's life in it
    store = tmp_path / "health_audit_history.sqlite"
    with sqlite3.connect(str(store)) as db:
        runs = [r[0] for r in db.execute("SELECT run_at FROM voipops_audit_runs ORDER BY run_at")]
        lives = db.execute("SELECT state, opened_at, last_seen, resolved_at, priority, resolve_due FROM "
                           "voipops_audit_tickets WHERE id = ?", (ticket["id"],)).fetchall()
    assert runs == [FIRST, SECOND]
    assert lives == [("resolved", FIRST, FIRST, SECOND, "P1", ticket["resolve_due"])]

    # the scorecard of November: acme's one P1, resolved in an hour (4 h SLA), mgw2 down 60 of the minutes up to
    # the last audit (1 Nov 00:00 .. 27 Nov 17:30 UTC = 26 d 17 h 30 m = 38,490 min): 1 - 60 / 38490
    play = tmp_path / "sla.yml"
    play.write_text("""
- hosts: localhost
  gather_facts: false
  tasks:
    - name: November's scorecard
      voipops.voip.sla_report:
        history: "%(store)s"
        estate_file: %(estate)s
        period: 2026-11
        dest: "%(dest)s"
      register: sla
    - name: keep the result for the test
      ansible.builtin.copy:
        content: "{{ sla | to_json }}"
        dest: "%(dest)s.result.json"
        mode: "0644"
      check_mode: false
""" % {"store": store, "estate": os.path.join(ROOT, "inventories", "lab", "estate.yml"), "dest": tmp_path / "sla"})
    rc, out, _recap = ansible.playbook(str(play), check=True)
    assert rc == 0, out[-3000:]
    assert not (tmp_path / "sla").exists()  # check mode wrote nothing
    rc, out, _recap = ansible.playbook(str(play))
    assert rc == 0, out[-3000:]
    result = json.loads((tmp_path / "sla.result.json").read_text())
    acme = result["suppliers"]["acme"]
    assert result["changed"] is True and result["as_of"] == SECOND
    assert acme["tickets"]["by_priority"]["P1"] == 1
    assert (acme["resolved"], acme["within_sla"], acme["within_sla_share"]) == (1, 1, 1.0)
    assert acme["time_to_resolve"]["worst_minutes"] == 60.0
    assert acme["availability"]["mgw2"] == {"availability": round(1 - 60 / 38490.0, 6), "down_minutes": 60.0}
    page = (tmp_path / "sla" / "sla_report.html").read_text()
    assert "<svg" in page and "<script" not in page and 'data-component="mgw2"' in page
    rc, out, _recap = ansible.playbook(str(play))
    assert rc == 0 and json.loads((tmp_path / "sla.result.json").read_text())["changed"] is False
