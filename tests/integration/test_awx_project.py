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
import jinja2
import pytest
from ansible.parsing.yaml.loader import AnsibleLoader

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


def run_job(project, job_collections, tmp_path, playbook, extravars, inventory, cmdline=None, credential_env=None):
    pdd = tmp_path / "job"
    pdd.mkdir()
    envvars = dict(clean_env(), ANSIBLE_COLLECTIONS_PATHS=str(job_collections), ANSIBLE_NOCOLOR="1")
    envvars.update(credential_env or {})
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


def injected_env(project, type_name, inputs):
    """What AWX puts into a job's environment for a credential of one of awx/credential_types.yml's types: each env
    injector, a Jinja2 template over the credential's inputs (an input not given renders empty)."""
    with open(str(project / "awx" / "credential_types.yml")) as handle:
        types = AnsibleLoader(handle).get_single_data()["awx_credential_types"]
    ctype = next(t for t in types if t["name"] == type_name)
    return dict((var, jinja2.Template(str(template)).render(**inputs)) for var, template in ctype["injectors"]["env"].items())


def test_the_test_call_credential_reaches_the_health_audit_calls(lab, project, job_collections, tmp_path, extra_subscriber):
    """The audit job template with the "VoIP test-call account" credential: its injected environment alone (no extra
    var names the account) makes the audit place its test calls, and the call through the callserver authenticates
    with the injected password (a password that did not reach sip_call would be auth_failed)."""
    acct = extra_subscriber("1097")
    env = injected_env(project, "VoIP test-call account (voipops.voip)",
                       {"username": acct["username"], "password": acct["password"]})
    assert env["VOIPOPS_TEST_CALL_PASSWORD"] == acct["password"] and env["VOIPOPS_TEST_CALL_PROXY"] == ""
    inv = tmp_path / "estate.yml"
    inv.write_text("plugin: voipops.voip.estate\nestate_file: %s\nendpoints_file: %s\nhandsets: none\n" % (
        project / "inventories" / "lab" / "estate.yml", os.path.join(LAB_DIR, "endpoints.json")))
    dest = tmp_path / "reports"
    result, events = run_job(project, job_collections, tmp_path, "playbooks/health_audit.yml",
                             {"health_audit_dest": str(dest), "health_audit_fail_on_priority": "none",
                              "health_audit_history": "",
                              "health_audit_thresholds": {"cpu_warning": 101, "cpu_critical": 101},
                              "health_audit_test_call_groups": [{"name": "external", "number": "90001"}],
                              "health_audit_test_call_phones": 0, "health_audit_test_call_ring_timeout": 2.0,
                              "health_audit_test_call_hold": 0.2},
                             [str(inv), str(project / "inventories" / "lab" / "hosts.yml")], credential_env=env)
    text = "\n".join(e.get("stdout", "") for e in events)
    assert result.status == "successful", text[-4000:]
    calls = [e["event_data"]["res"] for e in events if e["event"] == "runner_on_ok"
             and e["event_data"].get("task", "").startswith("Test calls")]
    assert len(calls) == 1, text[-4000:]
    group = [c for c in calls[0]["calls"] if c["name"] == "external"]
    assert [(c["classification"], c["authenticated"]) for c in group] == [("answered", True)], calls[0]["calls"]
    with open(str(dest / "health_audit.json")) as handle:
        report = json.load(handle)
    check = [c for c in report["checks"] if c["name"] == "test_calls"][0]
    assert "cs1" in check["checked"]
    assert not [f for f in report["findings"] if f["check"] == "test_calls" and f["component"] == "cs1"]
    # the password went in through the environment only: no job event shows it
    assert acct["password"] not in json.dumps(events)
