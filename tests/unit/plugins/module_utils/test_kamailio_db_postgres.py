# -*- coding: utf-8 -*-
"""The Kamailio SQL driver against a real PostgreSQL server started by this test (Debian postgresql 15)."""
import datetime
import os
import shutil
import socket
import subprocess
import tempfile

import pytest

from ansible_collections.voipops.voip.plugins.module_utils import users as U
from ansible_collections.voipops.voip.plugins.module_utils.callservers.base import LockedError, RunInfo
from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio_db import (
    KamailioDB, create_kamailio_schema,
)

PG_BIN = "/usr/lib/postgresql/15/bin"
NOW = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)


@pytest.fixture(scope="module")
def pg_url():
    if not os.path.exists(os.path.join(PG_BIN, "initdb")):
        pytest.skip("PostgreSQL 15 server binaries (Debian postgresql) are not installed")
    if os.geteuid() != 0:
        pytest.skip("starting a throw-away PostgreSQL needs root (initdb runs as the postgres user via runuser)")
    if not os.path.isdir("/usr/share/kamailio/postgres"):
        pytest.skip("Kamailio's PostgreSQL schema scripts are not installed")
    d = tempfile.mkdtemp(prefix="voipops-pg-")
    os.chmod(d, 0o755)
    subprocess.run(["chown", "postgres:postgres", d], check=True)
    data = os.path.join(d, "data")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    subprocess.run(["runuser", "-u", "postgres", "--", os.path.join(PG_BIN, "initdb"), "-D", data, "-A", "trust",
                    "-U", "postgres"], check=True, capture_output=True, timeout=120)
    subprocess.run(["runuser", "-u", "postgres", "--", os.path.join(PG_BIN, "pg_ctl"), "-D", data, "-w",
                    "-l", os.path.join(d, "pg.log"), "-o", "-p %d -k %s -c listen_addresses=127.0.0.1" % (port, d), "start"],
                   check=True, capture_output=True, timeout=120)
    url = "postgres://postgres@127.0.0.1:%d/postgres" % port
    try:
        create_kamailio_schema(url)
        yield url
    finally:
        # stops exactly the server this fixture started (its data directory's postmaster.pid)
        subprocess.run(["runuser", "-u", "postgres", "--", os.path.join(PG_BIN, "pg_ctl"), "-D", data, "-m", "fast",
                        "stop"], capture_output=True, timeout=120, check=False)
        shutil.rmtree(d, ignore_errors=True)


ADA = U.canonical({"id": "E1", "name": "Ada", "site": "ams", "extension": "1001", "aliases": ["+31201231001"],
                   "class_of_service": "national",
                   "class_of_service_grant": {"class_of_service": "international", "until": "2026-12-31T23:59:00Z"},
                   "features": [{"name": "cfu", "target": "1002", "until": "2026-06-01T00:00:00Z"},
                                {"name": "hunt_group", "target": "sales"}, {"name": "voicemail"}]})
BOB = U.canonical({"id": "E2", "site": "ams", "extension": "1002", "class_of_service": "internal"})


def test_postgres_roundtrip_leaver_cooling_rollback_and_lock(pg_url):
    db = KamailioDB(pg_url, "voip.lab")
    res = db.apply(U.plan_users("merged", [ADA, BOB], [], now=NOW), RunInfo(run_id="r1", actor="t", now=NOW))
    assert len(res.credentials) == 2
    assert db.read_users(now=NOW).users == [ADA, BOB]
    assert db.read_users(now=NOW).unmanaged == []
    # one transaction: a failing last statement leaves everything as it was
    bad = U.plan_users("merged", [dict(ADA, id="E3", extension="1003", aliases=[])], db.read_users(now=NOW).users, now=NOW)
    bad.append({"op": "add", "id": "E4", "after": dict(BOB, id="E4")})        # 1002 exists: unique violation
    with pytest.raises(Exception) as exc:
        db.apply(bad, RunInfo(run_id="r2", actor="t", now=NOW))
    assert "rolled back" in str(exc.value)
    assert [u["id"] for u in db.read_users(now=NOW).users] == ["E1", "E2"]
    # leaver: removed, number cooling, flush pending; journal kept
    have = db.read_users(now=NOW).users
    db.apply(U.plan_users("overridden", [BOB], have, now=NOW, cooling_days=10), RunInfo(run_id="r3", actor="t", now=NOW))
    snap = db.read_users(now=NOW)
    assert [u["id"] for u in snap.users] == ["E2"] and snap.cooling["1001"]["until"] == "2026-03-11T12:00:00Z"
    assert snap.pending_flush == ["1001"]
    assert [(j["run_id"], j["op"]) for j in db.journal_rows()] == [("r1", "add"), ("r1", "add"), ("r3", "delete")]
    # run lock
    db.lock(RunInfo(run_id="holder", actor="awx-alice", pid=os.getpid()))
    other = KamailioDB(pg_url, "voip.lab")
    with pytest.raises(LockedError):
        other.lock(RunInfo(run_id="second", actor="bob"))
    db.unlock(RunInfo(run_id="holder", actor="awx-alice"))
    other.lock(RunInfo(run_id="second", actor="bob"))
    other.unlock(RunInfo(run_id="second", actor="bob"))
    db.close()
    other.close()
