# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release record: the truth on disk about one release, so that a rerun resumes where a run stopped.

One JSON file per release id, ``<directory>/<id>.json`` (mode 0600, written atomically: a reader and a rerun
after ``kill -9`` see either the previous record or the whole new one), and beside it ``<id>.md``, the page a
person reads.  Used by every release kind (handset firmware, callserver configuration, gateway firmware).

API (all a release kind needs)::

    rec = Record.open(directory, release_id, kind)   # load <id>.json, or a new (unsaved) record
    with rec.lock():                                  # one run per release at a time (flock on <id>.lock)
        rec.new                                       # True until the first save()
        rec.data["digest"] = ...                      # free-form top-level keys are kept
        rec.set_waves([["hs-1", "hs-2"], ["hs-3"]])   # waves of target names (targets start "pending")
        rec.mark("hs-1", "in_progress", before="1.0", after=None)   # target state + any fields
        rec.set_wave(0, "in_progress")                # wave state + any fields (gate=..., outcome=...)
        rec.event("wave 1: gate passed")              # timestamped line in the history
        rec.status = "in_progress"                    # release status
        rec.save()                                    # atomic JSON + the page

Target states: ``pending``, ``in_progress``, ``done``, ``failed``, ``rolled_back``, ``deferred`` (in a call when
its wave ran: not touched, retried later) and ``reverted`` (a whole-release revert took it back).  Wave states:
the same.
Release status: ``new``, ``in_progress``, ``done``, ``halted`` (a failed gate; reverted; a rerun changes
nothing until a new release id is given), ``reverted`` (the whole release was taken back on request).
Every change of state is stamped (``updated``, and per target ``history`` [{at, state}]) in UTC ISO 8601.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import datetime
import fcntl
import json
import os

from ansible_collections.voipops.voip.plugins.module_utils.fileio import atomic_write
from ansible_collections.voipops.voip.plugins.module_utils.schema.release import release_id as check_id

TARGET_STATES = ("pending", "in_progress", "done", "failed", "rolled_back", "deferred", "reverted")
STATUSES = ("new", "in_progress", "done", "halted", "reverted")
VERSION = 1


class RecordError(Exception):
    pass


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Record(object):
    """One release's record (see the module docstring)."""

    def __init__(self, path, data, new):
        self.path = path
        self.data = data
        self.new = new

    # -------------------------------------------------------------------------------- open / save
    @classmethod
    def open(cls, directory, release_id, kind):
        check_id(release_id)
        path = os.path.join(directory, "%s.json" % release_id)
        try:
            with open(path, "r") as handle:
                data = json.load(handle)
        except (IOError, OSError):
            data = None
        except ValueError as exc:
            raise RecordError("the release record %s is not JSON (%s): move it away to start the release again"
                              % (path, exc))
        if data is None:
            stamp = now_iso()
            data = {"version": VERSION, "id": release_id, "kind": kind, "status": "new", "created": stamp,
                    "updated": stamp, "waves": [], "targets": {}, "events": []}
            return cls(path, data, True)
        if data.get("kind") != kind:
            raise RecordError("release '%s' is recorded as a %s release (%s), not %s"
                              % (release_id, data.get("kind"), path, kind))
        return cls(path, data, False)

    @contextlib.contextmanager
    def lock(self):
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o750)
        handle = open(self.path[:-len(".json")] + ".lock", "a")
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except (IOError, OSError):
                raise RecordError("another run of release '%s' holds %s.lock" % (self.data["id"], self.path[:-5]))
            yield self
        finally:
            handle.close()

    def save(self):
        self.data["updated"] = now_iso()
        text = json.dumps(self.data, indent=1, sort_keys=True) + "\n"
        atomic_write(self.path, text.encode("utf-8"), mode=0o600)
        atomic_write(self.page_path, render_page(self.data).encode("utf-8"), mode=0o600)
        self.new = False

    @property
    def page_path(self):
        return self.path[:-len(".json")] + ".md"

    # -------------------------------------------------------------------------------- state
    @property
    def status(self):
        return self.data["status"]

    @status.setter
    def status(self, value):
        if value not in STATUSES:
            raise RecordError("unknown release status %r" % (value,))
        if value != self.data["status"]:
            self.data["status"] = value
            self.event("release %s" % value)

    def set_waves(self, waves):
        self.data["waves"] = [{"index": i, "names": list(names), "state": "pending", "started": None,
                               "finished": None, "gate": None} for i, names in enumerate(waves)]
        for i, names in enumerate(waves):
            for name in names:
                self.data["targets"].setdefault(name, {"wave": i, "state": "pending", "history": []})
                self.data["targets"][name]["wave"] = i

    def wave(self, index):
        return self.data["waves"][index]

    def set_wave(self, index, state, **fields):
        if state not in TARGET_STATES:
            raise RecordError("unknown wave state %r" % (state,))
        wave = self.data["waves"][index]
        if state == "in_progress" and not wave.get("started"):
            wave["started"] = now_iso()
        if state in ("done", "failed", "rolled_back"):
            wave["finished"] = now_iso()
        wave["state"] = state
        wave.update(fields)

    def target(self, name):
        return self.data["targets"].get(name)

    def mark(self, name, state, **fields):
        if state not in TARGET_STATES:
            raise RecordError("unknown target state %r" % (state,))
        rec = self.data["targets"].setdefault(name, {"wave": None, "state": "pending", "history": []})
        if rec.get("state") != state:
            rec.setdefault("history", []).append({"at": now_iso(), "state": state})
        rec["state"] = state
        rec.update(fields)
        return rec

    def names_in(self, *states):
        return sorted(n for n, t in self.data["targets"].items() if t.get("state") in states)

    def event(self, text):
        self.data.setdefault("events", []).append({"at": now_iso(), "what": text})


def render_page(data):
    """The page a person reads (Markdown): status, waves with their gate, every target before/after/outcome."""
    lines = ["# Release %s (%s)" % (data["id"], data.get("kind")), ""]
    if data.get("description"):
        lines += [data["description"], ""]
    lines += ["- Status: **%s**" % data["status"], "- Started: %s" % data.get("created"),
              "- Last change: %s" % data.get("updated"), ""]
    for wave in data.get("waves", []):
        gate = wave.get("gate") or {}
        verdict = ""
        if gate:
            verdict = " - gate %s: %d/%d on target (%.0f%%, %.0f%% required), %d newly unregistered outside" % (
                "passed" if gate.get("passed") else "FAILED", gate.get("on_target", 0), gate.get("counted", 0),
                100 * gate.get("share", 0), 100 * gate.get("required", 0), gate.get("rise", 0))
            if gate.get("deferred"):
                verdict += ", %d deferred (in a call: %s)" % (len(gate["deferred"]), ", ".join(gate["deferred"]))
        lines.append("## Wave %d (%s, %d)%s" % (wave["index"] + 1, wave["state"], len(wave["names"]), verdict))
        lines += ["", "| target | state | before | after | outcome |", "|---|---|---|---|---|"]
        for name in wave["names"]:
            t = data["targets"].get(name, {})
            cells = (name, t.get("state"), t.get("before") or "-", t.get("after") or "-", t.get("outcome") or "-")
            lines.append("| %s | %s | %s | %s | %s |" % cells)
        lines.append("")
        for rpass in wave.get("passes") or []:
            lines.append("- %s: %s retried after their call (%s)" % (
                rpass.get("at"), ", ".join(rpass.get("names") or []),
                ", ".join("%s %s" % (n, o) for n, o in sorted((rpass.get("outcomes") or {}).items()))))
        if wave.get("passes"):
            lines.append("")
    if data.get("events"):
        lines += ["## History", ""] + ["- %s %s" % (e["at"], e["what"]) for e in data["events"]] + [""]
    return "\n".join(lines)
