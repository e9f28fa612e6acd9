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
  - O(reissue_password) (or an HR row with action C(reissue)) gives a user who stays a new generated SIP password,
    the way a joiner gets one; the old password stops working at once.
  - Leavers are removed, their live registrations dropped (C(ul.rm) over JSON-RPC) and their numbers kept in
    cooling for O(cooling_days) (stored on the callserver database, so every AWX node sees it).
author: voipops maintainers (@voipops)
extends_documentation_fragment: [voipops.voip.callserver, voipops.voip.attributes, voipops.voip.attributes.CHANGES]
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
  details:
    description:
      - How much the result carries. V(full) returns the user records (RV(before), RV(after), RV(operations), as
        O(return_unchanged) says) and, under C(no_log), RV(credentials).
      - V(summary) returns the counts and the plan's RV(commands) only - no per-user records (for a 5,000-joiner batch
        that is about 1.5 MB less JSON through Ansible) - and no RV(credentials) when O(credentials_file) holds them.
        Everything else (RV(commands), RV(total_users), RV(audit_records), RV(verified), RV(pending), ...) is the
        same, and so are the diff in diff mode, the checks, the verification and what is written.
    type: str
    choices: [full, summary]
    default: full
    version_added: 0.2.0
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
  reissue_password:
    description:
      - Re-issue the SIP password of these users (a lost or leaked password, a phone handed to someone else).
        Each user gets a new generated password, stored like a joiner's (durable in O(credentials_file), mode 0600,
        before the transaction that sets it commits); the old one stops working and, with O(rpc_url), the live
        registrations made with it are dropped.
      - Each entry is applied once. The pair (C(id), C(reason)) is stored on the callserver with the run, so a
        rerun of the same task changes nothing (listed in RV(reissue_skipped)); give a new C(reason) (for example
        the next ticket number) to re-issue again.
      - Check and diff mode show which users get a new password (a C(secret) line in the diff), never a value.
        The audit journal records the re-issue (operation C(reissue), the reason, who and when), never the password.
      - Every id must be a managed user who is still there after the run (not a leaver of the same run); a joiner
        of the same run gets its first password anyway. Works with O(state=merged), V(replaced) and V(overridden),
        alone (no O(config) needed; O(numberplan) then is not needed either) or with a batch.
      - Not a secret itself (employee ids and reasons); the passwords it makes are handled like every generated one.
    type: list
    elements: dict
    suboptions:
      id:
        description: Employee id of the user.
        type: str
        required: true
      reason:
        description: Why (ticket number, incident); recorded in the audit journal and the key of the entry.
        type: str
        required: true
  cooling_days:
    description: Days a released number is refused for reuse (0 to 3650).
    type: int
    default: 90
  actor:
    description: Who runs the change, for the audit log (the AWX user when run from AWX).
    type: str
  audit_log:
    description: JSON-lines audit file to append the run's records to.
    type: path
  summary_file:
    description:
      - Text file (written atomically, mode 0640) to receive the run in words for people - source, callserver (its
        password masked), who, run id, every change line of RV(commands), the HR rows waiting for their date, what was
        skipped, the read-back and the audit log. RV(summary) is its short form for the job log.
      - Written in check mode too, as the preview (headed C(PREVIEW (nothing written))); the callserver is never
        touched by it. Leave it unset in a check run that must write nothing.
      - Missing directories of O(summary_file), O(credentials_file) and O(audit_log) are created with mode 0750.
    type: path
    version_added: 0.2.0
  credentials_file:
    description:
      - File (written atomically, mode 0600) to receive the generated SIP passwords of joiners and movers, as a JSON list
        of RV(credentials) records merged by C(id) with those already in it.
      - It is a valid O(voipops.voip.handset_provision#module:users_file).
    type: path
  now:
    description: Evaluate effective dates and expiry as of this UTC time instead of the clock (previews, tests).
    type: str
  lock_ttl:
    description: Seconds after which another run's lock is considered abandoned (60 to 604800).
    type: int
    default: 3600
notes:
  - Check mode reads only; the database is byte-identical afterwards. The one file a check run writes is
    O(summary_file), the preview, when it is set.
  - Every state but V(rendered) and V(parsed) needs O(db_url) and O(domain) (there is no default domain).
  - With O(rpc_url), the live registrations of leavers and movers are dropped (Kamailio C(ul.rm) over JSON-RPC);
    without it, the next run that has it drops them.
  - O(rpc_timeout) is accepted as an alias of O(timeout).
  - Kamailio reads these tables at call time (auth_db, alias_db, group, avpops); no reload is needed.
requirements:
  - requests (when O(rpc_url) is used)
  - psycopg (3) (for a PostgreSQL O(db_url))
"""

EXAMPLES = r"""
- name: A joiner with a temporary international grant
  voipops.voip.callserver_users:
    db_url: sqlite:////var/lib/kamailio/kamailio.db
    rpc_url: http://127.0.0.1:5071/RPC
    domain: voip.example.org
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
    domain: voip.example.org
    numberplan: inventories/lab/estate.yml
    src: inventories/lab/users.yml
    credentials_file: /var/lib/voipops/credentials.json
    audit_log: /var/log/voipops/user_mutations.jsonl
    state: overridden

- name: Apply today's HR batch (connection from module_defaults, or from an AWX credential's VOIPOPS_CALLSERVER_* variables)
  module_defaults:
    group/voipops.voip.callserver:
      db_url: sqlite:////var/lib/kamailio/kamailio.db
      rpc_url: http://127.0.0.1:5071/RPC
      domain: voip.example.org
  voipops.voip.callserver_users:
    numberplan: inventories/lab/estate.yml
    hr_csv: inventories/lab/hr_batch.csv
    state: merged
  no_log: true

- name: Re-issue a user's SIP password (once per reason; the new one goes to the credentials file only)
  voipops.voip.callserver_users:
    db_url: sqlite:////var/lib/kamailio/kamailio.db
    domain: voip.example.org
    reissue_password:
      - id: E1042
        reason: INC0042 phone stolen
    credentials_file: /var/lib/voipops/credentials.json
  no_log: true

- name: Read the users
  voipops.voip.callserver_users:
    db_url: sqlite:////var/lib/kamailio/kamailio.db
    domain: voip.example.org
    state: gathered
  register: current
"""

RETURN = r"""
before:
  description: Managed users before the run (canonical form).
  returned: when state is merged, replaced, overridden or deleted, and details is full
  type: list
  elements: dict
after:
  description: Managed users after the run (in check mode, as they would be).
  returned: when state is merged, replaced, overridden or deleted, and details is full
  type: list
  elements: dict
commands:
  description: The plan, one line per operation, secrets masked.
  returned: when state is merged, replaced, overridden or deleted
  type: list
  elements: str
  sample: ["add user E1042 ext 1042 site ams class national password ********"]
operations:
  description: The plan as data (op, id, before, after, changes, cool, cool_until, revoked, new_password, reissue).
  returned: when state is merged, replaced, overridden or deleted, details is full and return_unchanged is true
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
  description:
    - Generated SIP passwords of joiners and movers. Only under no_log.
    - Each record has C(id), C(extension), C(display_name), C(username), C(domain) and C(sip_password) - the shape
      M(voipops.voip.handset_provision) reads from O(voipops.voip.handset_provision#module:users_file), so the
      O(credentials_file) can be passed to it as is - and C(password) (the same as C(sip_password)).
  returned: >-
    when users got a new password and the task runs with no_log (with details=summary, only when no credentials_file
    holds them)
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
reissued:
  description: Users whose SIP password this run re-issues (C(id), C(reason)); never the password.
  returned: when state is merged, replaced or overridden
  type: list
  elements: dict
  sample: [{"id": "E1042", "reason": "INC0042 phone stolen"}]
reissue_skipped:
  description: O(reissue_password) entries applied by an earlier run (same id and reason), so not again.
  returned: when reissue_password is given
  type: list
  elements: dict
flushed:
  description: AoRs whose live registrations were dropped.
  returned: when something was deleted, moved or re-issued and rpc_url is given
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
summary:
  description:
    - The run in words, short form for a job log (the header, the number of changes, what waits, the read-back);
      O(summary_file) gets the same with every change line.
  returned: when state is merged, replaced, overridden or deleted
  type: list
  elements: str
  sample: ["User mutations applied", "  source:     hr.csv", "  changes:    2", "    ... and 2 more: out/summary.txt"]
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

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.voipops.voip.plugins.module_utils.callservers.base import DriverError, callserver_argspec
from ansible_collections.voipops.voip.plugins.module_utils.resource import ResourceModule
from ansible_collections.voipops.voip.plugins.module_utils.source import SourceError, SourceErrors
from ansible_collections.voipops.voip.plugins.module_utils.users import STATES
from ansible_collections.voipops.voip.plugins.module_utils.users_resource import UsersResource


def argument_spec():
    spec = callserver_argspec()
    spec.update(
        state=dict(type="str", default="merged", choices=list(STATES)),
        config=dict(type="list", elements="dict"),
        return_unchanged=dict(type="bool", default=True),
        details=dict(type="str", default="full", choices=["full", "summary"]),
        src=dict(type="path"), hr_csv=dict(type="path"), running_config=dict(type="str"),
        numberplan=dict(type="raw"),
        cooling_days=dict(type="int", default=90), actor=dict(type="str"), audit_log=dict(type="path"),
        credentials_file=dict(type="path"), summary_file=dict(type="path"), now=dict(type="str"), lock_ttl=dict(type="int", default=3600),
        # employee ids and reasons, not secrets (the passwords it makes follow the no_log/credentials_file rule)
        reissue_password=dict(type="list", elements="dict", no_log=False, options=dict(
            id=dict(type="str", required=True), reason=dict(type="str", required=True))),
    )
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           mutually_exclusive=[("config", "src", "hr_csv", "running_config")])
    try:
        result = ResourceModule(module, UsersResource()).execute_module()
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
