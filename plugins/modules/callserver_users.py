#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: callserver_users
short_description: Manage user profiles on a callserver (joiners, movers, leavers, features)
version_added: 0.1.0
description:
  - A network resource module for the users of a callserver (Kamailio today) - extension, aliases/DIDs,
    class of service, call forwarding, do-not-disturb, voicemail, hunt groups, with optional expiry
    (C(until)) that the callserver enforces itself.
  - The whole input is validated before anything is written (duplicate id or number, extension outside its
    site's range, number in cooling, unknown site/feature/class, bad E.164, bad or past C(until), leaver who
    does not exist, mover to a taken extension); every error names file, line and field.
  - All changes of a run are applied in ONE database transaction, together with the audit records, the cooling
    numbers and the applied HR rows; a run killed halfway changes nothing and the next run completes it.
  - Expired temporary grants are revoked on every run that changes something (merged, replaced, overridden,
    deleted).
  - Joiners and movers get a new generated SIP password (only its digest, ha1/ha1b, is stored). The module
    refuses to create one unless the task runs with C(no_log) or O(credentials_file) is set.
  - Leavers are removed, their live registrations dropped (C(ul.rm) over JSON-RPC) and their numbers kept in
    cooling for O(cooling_days) (stored on the callserver database, so every AWX node sees it).
author: voipops maintainers (@voipops)
extends_documentation_fragment: [voipops.voip.attributes, voipops.voip.attributes.CHANGES]
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  state:
    description:
      - C(merged) adds the given users and updates only the given attributes (features merge by name).
      - C(replaced) replaces each given user entirely (attributes not given are removed).
      - C(overridden) makes the managed user set exactly O(config); users not listed are removed (leavers).
        Subscribers on the callserver without an employee id (not managed here) are left alone.
      - C(deleted) removes the given users (only C(id) matters), or every managed user when O(config) is empty.
      - C(gathered) reads the users from the callserver and returns them in RV(gathered); changes nothing.
      - C(rendered) validates O(config) and returns the users in RV(rendered) without any connection.
      - C(parsed) parses O(running_config) (an HR CSV or a YAML desired state) into RV(parsed) without any connection.
    type: str
    choices: [merged, replaced, overridden, deleted, gathered, rendered, parsed]
    default: merged
  config:
    description:
      - The users (desired state). Mutually exclusive with O(src) and O(hr_csv).
      - "Each user is a mapping with these keys (validated by the collection itself, so that every error of a whole
        batch is reported at once with its index/line and field): C(id) (employee id, the stable key, required),
        C(name), C(email), C(site) (must exist in O(numberplan) and own the extension), C(extension) (2-8 digits,
        not starting with 0 or 9), C(aliases) (list of E.164 numbers, C(+31201234567)), C(class_of_service)
        (C(internal), C(national) or C(international)), C(class_of_service_grant) (mapping C(class_of_service) +
        C(until), a higher class until an absolute UTC time C(2026-12-31T23:59:00Z)), C(features) (list of mappings
        C(name) + optional C(target) + optional C(until); names C(cfu), C(cfb), C(cfnr) (call forward unconditional,
        busy, no answer; target = number), C(dnd), C(voicemail), C(hunt_group) (target = group name))."
      - For O(state=merged) and O(state=deleted) only C(id) is required; new, replaced and overridden users need
        C(extension), C(site) and C(class_of_service).
    type: list
    elements: dict
  return_unchanged:
    description:
      - Return every managed user in RV(before) and RV(after). Set to V(false) for large estates to return only the
        users this run changes (RV(total_users) still counts all).
    type: bool
    default: true
  src:
    description: Path of a YAML desired state (C(users:) list, same keys as O(config)); errors then name its lines.
    type: path
  hr_csv:
    description:
      - Path of an HR export CSV (see the user guide for the columns). Rows dated in the future wait;
        rows already applied are recognised and skipped. Only with O(state=merged).
    type: path
  running_config:
    description: Text for O(state=parsed) (HR CSV or YAML desired state).
    type: str
  numberplan:
    description:
      - "Site number plan: the estate (its sites' C(extensions)), as the path of the estate YAML file or its data."
      - "Also accepted (backward compatible): a number plan C({sites: {ams: {ranges: [1000-1999]}}}) or its file."
    type: raw
  db_url:
    description: Kamailio's database, C(sqlite:////abs/kamailio.db) or C(postgres://user:password@host:port/db).
    type: str
  domain:
    description: SIP domain (and digest realm) of the users.
    type: str
    default: voip.lab
  rpc_url:
    description: Kamailio JSON-RPC URL, used to drop live registrations of leavers and movers.
    type: str
  rpc_timeout:
    description: JSON-RPC timeout in seconds.
    type: float
    default: 5.0
  cooling_days:
    description: Days a released number is refused for reuse.
    type: int
    default: 90
  actor:
    description: Who runs the change, for the audit log (the AWX user when run from AWX).
    type: str
  audit_log:
    description: JSON-lines audit file to append the run's records to.
    type: path
  credentials_file:
    description: File (written mode 0600) to receive the generated SIP passwords of joiners and movers, as JSON.
    type: path
  now:
    description: Evaluate effective dates and expiry as of this UTC time instead of the clock (previews, tests).
    type: str
  lock_ttl:
    description: Seconds after which another run's lock is considered abandoned.
    type: int
    default: 3600
notes:
  - Check mode reads only; the database is byte-identical afterwards.
  - Kamailio reads these tables at call time (auth_db, alias_db, group, avpops); no reload is needed.
"""

EXAMPLES = r"""
- name: A joiner with a temporary international grant
  voipops.voip.callserver_users:
    db_url: sqlite:////var/lib/kamailio/kamailio.db
    rpc_url: http://127.0.0.1:5071/RPC
    numberplan: inventories/lab/estate.yml
    config:
      - id: E1042
        name: Ada Lovelace
        site: ams
        extension: "1042"
        aliases: ["+31201231042"]
        class_of_service: national
        class_of_service_grant: {class_of_service: international, until: "2026-12-31T23:59:00Z"}
        features:
          - {name: voicemail}
          - {name: cfnr, target: "1043"}
    state: merged
  no_log: true
  register: joined

- name: The whole user set from the YAML source of truth (leavers disappear)
  voipops.voip.callserver_users:
    db_url: sqlite:////var/lib/kamailio/kamailio.db
    rpc_url: http://127.0.0.1:5071/RPC
    numberplan: inventories/lab/estate.yml
    src: inventories/lab/users.yml
    credentials_file: /var/lib/voipops/credentials.json
    audit_log: /var/log/voipops/user_mutations.jsonl
    state: overridden

- name: Apply today's HR batch
  voipops.voip.callserver_users:
    db_url: sqlite:////var/lib/kamailio/kamailio.db
    numberplan: inventories/lab/estate.yml
    hr_csv: inventories/lab/hr_batch.csv
    state: merged
  no_log: true

- name: Read the users
  voipops.voip.callserver_users:
    db_url: sqlite:////var/lib/kamailio/kamailio.db
    state: gathered
  register: current
"""

RETURN = r"""
before:
  description: Managed users before the run (canonical form).
  returned: when state is merged, replaced, overridden or deleted
  type: list
  elements: dict
after:
  description: Managed users after the run (in check mode, as they would be).
  returned: when state is merged, replaced, overridden or deleted
  type: list
  elements: dict
commands:
  description: The plan, one line per operation, secrets masked.
  returned: when state is merged, replaced, overridden or deleted
  type: list
  elements: str
  sample: ["add user E1042 ext 1042 site ams class national password ********"]
operations:
  description: The plan as data (op, id, before, after, changes, cool, cool_until, revoked).
  returned: when state is merged, replaced, overridden or deleted, and return_unchanged is true
  type: list
  elements: dict
gathered:
  description: Users read from the callserver.
  returned: when state is gathered
  type: list
  elements: dict
rendered:
  description: The validated users (canonical form), no connection made.
  returned: when state is rendered
  type: list
  elements: dict
parsed:
  description: Users parsed from O(running_config); for an HR CSV, one item per row with action, effective_date, line, user.
  returned: when state is parsed
  type: list
  elements: dict
credentials:
  description: Generated SIP passwords of joiners and movers (id, username, domain, password). Only under no_log.
  returned: when users got a new password and the task runs with no_log
  type: list
  elements: dict
pending:
  description: HR rows dated in the future (they wait for their effective date).
  returned: when hr_csv is given
  type: list
  elements: dict
already_applied:
  description: HR rows applied by an earlier run (skipped).
  returned: when hr_csv is given
  type: list
  elements: dict
flushed:
  description: AoRs whose live registrations were dropped.
  returned: when something was deleted or moved and rpc_url is given
  type: list
  elements: str
audit_records:
  description: Number of audit records written (database journal and O(audit_log)).
  returned: when state is merged, replaced, overridden or deleted
  type: int
total_users:
  description: Number of managed users after the run (in check mode, as it would be).
  returned: when state is merged, replaced, overridden or deleted
  type: int
verified:
  description: True when the users read back after the change equal the planned result.
  returned: when changes were applied
  type: bool
run_id:
  description: Identifier of this run (audit records, lock).
  returned: when state is merged, replaced, overridden or deleted
  type: str
lock_taken_over:
  description:
    - The run id of an earlier run whose lock this run took over because that run died (killed, host crashed) or its
      lock expired; its committed work is kept and this run completes the rest. Null when the lock was free.
  returned: when state is merged, replaced, overridden or deleted and not in check mode
  type: str
errors:
  description: Every validation error (file, line, object, field, message) when the input is rejected.
  returned: on failure caused by bad input
  type: list
  elements: dict
"""

import json
import os
import socket
import uuid

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.voipops.voip.plugins.module_utils.callservers.base import DriverError, RunInfo
from ansible_collections.voipops.voip.plugins.module_utils import users as U
from ansible_collections.voipops.voip.plugins.module_utils.source import SourceError, SourceErrors, load_yaml

CHANGE_STATES = ("merged", "replaced", "overridden", "deleted")


def argument_spec():
    return dict(
        state=dict(type="str", default="merged", choices=list(U.STATES)),
        config=dict(type="list", elements="dict"),
        return_unchanged=dict(type="bool", default=True),
        src=dict(type="path"), hr_csv=dict(type="path"), running_config=dict(type="str"),
        numberplan=dict(type="raw"), db_url=dict(type="str"), domain=dict(type="str", default="voip.lab"),
        rpc_url=dict(type="str"), rpc_timeout=dict(type="float", default=5.0),
        cooling_days=dict(type="int", default=90), actor=dict(type="str"), audit_log=dict(type="path"),
        credentials_file=dict(type="path"), now=dict(type="str"), lock_ttl=dict(type="int", default=3600),
    )


def _strip_none(d):
    if isinstance(d, dict):
        return dict((k, _strip_none(v)) for k, v in d.items() if v is not None)
    if isinstance(d, list):
        return [_strip_none(v) for v in d]
    return d


def load_input(p, partial):
    """Desired users from config or src (with lines), validated per record."""
    if p["src"]:
        data = load_yaml(p["src"])
        errors = U.ErrorCollector(p["src"])
        want = U.load_config(data, path=p["src"], partial=partial, errors=errors)
    else:
        errors = U.ErrorCollector("config")
        want = U.load_config(_strip_none(p["config"] or []), path="config", partial=partial, errors=errors)
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


def run_module(module):
    p = module.params
    state = p["state"]
    result = {"changed": False}
    now = U.parse_until(p["now"])[1] if p["now"] else U.utcnow()

    if state == "parsed":
        if p["running_config"] is None:
            module.fail_json(msg="state=parsed needs running_config")
        result["parsed"] = U.parse_running_config(p["running_config"])
        return result
    if state == "rendered":
        plan = U.NumberPlan.load(p["numberplan"]) if p["numberplan"] else None
        want, pre = load_input(p, partial=False)
        if plan is not None:
            validate_all("replaced", want, pre, U.Context(now=now), plan, p["src"] or "config")
        elif pre:
            raise SourceErrors(pre)
        result["rendered"] = [U.strip_meta(u) for u in want]
        return result

    if not p["db_url"]:
        module.fail_json(msg="state=%s needs db_url (the callserver database)" % state)
    from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio_db import KamailioDB

    if state == "gathered":
        db = KamailioDB(p["db_url"], p["domain"], write=False)
        try:
            snap = db.read_users(now=now)
        finally:
            db.close()
        result["gathered"] = snap.users
        return result

    if p["hr_csv"] and state != "merged":
        module.fail_json(msg="hr_csv is an HR batch of join/move/leave/change rows: use it with state=merged")
    if state != "deleted" and not p["numberplan"]:
        module.fail_json(msg="state=%s needs numberplan (site extension ranges) to validate the users" % state)
    numberplan = U.NumberPlan.load(p["numberplan"]) if p["numberplan"] else None
    hr_rows = None
    if p["hr_csv"]:
        with open(p["hr_csv"], "r", encoding="utf-8", newline="") as handle:
            hr_rows = U.parse_hr_csv(handle.read(), path=p["hr_csv"])
        want, pre = [], []
    else:
        want, pre = load_input(p, partial=state in ("merged", "deleted"))

    check = module.check_mode
    run = RunInfo(run_id=uuid.uuid4().hex[:16], actor=p["actor"] or os.environ.get("USER") or "unknown",
                  host=socket.gethostname(), pid=os.getpid(), now=now, cooling_days=p["cooling_days"],
                  source=p["hr_csv"] or p["src"] or "config")
    result["run_id"] = run.run_id
    db = KamailioDB(p["db_url"], p["domain"], write=not check)
    locked = False
    try:
        if not check:
            taken = db.lock(run, ttl=p["lock_ttl"])
            locked = True
            result["lock_taken_over"] = taken.get("taken_over")
            if taken.get("taken_over"):
                module.warn("took over the lock of run %s, which did not finish (killed?); its committed work is kept "
                            "and this run completes the rest" % taken["taken_over"])
        snap = db.read_users(now=now)
        ctx = U.Context(have=snap.users, cooling=snap.cooling, unmanaged=snap.unmanaged, now=now)
        deleted_ids = []
        if hr_rows is not None:
            want, deleted_ids, info = U.apply_hr_rows(hr_rows, ctx, numberplan, applied_keys=snap.applied_keys,
                                                      path=p["hr_csv"])
            run.applied_keys = info["applied"]
            result["pending"] = info["pending"]
            result["already_applied"] = info["already_applied"]
            plan = U.plan_users("replaced", want, snap.users, now=now, cooling_days=p["cooling_days"],
                                deleted_ids=deleted_ids)
        else:
            validate_all(state, want, pre, ctx, numberplan, p["src"] or "config")
            plan = U.plan_users(state, want, snap.users, now=now, cooling_days=p["cooling_days"])
        needs_pw = [op["id"] for op in plan if op["op"] == "add" or op.get("new_password")]
        if needs_pw and not check and not module.no_log and not p["credentials_file"]:
            module.fail_json(msg="users %s get a new SIP password: run this task with no_log: true (the passwords are "
                                 "returned in 'credentials') or set credentials_file; nothing was changed"
                                 % ", ".join(needs_pw[:10]), run_id=run.run_id)
        result["before"] = snap.users
        result["commands"] = [U.describe(op) for op in plan]
        result["operations"] = plan
        expected = U.apply_plan_to(snap.users, plan)
        result["after"] = expected
        result["changed"] = bool(plan) or bool(run.applied_keys)
        if module._diff and plan:
            ids = set(op["id"] for op in plan)
            result["diff"] = {
                "before": dict((u["id"], u) for u in snap.users if u["id"] in ids),
                "after": dict((u["id"], u) for u in expected if u["id"] in ids),
            }
        result["audit_records"] = 0
        result["total_users"] = len(expected)
        if not p["return_unchanged"]:
            ids = set(op["id"] for op in plan)
            result.pop("operations")
            result["before"] = [u for u in snap.users if u["id"] in ids]
            result["after"] = [u for u in expected if u["id"] in ids]
        if check:
            return result
        pending = list(snap.pending_flush)
        if plan or run.applied_keys:
            applied = db.apply(plan, run)
            pending = sorted(set(pending) | set(applied.flush))
            reread = db.read_users(now=now).users
            result["verified"] = reread == expected
            if not result["verified"]:
                module.fail_json(msg="verification failed: the users read back from %s differ from the plan" % p["db_url"],
                                 **result)
            if p["return_unchanged"]:
                result["after"] = reread
            if applied.credentials:
                if p["credentials_file"]:
                    _write_secret_json(p["credentials_file"], applied.credentials)
                if module.no_log:
                    result["credentials"] = applied.credentials
            result["audit_records"] = len(applied.journal)
        if pending and p["rpc_url"]:
            from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio import KamailioRPC
            rpc = KamailioRPC(p["rpc_url"], timeout=p["rpc_timeout"])
            try:
                result["flushed"] = db.flush_registrations(pending, rpc=rpc)
            except Exception as exc:  # pylint: disable=broad-except
                module.warn("could not drop registrations of %s (%s); the next run retries" % (", ".join(pending), exc))
        elif pending:
            module.warn("registrations of %s were not dropped: set rpc_url (the next run with rpc_url does it)"
                        % ", ".join(pending))
        if p["audit_log"]:
            from ansible_collections.voipops.voip.plugins.module_utils import journal
            journal.export(db.journal_rows(), p["audit_log"], extra={"callserver": _mask_url(p["db_url"])})
        return result
    finally:
        if locked:
            try:
                db.unlock(run)
            except Exception:  # pylint: disable=broad-except
                pass
        db.close()


def _mask_url(url):
    from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio_db import _mask
    return _mask(url)


def _write_secret_json(path, data):
    existing = []
    if os.path.exists(path):
        with open(path) as handle:
            try:
                existing = json.load(handle)
            except ValueError:
                existing = []
    byid = dict((c["id"], c) for c in existing if isinstance(c, dict) and "id" in c)
    for c in data:
        byid[c["id"]] = c
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(sorted(byid.values(), key=lambda c: c["id"]), handle, indent=1)
    os.replace(path + ".tmp", path)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           mutually_exclusive=[("config", "src", "hr_csv", "running_config")])
    try:
        result = run_module(module)
    except SourceErrors as exc:
        module.fail_json(msg=str(exc), errors=exc.as_list())
    except SourceError as exc:
        module.fail_json(msg=str(exc), errors=[exc.as_dict()])
    except DriverError as exc:
        module.fail_json(msg=str(exc))
    except (IOError, OSError) as exc:
        module.fail_json(msg="cannot read input: %s" % exc)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
