# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit history: every audit run's tickets, and each ticket's life across runs (docs/health_audit.md, "History").

A store is a SQLite file (the default: next to the reports) or a PostgreSQL database (``postgres://...``, for AWX
clusters whose jobs run on different nodes); URLs are read by the callserver database's own
:func:`~..db.parse_db_url`.  Three tables, created when missing:

- ``voipops_audit_runs``: one row per audit run, keyed by the estate's domain and the audit time
  (``generated_at``): appending the same run again changes nothing;
- ``voipops_audit_sightings``: every finding of every run (tickets and their symptoms), as the audit reported it;
- ``voipops_audit_tickets``: the life of every finding that was a ticket in some run, one row per *episode*
  (opened ... resolved; a ticket seen again after it was resolved is reopened: a new episode).

A ticket is **resolved** by the first later run that looked at its component with its check (the component is in
that check's ``checked`` list) and did not find it; a run in which that check did not run (or failed) says
nothing, the ticket stays open.  An episode keeps its most urgent priority and the earliest SLA resolve deadline
the audit gave it (the deadline is the ticket's own, computed by ``sla.py`` with the supplier's coverage calendar).

One transaction per run (SQLite ``BEGIN IMMEDIATE``; PostgreSQL with the runs table locked): a run killed at any
point leaves the store as it was before that run.  The lives are recomputed from the sightings in that transaction
(:func:`follow`, pure), so a run appended late (a replay of an older audit) lands in its place.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import sqlite3

from ansible_collections.voipops.voip.plugins.module_utils import sla as _sla
from ansible_collections.voipops.voip.plugins.module_utils.db import (
    HAS_PSYCOPG, DbUrlError, parse_db_url, psycopg_module, test_pause as _test_pause,
)
from ansible_collections.voipops.voip.plugins.module_utils.fileio import mask_url
# psycopg is imported by db.psycopg_module() when a PostgreSQL store is opened (a SQLite history pays nothing)

HISTORY_ENV = "VOIPOPS_AUDIT_HISTORY"
DEFAULT_FILE = "health_audit_history.sqlite"

_TABLES = (
    ("voipops_audit_runs",
     "CREATE TABLE IF NOT EXISTS voipops_audit_runs (estate VARCHAR(255) NOT NULL, run_at VARCHAR(32) NOT NULL, "
     "tickets INTEGER NOT NULL, findings INTEGER NOT NULL, status VARCHAR(16) NOT NULL, checks_json TEXT NOT NULL, "
     "PRIMARY KEY (estate, run_at))"),
    ("voipops_audit_sightings",
     "CREATE TABLE IF NOT EXISTS voipops_audit_sightings (estate VARCHAR(255) NOT NULL, run_at VARCHAR(32) NOT NULL, "
     "id VARCHAR(32) NOT NULL, is_ticket INTEGER NOT NULL, root_cause VARCHAR(32), check_name VARCHAR(64) NOT NULL, "
     "component VARCHAR(255) NOT NULL, component_type VARCHAR(32), kind VARCHAR(128) NOT NULL, "
     "severity VARCHAR(16), priority VARCHAR(4), supplier VARCHAR(255), site VARCHAR(255), "
     "availability INTEGER NOT NULL, first_seen VARCHAR(32), resolve_due VARCHAR(40), coverage VARCHAR(32), "
     "timezone VARCHAR(64), summary TEXT, PRIMARY KEY (estate, run_at, id))"),
    ("voipops_audit_tickets",
     "CREATE TABLE IF NOT EXISTS voipops_audit_tickets (estate VARCHAR(255) NOT NULL, id VARCHAR(32) NOT NULL, "
     "episode INTEGER NOT NULL, state VARCHAR(16) NOT NULL, opened_at VARCHAR(32) NOT NULL, "
     "last_seen VARCHAR(32) NOT NULL, resolved_at VARCHAR(32), runs INTEGER NOT NULL, priority VARCHAR(4), "
     "resolve_due VARCHAR(40), supplier VARCHAR(255), site VARCHAR(255), component VARCHAR(255) NOT NULL, "
     "component_type VARCHAR(32), kind VARCHAR(128) NOT NULL, check_name VARCHAR(64) NOT NULL, "
     "availability INTEGER NOT NULL, coverage VARCHAR(32), timezone VARCHAR(64), summary TEXT, "
     "PRIMARY KEY (estate, id, episode))"),
)
_SIGHTING_COLS = ("estate", "run_at", "id", "is_ticket", "root_cause", "check_name", "component", "component_type",
                  "kind", "severity", "priority", "supplier", "site", "availability", "first_seen", "resolve_due",
                  "coverage", "timezone", "summary")
_TICKET_COLS = ("estate", "id", "episode", "state", "opened_at", "last_seen", "resolved_at", "runs", "priority",
                "resolve_due", "supplier", "site", "component", "component_type", "kind", "check_name", "availability",
                "coverage", "timezone", "summary")


class HistoryError(Exception):
    """The history store cannot be opened, read or written (the message names it, password masked)."""


def _iso(value):
    return _sla.to_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def store_target(location, base_dir=None):
    """``location`` (a file path, ``sqlite:////abs/path`` or ``postgres://...``) -> ``(kind, target)``.

    A relative file path is taken relative to ``base_dir`` (the reports' directory)."""
    location = str(location or "").strip()
    if not location:
        raise HistoryError("no history store given (a file path, sqlite:////path or postgres://user:pw@host/db)")
    if "://" in location:
        try:
            return parse_db_url(location)
        except DbUrlError:
            raise HistoryError("history store %s: use a file path, sqlite:////abs/path.db or "
                               "postgres://user:password@host:port/database" % mask_url(location))
    path = location if os.path.isabs(location) or not base_dir else os.path.join(base_dir, location)
    return "sqlite", os.path.abspath(path)


def _worse(a, b):
    return _sla.higher_priority(a, b) if a and b else (a or b)


def _earlier(a, b):
    if a and b:
        return a if _sla.to_utc(a) <= _sla.to_utc(b) else b
    return a or b


def _covers(run, sighting):
    """Did this run look at the ticket's component with the ticket's check?"""
    checked = run["checks"].get(sighting["check_name"])
    return checked is not None and sighting["component"] in checked


def follow(runs, sightings):
    """The lives of the tickets (pure): ``runs`` ``[{run_at, checks: {name: [components]}}]``, ``sightings`` rows
    (dicts with the sighting columns) -> episode dicts (the ticket columns, without ``estate``), sorted by id, episode.
    """
    runs = sorted(runs, key=lambda r: _sla.to_utc(r["run_at"]))
    runs = [dict(r, checks=dict((k, set(v)) for k, v in r["checks"].items())) for r in runs]
    by_run = {}
    ever_ticket = set()
    for s in sightings:
        by_run.setdefault(s["run_at"], {})[s["id"]] = s
        if s["is_ticket"]:
            ever_ticket.add(s["id"])
    lives = []
    for fid in sorted(ever_ticket):
        episodes, current, last = [], None, None
        for run in runs:
            s = by_run.get(run["run_at"], {}).get(fid)
            if s is not None:
                last = s
                if current is None:
                    opened = s["first_seen"] or run["run_at"]
                    if episodes and _sla.to_utc(opened) < _sla.to_utc(episodes[-1]["resolved_at"]):
                        opened = run["run_at"]  # the audit's first_seen of a reopened ticket starts after it went away
                    current = {"id": fid, "episode": len(episodes) + 1, "state": "open", "opened_at": _iso(opened),
                               "resolved_at": None, "runs": 0, "priority": None, "resolve_due": None}
                    episodes.append(current)
                current["runs"] += 1
                current["last_seen"] = _iso(run["run_at"])
                if s["is_ticket"]:
                    current["priority"] = _worse(current["priority"], s["priority"])
                    current["resolve_due"] = _earlier(current["resolve_due"], s["resolve_due"])
                for key in ("supplier", "site", "component", "component_type", "kind", "check_name", "availability",
                            "coverage", "timezone", "summary"):
                    current[key] = s[key]
            elif current is not None and _covers(run, last):
                current["state"] = "resolved"
                current["resolved_at"] = _iso(run["run_at"])
                current = None
        lives.extend(episodes)
    return lives


def sightings_of(audit):
    """The rows an audit document (``build_audit``) adds: ``(run_row, sighting_rows)``."""
    estate = (audit.get("estate") or {}).get("domain") or ""
    run_at = audit["generated_at"]
    tickets = set(audit.get("tickets") or [])
    rows = []
    for f in audit.get("findings") or []:
        rows.append({"estate": estate, "run_at": run_at, "id": f["id"], "is_ticket": int(f["id"] in tickets),
                     "root_cause": f.get("root_cause"), "check_name": f["check"], "component": f["component"],
                     "component_type": f.get("component_type"), "kind": f["kind"], "severity": f.get("severity"),
                     "priority": f.get("priority"), "supplier": f.get("supplier"), "site": f.get("site"),
                     "availability": int(bool(f.get("availability"))), "first_seen": f.get("first_seen"),
                     "resolve_due": f.get("resolve_due"), "coverage": f.get("coverage"),
                     "timezone": f.get("timezone"), "summary": f.get("summary")})
    checks = dict((c["name"], sorted(c.get("checked") or [])) for c in audit.get("checks") or [])
    run = {"estate": estate, "run_at": run_at, "tickets": len(tickets), "findings": len(rows),
           "status": audit.get("status") or "", "checks_json": json.dumps(checks, sort_keys=True)}
    return run, rows


class History(object):
    """A history store.  ``write=False`` opens an existing store read-only in effect (nothing is created)."""

    def __init__(self, location, base_dir=None, write=True, busy_timeout=30.0):
        self.location = str(location)
        self.kind, target = store_target(location, base_dir)
        self.write = write
        try:
            if self.kind == "sqlite":
                if not os.path.exists(target):
                    if not write:
                        raise HistoryError("the history store %s does not exist (no audit has been recorded there yet)"
                                           % target)
                    if not os.path.isdir(os.path.dirname(target)):
                        os.makedirs(os.path.dirname(target), 0o755)
                self.conn = sqlite3.connect(target, timeout=busy_timeout, isolation_level=None)
            else:
                if not HAS_PSYCOPG:
                    raise HistoryError("the Python library 'psycopg' (3) is required for a PostgreSQL history store")
                self.conn = psycopg_module().connect(target, autocommit=True, connect_timeout=int(busy_timeout))
        except (sqlite3.Error, OSError) as exc:
            raise HistoryError("cannot open the history store %s: %s" % (target, exc))
        except Exception as exc:  # psycopg.Error; the URL may carry a password: masked
            if self.kind != "sqlite" and HAS_PSYCOPG and isinstance(exc, psycopg_module().Error):
                raise HistoryError("cannot connect to the history store %s: %s" % (mask_url(self.location),
                                                                                   str(exc).strip()))
            raise
        self.target = target if self.kind == "sqlite" else mask_url(self.location)

    # ------------------------------------------------------------------ low level
    def _exec(self, sql, params=()):
        cur = self.conn.cursor()
        cur.execute(sql.replace("?", "%s") if self.kind == "postgres" else sql, params)
        return cur

    def _db(self, what, func, *args):
        errors = (sqlite3.Error,) + ((psycopg_module().Error,) if self.kind != "sqlite" and HAS_PSYCOPG else ())
        try:
            return func(*args)
        except errors as exc:
            self._rollback()
            raise HistoryError("history store %s: cannot %s: %s" % (self.target, what, str(exc).strip()))

    def _rollback(self):
        try:
            self.conn.execute("ROLLBACK")
        except Exception:  # pylint: disable=broad-except
            pass

    def _has_tables(self):
        if self.kind == "sqlite":
            rows = self._exec("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
        else:
            rows = self._exec("SELECT table_name FROM information_schema.tables "
                              "WHERE table_schema = current_schema()").fetchall()
        return set(t for t, _sql in _TABLES) <= set(r[0] for r in rows)

    def close(self):
        try:
            self.conn.close()
        except Exception:  # pylint: disable=broad-except
            pass

    # ------------------------------------------------------------------ write
    def append(self, audit):
        """Append one audit run (the document of ``build_audit``) in one transaction; returns what it did:
        ``{run_id, appended, opened, reopened, resolved, open}`` (ids; nothing new when the run is already there)."""
        return self._db("append the audit", self._append, audit)

    def _append(self, audit):
        run, rows = sightings_of(audit)
        result = {"run_id": "%s@%s" % (run["estate"], run["run_at"]), "appended": False,
                  "opened": [], "reopened": [], "resolved": [], "open": []}
        if self.kind == "sqlite":
            self.conn.execute("BEGIN IMMEDIATE")
        else:
            self.conn.execute("BEGIN")
        try:
            for _name, sql in _TABLES:
                self._exec(sql)
            if self.kind == "postgres":  # one appender at a time per database (the lives are recomputed)
                self._exec("LOCK TABLE voipops_audit_runs IN SHARE ROW EXCLUSIVE MODE")
            known = self._exec("SELECT 1 FROM voipops_audit_runs WHERE estate = ? AND run_at = ?",
                               (run["estate"], run["run_at"])).fetchone()
            if known:
                self.conn.execute("ROLLBACK")
                result.update(self._events(run["estate"], run["run_at"]))
                return result
            self._exec("INSERT INTO voipops_audit_runs (estate, run_at, tickets, findings, status, checks_json) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (run["estate"], run["run_at"], run["tickets"], run["findings"],
                                                     run["status"], run["checks_json"]))
            cur = self.conn.cursor()
            sql = "INSERT INTO voipops_audit_sightings (%s) VALUES (%s)" % (
                ", ".join(_SIGHTING_COLS), ", ".join("?" * len(_SIGHTING_COLS)))
            if rows:
                cur.executemany(sql.replace("?", "%s") if self.kind == "postgres" else sql,
                                [tuple(r[c] for c in _SIGHTING_COLS) for r in rows])
            lives = follow(self._runs(run["estate"]), self._sightings(run["estate"]))
            self._exec("DELETE FROM voipops_audit_tickets WHERE estate = ?", (run["estate"],))
            sql = "INSERT INTO voipops_audit_tickets (%s) VALUES (%s)" % (
                ", ".join(_TICKET_COLS), ", ".join("?" * len(_TICKET_COLS)))
            if lives:
                cur.executemany(sql.replace("?", "%s") if self.kind == "postgres" else sql,
                                [tuple(run["estate"] if c == "estate" else life[c] for c in _TICKET_COLS)
                                 for life in lives])
            _test_pause("HISTORY_COMMIT")
            self.conn.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        result["appended"] = True
        result.update(self._events(run["estate"], run["run_at"]))
        return result

    def _events(self, estate, run_at):
        """What this run did to the tickets' lives."""
        out = {"opened": [], "reopened": [], "resolved": [], "open": []}
        if not self._has_tables():
            return out
        for life in self.tickets(estate):
            if life["resolved_at"] == run_at:
                out["resolved"].append(life["id"])
            if life["state"] == "open" and life["last_seen"] == run_at:
                out["open"].append(life["id"])
            if life["last_seen"] == run_at and life["runs"] == 1:
                out["reopened" if life["episode"] > 1 else "opened"].append(life["id"])
        return dict((k, sorted(v)) for k, v in out.items())

    # ------------------------------------------------------------------ read
    def _runs(self, estate):
        rows = self._exec("SELECT run_at, tickets, findings, status, checks_json FROM voipops_audit_runs "
                          "WHERE estate = ? ORDER BY run_at", (estate,)).fetchall()
        return [{"run_at": r[0], "tickets": r[1], "findings": r[2], "status": r[3], "checks": json.loads(r[4])}
                for r in rows]

    def _sightings(self, estate):
        rows = self._exec("SELECT %s FROM voipops_audit_sightings WHERE estate = ?" % ", ".join(_SIGHTING_COLS),
                          (estate,)).fetchall()
        return [dict(zip(_SIGHTING_COLS, r)) for r in rows]

    def runs(self, estate):
        """The runs of ``estate`` (its domain), oldest first: ``{run_at, tickets, findings, status, checks}``."""
        return self._db("read the runs", lambda: self._runs(estate) if self._has_tables() else [])

    def tickets(self, estate):
        """The episodes of every ticket of ``estate``, by id and episode (dicts of the ticket columns)."""
        def read():
            if not self._has_tables():
                return []
            rows = self._exec("SELECT %s FROM voipops_audit_tickets WHERE estate = ? ORDER BY id, episode"
                              % ", ".join(_TICKET_COLS), (estate,)).fetchall()
            return [dict(zip(_TICKET_COLS, r)) for r in rows]
        return self._db("read the tickets", read)
