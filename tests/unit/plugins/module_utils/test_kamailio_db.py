# -*- coding: utf-8 -*-
"""The Kamailio SQL driver against a real SQLite file built from Kamailio's own schema scripts."""
import datetime
import hashlib
import multiprocessing
import os
import sqlite3

import pytest

from ansible_collections.voipops.voip.plugins.module_utils import users as U
from ansible_collections.voipops.voip.plugins.module_utils.callservers.base import LockedError, RunInfo
from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio_db import (
    KamailioDB, create_kamailio_schema,
)

pytestmark = pytest.mark.skipif(not os.path.isdir("/usr/share/kamailio/db_sqlite"),
                                reason="Kamailio's SQLite schema scripts (Debian kamailio) are not installed")
NOW = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)


@pytest.fixture
def db_url(tmp_path):
    url = "sqlite:///" + str(tmp_path / "kamailio.db")
    create_kamailio_schema(url)
    return url


def run(run_id="r1", keys=()):
    return RunInfo(run_id=run_id, actor="tester", now=NOW, applied_keys=keys)


ADA = U.canonical({"id": "E1", "name": "Ada", "email": "ada@example.org", "site": "ams", "extension": "1001",
                   "aliases": ["+31201231001"], "class_of_service": "national",
                   "class_of_service_grant": {"class_of_service": "international", "until": "2026-12-31T23:59:00Z"},
                   "features": [{"name": "cfu", "target": "1002", "until": "2026-06-01T00:00:00Z"}, {"name": "voicemail"},
                                {"name": "hunt_group", "target": "sales"}, {"name": "dnd"}]})
BOB = U.canonical({"id": "E2", "site": "ams", "extension": "1002", "class_of_service": "internal"})


def test_roundtrip_in_kamailio_tables(db_url):
    db = KamailioDB(db_url, "voip.lab")
    plan = U.plan_users("merged", [ADA, BOB], [], now=NOW)
    res = db.apply(plan, run())
    assert db.read_users(now=NOW).users == [ADA, BOB]
    # what Kamailio reads: digest only, aliases, groups, preferences with epoch expiry
    conn = sqlite3.connect(db_url[len("sqlite://"):])
    pw = dict((c["id"], c["password"]) for c in res.credentials)
    assert len(pw["E1"]) >= 20
    row = conn.execute("SELECT password, ha1, ha1b FROM subscriber WHERE username='1001'").fetchone()
    assert row[0] == "" and row[1] == hashlib.md5(("1001:voip.lab:%s" % pw["E1"]).encode()).hexdigest()
    assert row[2] == hashlib.md5(("1001@voip.lab:voip.lab:%s" % pw["E1"]).encode()).hexdigest()
    assert conn.execute("SELECT username FROM dbaliases WHERE alias_username='+31201231001'").fetchone() == ("1001",)
    assert sorted(r[0] for r in conn.execute("SELECT grp FROM grp WHERE username='1001'")) == [
        "hunt:sales", "international", "national"]
    prefs = dict(conn.execute("SELECT attribute, value FROM usr_preferences WHERE username='1001'").fetchall())
    assert prefs["cfu"] == "1002" and prefs["cfu_until"] == str(int(datetime.datetime(2026, 6, 1, tzinfo=datetime.timezone.utc).timestamp()))
    assert prefs["cos_grant"] == "international" and prefs["dnd"] == "1"
    # the audit rows are in the same database, without secrets
    journal = db.journal_rows()
    assert [(j["op"], j["employee_id"]) for j in journal] == [("add", "E1"), ("add", "E2")]
    assert pw["E1"] not in repr(journal)


def test_leaver_is_removed_cooled_and_flush_recorded(db_url):
    db = KamailioDB(db_url, "voip.lab")
    db.apply(U.plan_users("merged", [ADA, BOB], [], now=NOW), run("r1"))
    have = db.read_users(now=NOW).users
    plan = U.plan_users("overridden", [BOB], have, now=NOW, cooling_days=30)
    res = db.apply(plan, run("r2"))
    snap = db.read_users(now=NOW)
    assert snap.users == [BOB]
    assert snap.cooling["1001"]["until"] == "2026-03-31T12:00:00Z" and snap.cooling["1001"]["employee_id"] == "E1"
    assert "+31201231001" in snap.cooling
    assert res.flush == ["1001"] and snap.pending_flush == ["1001"]
    conn = sqlite3.connect(db_url[len("sqlite://"):])
    for table, col in (("subscriber", "username"), ("grp", "username"), ("usr_preferences", "username"), ("dbaliases", "username")):
        assert conn.execute("SELECT count(*) FROM %s WHERE %s='1001'" % (table, col)).fetchone()[0] == 0
    # cooling refuses reuse by someone else, with a clear error
    ctx = U.Context(have=snap.users, cooling=snap.cooling, now=NOW)
    plan_np = U.NumberPlan.from_data({"sites": {"ams": {"ranges": ["1000-1999"]}}})
    with pytest.raises(U.SourceErrors) as exc:
        U.validate_batch("merged", [dict(U.canonical({"id": "E9", "site": "ams", "extension": "1001",
                                                      "class_of_service": "internal"}), _line=4)], ctx, plan_np, path="u.yml")
    assert "u.yml line 4, user 'E9': extension: number 1001 is in cooling until 2026-03-31T12:00:00Z" in str(exc.value)
    # cooling ends by itself
    later = NOW + datetime.timedelta(days=31)
    assert "1001" not in db.read_users(now=later).cooling


def test_failed_apply_changes_nothing(db_url):
    db = KamailioDB(db_url, "voip.lab")
    db.apply(U.plan_users("merged", [BOB], [], now=NOW), run("r1"))
    path = db_url[len("sqlite://"):]
    before = sqlite3.connect(path).execute("SELECT count(*) FROM usr_preferences").fetchone()
    # a plan whose last insert violates subscriber's unique key (1002 exists): the whole plan rolls back
    bad = U.plan_users("merged", [ADA], [], now=NOW) + [{"op": "add", "id": "E3", "after": dict(BOB, id="E3")}]
    with pytest.raises(Exception) as exc:
        db.apply(bad, run("r2"))
    assert "rolled back" in str(exc.value)
    assert db.read_users(now=NOW).users == [BOB]
    assert sqlite3.connect(path).execute("SELECT count(*) FROM usr_preferences").fetchone() == before
    assert [j["run_id"] for j in db.journal_rows()] == ["r1"]


def test_read_only_driver_leaves_file_identical(db_url):
    db = KamailioDB(db_url, "voip.lab")
    db.apply(U.plan_users("merged", [ADA], [], now=NOW), run("r1"))
    db.close()
    path = db_url[len("sqlite://"):]
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    with open(path, "rb") as h:
        data = h.read()
    ro = KamailioDB(db_url, "voip.lab", write=False)
    assert ro.read_users(now=NOW).users == [ADA]
    with pytest.raises(Exception):
        ro.apply([], run("r2"))
    ro.close()
    with open(path, "rb") as h:
        assert h.read() == data


def test_unmanaged_subscribers_are_reported_not_touched(db_url):
    path = db_url[len("sqlite://"):]
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO subscriber (username, domain, ha1) VALUES ('1500', 'voip.lab', 'x')")
    conn.commit()
    db = KamailioDB(db_url, "voip.lab")
    snap = db.read_users(now=NOW)
    assert snap.users == [] and snap.unmanaged == ["1500"]
    db.apply(U.plan_users("overridden", [BOB], snap.users, now=NOW), run())
    assert conn.execute("SELECT count(*) FROM subscriber WHERE username='1500'").fetchone()[0] == 1


def _hold_lock(url, q):
    db = KamailioDB(url, "voip.lab")
    db.lock(RunInfo(run_id="holder", actor="awx-alice", pid=os.getpid()))
    q.put("locked")
    q.get()  # wait to be told to exit (without unlocking)


def test_lock_refuses_second_run_and_recovers_from_dead_holder(db_url):
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    proc = ctx.Process(target=_hold_lock, args=(db_url, q))
    proc.start()
    try:
        assert q.get(timeout=10) == "locked"
        db = KamailioDB(db_url, "voip.lab")
        with pytest.raises(LockedError) as exc:
            db.lock(RunInfo(run_id="second", actor="bob"))
        assert "run holder by awx-alice" in str(exc.value)
    finally:
        os.kill(proc.pid, 9)   # the holder dies without releasing (kill -9)
        proc.join(10)
    info = db.lock(RunInfo(run_id="third", actor="carol"))
    assert info["taken_over"] == "holder"
    db.unlock(RunInfo(run_id="third", actor="carol"))
    assert db.lock_holder() is None


def test_kamailio_driver_delegates_users_to_the_sql_driver(db_url):
    from ansible_collections.voipops.voip.plugins.module_utils.callservers.base import CallserverDriver, get_driver
    from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio import KamailioError
    drv = get_driver("kamailio", rpc_url="http://127.0.0.1:9/RPC", db_url=db_url, domain="voip.lab")
    assert isinstance(drv, CallserverDriver)
    res = drv.apply(U.plan_users("merged", [BOB], [], now=NOW), run())
    assert res.flushed == [] and [c["username"] for c in res.credentials] == ["1002"]
    assert drv.read_users(now=NOW).users == [BOB]
    drv.close()
    with pytest.raises(KamailioError) as exc:
        get_driver("kamailio", rpc_url="http://127.0.0.1:9/RPC", domain="voip.lab").read_users()
    assert "set db_url" in str(exc.value)
    with pytest.raises(KamailioError) as exc:
        get_driver("kamailio", db_url=db_url).read_users()
    assert "set domain" in str(exc.value)


def test_a_locked_database_is_named_with_what_to_do(db_url):
    from ansible_collections.voipops.voip.plugins.module_utils.callservers.base import DriverError
    holder = sqlite3.connect(db_url[len("sqlite:///"):], isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")          # a kamctl or sqlite3 session holding the write lock
    db = KamailioDB(db_url, "voip.lab", busy_timeout=0.2)
    try:
        with pytest.raises(DriverError) as err:
            db.lock(run())
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        db.close()
    text = str(err.value)
    assert db_url in text and "database is locked" in text and "another program holds a write lock" in text
