# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A handset firmware release, wave by wave: plan, re-point, re-sync, gate, record, revert.

The module ``handset_release`` is one call into :class:`HandsetRelease`.  A run:

1. validates the provisioning input (``provision.validate``) and the release file (``spec``), every error at its
   file, line and field, before anything is written;
2. opens the release record (``record.Record``): a new release gets its waves (``waves.select`` /
   ``waves.split``); a known one is resumed where it stopped (a wave ``in_progress`` is finished first);
3. per wave (at most ``max_waves`` per run): refuses outside the maintenance window (unless ``force``); reads the
   live registrations (``fleet.join``: the one matcher of ``handsets/registrations.py``); records every phone's
   version before; re-renders the provisioning files with the release's phones pinned to their target image
   (``provision.Provisioner``, the code of ``handset_provision``) after proving that no file of a phone outside
   the release would change; sends the wave's phones their vendor's re-sync (``fleet.resync``); polls the
   registrations until every phone of the wave is back on the target or the gate's timeout; judges the gate
   (``waves.judge``) and records the outcome;
4. a failed gate halts the release: the wave's phones get their previous files back (the pins removed), a re-sync,
   and the record says which phone failed how.

Phones in a call (``active_calls``, the driver's view of the calls in progress, matched to the phones by their
registered contacts; :func:`waves.phones_in_calls`): a phone of the wave in a call is **deferred** - its files are
not re-pointed and it gets no re-sync; the gate counts it apart (``deferred``).  A phone that was sent its re-sync
and is in a call when the gate looks (it holds the update itself, as the vendors document) is deferred too.
Deferred phones are retried in a later pass: at the start of every run (and, with ``defer_wait``, after the wave,
waiting up to that many seconds for their calls to end), inside the maintenance window; a pass re-points and
re-syncs the phones whose calls have ended and judges them with the release's gate.  A release with deferred phones
stays ``in_progress`` after its last wave, until every phone is done.

Whole-release revert (:meth:`HandsetRelease.revert_release`, ``action: revert``): every phone the release moved
(``done``, or ``in_progress`` after a kill) goes back to the version it ran before - its files pinned to that
version, a re-sync, a wait until it is registered on it - wave by wave in reverse order; the record says
``reverted`` per phone and for the release.  Check mode lists the moves; a second revert changes nothing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time

from ansible_collections.voipops.voip.plugins.module_utils import provision, sla
from ansible_collections.voipops.voip.plugins.module_utils.callservers.base import DriverError
from ansible_collections.voipops.voip.plugins.module_utils.handsets import fleet
from ansible_collections.voipops.voip.plugins.module_utils.release import spec, waves
from ansible_collections.voipops.voip.plugins.module_utils.release.record import Record, now_iso
from ansible_collections.voipops.voip.plugins.module_utils.schema.provisioning import handsets_from_estate
from ansible_collections.voipops.voip.plugins.module_utils.schema.release import ReleaseContext
from ansible_collections.voipops.voip.plugins.module_utils.source import SourceError

PINNED_STATES = ("in_progress", "done")


class ReleaseError(Exception):
    """The release cannot go on (refused outside its window, changed release, unsafe provisioning)."""

    def __init__(self, message, result=None):
        super(ReleaseError, self).__init__(message)
        self.result = result or {}


def load_estate_handsets(path):
    """(handsets, sites {name: {timezone}}, groups {tag: [names]}) from an estate file; the handsets as
    handset_provision takes them (``schema.provisioning.handsets_from_estate``)."""
    from ansible_collections.voipops.voip.plugins.module_utils.estate import load_estate
    est = load_estate(path)
    groups = {}
    for h in est.handsets:
        for tag in h.get("tags") or []:
            groups.setdefault(tag, []).append(h["name"])
    sites = dict((name, {"timezone": s.get("timezone")}) for name, s in est.sites.items())
    return handsets_from_estate(est), sites, groups


class HandsetRelease(object):
    """One run of a handset firmware release (see the module docstring).

    ``registrations``: a callable returning the callserver's registrations (the driver's ``registrations``).
    ``resync``: a callable (targets) -> results (``fleet.resync``).  ``clock``/``sleep``: time sources.
    ``active_calls``: a callable returning the calls in progress (the driver's ``active_calls``), or None (no phone
    is deferred for a call).  ``defer_wait``: seconds to wait after a wave for its deferred phones' calls to end.
    """

    def __init__(self, release_file, record_dir, root, settings, handsets, users, registrations, sites=None,
                 groups=None, force=False, now=None, max_waves=1, poll=1.0, mode=0o640, gid=None,
                 resync=None, concurrency=500, sip_timeout=5.0, clock=time.time, sleep=time.sleep,
                 active_calls=None, defer_wait=0.0):
        self.release_file, self.record_dir, self.root = release_file, record_dir, root
        self.settings, self.raw_handsets, self.users = settings, handsets, users
        self.registrations, self.sites, self.groups = registrations, sites, dict(groups or {})
        self.force, self.now, self.max_waves, self.poll = force, now, max_waves, poll
        self.mode, self.gid = mode, gid
        self.resync = resync or (lambda targets: fleet.resync(targets, concurrency=concurrency, timeout=sip_timeout))
        self.clock, self.sleep = clock, sleep
        self.active_calls, self.defer_wait = active_calls, float(defer_wait or 0)
        self.calls_unknown = None
        self.retried = []
        self.changed = False

    # ------------------------------------------------------------------------------------ inputs
    def load(self):
        index = provision.read_index(self.root)
        self.images, _cache = provision.scan_firmware(self.root, index.get("firmware_cache"))
        self.records, _users, _s = provision.validate(self.raw_handsets, self.users, self.settings, self.images)
        self.by_name = dict((r["name"], r) for r in self.records)
        sites = self.sites
        if sites is None:     # no estate: the handsets' own site names, in UTC
            sites = dict((r["site"], {"timezone": None}) for r in self.records if r.get("site"))
        ctx = ReleaseContext(sites=sites, handsets=self.by_name, images=self.images, groups=self.groups)
        self.site_zones = dict((k, (v or {}).get("timezone")) for k, v in sites.items())
        self.release = spec.load_handset_firmware(self.release_file, ctx)

    def target_of(self, name):
        h = self.by_name[name]
        image = self.release["targets"].get((h["vendor"], h["family"]))
        return image["version"] if image else None

    # ------------------------------------------------------------------------------------ provisioning
    def other_pins(self, rec):
        """{name: version} of the phones other handset releases in ``record_dir`` moved (their records, oldest first):
        the files keep them, so releases add up instead of undoing each other."""
        pins, found = {}, []
        try:
            entries = sorted(os.listdir(self.record_dir))
        except OSError:
            return pins
        for entry in entries:
            path = os.path.join(self.record_dir, entry)
            if not entry.endswith(".json") or path == rec.path:
                continue
            try:
                with open(path) as handle:
                    data = json.load(handle)
            except (IOError, OSError, ValueError):
                continue
            if isinstance(data, dict) and data.get("kind") == "handset_firmware" and isinstance(data.get("targets"), dict):
                found.append(data)
        for data in sorted(found, key=lambda d: (d.get("created") or "", d.get("id") or "")):
            for name, t in data["targets"].items():
                if t.get("state") in PINNED_STATES and t.get("to"):
                    pins[name] = t["to"]
        return pins

    def _pinned(self, rec, pinned_names):
        out = []
        others = self.other_pins(rec)
        back = dict((n, t["before"]) for n, t in rec.data["targets"].items()
                    if t.get("state") == "reverted" and t.get("before"))
        for h in self.raw_handsets:
            h = dict(h)
            if h.get("name") in others:
                h["firmware"] = others[h["name"]]
            if h.get("name") in pinned_names:
                h["firmware"] = self.target_of(h["name"])
            elif h.get("name") in back:        # taken back by a whole-release revert: the version it ran before
                h["firmware"] = back[h["name"]]
            out.append(h)
        return out

    def provision(self, rec, pinned_names, allowed, check_mode):
        """Render the files with ``pinned_names`` on their target; refuse when a phone outside ``allowed`` would
        change.  Returns the provisioning result (changed_handsets, files)."""
        runner = provision.Provisioner(self.root, self._pinned(rec, pinned_names), self.users, self.settings,
                                       mode=self.mode, gid=self.gid)
        preview = runner.run(check_mode=True)
        outside = sorted(set(preview["changed_handsets"]) - set(allowed))
        if outside:
            raise ReleaseError(
                "the provisioning settings differ from those the files were written with: the files of %d phone(s) "
                "outside the release would change (%s); give the release the same settings as handset_provision "
                "(nothing was written)" % (len(outside), ", ".join(outside[:10])))
        if check_mode or not (preview["changed"] or preview["files"]["removed"]):
            return preview
        result = runner.run(check_mode=False)
        self.changed = self.changed or result["changed"]
        return result

    def pinned_names(self, rec):
        return set(n for n, t in rec.data["targets"].items() if t.get("state") in PINNED_STATES)

    # ------------------------------------------------------------------------------------ live view
    def observe(self):
        joined = fleet.join(self.raw_handsets, self.registrations())
        return dict((h["name"], {"registered": h["registered"], "firmware": h["firmware"],
                                 "contacts": [c["contact"] for c in h["contacts"]]}) for h in joined["handsets"])

    def in_calls(self, names, observed):
        """{name: [call ids]} of ``names`` in a call now; {} when the callserver shows no calls (then said once in the
        record: ``calls_unknown``)."""
        if self.active_calls is None or not names:
            return {}
        try:
            calls = self.active_calls()
        except DriverError as exc:
            self.calls_unknown = str(exc)
            return {}
        return waves.phones_in_calls(dict((n, observed.get(n, {}).get("contacts")) for n in names), calls)

    def _note_calls_unknown(self, rec):
        if self.calls_unknown and rec.data.get("calls_unknown") != self.calls_unknown:
            rec.data["calls_unknown"] = self.calls_unknown
            rec.event("the callserver shows no calls, so no phone is deferred for one: %s" % self.calls_unknown)

    # ------------------------------------------------------------------------------------ run
    def run(self, check_mode=False):
        self.load()
        rel = self.release
        rec = Record.open(self.record_dir, rel["id"], "handset_firmware")
        if check_mode:
            return self._plan(rec)
        with rec.lock():
            if rec.new:
                order, excluded = waves.select(self.records, rel["targets"], rel["scope"], self.groups)
                if not order:
                    raise ReleaseError("no handset of the scope has a target image (%s)"
                                       % "; ".join("%s: %s" % (e["name"], e["reason"]) for e in excluded[:5]))
                rec.data.update(digest=rel["digest"], description=rel["description"], excluded=excluded,
                                release_file=os.path.abspath(self.release_file))
                planned = waves.split(order, rel["waves"]["canary"], rel["waves"]["then"])
                self.check_window(planned[0], rec)     # refused before anything is recorded
                rec.set_waves(planned)
                for name in order:
                    rec.mark(name, "pending", to=self.target_of(name))
                rec.event("release planned: %d phones in %d waves" % (len(order), len(rec.data["waves"])))
                rec.save()
                self.changed = True
            elif rec.data.get("digest") != rel["digest"]:
                raise ReleaseError("release '%s' was started from a different release file (its record: %s); "
                                   "give a changed release a new id" % (rel["id"], rec.path))
            ran = []
            retried = False
            while rec.status not in ("halted", "reverted"):
                failed = [w for w in rec.data["waves"] if w["state"] == "failed"]
                if failed:      # a run killed between the gate and the revert: revert now
                    self.revert(rec, failed[0]["index"])
                    break
                pending = [w for w in rec.data["waves"] if w["state"] != "done"]
                if rec.names_in("deferred") and not retried:     # phones deferred earlier whose calls have ended
                    retried = True
                    self.retry_deferred(rec, 0)
                    continue
                if not pending and rec.names_in("deferred"):
                    break       # every wave ran; the deferred phones wait for the next run
                if not pending:
                    if rec.status != "done":
                        rec.status = "done"
                        rec.save()
                        self.changed = True
                    # a finished release: its files stay as it left them (a rerun changes nothing)
                    self.provision(rec, self.pinned_names(rec), self.pinned_names(rec), False)
                    break
                if self.max_waves and len(ran) >= self.max_waves:
                    break
                wave = pending[0]
                self.check_window(wave["names"], rec)
                self.run_wave(rec, wave["index"])
                ran.append(wave["index"])
            return self.result(rec, ran)

    def zones(self, names):
        return set(self.site_zones.get(self.by_name[n].get("site")) for n in names)

    def when(self):
        return sla.to_utc(self.now) if self.now else waves.utcnow()

    def check_window(self, names, rec):
        ok, detail = waves.window_check(self.release["window"], self.when(), self.zones(names))
        if ok:
            return
        if self.force:
            rec.event("forced outside the window: %s" % detail)
            return
        raise ReleaseError("refused: %s (force to override)" % detail, self.result(rec, [], refused=detail))

    def run_wave(self, rec, index):
        wave = rec.wave(index)
        names = wave["names"]
        observed = self.observe()
        if wave["state"] == "pending":
            wave["baseline_registered"] = sorted(n for n, o in observed.items() if o["registered"] and n not in names)
        # a phone in a call is not touched: deferred (its files stay, no re-sync), retried in a later pass
        movable = [n for n in names if rec.target(n)["state"] in ("pending", "in_progress")
                   and observed.get(n, {}).get("firmware") != self.target_of(n)]
        busy = self.in_calls(movable, observed)
        self._note_calls_unknown(rec)
        for name in sorted(busy):
            rec.mark(name, "deferred", before=rec.target(name).get("before") or observed.get(name, {}).get("firmware"),
                     outcome=waves.DEFERRED, calls=busy[name], seen_down=False)
        active = [n for n in names if rec.target(n)["state"] != "deferred"]
        pinned = self.pinned_names(rec) | set(active)
        # prove the re-pointing touches only the release's phones before recording anything
        self.provision(rec, pinned, pinned, True)
        for name in active:
            t = rec.target(name)
            if t["state"] == "pending":
                rec.mark(name, "in_progress", before=observed.get(name, {}).get("firmware"), seen_down=False)
        rec.set_wave(index, "in_progress")
        rec.status = "in_progress"
        rec.event("wave %d started (%d phones%s)" % (index + 1, len(names), ", %d deferred: in a call (%s)" % (
            len(busy), ", ".join(sorted(busy))) if busy else ""))
        rec.save()
        self.changed = True
        self.provision(rec, pinned, pinned, False)
        todo = [n for n in active if observed.get(n, {}).get("firmware") != self.target_of(n)]
        if todo:
            targets, _skipped = fleet.resync_targets(self.raw_handsets, self.registrations(), names=todo)
            sent = self.resync(targets) if targets else []
            wave["resync"] = dict((r["name"], r["status"]) for r in sent)
        outcomes = self.wait_gate(rec, active)
        for name in names:
            if name not in outcomes:
                outcomes[name] = waves.DEFERRED
        now = self.observe()
        baseline = set(wave.get("baseline_registered") or [])
        newly_down = [n for n in baseline if not now.get(n, {}).get("registered")]
        verdict = waves.judge(outcomes, self.release["gate"], newly_down)
        for name in names:
            state = {waves.ON_TARGET: "done", waves.DEFERRED: "deferred"}.get(outcomes[name], "failed")
            rec.mark(name, state, after=now.get(name, {}).get("firmware"), outcome=outcomes[name])
        rec.set_wave(index, "done" if verdict["passed"] else "failed", gate=verdict)
        word = "passed" if verdict["passed"] else "FAILED"
        rec.event("wave %d: gate %s (%d/%d on target%s)" % (
            index + 1, word, verdict["on_target"], verdict["counted"],
            ", %d deferred" % len(verdict["deferred"]) if verdict["deferred"] else ""))
        rec.save()
        if not verdict["passed"]:
            self.revert(rec, index)
        elif verdict["deferred"] and self.defer_wait > 0:
            self.retry_deferred(rec, self.defer_wait)

    def retry_deferred(self, rec, wait):
        """A pass over the deferred phones: those whose calls have ended (waiting up to ``wait`` seconds for one) are
        re-pointed, re-synced and judged by the release's gate; a failed pass reverts its phones and halts."""
        names = rec.names_in("deferred")
        if not names:
            return []
        self.check_window(names, rec)
        deadline = self.clock() + wait
        while True:
            observed = self.observe()
            busy = self.in_calls(names, observed)
            free = [n for n in names if n not in busy]
            if free or self.clock() >= deadline:
                break
            self.sleep(self.poll)
        for name in busy:
            rec.target(name)["calls"] = busy[name]
        if not free:
            return []
        for name in free:
            rec.mark(name, "in_progress", seen_down=False, calls=[])
        pinned = self.pinned_names(rec)
        self.provision(rec, pinned, pinned, True)
        rec.status = "in_progress"
        rec.event("deferred phones retried, their calls ended: %s" % ", ".join(free))
        rec.save()
        self.changed = True
        self.provision(rec, pinned, pinned, False)
        todo = [n for n in free if observed.get(n, {}).get("firmware") != self.target_of(n)]
        if todo:
            targets, _skipped = fleet.resync_targets(self.raw_handsets, self.registrations(), names=todo)
            if targets:
                self.resync(targets)
        outcomes = self.wait_gate(rec, free)
        now = self.observe()
        verdict = waves.judge(outcomes, self.release["gate"], [])
        for name in free:
            state = {waves.ON_TARGET: "done", waves.DEFERRED: "deferred"}.get(outcomes[name], "failed")
            rec.mark(name, state, after=now.get(name, {}).get("firmware"), outcome=outcomes[name])
        for index in sorted(set(rec.target(n)["wave"] for n in free)):
            mine = [n for n in free if rec.target(n)["wave"] == index]
            rec.wave(index).setdefault("passes", []).append(
                {"at": now_iso(), "names": mine, "outcomes": dict((n, outcomes[n]) for n in mine), "passed": verdict["passed"]})
        word = "passed" if verdict["passed"] else "FAILED"
        rec.event("deferred pass: gate %s (%d/%d on target)" % (word, verdict["on_target"], verdict["counted"]))
        self.retried.extend(free)
        rec.save()
        if not verdict["passed"]:
            self._take_back(rec, free, "the deferred phones retried (%s) failed the gate" % ", ".join(free))
        return free

    def wait_gate(self, rec, names):
        deadline = self.clock() + self.release["gate"]["timeout"]
        while True:
            now = self.observe()
            down = [n for n in names if not now.get(n, {}).get("registered") and not rec.target(n).get("seen_down")]
            for name in down:
                rec.target(name)["seen_down"] = True
            if down:    # kept across a kill: a resumed gate still knows the phone rebooted
                rec.save()
            outcomes = dict((n, waves.outcome(now.get(n, {}), self.target_of(n), rec.target(n).get("seen_down")))
                            for n in names)
            # still registered on the old version, never went down, and in a call: the phone holds the update
            holding = [n for n, o in outcomes.items() if o == waves.REFUSED]
            for name in self.in_calls(holding, now):
                outcomes[name] = waves.DEFERRED
            if all(o in (waves.ON_TARGET, waves.DEFERRED) for o in outcomes.values()) or self.clock() >= deadline:
                return outcomes
            self.sleep(self.poll)

    def revert(self, rec, index):
        """The failed wave's phones get their previous files back (pins removed) and a re-sync; the release halts."""
        wave = rec.wave(index)
        sent = self._take_back(rec, wave["names"], None)
        wave["revert_resync"] = dict((r["name"], r["status"]) for r in sent)
        rec.set_wave(index, "rolled_back")
        rec.event("wave %d rolled back to the previous firmware; release halted" % (index + 1))
        rec.save()

    def _take_back(self, rec, names, why):
        for name in names:
            rec.mark(name, "rolled_back")
        pinned = self.pinned_names(rec)
        self.provision(rec, pinned, pinned | set(names), False)
        targets, _skipped = fleet.resync_targets(self.raw_handsets, self.registrations(), names=names)
        sent = self.resync(targets) if targets else []
        rec.status = "halted"
        if why:
            rec.event("%s: rolled back to the previous firmware; release halted" % why)
        rec.save()
        self.changed = True
        return sent

    # ------------------------------------------------------------------------------------ whole-release revert
    def revert_release(self, check_mode=False):
        """Take every phone the release moved back to the version it ran before, wave by wave in reverse order."""
        self.load()
        rel = self.release
        rec = Record.open(self.record_dir, rel["id"], "handset_firmware")
        if rec.new:
            raise ReleaseError("release '%s' has no record in %s: there is nothing to revert" % (rel["id"], self.record_dir))
        observed = self.observe()
        plan = []
        for wave in reversed(rec.data["waves"]):
            names = [n for n in wave["names"] if rec.target(n).get("state") in PINNED_STATES
                     and rec.target(n).get("before")]
            if names:
                plan.append((wave["index"], names))
        moves = [{"wave": i + 1, "name": n, "from": observed.get(n, {}).get("firmware"), "to": rec.target(n)["before"]}
                 for i, names in plan for n in names]
        if check_mode:
            self.changed = bool(plan)
            result = self.result(rec, [])
            result.update(action="revert", moves=moves, verdict="planned" if plan else rec.status,
                          next_wave=plan[0][0] + 1 if plan else None, reverted_waves=[])
            return result
        done_waves, outcomes = [], {}
        with rec.lock():
            for index, names in plan:
                self.check_window(names, rec)
                for name in names:
                    rec.mark(name, "reverted", seen_down=False)
                pinned = self.pinned_names(rec)
                self.provision(rec, pinned, pinned | set(names), True)
                rec.event("wave %d: reverting %d phones to their previous firmware" % (index + 1, len(names)))
                rec.save()
                self.changed = True
                self.provision(rec, pinned, pinned | set(names), False)
                now = self.observe()
                todo = [n for n in names if now.get(n, {}).get("firmware") != rec.target(n)["before"]]
                if todo:
                    targets, _skipped = fleet.resync_targets(self.raw_handsets, self.registrations(), names=todo)
                    if targets:
                        self.resync(targets)
                got = self.wait_versions(rec, dict((n, rec.target(n)["before"]) for n in names))
                now = self.observe()
                for name in names:
                    rec.mark(name, "reverted", after=now.get(name, {}).get("firmware"), revert_outcome=got[name])
                outcomes.update(got)
                back = sum(1 for n in names if got[n] == waves.ON_TARGET)
                rec.wave(index)["revert"] = {"at": now_iso(), "names": names, "back": back,
                                             "outcomes": dict((n, got[n]) for n in names)}
                rec.set_wave(index, "reverted")
                rec.event("wave %d reverted: %d/%d back on their previous firmware" % (index + 1, back, len(names)))
                rec.save()
                done_waves.append(index + 1)
            for name, t in rec.data["targets"].items():      # never moved (pending, deferred): nothing to take back
                if t.get("state") in ("pending", "deferred"):
                    rec.mark(name, "reverted", revert_outcome="not_moved")
                    self.changed = True
            if rec.status != "reverted":
                rec.status = "reverted"
                rec.save()
                self.changed = True
        result = self.result(rec, [])
        failed = dict((n, o) for n, o in outcomes.items() if o != waves.ON_TARGET)
        result.update(action="revert", moves=moves, reverted_waves=done_waves, revert_failed=failed,
                      verdict=("failed" if failed else "reverted") if plan else rec.status)
        return result

    def wait_versions(self, rec, wanted):
        """Wait (the gate's timeout) until every phone of ``wanted`` {name: version} is registered on it; per phone
        the outcome (``on_target`` = back on the wanted version)."""
        deadline = self.clock() + self.release["gate"]["timeout"]
        while True:
            now = self.observe()
            for name in wanted:
                if not now.get(name, {}).get("registered"):
                    rec.target(name)["seen_down"] = True
            got = dict((n, waves.outcome(now.get(n, {}), v, rec.target(n).get("seen_down"))) for n, v in wanted.items())
            if all(o == waves.ON_TARGET for o in got.values()) or self.clock() >= deadline:
                return got
            self.sleep(self.poll)

    # ------------------------------------------------------------------------------------ results
    def _plan(self, rec):
        """Check mode: the waves (recorded, or as they would be planned) and what the next wave would move."""
        rel = self.release
        if rec.new:
            order, excluded = waves.select(self.records, rel["targets"], rel["scope"], self.groups)
            planned = waves.split(order, rel["waves"]["canary"], rel["waves"]["then"])
            states = dict((n, "pending") for n in order)
        else:
            planned = [w["names"] for w in rec.data["waves"]]
            excluded = rec.data.get("excluded", [])
            states = dict((n, t["state"]) for n, t in rec.data["targets"].items())
        nxt = None
        if rec.status not in ("halted", "reverted"):
            nxt = next((i for i, names in enumerate(planned)
                        if any(states.get(n) != "done" for n in names)), None)
        moves, window = [], None
        if nxt is not None:
            observed = self.observe()
            for name in planned[nxt]:
                moves.append({"name": name, "from": observed.get(name, {}).get("firmware"), "to": self.target_of(name)})
            pinned = set(n for n, s in states.items() if s in PINNED_STATES) | set(planned[nxt])
            preview = self.provision(rec, pinned, pinned, True)
            self.changed = bool(preview["changed_handsets"]) or any(m["from"] != m["to"] for m in moves)
            ok, detail = waves.window_check(rel["window"], self.when(), self.zones(planned[nxt]))
            window = {"open": ok or self.force, "detail": detail}
        result = self.result(rec, [], planned=planned, excluded=excluded)
        result.update(next_wave=None if nxt is None else nxt + 1, moves=moves, window=window,
                      verdict="planned" if nxt is not None else result["verdict"])
        return result

    def result(self, rec, ran, planned=None, excluded=None, refused=None):
        data = rec.data
        waves_out = []
        for i, names in enumerate(planned if planned is not None else [w["names"] for w in data["waves"]]):
            w = data["waves"][i] if i < len(data["waves"]) else {}
            waves_out.append({"wave": i + 1, "names": list(names), "state": w.get("state", "pending"),
                              "gate": w.get("gate")})
        last = data["waves"][ran[-1]] if ran else None
        status = data["status"]
        if refused:
            verdict = "refused"
        elif status == "reverted":
            verdict = "reverted"
        elif status == "halted":
            verdict = "failed" if ran else "halted"
        elif last is not None:
            verdict = "passed"
        else:
            verdict = status
        failed = {}
        for name, t in sorted(data["targets"].items()):
            if t.get("outcome") and t["outcome"] != waves.ON_TARGET:
                failed[name] = {"outcome": t["outcome"], "before": t.get("before"), "after": t.get("after"),
                                "to": t.get("to")}
        return {"changed": self.changed, "release": self.release["id"], "status": status, "verdict": verdict,
                "waves_run": [i + 1 for i in ran], "waves": waves_out,
                "gate": last.get("gate") if last else None, "failed_targets": failed,
                "excluded": excluded if excluded is not None else data.get("excluded", []),
                "record": rec.path, "page": rec.page_path, "refused": refused,
                "deferred": rec.names_in("deferred"), "retried": list(self.retried),
                "targets": dict((n, {"state": t.get("state"), "before": t.get("before"), "after": t.get("after"),
                                     "to": t.get("to"), "outcome": t.get("outcome")})
                                for n, t in sorted(data["targets"].items()))}


def load_inputs(params):
    """(handsets, sites, groups) from the module's params (estate_file, handsets_file or handsets)."""
    sites, groups = None, {}
    if params.get("estate_file"):
        handsets, sites, groups = load_estate_handsets(params["estate_file"])
    elif params.get("handsets_file"):
        handsets = provision.load_handsets(params["handsets_file"])
    else:
        handsets = params.get("handsets") or []
    for name, members in (params.get("groups") or {}).items():
        groups.setdefault(name, [])
        groups[name] = sorted(set(groups[name]) | set(members or []))
    if not handsets:
        raise SourceError("no handsets given (estate_file, handsets_file or handsets)")
    return handsets, sites, groups
