# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The users of a callserver as a resource of ``resource.ResourceModule`` (the module ``callserver_users``).

How the input (``config``, ``src``, ``hr_csv``, ``running_config``) is loaded, validated as a whole against the
callserver's current users and planned; the model, the validators and the pure planner are ``users.py``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.voipops.voip.plugins.module_utils import users as U
from ansible_collections.voipops.voip.plugins.module_utils.fileio import mask_url
from ansible_collections.voipops.voip.plugins.module_utils.source import (
    SourceError, SourceErrors, _no_control, load_yaml, read_text,
)


def strip_none(d):
    if isinstance(d, dict):
        return dict((k, strip_none(v)) for k, v in d.items() if v is not None)
    if isinstance(d, list):
        return [strip_none(v) for v in d]
    return d


def load_input(p, partial):
    """Desired users from config or src (with lines), validated per record -> (users, per-record errors)."""
    if p["src"]:
        data = load_yaml(p["src"])
        errors = U.ErrorCollector(p["src"])
        want = U.load_config(data, path=p["src"], partial=partial, errors=errors)
    else:
        errors = U.ErrorCollector("config")
        want = U.load_config(strip_none(p["config"] or []), path="config", partial=partial, errors=errors)
    return want, errors.errors


def validate_all(state, want, pre_errors, ctx, numberplan, path):
    """Per-record errors and cross-record errors are reported together (the whole input at once)."""
    errors = list(pre_errors)
    if state != "deleted":
        try:
            U.validate_batch(state, want, ctx, numberplan, path=path)
        except SourceErrors as exc:
            errors.extend(exc.errors)
    if errors:
        raise SourceErrors(sorted(errors, key=lambda e: (e.path or "", e.line or 0)))


class Loaded(object):
    """The validated-per-record input of a change: users or HR rows, and the number plan."""

    def __init__(self, want=None, pre_errors=None, hr_rows=None, numberplan=None):
        self.want = want or []
        self.pre_errors = pre_errors or []
        self.hr_rows = hr_rows
        self.numberplan = numberplan


class UsersResource(object):
    """Users: keyed by employee ``id``; a plan is ``users.plan_users``' list of operations."""

    def now(self, p):
        try:
            return U.parse_until(p["now"])[1] if p["now"] else U.utcnow()
        except ValueError as exc:
            raise SourceError("%s" % exc, field="now")

    def source(self, p):
        return p["hr_csv"] or p["src"] or "config"

    def parse(self, p):
        return U.parse_running_config(p["running_config"])

    def render(self, p, now):
        plan = U.NumberPlan.load(p["numberplan"]) if p["numberplan"] else None
        want, pre = load_input(p, partial=False)
        if plan is not None:
            validate_all("replaced", want, pre, U.Context(now=now), plan, p["src"] or "config")
        elif pre:
            raise SourceErrors(pre)
        return [U.strip_meta(u) for u in want]

    def check_params(self, p):
        """What is missing or contradictory for ``state`` (a message), or None."""
        state = p["state"]
        for name, low, high in (("cooling_days", 0, 3650), ("lock_ttl", 60, 7 * 86400)):
            if p.get(name) is not None and not low <= p[name] <= high:
                return "%s must be between %d and %d, not %d" % (name, low, high, p[name])
        if state == "parsed":
            return "state=parsed needs running_config" if p["running_config"] is None else None
        if state == "rendered":
            return None
        if not p["db_url"]:
            return "state=%s needs db_url (the callserver database)" % state
        if state == "gathered":
            return None
        if p["reissue_password"] and state not in ("merged", "replaced", "overridden"):
            return "reissue_password re-issues passwords of users who stay: use it with state merged, replaced or overridden"
        if p["hr_csv"] and state != "merged":
            return "hr_csv is an HR batch of join/move/leave/change rows: use it with state=merged"
        if state != "deleted" and not p["numberplan"] and not (p["reissue_password"] and not (p["config"] or p["src"])):
            return "state=%s needs numberplan (site extension ranges) to validate the users" % state
        return None

    def load(self, p):
        numberplan = U.NumberPlan.load(p["numberplan"]) if p["numberplan"] else None
        if p["hr_csv"]:
            return Loaded(hr_rows=U.parse_hr_csv(read_text(p["hr_csv"]), path=p["hr_csv"]), numberplan=numberplan)
        want, pre = load_input(p, partial=p["state"] in ("merged", "deleted"))
        return Loaded(want=want, pre_errors=pre, numberplan=numberplan)

    def read(self, driver, now):
        return driver.read_users(now=now)

    def plan(self, state, loaded, snap, p, now, run):
        """Validate the input against the callserver's users and plan -> (plan, extra result keys)."""
        ctx = U.Context(have=snap.users, cooling=snap.cooling, unmanaged=snap.unmanaged, now=now)
        reissue, keys, extra = self.reissue_requests(p, snap)
        if loaded.hr_rows is not None:
            want, deleted_ids, info = U.apply_hr_rows(loaded.hr_rows, ctx, loaded.numberplan,
                                                      applied_keys=snap.applied_keys, path=p["hr_csv"])
            for uid, reason in info.get("reissue", {}).items():
                reissue.setdefault(uid, reason)
            run.applied_keys = info["applied"] + keys
            plan = U.plan_users("replaced", want, snap.users, now=now, cooling_days=p["cooling_days"],
                                deleted_ids=deleted_ids, reissue=reissue)
            extra.update(pending=info["pending"], already_applied=info["already_applied"])
        else:
            if loaded.want or loaded.pre_errors or not p["reissue_password"]:
                validate_all(state, loaded.want, loaded.pre_errors, ctx, loaded.numberplan, p["src"] or "config")
            run.applied_keys = keys
            plan = U.plan_users(state, loaded.want, snap.users, now=now, cooling_days=p["cooling_days"],
                                reissue=reissue)
        self.check_reissued(p, plan, snap)
        extra["reissued"] = [{"id": op["id"], "reason": op["reissue"]} for op in plan if op.get("reissue")]
        return plan, extra

    def reissue_requests(self, p, snap):
        """``reissue_password`` entries not applied yet -> ({id: reason}, their keys, {"reissue_skipped": [...]})."""
        reissue, keys, skipped = {}, [], []
        applied = set(snap.applied_keys)
        for i, entry in enumerate(p.get("reissue_password") or []):
            uid, reason = str(entry["id"]).strip(), str(entry["reason"]).strip()
            for name, value in (("id", uid), ("reason", reason)):
                try:
                    if not _no_control(value):
                        raise ValueError("is empty")
                except ValueError as exc:
                    raise SourceError(str(exc), obj="reissue_password[%d]" % i, field=name)
            key = U.reissue_key(uid, reason)
            if key in applied:
                skipped.append({"id": uid, "reason": reason})
            elif uid not in reissue:
                reissue[uid] = reason
                keys.append(key)
        return reissue, keys, {"reissue_skipped": skipped} if p.get("reissue_password") else {}

    def check_reissued(self, p, plan, snap):
        """Every ``reissue_password`` id is a user who stays on the callserver (not a leaver, not unknown)."""
        stays = set(u["id"] for u in U.apply_plan_to(snap.users, plan))
        for i, entry in enumerate(p.get("reissue_password") or []):
            uid = str(entry["id"]).strip()
            if uid not in stays:
                raise SourceError("user '%s' %s: no password to re-issue" % (
                    uid, "leaves in this run" if uid in set(u["id"] for u in snap.users) else
                    "does not exist on the callserver"), obj="reissue_password[%d]" % i,
                    field="id")

    def describe(self, op):
        return U.describe(op)

    def expected(self, items, plan):
        return U.apply_plan_to(items, plan)

    def needs_secret(self, plan):
        return [op["id"] for op in plan if op["op"] == "add" or op.get("new_password")]

    def summary_lines(self, result, params, actor, applied, limit=None):
        return summary_lines(result, params, actor, applied, limit=limit)


def summary_lines(result, params, actor, applied, limit=None):
    """The run in words for people: a header, every change (or the first ``limit``), the rows waiting for their date,
    what was skipped, the read-back and the audit log.  ``summary_file`` gets it whole; the job log (``summary``) the
    form with ``limit=0``."""
    commands = result.get("commands") or []
    pending = result.get("pending") or []
    out = ["User mutations %s" % ("applied" if applied else "PREVIEW (nothing written)"),
           "  source:     %s" % (params.get("hr_csv") or params.get("src") or "config"),
           "  callserver: %s" % mask_url(params.get("db_url") or ""),
           "  run by:     %s   run id: %s" % (actor, result.get("run_id") or "-"),
           "  changes:    %d" % len(commands)]
    if limit is not None:  # the job log: db_url is a no_log option, so Ansible would mask the whole line anyway
        del out[2]
    shown = commands if limit is None else commands[:limit]
    out.extend("    - %s" % c for c in shown)
    if len(shown) < len(commands):
        out.append("    ... and %d more: %s" % (len(commands) - len(shown), params.get("summary_file") or "the commands"))
    if pending:
        out.append("  waiting for their effective date:%s" % ("" if limit is None else " %d row(s)" % len(pending)))
        out.extend("    - line %s: %s %s on %s" % (r.get("line"), r.get("action"), r.get("employee_id"), r.get("effective_date"))
                   for r in (pending if limit is None else pending[:limit]))
    if result.get("already_applied"):
        out.append("  already applied earlier: %d row(s)" % len(result["already_applied"]))
    if result.get("reissue_skipped"):
        out.append("  password re-issues already done earlier (same id and reason): %s"
                   % ", ".join(r["id"] for r in result["reissue_skipped"]))
    if result.get("flushed"):
        out.append("  registrations dropped: %s" % ", ".join(result["flushed"]))
    if applied:
        out.append("  verified by read-back: %s" % result.get("verified", True))
        if params.get("audit_log"):
            out.append("  audit log: %s (%d record(s) this run)" % (params["audit_log"], result.get("audit_records") or 0))
        out.append("  users on the callserver: %s" % result.get("total_users"))
    return out
