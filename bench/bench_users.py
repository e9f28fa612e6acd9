# -*- coding: utf-8 -*-
"""User mutations at scale against Kamailio's tables (SQLite, and PostgreSQL when it can be started here).

Results:
- users_batch_5000: a 5,000-row HR batch (joiners with aliases and features) through callserver_users
  (parse, validate the whole batch, plan, ONE transaction, verify by read-back, audit export).
  Baseline: an Ansible per-item loop (one callserver_users task invocation per user), measured on a sample
  in the same run and scaled to 5,000.
- users_batch_5000_vs_kamctl: the same batch against ``kamctl add`` in a shell loop (sample, scaled).
- users_batch_5000_sql_floor: the same batch against the floor - the rows our run wrote (every table it touched:
  subscriber, aliases, preferences, the audit rows), inserted again by hand into an empty database of the same
  schema in ONE executemany transaction, no parsing, no validation, no read-back.  The ratio (< 1) says how close
  the module gets to the physical limit of the database for the same rows.
- users_reconcile_20000: ``overridden`` with 20,000 users against a DB holding 20,000 (1% changed, 0.5% leavers,
  0.5% joiners).  Baseline: the per-item Ansible loop scaled to 20,000.  Target <= 15 s.
- users_reconcile_20000_postgres: the same on PostgreSQL (only when running as root with Debian's postgresql).
"""
from __future__ import absolute_import, division, print_function

import contextlib
import importlib
import io
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
importlib.import_module("conftest")  # makes ansible_collections.voipops.voip importable

from tests.support.modargs import patch_module_args  # noqa: E402
from ansible_collections.voipops.voip.plugins.module_utils import users as U  # noqa: E402
from ansible_collections.voipops.voip.plugins.module_utils.callservers.base import RunInfo  # noqa: E402
from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio_db import (  # noqa: E402
    KamailioDB, create_kamailio_schema,
)
from ansible_collections.voipops.voip.plugins.modules import callserver_users  # noqa: E402

NUMBERPLAN = {"sites": {"s%d" % i: {"ranges": ["%d00000-%d99999" % (i, i)]} for i in range(1, 6)}}
HR_HEADER = ("action,effective_date,employee_id,display_name,email,site,extension,aliases,class_of_service,"
             "class_of_service_grant,features\n")
VENV_BIN = os.path.dirname(sys.executable)


def user(i, variant=0):
    site = 1 + i % 5
    ext = "%d%05d" % (site, i // 5)
    feats = [{"name": "voicemail"}]
    if i % 7 == 0:
        feats.append({"name": "cfnr", "target": "%d%05d" % (site, (i // 5 + 1) % 100000)})
    if i % 11 == 0:
        feats.append({"name": "hunt_group", "target": "hg%d" % (i % 13)})
    if variant:
        feats.append({"name": "dnd"})
    return {"id": "E%06d" % i, "name": "User %d" % i, "email": "u%d@example.org" % i, "site": "s%d" % site,
            "extension": ext, "aliases": ["+3120%07d" % i], "class_of_service": ("internal", "national")[i % 2],
            "features": feats}


def hr_row(u):
    feats = "|".join(f["name"] + (":" + f["target"] if f.get("target") else "") for f in u["features"])
    return "join,2026-01-05,%s,%s,%s,%s,%s,%s,%s,,%s\n" % (
        u["id"], u["name"], u["email"], u["site"], u["extension"], u["aliases"][0], u["class_of_service"], feats)


def run_module(args, module=None):
    """One call of a module's main() in-process (the module-only figure): callserver_users unless ``module`` is given."""
    args = dict(args, _ansible_no_log=False, _ansible_check_mode=False, _ansible_diff=False)
    if module is None:
        module = callserver_users
        args.setdefault("domain", "voip.lab")  # the SIP domain has no default (a product has no lab value)
    out = io.StringIO()
    with patch_module_args(args), contextlib.redirect_stdout(out):
        try:
            module.main()
        except SystemExit:
            pass
    res = json.loads(out.getvalue())
    if res.get("failed"):
        raise RuntimeError(res.get("msg"))
    return res


def timed(fn):
    t = time.perf_counter()
    res = fn()
    return time.perf_counter() - t, res


def sqlite_db(tmp, name):
    url = "sqlite:///" + os.path.join(tmp, name)
    create_kamailio_schema(url)
    return url


def kamctl_per_user(tmp, n=20):
    """Seconds per user for `kamctl add` in a shell loop (Kamailio's own CLI)."""
    if not shutil.which("kamctl"):
        return None
    home = os.path.join(tmp, "kamctl-home")
    os.makedirs(home)
    db = os.path.join(tmp, "kamctl.db")
    sqlite_db(tmp, "kamctl.db")
    with open(os.path.join(home, ".kamctlrc"), "w") as handle:
        handle.write("SIP_DOMAIN=voip.lab\nDBENGINE=SQLITE\nDB_PATH=%s\nSTORE_PLAINTEXT_PW=0\n" % db)
    script = "for i in $(seq 1 %d); do kamctl add 7$(printf %%05d $i)@voip.lab pw$i >/dev/null 2>&1 || exit 1; done" % n
    t = time.perf_counter()
    subprocess.run(["sh", "-c", script], env=dict(os.environ, HOME=home), check=True, timeout=90)
    return (time.perf_counter() - t) / n


def sql_floor(src_path, tmp):
    """Seconds to insert every row of every non-empty table of ``src_path`` into a fresh schema in one transaction."""
    dst_url = sqlite_db(tmp, os.path.basename(src_path) + "-floor.db")
    src = sqlite3.connect(src_path)
    tables = [r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
    ddl = dict(src.execute("SELECT name, sql FROM sqlite_master WHERE type IN ('table', 'index') AND sql IS NOT NULL "
                           "AND name NOT LIKE 'sqlite_%'"))
    data = {}
    for table in tables:
        rows = src.execute("SELECT * FROM %s" % table).fetchall()  # noqa: S608 - table names come from sqlite_master
        if rows and table != "version":
            data[table] = rows
    src.close()
    dst = sqlite3.connect(dst_url[len("sqlite:///"):])
    dst.execute("PRAGMA journal_mode=WAL")
    have = set(r[0] for r in dst.execute("SELECT name FROM sqlite_master"))
    for name, sql in ddl.items():  # the module's own tables (its journal) and indexes, as the run created them
        if name not in have:
            dst.execute(sql)
    for table in data:
        dst.execute("DELETE FROM %s" % table)  # noqa: S608
    dst.commit()
    t = time.perf_counter()
    with dst:
        for table, rows in data.items():
            dst.executemany("INSERT INTO %s VALUES (%s)" % (table, ",".join("?" * len(rows[0]))), rows)  # noqa: S608
    secs = time.perf_counter() - t
    count = sum(len(r) for r in data.values())
    dst.close()
    return secs, count


def batch_growth(tmp, secs_5000, floor_5000, loop_per_user):
    """The HR batch at 1,000 and 20,000 rows beside the 5,000 run (module and SQL floor): exponent and chart."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import chart  # pylint: disable=import-outside-toplevel
    ours, floor = [], []
    for n in (1000, 20000):
        url = sqlite_db(tmp, "growth-%d.db" % n)
        hr = os.path.join(tmp, "hr-%d.csv" % n)
        with open(hr, "w") as handle:
            handle.write(HR_HEADER + "".join(hr_row(user(i)) for i in range(n)))
        secs, res = timed(lambda: run_module({"db_url": url, "numberplan": NUMBERPLAN, "hr_csv": hr, "state": "merged",
                                              "credentials_file": os.path.join(tmp, "g%d.json" % n), "return_unchanged": False,
                                              "audit_log": os.path.join(tmp, "g%d.jsonl" % n)}))
        assert res["total_users"] == n and res["verified"]
        ours.append((n, secs))
        floor.append((n, sql_floor(url[len("sqlite:///"):], tmp)[0]))
    ours.insert(1, (5000, secs_5000))
    floor.insert(1, (5000, floor_5000))
    chart.write_svg(os.path.join(ROOT, "bench", "results", "users_batch.svg"), "callserver_users: HR join batch of N rows",
                    [("callserver_users (module)", ours), ("SQL floor (same rows, one executemany transaction)", floor),
                     ("Ansible per-item loop (measured per user, scaled)", [(n, n * loop_per_user) for n, _t in ours])],
                    x_label="rows")
    k = chart.growth_exponent(ours)
    return [{"name": "users_batch_growth", "value": round(k, 2), "unit": "exponent", "sizes": [n for n, _t in ours],
             "baseline": "SQL floor's growth exponent, same rows", "baseline_value": round(chart.growth_exponent(floor), 2),
             "ratio": None, "target": "k <= 1.1", "met": k <= 1.1}]


def ansible_loop_per_user(tmp, db_url, n=6):
    """Seconds per user for an Ansible per-item loop (one callserver_users invocation per user)."""
    users = [user(30000 + i) for i in range(n)]
    for u in users:
        u["id"] = "L" + u["id"]
    np_path = os.path.join(tmp, "np.json")
    with open(np_path, "w") as handle:
        json.dump(NUMBERPLAN, handle)
    play = [{"hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": [{
        "name": "one user per task invocation",
        "voipops.voip.callserver_users": {"db_url": db_url, "domain": "voip.lab", "numberplan": NUMBERPLAN, "state": "merged",
                                          "config": ["{{ item }}"], "credentials_file": os.path.join(tmp, "loop-cred.json")},
        "loop": users, "loop_control": {"label": "{{ item.id }}"}}]}]
    pb = os.path.join(tmp, "loop.yml")
    with open(pb, "w") as handle:
        json.dump(play, handle)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".state", "collections"),
               ANSIBLE_LOCAL_TEMP=os.path.join(tmp, "alt"), ANSIBLE_REMOTE_TEMP=os.path.join(tmp, "art"),
               ANSIBLE_PYTHON_INTERPRETER=sys.executable)

    def play_time(k):
        play[0]["tasks"][0]["loop"] = users[:k]
        with open(pb, "w") as handle:
            json.dump(play, handle)
        t = time.perf_counter()
        proc = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", pb], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0:
            raise RuntimeError("ansible loop failed: %s" % proc.stdout[-2000:])
        return time.perf_counter() - t

    # ansible-playbook start-up is paid once, not per item: per item = (t(n) - t(1)) / (n - 1)
    one = play_time(1)
    return (play_time(n) - one) / (n - 1)


def result(name, value, unit, baseline, baseline_value):
    ratio = round(baseline_value / value, 1) if value and baseline_value else None
    return {"name": name, "value": round(value, 3), "unit": unit, "baseline": baseline,
            "baseline_value": round(baseline_value, 3) if baseline_value else None, "ratio": ratio}


def reconcile(db_url, tmp, n=20000):
    """Load n users, then an overridden run with 1% changed, 0.5% leavers, 0.5% joiners; returns (seconds, res)."""
    base = {"db_url": db_url, "numberplan": NUMBERPLAN, "credentials_file": os.path.join(tmp, "cred-%d.json" % n),
            "return_unchanged": False}
    # seed the callserver through the driver (setup, not measured)
    seed = KamailioDB(db_url, "voip.lab")
    seed.apply(U.plan_users("merged", [U.canonical(user(i)) for i in range(n)], []), RunInfo(run_id="seed", actor="bench"))
    seed.close()
    want = [user(i, variant=1) if i % 100 == 0 else user(i) for i in range(n) if i % 200 != 1]
    want += [user(n + i) for i in range(n // 200)]
    return timed(lambda: run_module(dict(base, state="overridden", config=want)))


# ------------------------------------------------------------------ PostgreSQL (temporary server, by pid)
@contextlib.contextmanager
def postgres_server():
    initdb = "/usr/lib/postgresql/15/bin/initdb"
    pg_ctl = "/usr/lib/postgresql/15/bin/pg_ctl"
    if os.geteuid() != 0 or not os.path.exists(initdb) or not shutil.which("runuser"):
        yield None
        return
    d = tempfile.mkdtemp(prefix="voipops-pg-")
    os.chmod(d, 0o755)
    data = os.path.join(d, "data")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    subprocess.run(["chown", "postgres:postgres", d], check=True)
    subprocess.run(["runuser", "-u", "postgres", "--", initdb, "-D", data, "-A", "trust", "-U", "postgres"],
                   check=True, capture_output=True, timeout=120)
    subprocess.run(["runuser", "-u", "postgres", "--", pg_ctl, "-D", data, "-l", os.path.join(d, "pg.log"), "-w", "-o",
                    "-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=on" % (port, d), "start"],
                   check=True, capture_output=True, timeout=120)
    try:
        yield "postgres://postgres@127.0.0.1:%d/postgres" % port
    finally:
        subprocess.run(["runuser", "-u", "postgres", "--", pg_ctl, "-D", data, "-m", "fast", "stop"],
                       capture_output=True, timeout=120, check=False)
        shutil.rmtree(d, ignore_errors=True)


def run():
    results = []
    tmp = tempfile.mkdtemp(prefix="voipops-bench-users-")
    try:
        # ---- 5,000-row HR batch
        url = sqlite_db(tmp, "batch.db")
        hr = os.path.join(tmp, "hr.csv")
        with open(hr, "w") as handle:
            handle.write(HR_HEADER + "".join(hr_row(user(i)) for i in range(5000)))
        secs, res = timed(lambda: run_module({"db_url": url, "numberplan": NUMBERPLAN, "hr_csv": hr, "state": "merged",
                                              "credentials_file": os.path.join(tmp, "c.json"), "return_unchanged": False,
                                              "audit_log": os.path.join(tmp, "audit.jsonl")}))
        assert res["total_users"] == 5000 and res["verified"]
        loop = ansible_loop_per_user(tmp, sqlite_db(tmp, "loop.db"))
        results.append(result("users_batch_5000", secs, "s", "Ansible per-item loop, 1 task invocation per user "
                              "(6 measured minus start-up, scaled to 5000)", loop * 5000))
        floor, rows = sql_floor(url[len("sqlite:///"):], tmp)
        floor_res = result("users_batch_5000_sql_floor", secs, "s", "floor: the same %d rows in one hand-written "
                           "executemany transaction" % rows, floor)
        floor_res["ratio"] = round(floor / secs, 2)  # < 1: how close to the database's own limit
        results.append(floor_res)
        results.extend(batch_growth(tmp, secs, floor, loop))
        kam = kamctl_per_user(tmp)
        if kam:
            results.append(result("users_batch_5000_vs_kamctl", secs, "s",
                                  "kamctl add in a shell loop (20 measured, scaled to 5000; subscriber row only)", kam * 5000))
        # ---- 20,000-user overridden reconcile
        secs, res = reconcile(sqlite_db(tmp, "reconcile.db"), tmp)
        assert len(res["commands"]) == 400 and res["verified"], len(res["commands"])
        results.append(result("users_reconcile_20000", secs, "s", "Ansible per-item loop scaled to 20000", loop * 20000))
        with postgres_server() as pg:
            if pg:
                create_kamailio_schema(pg)
                secs, res = reconcile(pg, tmp)
                assert len(res["commands"]) == 400 and res["verified"]
                results.append(result("users_reconcile_20000_postgres", secs, "s", "Ansible per-item loop scaled to 20000",
                                      loop * 20000))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return results


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
