# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""voipops.voip.audit_report run by real ansible-playbook: check mode, reports, idempotence, webhook, fail_on_priority."""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils"))

from test_findings import probes, dispatcher, snmp_results, contacts, gateway_info  # noqa: E402
from test_report import _Receiver  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
ESTATE = os.path.join(ROOT, "inventories", "lab", "estate.yml")

PLAY = """
- hosts: localhost
  gather_facts: false
  vars_files: [results.json]
  tasks:
    - name: audit
      voipops.voip.audit_report:
        estate_file: %(estate)s
        dest: "%(dest)s"
        now: "{{ audit_now }}"
        results: "{{ results }}"
        fail_on_priority: P2
        webhook_url: "{{ hook | default(omit) }}"
        webhook_headers: {X-Token: secret-token}
      register: audit
    - name: keep the result for the test
      ansible.builtin.copy:
        content: "{{ audit | to_json }}"
        dest: "%(dest)s.result.json"
        mode: "0644"
      check_mode: false
    - name: fail like the role does
      ansible.builtin.fail:
        msg: "{{ audit.fail_reason }}"
      when: audit.fail_reason | length > 0
"""


def play(tmp_path, now, results, hook=None, check=False, extra_env=None, estate=ESTATE):
    (tmp_path / "results.json").write_text(json.dumps({"audit_now": now, "results": results, "hook": hook} if hook else
                                                      {"audit_now": now, "results": results}))
    (tmp_path / "play.yml").write_text(PLAY % {"estate": estate, "dest": tmp_path / "reports"})
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".state", "collections"),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_REMOTE_TMP=str(tmp_path / "tmp"),
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_NOCOLOR="1", **(extra_env or {}))
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
           str(tmp_path / "play.yml")] + (["--check", "--diff"] if check else [])
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=180, check=False)
    res_file = tmp_path / "reports.result.json"
    result = json.loads(res_file.read_text()) if res_file.exists() else None
    if res_file.exists():
        res_file.unlink()
    return out, result


def results(faulty):
    return {"sip_probe": probes(down=("mgw2",) if faulty else ()),
            "dispatcher": dispatcher(mgw2="inactive" if faulty else "active"),
            "snmp": snmp_results(mgw1_los=faulty, mgw2_ok=not faulty),
            "registrations": contacts(skip=("hs-1001",) if faulty else ())}


def test_clean_lab_gives_ok_reports(tmp_path):
    out, res = play(tmp_path, "2026-11-27T07:00:00Z", results(False))
    assert out.returncode == 0, out.stdout + out.stderr
    assert res["status"] == "ok" and res["tickets"] == [] and res["fail_reason"] == "" and res["changed"] is True
    for fmt, ext in (("json", ".json"), ("html", ".html"), ("junit", ".junit.xml")):
        assert res["reports"][fmt] == str(tmp_path / "reports" / ("health_audit" + ext))
        assert os.path.getsize(res["reports"][fmt]) > 200


def test_faults_check_mode_then_run_then_idempotent_with_webhook(tmp_path):
    hook = _Receiver()
    try:
        out, res = play(tmp_path, "2026-11-27T16:30:00Z", results(True), hook=hook.url, check=True)
        assert out.returncode == 2 and "2 open ticket(s) at or above P2" in out.stdout  # the play fails, with the reason
        assert res["changed"] is True and not (tmp_path / "reports").exists() and hook.bodies == []
        assert "secret-token" not in out.stdout

        out, res = play(tmp_path, "2026-11-27T16:30:00Z", results(True), hook=hook.url)
        assert out.returncode == 2
        assert [(t["component"], t["priority"], t["supplier"]) for t in res["tickets"]] == [
            ("mgw2", "P1", "acme"), ("e1-mgw1-1", "P1", "telco"), ("hs-1001", "P4", "phonecare")]
        assert res["tickets"][0]["symptoms"] == 2 and res["webhook"]["sent"] is True
        assert len(hook.bodies) == 1 and len(hook.bodies[0]["tickets"]) == 3
        assert hook.headers[0]["X-Token"] == "secret-token"
        report = json.loads((tmp_path / "reports" / "health_audit.json").read_text())
        assert report["schema_version"] == 1 and report["summary"]["tickets"] == 3

        # the same audit again: nothing changes, nothing is sent twice
        out, res = play(tmp_path, "2026-11-27T16:30:00Z", results(True), hook=hook.url)
        assert res["changed"] is False and res["webhook"]["sent"] is False and len(hook.bodies) == 1

        # next morning all is well: resolved, webhook has nothing new, play passes
        out, res = play(tmp_path, "2026-11-28T07:00:00Z", results(False), hook=hook.url)
        assert out.returncode == 0, out.stdout
        assert res["status"] == "ok" and res["summary"]["resolved"] == 3 and res["webhook"]["sent"] is False
    finally:
        hook.close()


def test_invalid_estate_is_reported_with_line(tmp_path):
    bad = tmp_path / "estate.yml"
    text = open(ESTATE).read()
    bad.write_text(text.replace("coverage: 24x7\n    sla:\n      P1: {response: 15m", "coverage: 24x7\n    sla:\n      P1: {response: 15x"))
    (tmp_path / "handsets.csv").write_text(open(os.path.join(os.path.dirname(ESTATE), "handsets.csv")).read())
    (tmp_path / "play.yml").write_text(PLAY % {"estate": bad, "dest": tmp_path / "reports"})
    (tmp_path / "results.json").write_text(json.dumps({"audit_now": "2026-11-27T07:00:00Z", "results": {}}))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".state", "collections"),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
                          str(tmp_path / "play.yml")], capture_output=True, text=True, env=env, timeout=180, check=False)
    assert out.returncode == 2
    assert "supplier 'acme': sla.P1.response: '15x' is not a duration" in out.stdout
    line = [n for n, text in enumerate(open(ESTATE), 1) if "P1: {response: 15m" in text][0]
    assert "estate.yml line %d, supplier 'acme'" % line in out.stdout


def test_gateway_info_results_and_unknown_family(tmp_path):
    out, res = play(tmp_path, "2026-11-27T16:30:00Z", {"gateway_info": gateway_info(mgw1_los=True)})
    assert out.returncode == 2 and res["tickets"][0]["component"] == "e1-mgw1-1" and res["tickets"][0]["supplier"] == "telco"
    out, res = play(tmp_path, "2026-11-27T16:30:00Z", {"gateway_infos": []})
    assert out.returncode == 2 and res is None
    assert "unknown check family gateway_infos" in out.stdout


def test_webhook_url_and_bearer_token_from_the_environment_an_awx_credential_sets(tmp_path):
    hook = _Receiver()
    try:
        # the play sets no webhook_url: VOIPOPS_WEBHOOK_URL/_TOKEN (awx/credential_types.yml) supply them
        out, res = play(tmp_path, "2026-11-27T16:30:00Z", results(True),
                        extra_env={"VOIPOPS_WEBHOOK_URL": hook.url, "VOIPOPS_WEBHOOK_TOKEN": "env-t0ken-s3cr3t"})
        assert out.returncode == 2 and res["webhook"]["sent"] is True and len(hook.bodies) == 1
        assert hook.headers[0]["Authorization"] == "Bearer env-t0ken-s3cr3t"
        assert hook.headers[0]["X-Token"] == "secret-token"  # the task's own headers still go out
        assert "env-t0ken-s3cr3t" not in out.stdout + json.dumps(res)
    finally:
        hook.close()


def test_the_estate_file_sets_its_own_thresholds(tmp_path):
    """The lab's callserver host at 12 % CPU is fine by the defaults; an estate whose own thresholds put the CPU
    warning at 5 % files it."""
    with open(ESTATE) as handle:
        text = handle.read()
    strict = tmp_path / "estate.yml"
    strict.write_text(text + "\nthresholds:\n  cpu_warning: 5\n  cpu_critical: 99\n")
    for extra in os.listdir(os.path.dirname(ESTATE)):  # the files the lab estate names beside it (its handsets CSV)
        if extra.endswith(".csv"):
            shutil.copy(os.path.join(os.path.dirname(ESTATE), extra), str(tmp_path / extra))
    out, res = play(tmp_path, "2026-11-27T07:00:00Z", results(False), estate=str(strict))
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads((tmp_path / "reports" / "health_audit.json").read_text())
    assert [f["kind"] for f in report["findings"] if f["component"] == "cs1"] == ["cpu_high"], report["findings"]
