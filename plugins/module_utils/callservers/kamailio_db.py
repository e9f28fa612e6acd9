# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""User data in Kamailio's own tables, over SQLite (default) or PostgreSQL: the storage layer of the Kamailio driver.

Only ``kamailio.KamailioDriver`` uses ``KamailioDB`` (modules get the driver from ``base.get_driver``); the lab, the
tests and the bench use ``create_kamailio_schema`` and, for seeding, ``KamailioDB`` directly.

Layout (what Kamailio's routing reads at call time, see the lab's kamailio.cfg):

- ``subscriber``: username = extension, domain, ``ha1``/``ha1b`` only (``password`` stays empty).
- ``dbaliases``: E.164 aliases/DIDs -> extension (alias_db ``lookup``).
- ``grp``: the permanent class of service, a granted (temporary) class, and ``hunt:<name>`` rows
  (group ``is_user_in``).
- ``usr_preferences`` (avpops ``avp_db_load``), every row with ``uuid`` = employee id:
  ``voipops_id``, ``display_name``, ``email``, ``site``, ``cos`` (permanent class), ``cos_grant``
  + ``cos_grant_until`` (epoch), ``cfu``/``cfb``/``cfnr`` = target, ``dnd``/``voicemail`` = 1,
  ``<feature>_until`` = epoch, ``hg_until:<group>`` = epoch.  Kamailio compares ``*_until`` with
  ``$TS`` itself, so an expired grant stops working even if no playbook runs.
- Our own tables (created when missing): ``voipops_cooling`` (numbers refused for reuse),
  ``voipops_lock`` (run lock), ``voipops_journal`` (audit rows, written in the same transaction as
  the change), ``voipops_applied`` (HR rows already applied), ``voipops_pending_flush``
  (registrations still to drop after commit).

The whole plan is applied in ONE transaction (SQLite ``BEGIN IMMEDIATE`` with a busy timeout,
because Kamailio has the WAL database open at the same time).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import secrets
import socket
import sqlite3
import sys
import time

from ansible_collections.voipops.voip.plugins.module_utils.callservers.base import (
    ApplyResult, DriverError, LockedError, UserSnapshot, credential,
)
from ansible_collections.voipops.voip.plugins.module_utils.fileio import mask_url
from ansible_collections.voipops.voip.plugins.module_utils.users import (
    canonical, epoch_until, until_epoch, utcnow,
)

from ansible_collections.voipops.voip.plugins.module_utils.db import (  # noqa: F401  pylint: disable=unused-import
    HAS_PSYCOPG, PSYCOPG_IMPORT_ERROR, DbUrlError, parse_db_url as _parse_db_url, psycopg_module,
    test_pause as _test_pause,
)


SCHEMA_DIRS = {"sqlite": "/usr/share/kamailio/db_sqlite", "postgres": "/usr/share/kamailio/postgres"}
KAMAILIO_SCRIPTS = ("standard", "auth_db", "usrloc", "alias_db", "group", "avpops", "dispatcher")
PROFILE_ATTRS = {"display_name": "name", "email": "email", "site": "site"}
FLAG_FEATURES = ("dnd", "voicemail")
TARGET_FEATURES = ("cfu", "cfb", "cfnr")

_OWN_TABLES = {
    "voipops_cooling": "CREATE TABLE voipops_cooling (number VARCHAR(64) NOT NULL, domain VARCHAR(64) NOT NULL, "
                       "employee_id VARCHAR(64) NOT NULL DEFAULT '', released_at VARCHAR(32) NOT NULL, "
                       "until_epoch BIGINT NOT NULL, until VARCHAR(32) NOT NULL, PRIMARY KEY (number, domain))",
    "voipops_lock": "CREATE TABLE voipops_lock (name VARCHAR(64) PRIMARY KEY, run_id VARCHAR(64) NOT NULL, "
                    "actor VARCHAR(128) NOT NULL DEFAULT '', host VARCHAR(255) NOT NULL DEFAULT '', pid BIGINT NOT NULL "
                    "DEFAULT 0, acquired_epoch BIGINT NOT NULL)",
    "voipops_journal": "CREATE TABLE voipops_journal (id %(serial)s, run_id VARCHAR(64) NOT NULL, seq INTEGER NOT NULL, "
                       "ts VARCHAR(32) NOT NULL, actor VARCHAR(128) NOT NULL DEFAULT '', op VARCHAR(16) NOT NULL, "
                       "employee_id VARCHAR(64) NOT NULL DEFAULT '', summary TEXT NOT NULL, before_json TEXT, "
                       "after_json TEXT, source TEXT)",
    "voipops_applied": "CREATE TABLE voipops_applied (row_key VARCHAR(64) PRIMARY KEY, run_id VARCHAR(64) NOT NULL, "
                       "applied_at VARCHAR(32) NOT NULL)",
    "voipops_pending_flush": "CREATE TABLE voipops_pending_flush (aor VARCHAR(128) PRIMARY KEY, run_id VARCHAR(64) NOT NULL)",
}


def ha1(username, realm, password):
    return hashlib.md5(("%s:%s:%s" % (username, realm, password)).encode("utf-8")).hexdigest()  # nosec - SIP digest


def new_password():
    """A strong SIP password: 24 URL-safe characters (144 bits)."""
    return secrets.token_urlsafe(18)


def parse_db_url(db_url):
    """The one DB-URL rule (``module_utils/db.py``), failing as the driver fails: a :class:`DriverError`."""
    try:
        return _parse_db_url(db_url)
    except DbUrlError as exc:
        raise DriverError(str(exc))


def _pid_alive(pid):
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, TypeError):
        return True
    return True


_DB_HINTS = (
    ("database is locked", "another program holds a write lock on it (a kamctl or sqlite3 session, a stuck run?): "
                           "retry when it is done"),
    ("readonly database", "this user may not write the database file or its directory (SQLite's WAL and lock files "
                          "live beside it): fix the permissions, or run as the owner of the database"),
    ("unable to open database", "the database file or its directory cannot be opened by this user"),
    ("disk i/o error", "the disk under the database failed or is full"),
    ("database or disk is full", "the disk under the database is full"),
    ("permission denied", "this database user lacks the privilege: grant it on Kamailio's tables"),
)


def _hint(text):
    hint = [h for key, h in _DB_HINTS if key in text.lower()]
    return (" - " + hint[0]) if hint else ""


def _database_errors(method):
    """A database library's error (sqlite3, psycopg) becomes a DriverError naming the database and what to do."""
    def wrapper(self, *args, **kwargs):
        # psycopg is imported only for a PostgreSQL URL (db.psycopg_module): its errors count once it is loaded
        db_errors = (sqlite3.Error,) + ((sys.modules["psycopg"].Error,) if "psycopg" in sys.modules else ())
        try:
            return method(self, *args, **kwargs)
        except db_errors as exc:
            text = str(exc).strip()
            raise DriverError("database %s: %s%s" % (mask_url(self.db_url), text, _hint(text)))
    wrapper.__name__, wrapper.__doc__ = method.__name__, method.__doc__
    return wrapper


class KamailioDB(object):
    """Users in Kamailio's tables.  ``write=False`` never writes anything (check mode)."""

    def __init__(self, db_url, domain, realm=None, busy_timeout=30.0, write=True):
        self.db_url = db_url
        self.domain = domain
        self.realm = realm or domain
        self.write = write
        self.kind, target = parse_db_url(db_url)
        if self.kind == "sqlite":
            if not os.path.exists(target):
                raise DriverError("SQLite database %s does not exist (db_url %s): check the path; Kamailio silently "
                                  "creates an empty file for a wrong path" % (target, db_url))
            self.conn = sqlite3.connect(target, timeout=busy_timeout, isolation_level=None)
        else:
            if not HAS_PSYCOPG:
                raise DriverError("the Python library 'psycopg' (3) is required for a PostgreSQL db_url")
            psycopg = psycopg_module()
            try:
                self.conn = psycopg.connect(target, autocommit=True, connect_timeout=int(busy_timeout))
            except psycopg.Error as exc:
                raise DriverError("cannot connect to PostgreSQL %s: %s" % (mask_url(db_url), str(exc).strip()))
        self._tables = None

    # ------------------------------------------------------------------ low level
    def _sql(self, sql):
        return sql.replace("?", "%s") if self.kind == "postgres" else sql

    def _exec(self, sql, params=()):
        cur = self.conn.cursor()
        cur.execute(self._sql(sql), params)
        return cur

    def _many(self, sql, rows):
        if rows:
            cur = self.conn.cursor()
            cur.executemany(self._sql(sql), rows)

    def _begin(self, write):
        if self.kind == "sqlite":
            self.conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        else:
            self.conn.execute("BEGIN ISOLATION LEVEL %s" % ("READ COMMITTED" if write else "REPEATABLE READ"))

    def _commit(self):
        self.conn.execute("COMMIT")

    def _rollback(self):
        try:
            self.conn.execute("ROLLBACK")
        except Exception:  # pylint: disable=broad-except
            pass

    @_database_errors
    def tables(self):
        if self._tables is None:
            if self.kind == "sqlite":
                rows = self._exec("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
            else:
                rows = self._exec("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()").fetchall()
            self._tables = set(r[0] for r in rows)
        return self._tables

    @_database_errors
    def check_schema(self):
        missing = [t for t in ("subscriber", "dbaliases", "grp", "usr_preferences") if t not in self.tables()]
        if missing:
            raise DriverError("the callserver database %s lacks Kamailio table(s) %s: create them with Kamailio's "
                              "scripts (kamdbctl, or %s/{auth_db,alias_db,group,avpops}-create.sql)"
                              % (mask_url(self.db_url), ", ".join(missing), SCHEMA_DIRS[self.kind]))

    @_database_errors
    def ensure_own_tables(self):
        """Create the voipops_* tables when missing (never in check mode)."""
        missing = [t for t in _OWN_TABLES if t not in self.tables()]
        if not missing or not self.write:
            return
        serial = "INTEGER PRIMARY KEY AUTOINCREMENT" if self.kind == "sqlite" else "BIGSERIAL PRIMARY KEY"
        self._begin(True)
        try:
            for t in missing:
                self._exec(_OWN_TABLES[t].replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1) % {"serial": serial})
            self._commit()
        except Exception:
            self._rollback()
            raise
        self._tables = None

    def close(self):
        try:
            self.conn.close()
        except Exception:  # pylint: disable=broad-except
            pass

    # ------------------------------------------------------------------ read
    @_database_errors
    def read_users(self, now=None):
        """All users in one consistent snapshot (one query per table)."""
        self.check_schema()
        now = now or utcnow()
        d = self.domain
        self._begin(False)
        try:
            prefs = self._exec("SELECT uuid, username, attribute, value FROM usr_preferences WHERE domain = ? AND uuid <> ''",
                               (d,)).fetchall()
            subs = [r[0] for r in self._exec("SELECT username FROM subscriber WHERE domain = ?", (d,)).fetchall()]
            grps = self._exec("SELECT username, grp FROM grp WHERE domain = ?", (d,)).fetchall()
            aliases = self._exec("SELECT alias_username, username FROM dbaliases WHERE domain = ?", (d,)).fetchall()
            have_own = "voipops_cooling" in self.tables()
            cooling, applied, pending = {}, [], []
            if have_own:
                for num, emp, until, ue in self._exec(
                        "SELECT number, employee_id, until, until_epoch FROM voipops_cooling WHERE domain = ?", (d,)).fetchall():
                    if int(ue) > int(now.timestamp()):
                        cooling[num] = {"until": until, "employee_id": emp}
                applied = [r[0] for r in self._exec("SELECT row_key FROM voipops_applied").fetchall()]
                pending = [r[0] for r in self._exec("SELECT aor FROM voipops_pending_flush").fetchall()]
        finally:
            self._rollback()
        users = {}
        ext_of = {}
        for uuid, username, attr, value in prefs:
            u = users.setdefault(uuid, {"id": uuid, "features": [], "_hg_until": {}, "_until": {}})
            if attr == "voipops_id":
                u["extension"] = username
                ext_of[username] = uuid
            elif attr in PROFILE_ATTRS:
                u[PROFILE_ATTRS[attr]] = value
            elif attr == "cos":
                u["class_of_service"] = value
            elif attr == "cos_grant":
                u.setdefault("class_of_service_grant", {})["class_of_service"] = value
            elif attr == "cos_grant_until":
                u.setdefault("class_of_service_grant", {})["until"] = epoch_until(value)
            elif attr in TARGET_FEATURES:
                u["features"].append({"name": attr, "target": value})
            elif attr in FLAG_FEATURES:
                u["features"].append({"name": attr})
            elif attr.startswith("hg_until:"):
                u["_hg_until"][attr[len("hg_until:"):]] = epoch_until(value)
            elif attr.endswith("_until"):
                u["_until"][attr[:-len("_until")]] = epoch_until(value)
        for username, grp in grps:
            uid = ext_of.get(username)
            if uid and grp.startswith("hunt:"):
                users[uid]["features"].append({"name": "hunt_group", "target": grp[len("hunt:"):]})
        managed_numbers = set(ext_of)
        for alias, username in aliases:
            uid = ext_of.get(username)
            if uid:
                users[uid].setdefault("aliases", []).append(alias)
                managed_numbers.add(alias)
        out = []
        for uid, u in users.items():
            if "extension" not in u:
                continue  # stray preference rows without the marker: not a user of ours
            for f in u["features"]:
                if f["name"] == "hunt_group":
                    f["until"] = u["_hg_until"].get(f["target"])
                else:
                    f["until"] = u["_until"].get(f["name"])
            del u["_hg_until"], u["_until"]
            out.append(canonical(u))
        out.sort(key=lambda x: x["id"])
        unmanaged = sorted(set(subs) - managed_numbers)
        unmanaged += sorted(a for a, username in aliases if username not in ext_of)
        return UserSnapshot(users=out, unmanaged=unmanaged, cooling=cooling, applied_keys=applied, pending_flush=pending)

    # ------------------------------------------------------------------ write
    def _rows_for(self, user):
        """(prefs, grps, aliases) rows of one canonical user."""
        d, uid, ext = self.domain, user["id"], user["extension"]
        prefs = [(uid, ext, d, "voipops_id", uid)]
        for attr, key in PROFILE_ATTRS.items():
            if user.get(key):
                prefs.append((uid, ext, d, attr, user[key]))
        prefs.append((uid, ext, d, "cos", user["class_of_service"]))
        grps = [(ext, d, user["class_of_service"])]
        grant = user.get("class_of_service_grant")
        if grant:
            prefs.append((uid, ext, d, "cos_grant", grant["class_of_service"]))
            prefs.append((uid, ext, d, "cos_grant_until", str(until_epoch(grant["until"]))))
            grps.append((ext, d, grant["class_of_service"]))
        for f in user.get("features") or []:
            name = f["name"]
            if name == "hunt_group":
                grps.append((ext, d, "hunt:" + f["target"]))
                if f.get("until"):
                    prefs.append((uid, ext, d, "hg_until:" + f["target"], str(until_epoch(f["until"]))))
                continue
            prefs.append((uid, ext, d, name, f.get("target") or "1"))
            if f.get("until"):
                prefs.append((uid, ext, d, name + "_until", str(until_epoch(f["until"]))))
        aliases = [(a, d, ext, d) for a in user.get("aliases") or []]
        return prefs, grps, aliases

    def apply(self, plan, run, before_commit=None):
        """Apply the whole plan in ONE transaction.  Returns ApplyResult (credentials are secret).

        ``before_commit(credentials)`` runs inside the transaction, after every statement succeeded and before
        COMMIT: the generated passwords reach durable storage before the commit that makes them necessary.  If it
        raises, the transaction is rolled back and nothing is applied.
        """
        if not self.write:
            raise DriverError("driver opened read-only (check mode)")
        self.check_schema()
        self.ensure_own_tables()
        now = run.now or utcnow()
        ts = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        d = self.domain
        del_subs, del_prefs, del_grp, del_alias = [], [], [], []
        ins_subs, ins_prefs, ins_grp, ins_alias = [], [], [], []
        cooling, flush, journal, credentials = [], [], [], []
        for seq, op in enumerate(plan):
            uid = op["id"]
            before, after = op.get("before"), op.get("after")
            if before:
                del_prefs.append((uid, d))
                del_grp.append((before["extension"], d))
                del_alias.append((before["extension"], d))
                # a leaver, a mover, or a password re-issued at the same extension: the old subscriber row (and the
                # registrations made with the old password) go
                if op["op"] == "delete" or before["extension"] != after["extension"] or op.get("new_password"):
                    del_subs.append((before["extension"], d))
                    flush.append((before["extension"], run.run_id))
            if after:
                p, g, a = self._rows_for(after)
                ins_prefs.extend(p)
                ins_grp.extend(g)
                ins_alias.extend(a)
                if op["op"] == "add" or op.get("new_password"):
                    pw = new_password()
                    ext = after["extension"]
                    ins_subs.append((ext, d, "", ha1(ext, self.realm, pw), ha1("%s@%s" % (ext, d), self.realm, pw)))
                    credentials.append(credential(after, ext, d, pw))
            if op.get("cool"):
                ue = until_epoch(op["cool_until"])
                for num in op["cool"]:
                    cooling.append((num, d, uid, ts, ue, op["cool_until"], uid, ts, ue, op["cool_until"]))
            journal.append((run.run_id, seq, ts, run.actor or "", op["op"], uid, _summary(op),
                            json.dumps(before, sort_keys=True) if before else None,
                            json.dumps(after, sort_keys=True) if after else None, run.source or ""))
        self._begin(True)
        try:
            self._exec("DELETE FROM voipops_cooling WHERE until_epoch <= ?", (int(now.timestamp()),))
            self._many("DELETE FROM usr_preferences WHERE uuid = ? AND domain = ?", del_prefs)
            self._many("DELETE FROM grp WHERE username = ? AND domain = ?", del_grp)
            self._many("DELETE FROM dbaliases WHERE username = ? AND domain = ?", del_alias)
            self._many("DELETE FROM subscriber WHERE username = ? AND domain = ?", del_subs)
            self._many("INSERT INTO subscriber (username, domain, password, ha1, ha1b) VALUES (?, ?, ?, ?, ?)", ins_subs)
            self._many("INSERT INTO usr_preferences (uuid, username, domain, attribute, type, value) VALUES (?, ?, ?, ?, 0, ?)",
                       ins_prefs)
            self._many("INSERT INTO grp (username, domain, grp) VALUES (?, ?, ?)", ins_grp)
            self._many("INSERT INTO dbaliases (alias_username, alias_domain, username, domain) VALUES (?, ?, ?, ?)", ins_alias)
            self._many("INSERT INTO voipops_cooling (number, domain, employee_id, released_at, until_epoch, until) "
                       "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (number, domain) DO UPDATE SET employee_id = ?, "
                       "released_at = ?, until_epoch = ?, until = ?", cooling)
            self._many("INSERT INTO voipops_pending_flush (aor, run_id) VALUES (?, ?) ON CONFLICT (aor) DO NOTHING", flush)
            self._many("INSERT INTO voipops_applied (row_key, run_id, applied_at) VALUES (?, ?, ?) "
                       "ON CONFLICT (row_key) DO NOTHING", [(k, run.run_id, ts) for k in run.applied_keys])
            self._many("INSERT INTO voipops_journal (run_id, seq, ts, actor, op, employee_id, summary, before_json, "
                       "after_json, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", journal)
            if before_commit is not None and credentials:
                before_commit(credentials)
            _test_pause("BEFORE_COMMIT")
            self._commit()
        except Exception as exc:
            self._rollback()
            if isinstance(exc, DriverError):
                raise
            raise DriverError("applying %d operation(s) to %s failed and was rolled back (nothing changed): %s%s"
                              % (len(plan), mask_url(self.db_url), exc, _hint(str(exc))))
        _test_pause("AFTER_COMMIT")
        return ApplyResult(credentials=credentials, journal=journal, flush=[f[0] for f in flush])

    # ------------------------------------------------------------------ journal, flush, lock
    @_database_errors
    def journal_rows(self, run_id=None, after_id=0):
        if "voipops_journal" not in self.tables():
            return []
        sql = ("SELECT id, run_id, seq, ts, actor, op, employee_id, summary, before_json, after_json, source "
               "FROM voipops_journal WHERE id > ?")
        params = [after_id]
        if run_id:
            sql += " AND run_id = ?"
            params.append(run_id)
        rows = self._exec(sql + " ORDER BY id", tuple(params)).fetchall()
        return [{"id": r[0], "run_id": r[1], "seq": r[2], "when": r[3], "who": r[4], "op": r[5], "employee_id": r[6],
                 "what": r[7], "before": json.loads(r[8]) if r[8] else None,
                 "after": json.loads(r[9]) if r[9] else None, "source": r[10]} for r in rows]

    @_database_errors
    def pending_flush(self):
        if "voipops_pending_flush" not in self.tables():
            return []
        return [r[0] for r in self._exec("SELECT aor FROM voipops_pending_flush ORDER BY aor").fetchall()]

    @_database_errors
    def flush_done(self, aors):
        if aors and self.write:
            self._begin(True)
            try:
                self._many("DELETE FROM voipops_pending_flush WHERE aor = ?", [(a,) for a in aors])
                self._commit()
            except Exception:
                self._rollback()
                raise

    def flush_registrations(self, aors, rpc=None):
        """Drop live registrations with ``ul.rm`` (needs a KamailioRPC); returns AoRs that had contacts."""
        had = []
        done = []
        for aor in aors:
            if rpc.unregister(aor):
                had.append(aor)
            done.append(aor)
        self.flush_done(done)
        return had

    @_database_errors
    def lock(self, run, ttl=3600, name="user_mutations"):
        """Take the run lock; a lock whose holder died (same host, pid gone) or is older than ``ttl`` is taken over."""
        self.ensure_own_tables()
        now = int(time.time())
        host = run.host or socket.gethostname()
        self._begin(True)
        try:
            row = self._exec("SELECT run_id, actor, host, pid, acquired_epoch FROM voipops_lock WHERE name = ?",
                             (name,)).fetchone()
            if row and row[0] != run.run_id:
                stale = (row[2] == host and not _pid_alive(row[3])) or now - int(row[4]) > ttl
                if not stale:
                    self._rollback()
                    raise LockedError("another user-mutation run holds the lock on %s: run %s by %s on %s (pid %s) since "
                                      "%s; wait for it to finish (a lock older than %d s or of a dead process is taken "
                                      "over automatically)" % (mask_url(self.db_url), row[0], row[1] or "?", row[2], row[3],
                                                               epoch_until(row[4]), ttl))
            self._exec("DELETE FROM voipops_lock WHERE name = ?", (name,))
            self._exec("INSERT INTO voipops_lock (name, run_id, actor, host, pid, acquired_epoch) VALUES (?, ?, ?, ?, ?, ?)",
                       (name, run.run_id, run.actor or "", host, int(run.pid or os.getpid()), now))
            self._commit()
            return {"taken_over": row[0] if row and row[0] != run.run_id else None}
        except LockedError:
            raise
        except Exception:
            self._rollback()
            raise

    @_database_errors
    def unlock(self, run, name="user_mutations"):
        self._begin(True)
        try:
            self._exec("DELETE FROM voipops_lock WHERE name = ? AND run_id = ?", (name, run.run_id))
            self._commit()
        except Exception:
            self._rollback()
            raise

    @_database_errors
    def lock_holder(self, name="user_mutations"):
        if "voipops_lock" not in self.tables():
            return None
        row = self._exec("SELECT run_id, actor, host, pid, acquired_epoch FROM voipops_lock WHERE name = ?", (name,)).fetchone()
        return dict(zip(("run_id", "actor", "host", "pid", "acquired_epoch"), row)) if row else None


def _summary(op):
    from ansible_collections.voipops.voip.plugins.module_utils.users import describe
    return describe(op)


def create_kamailio_schema(db_url, scripts=KAMAILIO_SCRIPTS):
    """Create Kamailio's tables from its own scripts (lab, tests, bench).  SQLite gets WAL mode."""
    kind, target = parse_db_url(db_url)
    texts = []
    for name in scripts:
        with open(os.path.join(SCHEMA_DIRS[kind], "%s-create.sql" % name)) as handle:
            texts.append(handle.read())
    if kind == "sqlite":
        conn = sqlite3.connect(target)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript("\n".join(texts))
            conn.commit()
        finally:
            conn.close()
    else:
        with psycopg_module().connect(target, autocommit=True) as conn:
            for text in texts:
                conn.execute(text)
