"""The health audit of a large fleet keeps its job log and job events small (#16): the fleet travels by file, so the
job (as AWX records it, through ansible-runner) shows a summary, the first tickets and the report paths - not one
event field per handset - while the reports hold every finding. The checks' private directory is gone afterwards."""
import json
import os
import re

import ansible_runner
import pytest

from conftest import ROOT, LAB_DIR, ansible_env

pytestmark = [pytest.mark.lab]

EXTRA = 400          # handsets the estate has and the lab does not register: 400 tickets, one per handset
LOG_TICKETS = 20     # the role's default health_audit_log_tickets


def big_estate(where):
    """The lab's estate with EXTRA more handsets (a CSV beside the lab's own), none of them registered."""
    lab_estate = os.path.join(ROOT, "inventories", "lab", "estate.yml")
    with open(lab_estate) as handle:
        text = handle.read()
    assert "handsets_csv: handsets.csv\n" in text
    rows = ["name,mac,vendor,model,site,user"] + [
        "hs-9%03d,00:15:65:99:%02x:%02x,yealink,T54W,ams,%d" % (i, i // 256, i % 256, 2500 + i) for i in range(EXTRA)]
    with open(os.path.join(str(where), "more-handsets.csv"), "w") as handle:
        handle.write("\n".join(rows) + "\n")
    estate = os.path.join(str(where), "estate.yml")
    with open(estate, "w") as handle:
        handle.write(text.replace("handsets_csv: handsets.csv\n", "handsets_csv: [%s, more-handsets.csv]\n"
                                  % os.path.join(ROOT, "inventories", "lab", "handsets.csv")))
    inventory = os.path.join(str(where), "estate.inventory.yml")
    with open(inventory, "w") as handle:
        handle.write("plugin: voipops.voip.estate\nestate_file: %s\nendpoints_file: %s\nhandsets: none\n"
                     % (estate, os.path.join(LAB_DIR, "endpoints.json")))
    return inventory


def test_a_large_fleet_s_audit_keeps_the_job_log_and_events_small(lab, tmp_path):
    inventory = big_estate(tmp_path)
    dest = tmp_path / "audit"
    (tmp_path / "runner").mkdir()
    result = ansible_runner.run(
        private_data_dir=str(tmp_path / "runner"), project_dir=ROOT, playbook="playbooks/health_audit.yml",
        envvars=ansible_env(), inventory=[inventory, os.path.join(ROOT, "inventories", "lab", "hosts.yml")],
        extravars={"health_audit_dest": str(dest), "health_audit_fail_on_priority": "none",
                   "health_audit_thresholds": {"cpu_warning": 101, "cpu_critical": 101}},
        quiet=True, timeout=600)
    with open(result.stdout.name) as handle:
        stdout = handle.read()
    assert result.status == "successful", stdout[-4000:]
    with open(str(dest / "health_audit.json")) as handle:
        report = json.load(handle)
    # the reports hold every finding: each extra handset is not registered, a ticket of its own
    missing = sorted(f["component"] for f in report["findings"] if f["kind"] == "not_registered"
                     and f["component"].startswith("hs-9"))
    assert len(missing) == EXTRA
    listed = [f["component"] for f in report["findings"] if f["id"] in report["tickets"][:LOG_TICKETS]]
    # the job log: the status line, the first tickets and how many more the report holds
    more = len(report["tickets"]) - LOG_TICKETS
    assert "... and %d more ticket(s) in the report" % more in stdout, stdout[-3000:]
    assert set(re.findall(r"hs-9\d{3}", stdout)) <= set(listed)
    assert len(stdout) < 20000, len(stdout)
    # the job events (what AWX stores): no handset beyond the tickets the log lists, anywhere in any event
    events = json.dumps(list(result.events))
    assert set(re.findall(r"hs-9\d{3}", events)) <= set(listed)
    # handset_info told the play where its answer was; the private directory is gone
    answers = [e["event_data"]["res"] for e in result.events if e["event"] == "runner_on_ok"
               and e["event_data"].get("task_action") == "voipops.voip.handset_info"]
    assert len(answers) == 1 and answers[0]["summary"]["unregistered"] >= EXTRA
    assert answers[0]["dest"].endswith("/handset_info.json")
    assert not os.path.exists(os.path.dirname(answers[0]["dest"]))
