# -*- coding: utf-8 -*-
"""callserver_users end to end (module code path, real SQLite DB from Kamailio's scripts)."""
import json
import os
import sqlite3

import pytest
from tests.support.modargs import patch_module_args

from ansible_collections.voipops.voip.plugins.module_utils import journal
from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio_db import create_kamailio_schema
from ansible_collections.voipops.voip.plugins.modules import callserver_users

pytestmark = pytest.mark.skipif(not os.path.isdir("/usr/share/kamailio/db_sqlite"),
                                reason="Kamailio's SQLite schema scripts (Debian kamailio) are not installed")
NUMBERPLAN = {"sites": {"ams": {"ranges": ["1000-1999"]}, "rtm": {"ranges": ["2000-2999"]}}}
NOW = "2026-03-01T12:00:00Z"


@pytest.fixture
def env(tmp_path, monkeypatch):
    # the SIP domain has no default: it comes the way an AWX credential brings it, from the environment
    monkeypatch.setenv("VOIPOPS_CALLSERVER_DOMAIN", "voip.lab")
    path = str(tmp_path / "kamailio.db")
    create_kamailio_schema("sqlite:///" + path)
    return {"db_url": "sqlite:///" + path, "path": path, "tmp": tmp_path}


def call(capsys, args, check=False, diff=False, no_log=True):
    args = dict(args)
    args.update(_ansible_check_mode=check, _ansible_diff=diff, _ansible_no_log=no_log)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            callserver_users.main()
    out = capsys.readouterr().out
    return json.loads(out)


def users_args(env, config, state="merged", **kw):
    a = {"db_url": env["db_url"], "numberplan": NUMBERPLAN, "config": config, "state": state, "now": NOW,
         "audit_log": str(env["tmp"] / "audit.jsonl"), "actor": "alice"}
    a.update(kw)
    return a


ADA = {"id": "E1", "name": "Ada", "site": "ams", "extension": "1001", "class_of_service": "national",
       "aliases": ["+31201231001"], "features": [{"name": "voicemail"}]}
BOB = {"id": "E2", "name": "Bob", "site": "ams", "extension": "1002", "class_of_service": "internal"}


def db_bytes(path):
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    with open(path, "rb") as h:
        return h.read()


def test_check_mode_writes_nothing_then_apply_then_idempotent(capsys, env):
    before = db_bytes(env["path"])
    res = call(capsys, users_args(env, [ADA, BOB]), check=True, diff=True)
    assert res["changed"] is True and len(res["commands"]) == 2
    assert res["diff"]["after"]["E1"]["extension"] == "1001"
    assert db_bytes(env["path"]) == before                     # byte-identical
    res = call(capsys, users_args(env, [ADA, BOB]))
    assert res["changed"] is True and res["verified"] is True
    assert sorted(c["id"] for c in res["credentials"]) == ["E1", "E2"]
    assert all(c["password"] not in json.dumps(res["commands"]) for c in res["credentials"])
    res2 = call(capsys, users_args(env, [ADA, BOB]))
    assert res2["changed"] is False and res2["commands"] == [] and "credentials" not in res2
    audit = journal.read(str(env["tmp"] / "audit.jsonl"))
    assert [(a["op"], a["employee_id"], a["who"]) for a in audit] == [("add", "E1", "alice"), ("add", "E2", "alice")]
    text = open(str(env["tmp"] / "audit.jsonl")).read()
    assert all(c["password"] not in text for c in res["credentials"])


def test_refuses_to_make_passwords_without_no_log(capsys, env):
    res = call(capsys, users_args(env, [ADA]), no_log=False)
    assert res["failed"] and "no_log" in res["msg"]
    assert call(capsys, {"db_url": env["db_url"], "state": "gathered"})["gathered"] == []


def test_credentials_file_mode_0600(capsys, env):
    cred = str(env["tmp"] / "cred.json")
    res = call(capsys, users_args(env, [ADA], credentials_file=cred), no_log=False)
    assert res["changed"] and "credentials" not in res
    assert oct(os.stat(cred).st_mode & 0o777) == "0o600"
    assert json.load(open(cred))[0]["username"] == "1001"


def test_validation_failure_applies_nothing_and_lists_all_errors(capsys, env):
    call(capsys, users_args(env, [ADA]))
    bad = [dict(BOB, extension="1001"), dict(BOB, id="E3", extension="3001"),
           dict(BOB, id="E4", extension="1004", aliases=["+31 20 12"])]
    res = call(capsys, users_args(env, bad))
    assert res["failed"]
    got = set((e["object"], e["field"]) for e in res["errors"])
    assert got == {("user 'E2'", "extension"), ("user 'E3'", "extension"), ("user 'E4'", "aliases")}
    assert [u["id"] for u in call(capsys, {"db_url": env["db_url"], "state": "gathered"})["gathered"]] == ["E1"]


def test_src_yaml_errors_name_lines(capsys, env):
    src = env["tmp"] / "users.yml"
    src.write_text("users:\n  - id: E1\n    site: ams\n    extension: '1001'\n    class_of_service: national\n"
                   "  - id: E2\n    site: ams\n    extension: '1001'\n    class_of_service: business\n")
    res = call(capsys, {"db_url": env["db_url"], "numberplan": NUMBERPLAN, "src": str(src), "state": "overridden"})
    assert res["failed"]
    assert "%s line 9, user 'E2': class_of_service: unknown class of service 'business'" % src in res["msg"]


def test_states_replaced_overridden_deleted(capsys, env):
    call(capsys, users_args(env, [ADA, BOB]))
    res = call(capsys, users_args(env, [{"id": "E1", "site": "ams", "extension": "1001", "class_of_service": "national"}],
                                  state="replaced"))
    assert res["changed"] and "features" not in res["after"][0] and "aliases" not in res["after"][0]
    res = call(capsys, users_args(env, [BOB], state="overridden"))
    assert [u["id"] for u in res["after"]] == ["E2"]
    # E1's number is now cooling: a joiner on it is refused
    res = call(capsys, users_args(env, [dict(ADA, id="E7")]))
    assert res["failed"] and "1001 is in cooling until 2026-05-30T12:00:00Z" in res["msg"]
    res = call(capsys, users_args(env, [{"id": "E2"}], state="deleted"))
    assert res["changed"] and res["after"] == []
    assert call(capsys, users_args(env, [{"id": "E2"}], state="deleted"))["changed"] is False


def test_rendered_and_parsed_need_no_connection(capsys, env):
    res = call(capsys, {"config": [ADA], "state": "rendered", "numberplan": NUMBERPLAN})
    assert res["rendered"][0]["aliases"] == ["+31201231001"]
    text = "users:\n  - {id: E5, site: ams, extension: '1005', class_of_service: internal}\n"
    res = call(capsys, {"state": "parsed", "running_config": text})
    assert res["parsed"] == [{"id": "E5", "site": "ams", "extension": "1005", "class_of_service": "internal"}]


def test_hr_batch_future_rows_wait_and_rerun_is_idempotent(capsys, env):
    call(capsys, users_args(env, [ADA, BOB]))
    hr = env["tmp"] / "hr.csv"
    hr.write_text("action,effective_date,employee_id,display_name,site,extension,class_of_service,features\n"
                  "join,2026-02-27,E3,Carol,rtm,2001,national,dnd\n"
                  "leave,2026-02-28,E2,,,,,\n"
                  "move,2026-03-05,E1,,rtm,2002,,\n")
    args = {"db_url": env["db_url"], "numberplan": NUMBERPLAN, "hr_csv": str(hr), "state": "merged", "now": NOW}
    res = call(capsys, args)
    assert res["changed"] and [p["employee_id"] for p in res["pending"]] == ["E1"]
    assert sorted(u["id"] for u in res["after"]) == ["E1", "E3"]
    res = call(capsys, args)
    assert res["changed"] is False and len(res["already_applied"]) == 2
    # the move becomes effective on its date
    res = call(capsys, dict(args, now="2026-03-05T08:00:00Z"))
    assert res["changed"] and [u["extension"] for u in res["after"] if u["id"] == "E1"] == ["2002"]
    assert [c["username"] for c in res["credentials"]] == ["2002"]   # a mover gets a new SIP password


RUNNER = """
import json, sys
from tests.support.modargs import patch_module_args
from ansible_collections.voipops.voip.plugins.modules import callserver_users
with patch_module_args(json.loads(sys.argv[1])):
    callserver_users.main()
"""


def kill_9_at(env, args, where):
    """Run the module in a child process, stop it at ``where`` (a VOIPOPS_TEST_PAUSE_* hook of the driver) and kill -9
    it there, like a crash or an AWX job cancelled at that instant."""
    import subprocess
    import sys
    import time
    marker = str(env["tmp"] / "paused")
    script = env["tmp"] / "run.py"
    script.write_text(RUNNER)
    penv = dict(os.environ, VOIPOPS_TEST_PAUSE_MARKER=marker, PYTHONPATH=os.pathsep.join(p for p in sys.path if p),
                **{"VOIPOPS_TEST_PAUSE_" + where: "60"})
    proc = subprocess.Popen([sys.executable, str(script), json.dumps(args)], env=penv,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 30
        while not os.path.exists(marker) and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert os.path.exists(marker), proc.communicate()[1][-2000:]
    finally:
        proc.kill()
        proc.wait()
        if os.path.exists(marker):
            os.unlink(marker)


def test_kill_9_inside_the_transaction_loses_and_duplicates_nothing(capsys, env):
    call(capsys, users_args(env, [BOB]))
    audit = str(env["tmp"] / "audit.jsonl")
    args = users_args(env, [ADA, dict(BOB, features=[{"name": "dnd"}])], credentials_file=str(env["tmp"] / "c.json"))
    kill_9_at(env, args, "BEFORE_COMMIT")        # kill -9 while its transaction is open
    # nothing of the killed run is visible, and the lock of the dead run does not block the next one
    assert [u["id"] for u in call(capsys, {"db_url": env["db_url"], "state": "gathered"})["gathered"]] == ["E2"]
    assert [a["employee_id"] for a in journal.read(audit)] == ["E2"]
    res = call(capsys, args)
    assert res["changed"] and res["verified"]
    # the killed run's lock is taken over (said in the result; the warning goes to the controller's display
    # instead of the result when Ansible's controller code is loaded in the same process, as in this test run)
    assert res["lock_taken_over"] and res["lock_taken_over"] != res["run_id"]
    assert [(a["op"], a["employee_id"]) for a in journal.read(audit)] == [("add", "E2"), ("update", "E2"), ("add", "E1")]
    assert call(capsys, args)["changed"] is False
    assert len(journal.read(audit)) == 3


def test_audit_export_catches_up_after_a_crash_between_commit_and_export(capsys, env):
    call(capsys, users_args(env, [BOB], audit_log=None))          # committed, audit file never written
    audit = str(env["tmp"] / "audit.jsonl")
    call(capsys, users_args(env, [ADA]))
    ids = [a["id"] for a in journal.read(audit)]
    assert [a["employee_id"] for a in journal.read(audit)] == ["E2", "E1"] and ids == sorted(set(ids))
    call(capsys, users_args(env, [dict(ADA, features=[])], state="replaced"))
    assert [a["employee_id"] for a in journal.read(audit)] == ["E2", "E1", "E1"]


def test_second_run_is_refused_while_one_holds_the_lock(capsys, env):
    from ansible_collections.voipops.voip.plugins.module_utils.callservers.base import RunInfo
    from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio_db import KamailioDB
    db = KamailioDB(env["db_url"], "voip.lab")
    db.lock(RunInfo(run_id="other-run", actor="awx-bob", pid=os.getpid()))   # a live holder (this process)
    res = call(capsys, users_args(env, [ADA]))
    assert res["failed"] and "run other-run by awx-bob" in res["msg"]
    assert call(capsys, {"db_url": env["db_url"], "state": "gathered"})["gathered"] == []
    db.unlock(RunInfo(run_id="other-run", actor="awx-bob"))
    assert call(capsys, users_args(env, [ADA]))["changed"] is True


def test_the_driver_comes_from_the_factory_an_unknown_platform_fails_listing_the_known_ones(capsys, env):
    res = call(capsys, {"db_url": env["db_url"], "state": "gathered", "platform": "asterisk"})
    assert res["failed"] and "unknown callserver platform 'asterisk': known platforms are kamailio" in res["msg"]
    res = call(capsys, users_args(env, [ADA], platform="asterisk"))
    assert res["failed"] and "known platforms are kamailio" in res["msg"]
    assert call(capsys, {"db_url": env["db_url"], "state": "gathered"})["gathered"] == []


def test_no_default_domain_and_connection_from_the_environment(capsys, env, monkeypatch):
    monkeypatch.delenv("VOIPOPS_CALLSERVER_DOMAIN")
    res = call(capsys, {"db_url": env["db_url"], "state": "gathered"})
    assert res["failed"] and "set domain (or VOIPOPS_CALLSERVER_DOMAIN)" in res["msg"]
    monkeypatch.setenv("VOIPOPS_CALLSERVER_DB_URL", env["db_url"])
    assert call(capsys, {"domain": "voip.lab", "state": "gathered"})["gathered"] == []


def test_old_option_name_rpc_timeout_still_works(capsys, env):
    res = call(capsys, users_args(env, [ADA], rpc_timeout=2.5))
    assert res["changed"] and not res.get("failed")


def test_credentials_file_is_a_users_file_of_handset_provision(capsys, env):
    from ansible_collections.voipops.voip.plugins.modules import handset_provision
    cred = str(env["tmp"] / "cred.json")
    call(capsys, users_args(env, [ADA, BOB], credentials_file=cred), no_log=False)
    assert oct(os.stat(cred).st_mode & 0o777) == "0o600"
    root = env["tmp"] / "prov"
    args = {"root": str(root), "provisioning_url": "http://127.0.0.1:8080/", "registrar": "127.0.0.1",
            "users_file": cred, "handsets": [
                {"name": "desk-1", "mac": "0015.65aa.bb01", "vendor": "Yealink", "model": "T54W", "user": "1001"},
                {"name": "desk-2", "mac": "00:04:13:aa:bb:02", "vendor": "snom", "model": "D785", "user": "1002"}]}
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            handset_provision.main()
    out = json.loads(capsys.readouterr().out)
    assert not out.get("failed"), out
    assert out["changed_handsets"] == ["desk-1", "desk-2"]
    creds = dict((c["extension"], c) for c in json.load(open(cred)))
    assert creds["1001"]["sip_password"] in (root / "001565aabb01.cfg").read_text()
    assert "Ada" in (root / "001565aabb01.cfg").read_text()


def _ha1_in_db(path, ext):
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT ha1 FROM subscriber WHERE username = ?", (ext,)).fetchone()[0]
    finally:
        conn.close()


def test_an_unwritable_credentials_file_is_refused_before_anything_is_written(capsys, env):
    blocker = env["tmp"] / "not-a-dir"
    blocker.write_text("a file where the credentials directory should be")
    res = call(capsys, users_args(env, [ADA], credentials_file=str(blocker / "creds" / "c.json")))
    assert res["failed"] and "nothing was changed" in res["msg"] and "not a directory" in res["msg"]
    assert call(capsys, {"db_url": env["db_url"], "state": "gathered"})["gathered"] == []
    corrupt = env["tmp"] / "corrupt.json"
    corrupt.write_text("{half a file")                  # passwords it may hold are never overwritten
    res = call(capsys, users_args(env, [ADA], credentials_file=str(corrupt)))
    assert res["failed"] and "refusing to overwrite" in res["msg"]
    assert corrupt.read_text() == "{half a file"
    assert call(capsys, {"db_url": env["db_url"], "state": "gathered"})["gathered"] == []


@pytest.mark.parametrize("where", ["BEFORE_COMMIT", "AFTER_COMMIT"])
def test_kill_9_around_the_commit_never_loses_a_generated_password(capsys, env, where):
    from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio_db import ha1
    cred = env["tmp"] / "c.json"
    args = users_args(env, [ADA], credentials_file=str(cred))
    kill_9_at(env, args, where)
    # killed inside the transaction or just after COMMIT: the password is already in the file, 0600
    (rec,) = json.loads(cred.read_text())
    assert rec["id"] == "E1" and oct(os.stat(str(cred)).st_mode & 0o777) == "0o600"
    committed = [u["id"] for u in call(capsys, {"db_url": env["db_url"], "state": "gathered"})["gathered"]]
    assert committed == (["E1"] if where == "AFTER_COMMIT" else [])
    if committed:                                   # the committed password is the one in the file
        assert _ha1_in_db(env["path"], "1001") == ha1("1001", "voip.lab", rec["sip_password"])
        assert call(capsys, args)["changed"] is False      # the rerun finds it done, and the file still holds it
    else:                                           # rolled back: the rerun applies, with the password it files
        assert call(capsys, args)["changed"] is True
    (rec,) = json.loads(cred.read_text())
    assert _ha1_in_db(env["path"], "1001") == ha1("1001", "voip.lab", rec["sip_password"])


@pytest.mark.parametrize("option, value", [("cooling_days", -1), ("lock_ttl", -5), ("lock_ttl", 0)])
def test_numeric_options_out_of_range_are_refused_before_anything_is_written(capsys, env, option, value):
    res = call(capsys, users_args(env, [ADA], **{option: value}))
    assert res["failed"] and option in res["msg"] and "between" in res["msg"]
    assert call(capsys, {"db_url": env["db_url"], "state": "gathered"})["gathered"] == []


@pytest.mark.parametrize("name", ["Ada\r\nLovelace", "Ada\x00", "Ada\u2028Lovelace"])
def test_control_characters_in_a_display_name_are_refused_at_the_field(capsys, env, name):
    hr = env["tmp"] / "hr.csv"
    hr.write_text('action,effective_date,employee_id,display_name,email,site,extension,aliases,class_of_service,'
                  'class_of_service_grant,features\njoin,2026-01-05,E1,"%s",,ams,1001,,national,,\n' % name,
                  encoding="utf-8")
    args = users_args(env, None, hr_csv=str(hr))
    del args["config"]
    res = call(capsys, args)
    assert res["failed"] and "control character" in res["msg"] and "line 2" in res["msg"], res["msg"]
    assert call(capsys, {"db_url": env["db_url"], "state": "gathered"})["gathered"] == []


def test_a_bad_now_is_a_clear_error_at_its_field(capsys, env):
    res = call(capsys, users_args(env, [ADA], now="yesterday-ish"))
    assert res["failed"] and res["errors"][0]["field"] == "now" and "absolute UTC time" in res["msg"]


# --------------------------------------------------------------------------- re-issue a password
def subscriber_ha1(env, extension):
    conn = sqlite3.connect(env["path"])
    try:
        row = conn.execute("SELECT ha1 FROM subscriber WHERE username = ?", (extension,)).fetchone()
    finally:
        conn.close()
    return row[0] if row else None


def file_agrees_with_callserver(env, cred, uid):
    """The credentials file's password of ``uid`` is the one the callserver checks (its digest is the stored ha1)."""
    from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio_db import ha1
    rec = [r for r in json.load(open(cred)) if r["id"] == uid][0]
    return ha1(rec["username"], "voip.lab", rec["sip_password"]) == subscriber_ha1(env, rec["extension"]), rec


def test_reissue_password_check_diff_apply_once_per_reason_audited_without_the_value(capsys, env):
    cred = str(env["tmp"] / "cred.json")
    call(capsys, users_args(env, [ADA, BOB], credentials_file=cred))
    old = dict((r["id"], r["sip_password"]) for r in json.load(open(cred)))
    old_ha1 = subscriber_ha1(env, "1001")
    reissue = {"db_url": env["db_url"], "now": NOW, "actor": "helpdesk", "credentials_file": cred,
               "audit_log": str(env["tmp"] / "audit.jsonl"), "reissue_password": [{"id": "E1", "reason": "INC42 stolen"}]}
    before = db_bytes(env["path"])
    res = call(capsys, reissue, check=True, diff=True)
    assert res["changed"] and db_bytes(env["path"]) == before        # check mode writes nothing
    assert res["commands"] == ["re-issue the SIP password of user E1 ext 1001 (INC42 stolen): new password ********"]
    assert res["diff"]["before"]["E1"]["secret"] != res["diff"]["after"]["E1"]["secret"]   # the diff says it changes
    assert dict(res["diff"]["after"]["E1"], secret=None) == dict(res["diff"]["before"]["E1"], secret=None)
    assert res["reissued"] == [{"id": "E1", "reason": "INC42 stolen"}]
    res = call(capsys, reissue)
    assert res["changed"] and res["verified"] and [c["id"] for c in res["credentials"]] == ["E1"]
    assert subscriber_ha1(env, "1001") != old_ha1                    # the old password stops working
    agree, rec = file_agrees_with_callserver(env, cred, "E1")
    assert agree and rec["sip_password"] != old["E1"]
    assert oct(os.stat(cred).st_mode & 0o777) == "0o600"
    assert [r["sip_password"] for r in json.load(open(cred)) if r["id"] == "E2"] == [old["E2"]]   # others kept
    # audited: who, what, why; never the value
    audit = journal.read(str(env["tmp"] / "audit.jsonl"))
    assert [(a["op"], a["employee_id"], a["who"]) for a in audit][-1] == ("reissue", "E1", "helpdesk")
    assert "INC42 stolen" in audit[-1]["what"]
    assert rec["sip_password"] not in open(str(env["tmp"] / "audit.jsonl")).read()
    assert rec["sip_password"] not in json.dumps(res["commands"]) + json.dumps(res["operations"])
    # the same entry again: applied once; a new reason re-issues again
    again = call(capsys, reissue)
    assert again["changed"] is False and again["reissue_skipped"] == [{"id": "E1", "reason": "INC42 stolen"}]
    assert file_agrees_with_callserver(env, cred, "E1")[1]["sip_password"] == rec["sip_password"]
    res = call(capsys, dict(reissue, reissue_password=[{"id": "E1", "reason": "INC43"}]))
    assert res["changed"] and file_agrees_with_callserver(env, cred, "E1")[0]


def test_reissue_password_refuses_unknown_users_and_leavers_and_needs_no_log(capsys, env):
    call(capsys, users_args(env, [ADA, BOB]))
    base = {"db_url": env["db_url"], "now": NOW}
    res = call(capsys, dict(base, reissue_password=[{"id": "E9", "reason": "x"}]))
    assert res["failed"] and res["errors"][0]["field"] == "id" and "E9' does not exist" in res["msg"]
    res = call(capsys, users_args(env, [ADA], state="overridden", reissue_password=[{"id": "E2", "reason": "x"}]))
    assert res["failed"] and "E2' leaves in this run" in res["msg"]
    res = call(capsys, dict(base, reissue_password=[{"id": "E1", "reason": "a\nb"}]))
    assert res["failed"] and res["errors"][0]["field"] == "reason" and "control character" in res["msg"]
    res = call(capsys, dict(base, reissue_password=[{"id": "E1", "reason": "x"}]), no_log=False)
    assert res["failed"] and "no_log" in res["msg"]
    res = call(capsys, dict(base, state="deleted", reissue_password=[{"id": "E1", "reason": "x"}]))
    assert res["failed"] and "state merged, replaced or overridden" in res["msg"]
    # with a change of the same user in the same run: one update, with the new password
    res = call(capsys, users_args(env, [dict(ADA, features=[])], state="replaced",
                                  reissue_password=[{"id": "E1", "reason": "y"}]))
    assert [op["op"] for op in res["operations"]] == ["update"] and res["operations"][0]["new_password"]
    assert res["commands"][0].endswith("new password ******** (re-issued: y)")


def test_reissue_from_an_hr_row(capsys, env):
    cred = str(env["tmp"] / "cred.json")
    call(capsys, users_args(env, [ADA], credentials_file=cred))
    first = json.load(open(cred))[0]["sip_password"]
    hr = env["tmp"] / "hr.csv"
    hr.write_text("action,effective_date,employee_id,display_name\nreissue,2026-03-01,E1,\n")
    args = {"db_url": env["db_url"], "now": NOW, "numberplan": NUMBERPLAN, "hr_csv": str(hr), "credentials_file": cred}
    res = call(capsys, args)
    assert res["changed"] and [op["op"] for op in res["operations"]] == ["reissue"]
    agree, rec = file_agrees_with_callserver(env, cred, "E1")
    assert agree and rec["sip_password"] != first
    assert call(capsys, args)["changed"] is False                     # the row is applied once
    hr.write_text("action,effective_date,employee_id,display_name\nreissue,2026-03-01,E1,Ada L\n")
    res = call(capsys, args)
    assert res["failed"] and res["errors"][0]["line"] == 2 and res["errors"][0]["field"] == "display_name"


@pytest.mark.parametrize("where", ["BEFORE_COMMIT", "AFTER_COMMIT"])
def test_kill_9_during_a_reissue_a_rerun_finds_the_password_the_callserver_checks(capsys, env, where):
    cred = str(env["tmp"] / "cred.json")
    call(capsys, users_args(env, [ADA, BOB], credentials_file=cred))
    ha1_before = subscriber_ha1(env, "1001")
    args = {"db_url": env["db_url"], "now": NOW, "credentials_file": cred, "domain": "voip.lab",
            "_ansible_no_log": True, "reissue_password": [{"id": "E1", "reason": "INC7"}]}
    kill_9_at(env, args, where)
    assert (subscriber_ha1(env, "1001") == ha1_before) is (where == "BEFORE_COMMIT")   # rolled back / committed
    res = call(capsys, args)
    # killed before the commit: the rerun re-issues; after it: the rerun finds it done (once per reason)
    assert res["changed"] is (where == "BEFORE_COMMIT") and not res.get("failed")
    agree, rec = file_agrees_with_callserver(env, cred, "E1")
    assert agree and subscriber_ha1(env, "1001") != ha1_before
    assert file_agrees_with_callserver(env, cred, "E2")[0]
    assert oct(os.stat(cred).st_mode & 0o777) == "0o600"


def test_details_summary_returns_counts_and_commands_without_user_records_or_passwords(capsys, env, tmp_path):
    full_env = dict(env, db_url="sqlite:///" + str(tmp_path / "full.db"))
    create_kamailio_schema(full_env["db_url"])
    cred = str(env["tmp"] / "cred.json")
    full = call(capsys, users_args(full_env, [ADA, BOB], credentials_file=str(tmp_path / "full-cred.json")))
    res = call(capsys, users_args(env, [ADA, BOB], credentials_file=cred, details="summary"))
    # the same change, the same counts and commands, but no per-user records and no passwords in the result
    assert res["changed"] and res["verified"] and res["total_users"] == full["total_users"] == 2
    assert res["commands"] == full["commands"] and res["audit_records"] == full["audit_records"] == 2
    assert not set(res) & {"before", "after", "operations", "credentials"}
    assert set(full) >= {"before", "after", "operations", "credentials"}
    assert sorted(c["id"] for c in json.load(open(cred))) == ["E1", "E2"]  # the passwords are in the file
    assert [u["id"] for u in call(capsys, {"db_url": env["db_url"], "state": "gathered"})["gathered"]] == ["E1", "E2"]
    # without a credentials file the passwords still come back (under no_log): they would be lost otherwise
    res = call(capsys, users_args(env, [dict(BOB, id="E3", extension="1003")], details="summary"))
    assert [c["id"] for c in res["credentials"]] == ["E3"] and "after" not in res


def test_summary_file_has_every_change_the_preview_too_and_the_job_log_form_is_short(capsys, env):
    out = env["tmp"] / "out" / "run"
    summary = out / "summary.txt"
    before = db_bytes(env["path"])
    res = call(capsys, users_args(env, [ADA, BOB], summary_file=str(summary), details="summary"), check=True)
    assert db_bytes(env["path"]) == before                      # the preview writes its summary, not the callserver
    text = summary.read_text()
    assert text.startswith("User mutations PREVIEW (nothing written)\n") and "run by:     alice" in text
    assert "add user E1 ext 1001" in text and "add user E2 ext 1002" in text
    assert oct(summary.stat().st_mode & 0o777) == "0o640" and oct(out.stat().st_mode & 0o777) == "0o750"
    res = call(capsys, users_args(env, [ADA, BOB], summary_file=str(summary), details="summary",
                                  credentials_file=str(out / "cred.json")))
    text = summary.read_text()
    assert text.startswith("User mutations applied\n") and "run id: %s" % res["run_id"] in text
    assert "callserver: " + env["db_url"] in text and "verified by read-back: True" in text
    assert "add user E1 ext 1001" in text and "users on the callserver: 2" in text
    assert all(c["password"] not in text for c in json.load(open(str(out / "cred.json"))))
    # the job-log form: counts, no change lines, no callserver URL (a no_log option)
    assert res["summary"][0] == "User mutations applied" and "  changes:    2" in res["summary"]
    assert not any("add user" in line or env["db_url"] in line for line in res["summary"])
    assert "    ... and 2 more: %s" % summary in res["summary"]
