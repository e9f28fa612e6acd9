# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""audit_report's history option and voipops.voip.sla_report, run by real ansible-playbook: the store named by the
environment, nothing written in check mode, the same audit appended once, the scorecard's figures and its errors."""
import json
import os
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils"))

from test_findings import probes  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
ESTATE = os.path.join(ROOT, "inventories", "lab", "estate.yml")

PLAY = """
- hosts: localhost
  gather_facts: false
  vars_files: [vars.json]
  tasks:
    - name: audit
      voipops.voip.audit_report:
        estate_file: %(estate)s
        dest: "%(dest)s"
        now: "{{ audit_now }}"
        results: {sip_probe: "{{ sip }}"}
      register: audit
    - name: scorecard
      voipops.voip.sla_report:
        estate_file: %(estate)s
        period: "{{ period }}"
      register: sla
      ignore_errors: true
    - name: keep the results for the test
      ansible.builtin.copy:
        content: "{{ {'audit': audit, 'sla': sla} | to_json }}"
        dest: "%(dest)s.result.json"
        mode: "0644"
      check_mode: false
"""


def play(tmp_path, now, sip, period="2026-11", check=False):
    (tmp_path / "vars.json").write_text(json.dumps({"audit_now": now, "sip": sip, "period": period}))
    (tmp_path / "play.yml").write_text(PLAY % {"estate": ESTATE, "dest": tmp_path / "reports"})
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".state", "collections"),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_REMOTE_TMP=str(tmp_path / "tmp"),
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_NOCOLOR="1",
               VOIPOPS_AUDIT_HISTORY=str(tmp_path / "store" / "history.sqlite"))
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
           str(tmp_path / "play.yml")] + (["--check"] if check else [])
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=180, check=False)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    return json.loads((tmp_path / "reports.result.json").read_text())


def runs(tmp_path):
    with sqlite3.connect(str(tmp_path / "store" / "history.sqlite")) as db:
        return [r[0] for r in db.execute("SELECT run_at FROM voipops_audit_runs ORDER BY run_at")]


def test_the_history_from_the_environment_once_per_audit_and_the_scorecard(tmp_path):
    down = probes(down=["mgw2"])
    # check mode: no store is created, and the scorecard says there is none
    res = play(tmp_path, "2026-11-27T16:30:00Z", down, check=True)
    assert res["audit"]["history"]["appended"] is False and not (tmp_path / "store").exists()
    assert res["sla"]["failed"] and "does not exist" in res["sla"]["msg"]

    res = play(tmp_path, "2026-11-27T16:30:00Z", down)
    (ticket,) = [t for t in res["audit"]["tickets"] if t["component"] == "mgw2"]
    assert res["audit"]["history"]["appended"] is True and res["audit"]["history"]["opened"] == [ticket["id"]]
    # the same audit again (same now): not appended twice, nothing changed
    res = play(tmp_path, "2026-11-27T16:30:00Z", down)
    assert res["audit"]["history"]["appended"] is False and res["audit"]["changed"] is False
    # mgw2 answers again two hours later: resolved after 120 min, within its 4 h SLA
    res = play(tmp_path, "2026-11-27T18:30:00Z", probes())
    assert res["audit"]["history"]["resolved"] == [ticket["id"]]
    assert runs(tmp_path) == ["2026-11-27T16:30:00Z", "2026-11-27T18:30:00Z"]
    acme = res["sla"]["suppliers"]["acme"]
    assert (acme["resolved"], acme["within_sla"], acme["time_to_resolve"]["worst_minutes"]) == (1, 1, 120.0)
    assert res["sla"]["reports"] == {} and res["sla"]["changed"] is False  # no dest: figures only

    res = play(tmp_path, "2026-11-27T18:30:00Z", probes(), period="2026-13")
    assert res["sla"]["failed"] and "period '2026-13' is not a month (2026-12) or a quarter (2026-Q4)" in res["sla"]["msg"]
