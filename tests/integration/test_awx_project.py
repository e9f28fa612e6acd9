"""The repository used as an AWX/Tower project, run the way AWX runs it.

AWX syncs the project (a clean checkout: no ``make``, no ``.state``), installs ``collections/requirements.yml`` with
``ansible-galaxy collection install -r ... -p <job>/requirements_collections`` from the project directory, and runs
the playbook through ansible-runner with that directory in ``ANSIBLE_COLLECTIONS_PATHS`` and an inventory source.
Nothing of this checkout's own setup (``.state/collections``, ``ANSIBLE_CONFIG``) may leak into the job.
"""
import json
import os
import subprocess
import sys

import ansible_runner
import pytest

from conftest import ROOT, LAB_DIR

pytestmark = [pytest.mark.lab]

VENV_BIN = os.path.dirname(sys.executable)


def clean_env():
    """What an execution environment gives a job: none of the checkout's ANSIBLE_* or VOIPOPS_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "VOIPOPS_"))}
    env["PATH"] = VENV_BIN + os.pathsep + env.get("PATH", "")
    env["HOME"] = env.get("HOME", "/root")
    return env


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A project sync: the files git would check out (tracked and new, not ignored), nothing else."""
    dest = tmp_path_factory.mktemp("awx") / "project"
    dest.mkdir()
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout
    tar = subprocess.run(["tar", "--ignore-failed-read", "--null", "-T", "-", "-cf", "-"], cwd=ROOT, input=files,
                         check=True, capture_output=True).stdout
    subprocess.run(["tar", "-xf", "-", "-C", str(dest)], input=tar, check=True)
    assert not (dest / ".state").exists()
    return dest


@pytest.fixture(scope="module")
def job_collections(project):
    """AWX's project update step: install collections/requirements.yml from the project directory."""
    dest = project.parent / "requirements_collections"
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-galaxy"), "collection", "install", "-r",
                           "collections/requirements.yml", "-p", str(dest)],
                          cwd=str(project), env=clean_env(), capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    installed = dest / "ansible_collections" / "voipops" / "voip"
    assert (installed / "MANIFEST.json").is_file() and (installed / "plugins" / "modules" / "callserver_users.py").is_file()
    return dest


def run_job(project, job_collections, tmp_path, playbook, extravars, inventory, cmdline=None):
    pdd = tmp_path / "job"
    pdd.mkdir()
    envvars = dict(clean_env(), ANSIBLE_COLLECTIONS_PATHS=str(job_collections), ANSIBLE_NOCOLOR="1")
    result = ansible_runner.run(private_data_dir=str(pdd), project_dir=str(project), playbook=playbook,
                                inventory=inventory, extravars=extravars, envvars=envvars, cmdline=cmdline,
                                quiet=True, timeout=600)
    events = list(result.events)
    return result, events


def test_health_audit_runs_as_an_awx_job_from_a_clean_project(lab, project, job_collections, tmp_path):
    inv = tmp_path / "estate.yml"        # an inventory source "sourced from project": the estate inventory plugin
    inv.write_text("plugin: voipops.voip.estate\nestate_file: %s\nendpoints_file: %s\nhandsets: none\n" % (
        project / "inventories" / "lab" / "estate.yml", os.path.join(LAB_DIR, "endpoints.json")))
    dest = tmp_path / "reports"
    result, events = run_job(project, job_collections, tmp_path, "playbooks/health_audit.yml",
                             {"health_audit_dest": str(dest), "health_audit_fail_on_priority": "none",
                              "health_audit_thresholds": {"cpu_warning": 101, "cpu_critical": 101}},
                             [str(inv), str(project / "inventories" / "lab" / "hosts.yml")])
    text = "\n".join(e.get("stdout", "") for e in events)
    assert result.status == "successful" and result.rc == 0, text[-4000:]
    assert "No module named 'ansible_collections.voipops'" not in text
    # the job ran this collection's modules, installed by the project update (not the checkout's own link)
    ok_actions = {e["event_data"].get("resolved_action") for e in events if e["event"] == "runner_on_ok"}
    assert {"voipops.voip.audit_report", "voipops.voip.sip_probe"} <= ok_actions
    assert result.stats["failures"] == {} and result.stats["ok"].get("localhost", 0) > 0
    with open(str(dest / "health_audit.json")) as handle:
        report = json.load(handle)
    assert report["status"] in ("ok", "warning", "critical") and isinstance(report["findings"], list)
    assert "by_priority" in report["summary"]
    # set_stats: what a workflow node after the audit gets as extra vars (AWX reads it from the stats event)
    stats = [e for e in events if e["event"] == "playbook_on_stats"][0]["event_data"]["artifact_data"]
    assert stats == {
        "health_audit_status": report["status"], "health_audit_tickets": report["summary"]["tickets"],
        "health_audit_tickets_by_priority": report["summary"]["by_priority"],
        "health_audit_new_tickets": report["summary"]["new"], "health_audit_overdue_tickets": report["summary"]["overdue"],
        "health_audit_fail_reason": "",
        "health_audit_reports": {"json": str(dest / "health_audit.json"), "html": str(dest / "health_audit.html"),
                                 "junit": str(dest / "health_audit.junit.xml")}}
    assert sum(report["summary"]["by_priority"].values()) == report["summary"]["tickets"]


def test_a_check_job_of_the_health_audit_succeeds(lab, project, job_collections, tmp_path):
    inv = tmp_path / "estate.yml"
    inv.write_text("plugin: voipops.voip.estate\nestate_file: %s\nendpoints_file: %s\nhandsets: none\n" % (
        project / "inventories" / "lab" / "estate.yml", os.path.join(LAB_DIR, "endpoints.json")))
    result, events = run_job(project, job_collections, tmp_path, "playbooks/health_audit.yml",
                             {"health_audit_dest": str(tmp_path / "reports"), "health_audit_fail_on_priority": "none"},
                             [str(inv), str(project / "inventories" / "lab" / "hosts.yml")], cmdline="--check --diff")
    text = "\n".join(e.get("stdout", "") for e in events)
    assert result.status == "successful", text[-4000:]
    assert "Check run: no report written." in text and not (tmp_path / "reports").exists()
    stats = [e for e in events if e["event"] == "playbook_on_stats"][0]["event_data"]["artifact_data"]
    assert stats["health_audit_reports"] == {} and stats["health_audit_status"] in ("ok", "warning", "critical")
