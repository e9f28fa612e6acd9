# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The resource-module runner, once: states, before/commands/after, check, diff, lock, verify, flush, journal.

Shaped like ansible.netcommon's ``ResourceModule``.  A module hands over its ``AnsibleModule`` and a *resource*
(what is managed: users today, see ``users_resource.py``); the runner gets the callserver driver from
``callservers/base.py:get_driver`` and does the rest:

- ``parsed`` / ``rendered``: the resource parses or validates its input; no connection.
- ``gathered``: the driver reads the objects; nothing changes.
- ``merged`` / ``replaced`` / ``overridden`` / ``deleted``: take the callserver's run lock (not in check mode), read
  ``before`` in one consistent read, let the resource validate the input against it and plan (pure data), return
  ``commands`` and the expected ``after`` (and a diff); in check mode stop there.  Otherwise apply the whole plan in
  one transaction, read back and compare with the expected ``after`` (``verified``; a difference fails the task),
  write generated secrets to ``credentials_file`` (mode 0600), drop the live registrations the change made obsolete,
  export the callserver's journal to ``audit_log`` and release the lock.

A resource implements ``now(params)``, ``parse(params)``, ``render(params, now)``, ``check_params(params)`` (returns
an error message or None), ``load(params)``, ``read(driver, now)`` (-> snapshot with ``items`` and ``pending_flush``),
``plan(state, loaded, snapshot, params, now, run)`` (-> plan, extra result keys), ``describe(op)``,
``expected(items, plan)``, ``needs_secret(plan)`` (ids that get a new secret) and ``source(params)``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import socket
import uuid

from ansible_collections.voipops.voip.plugins.module_utils import journal
from ansible_collections.voipops.voip.plugins.module_utils.callservers.base import RunInfo, connection, get_driver
from ansible_collections.voipops.voip.plugins.module_utils.fileio import atomic_write

CHANGE_STATES = ("merged", "replaced", "overridden", "deleted")
KEY = "id"
SECRET_KEPT = "******** (current, not shown)"
SECRET_NEW = "******** (new, not shown)"


def read_secrets(path):
    """The records of the secrets file (``[]`` when there is none); ValueError when it is not a JSON list, since
    overwriting it could lose the passwords it holds."""
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        try:
            existing = json.load(handle)
        except ValueError:
            existing = None
    if not isinstance(existing, list):
        raise ValueError("%s is not a JSON list of credentials: refusing to overwrite the passwords it may hold "
                         "(move it aside)" % path)
    return existing


def write_secrets(path, records, mode=0o600):
    """Merge ``records`` (by id) into the JSON list at ``path`` and write it atomically with ``mode``."""
    existing = read_secrets(path)
    by_key = dict((r[KEY], r) for r in existing if isinstance(r, dict) and KEY in r)
    for rec in records:
        by_key[rec[KEY]] = rec
    atomic_write(path, json.dumps(sorted(by_key.values(), key=lambda r: r[KEY]), indent=1), mode=mode)


def unwritable(path):
    """Why the secrets file ``path`` cannot be written (None when it can): checked before anything is changed."""
    directory = os.path.dirname(os.path.abspath(path))
    parent = directory
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        return "%s is not a directory" % parent
    if not os.access(parent, os.W_OK | os.X_OK):
        return "directory %s is not writable" % parent
    if os.path.isdir(path):
        return "is a directory"
    if os.path.exists(path) and not os.access(path, os.W_OK):
        return "is not writable"
    try:
        read_secrets(path)
    except (ValueError, OSError) as exc:
        return str(exc)
    return None


def output_dirs(paths, mode=0o750):
    """Create the missing parent directories of ``paths`` (a path or a list; None items skipped) with ``mode``."""
    for path in paths if isinstance(paths, list) else [paths]:
        if path:
            directory = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(directory):
                os.makedirs(directory, mode)


class ResourceModule(object):
    """Run one resource-module task: ``ResourceModule(module, resource).execute_module()`` -> result dict."""

    def __init__(self, module, resource):
        self.module = module
        self.resource = resource
        self.params = module.params
        self.state = module.params["state"]
        self.check = module.check_mode
        self.result = {"changed": False}

    def summary(self):
        """``details=summary``: counts and commands, no per-object records (``before``, ``after``, ``operations``)."""
        return self.params.get("details") == "summary"

    def driver(self, read_only):
        return get_driver(read_only=read_only, **connection(self.params))

    def execute_module(self):
        now = self.resource.now(self.params)
        problem = self.resource.check_params(self.params)
        if problem:
            self.module.fail_json(msg=problem)
        if self.state == "parsed":
            self.result["parsed"] = self.resource.parse(self.params)
            return self.result
        if self.state == "rendered":
            self.result["rendered"] = self.resource.render(self.params, now)
            return self.result
        if self.state == "gathered":
            driver = self.driver(read_only=True)
            try:
                self.result["gathered"] = self.resource.read(driver, now).items
            finally:
                driver.close()
            return self.result
        return self.change(now)

    def change(self, now):
        """merged, replaced, overridden, deleted: lock, plan, (check: stop), apply, verify, secrets, flush, journal."""
        loaded = self.resource.load(self.params)
        p = self.params
        run = RunInfo(run_id=uuid.uuid4().hex[:16], actor=p.get("actor") or os.environ.get("USER") or "unknown",
                      host=socket.gethostname(), pid=os.getpid(), now=now, cooling_days=p.get("cooling_days"),
                      source=self.resource.source(p))
        self.result["run_id"] = run.run_id
        if not self.check and p.get("credentials_file"):
            problem = unwritable(p["credentials_file"])
            if problem:
                self.module.fail_json(msg="credentials_file %s: %s; nothing was changed" % (p["credentials_file"], problem))
        # the directories of the files this run writes, private (0750) when they are new; a check run writes only the
        # preview summary
        output_dirs(p.get("summary_file") if self.check else [p.get(k) for k in ("credentials_file", "audit_log", "summary_file")])
        driver = self.driver(read_only=self.check)
        locked = False
        try:
            if not self.check:
                taken = driver.lock(run, ttl=p.get("lock_ttl") or 3600)
                locked = True
                self.result["lock_taken_over"] = taken.get("taken_over")
                if taken.get("taken_over"):
                    self.module.warn("took over the lock of run %s, which did not finish (killed?); its committed work "
                                     "is kept and this run completes the rest" % taken["taken_over"])
            snap = self.resource.read(driver, now)
            plan, expected = self.preview(snap, loaded, run, now)
            if self.check:
                self.report(run, applied=False)
                return self.result
            pending = list(snap.pending_flush)
            if plan or run.applied_keys:
                pending = sorted(set(pending) | set(self.apply(driver, plan, run, expected, now)))
            self.flush(driver, pending)
            if p.get("audit_log"):
                journal.export(driver.journal_rows(), p["audit_log"], extra={"callserver": driver.describe()})
            self.report(run, applied=True)
            return self.result
        finally:
            if locked:
                try:
                    driver.unlock(run)
                except Exception:  # pylint: disable=broad-except
                    pass
            driver.close()

    def preview(self, snap, loaded, run, now):
        """Plan against ``before``; fill before/commands/operations/after/diff; returns (plan, expected after)."""
        plan, extra = self.resource.plan(self.state, loaded, snap, self.params, now, run)
        self.result.update(extra)
        needs = self.resource.needs_secret(plan)
        if needs and not self.check and not self.module.no_log and not self.params.get("credentials_file"):
            self.module.fail_json(msg="users %s get a new SIP password: run this task with no_log: true (the passwords "
                                      "are returned in 'credentials') or set credentials_file; nothing was changed"
                                      % ", ".join(needs[:10]), run_id=run.run_id)
        before = snap.items
        expected = self.resource.expected(before, plan)
        self.result.update(before=before, commands=[self.resource.describe(op) for op in plan], operations=plan,
                           after=expected, changed=bool(plan) or bool(run.applied_keys), audit_records=0,
                           total_users=len(expected))
        ids = set(op[KEY] for op in plan)
        if self.module._diff and plan:
            self.result["diff"] = {"before": dict((u[KEY], u) for u in before if u[KEY] in ids),
                                   "after": dict((u[KEY], u) for u in expected if u[KEY] in ids)}
            # a new secret shows in the diff as a changed line, never its value
            for key in needs:
                for side, mark in (("before", SECRET_KEPT), ("after", SECRET_NEW)):
                    if key in self.result["diff"][side]:
                        self.result["diff"][side][key] = dict(self.result["diff"][side][key], secret=mark)
        if self.summary():
            for key in ("before", "after", "operations"):
                self.result.pop(key)
        elif not self.params.get("return_unchanged", True):
            self.result.pop("operations")
            self.result["before"] = [u for u in before if u[KEY] in ids]
            self.result["after"] = [u for u in expected if u[KEY] in ids]
        return plan, expected

    def apply(self, driver, plan, run, expected, now):
        """Apply in one transaction, verify by reading back, hand out the secrets; returns AoRs to flush."""
        store = None
        if self.params.get("credentials_file"):
            # the passwords are durable before the commit that needs them: a crash at any point leaves either no
            # change, or a change whose passwords are in the file (a rerun after a rollback overwrites them)
            def store(credentials):
                write_secrets(self.params["credentials_file"], credentials)
        applied = driver.apply(plan, run, before_commit=store)
        reread = self.resource.read(driver, now).items
        self.result["verified"] = reread == expected
        if not self.result["verified"]:
            self.module.fail_json(msg="verification failed: the users read back from %s differ from the plan"
                                      % driver.describe(), **self.result)
        if self.params.get("return_unchanged", True) and not self.summary():
            self.result["after"] = reread
        if applied.credentials:
            # details=summary with a credentials_file: the passwords are in the file, not again in the result
            if self.module.no_log and not (self.summary() and self.params.get("credentials_file")):
                self.result["credentials"] = applied.credentials
        self.result["audit_records"] = len(applied.journal)
        return applied.flush

    def report(self, run, applied):
        """The run in words: RV ``summary`` (the job-log form) and, with ``summary_file``, every change in that file
        (mode 0640, atomic; also in check mode, as the preview - the callserver is never touched by it)."""
        lines = getattr(self.resource, "summary_lines", None)
        if lines is None:
            return
        self.result["summary"] = lines(self.result, self.params, run.actor, applied, limit=0)
        path = self.params.get("summary_file")
        if path:
            try:
                atomic_write(path, "\n".join(lines(self.result, self.params, run.actor, applied)) + "\n", mode=0o640)
            except (IOError, OSError) as exc:
                self.module.warn("could not write summary_file %s (%s)%s" % (
                    path, exc, "; the change is committed and in the audit journal" if applied else ""))

    def flush(self, driver, pending):
        """Drop the live registrations the change made obsolete (or say why not; the next run retries)."""
        if pending and driver.can_flush():
            try:
                self.result["flushed"] = driver.flush_registrations(pending)
            except Exception as exc:  # pylint: disable=broad-except
                self.module.warn("could not drop registrations of %s (%s); the next run retries"
                                 % (", ".join(pending), exc))
        elif pending:
            self.module.warn("registrations of %s were not dropped: set rpc_url (the next run with rpc_url does it)"
                             % ", ".join(pending))
