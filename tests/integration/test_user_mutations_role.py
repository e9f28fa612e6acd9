# -*- coding: utf-8 -*-
"""playbooks/user_mutations.yml end to end, the way an operator (or AWX) runs it, on a private Kamailio database."""
import json
import os
import sqlite3

import pytest

from ansible_collections.voipops.voip.plugins.module_utils import journal
from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio_db import create_kamailio_schema

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
pytestmark = pytest.mark.skipif(not os.path.isdir("/usr/share/kamailio/db_sqlite"), reason="Kamailio schema scripts missing")

HR = """action,effective_date,employee_id,display_name,email,site,extension,aliases,class_of_service,class_of_service_grant,features
join,2026-01-05,E2101,Ada Lovelace,ada@example.org,ams,2101,+31201234101,national,,voicemail|cfnr:2102
join,2026-01-05,E2102,Grace Hopper,grace@example.org,ams,2102,,international,,voicemail|hunt_group:support
join,2026-01-05,E3101,Alan Turing,alan@example.org,rtm,3101,+31104567101,national,international@2030-06-30T17:00:00Z,
leave,2026-02-01,E3101,,,,,,,,
move,2030-12-01,E2102,,,rtm,3102,,,,
"""


@pytest.fixture
def setup(tmp_path):
    db = tmp_path / "kamailio.db"
    create_kamailio_schema("sqlite:///" + str(db))
    hr = tmp_path / "hr.csv"
    hr.write_text(HR)
    ev = {"user_mutations_db_url": "sqlite:///" + str(db), "user_mutations_domain": "voip.lab",
          "user_mutations_source": str(hr), "user_mutations_output_dir": str(tmp_path / "out"),
          "user_mutations_now": "2026-03-01T09:00:00Z", "awx_user_name": "awx-carol"}
    return {"db": str(db), "hr": hr, "ev": ev, "out": tmp_path / "out"}


def rows(db, sql):
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_preview_apply_idempotent_audit_summary(ansible, setup):
    rc, out, recap = ansible.playbook("playbooks/user_mutations.yml", dict(setup["ev"], user_mutations_apply=False))
    assert rc == 0, out[-3000:]
    assert "Would change 2 user(s):" in out and "add user E2101 ext 2101" in out
    assert rows(setup["db"], "SELECT count(*) FROM subscriber") == [(0,)]           # preview wrote nothing
    rc, out, recap = ansible.playbook("playbooks/user_mutations.yml", setup["ev"])
    assert rc == 0, out[-3000:]
    assert sorted(r[0] for r in rows(setup["db"], "SELECT username FROM subscriber")) == ["2101", "2102"]
    assert ("3101",) not in rows(setup["db"], "SELECT number FROM voipops_cooling")  # joined and left before it ever existed
    summary = (setup["out"] / "summary.txt").read_text()
    assert "run by:     awx-carol" in summary and "line 6: move E2102 on 2030-12-01" in summary
    audit = journal.read(str(setup["out"] / "audit.jsonl"))
    assert [(a["op"], a["employee_id"], a["who"]) for a in audit] == [("add", "E2101", "awx-carol"), ("add", "E2102", "awx-carol")]
    creds = json.loads((setup["out"] / "credentials.json").read_text())
    assert oct(os.stat(str(setup["out"] / "credentials.json")).st_mode & 0o777) == "0o600"
    for c in creds:                                                                 # never a secret in logs
        assert c["password"] not in out and c["password"] not in (setup["out"] / "audit.jsonl").read_text()
    rc, out, recap = ansible.playbook("playbooks/user_mutations.yml", setup["ev"])
    assert rc == 0 and recap["localhost"]["changed"] == 0, out[-3000:]
    # the daily run on the move's date picks it up
    rc, out, recap = ansible.playbook("playbooks/user_mutations.yml", dict(setup["ev"], user_mutations_now="2030-12-01T06:00:00Z"))
    assert rc == 0, out[-3000:]
    assert sorted(r[0] for r in rows(setup["db"], "SELECT username FROM subscriber")) == ["2101", "3102"]
    assert rows(setup["db"], "SELECT number FROM voipops_cooling WHERE number = '2102'") == [("2102",)]


def test_bad_batch_fails_naming_every_error_and_applies_nothing(ansible, setup):
    setup["hr"].write_text(HR.splitlines()[0] + "\n"
                           "join,2026-01-05,E1,A,,ams,2101,,national,,\n"
                           "join,2026-01-05,E2,B,,ams,2101,,national,,\n"
                           "join,2026-01-05,E3,C,,rtm,2500,,national,,\n"
                           "leave,2026-01-05,E404,,,,,,,,\n"
                           "join,2026-01-05,E5,D,,ams,2105,+3120,galactic,,teleport\n"
                           "join,2026-01-05,E6,E,,ams,2106,,national,international@2020-01-01T00:00:00Z,\n")
    rc, out, recap = ansible.playbook("playbooks/user_mutations.yml", setup["ev"])
    assert rc != 0
    src = str(setup["hr"])
    for expected in ("%s line 3, user 'E2': extension: number 2101 is already used by user 'E1' (line 2)" % src,
                     "%s line 4, user 'E3': extension: extension 2500 is outside site rtm's range(s) 3000-3999" % src,
                     "%s line 5, employee 'E404': employee_id: leaver does not exist on the callserver" % src,
                     "%s line 6, user 'E5': aliases:" % src, "%s line 6, user 'E5': class_of_service:" % src,
                     "%s line 6, user 'E5': features: unknown feature 'teleport'" % src,
                     "%s line 7, user 'E6': class_of_service_grant.until: until 2020-01-01T00:00:00Z is in the past" % src):
        assert expected in out, expected
    assert rows(setup["db"], "SELECT count(*) FROM subscriber") == [(0,)]


def test_a_check_job_previews_without_failing_or_writing(ansible, setup):
    # an AWX "check" job: --check --diff must report what it would do, not fail on a read-back it cannot make
    rc, out, recap = ansible.playbook("playbooks/user_mutations.yml", setup["ev"], check=True, diff=True)
    assert rc == 0, out[-3000:]
    assert "Would change 2 user(s):" in out and "PREVIEW (nothing written)" in out
    assert rows(setup["db"], "SELECT count(*) FROM subscriber") == [(0,)]
    assert not (setup["out"] / "summary.txt").exists() and not (setup["out"] / "credentials.json").exists()


def test_connection_from_an_awx_credential_environment_and_a_log_sized_for_people(ansible, setup):
    # the callserver comes from the environment an AWX credential injects (no db_url in extra vars); the job log
    # lists the first change, then a count (a SQLite URL carries no password: masking is tested with the filter)
    ev = dict(setup["ev"], user_mutations_show_max=1)
    db_url = ev.pop("user_mutations_db_url")
    ev.pop("user_mutations_domain")
    rc, out, recap = ansible.playbook("playbooks/user_mutations.yml", ev, env={
        "VOIPOPS_CALLSERVER_DB_URL": db_url, "VOIPOPS_CALLSERVER_DOMAIN": "voip.lab",
        "VOIPOPS_LAB_DIR": str(setup["out"] / "no-lab-here"), "ANSIBLE_SHOW_CUSTOM_STATS": "1"})
    assert rc == 0, out[-3000:]
    assert sorted(r[0] for r in rows(setup["db"], "SELECT username FROM subscriber")) == ["2101", "2102"]
    assert "Changed 2 user(s) (the first 1 shown; all in the summary file):" in out
    assert "add user E2101 ext 2101" in out and "add user E2102 ext 2102" not in out
    summary = (setup["out"] / "summary.txt").read_text()
    assert "add user E2101 ext 2101" in summary and "add user E2102 ext 2102" in summary
    assert "callserver: " + db_url in summary
    # set_stats for the next workflow node: what was applied, verified, and where the files are
    stats = out[out.index("CUSTOM STATS"):]
    assert "user_mutations_changes: 2 " in stats and "user_mutations_verified: true" in stats, stats
    assert "user_mutations_applied: true" in stats and str(setup["out"] / "summary.txt") in stats
