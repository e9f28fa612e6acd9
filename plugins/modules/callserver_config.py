#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: callserver_config
short_description: Release a callserver configuration safely - check, trial start, backup, swap, restart, gate, roll back
version_added: 0.2.0
description:
  - Puts a new callserver configuration (Kamailio's C(kamailio.cfg)) live only after it has proved it starts.
  - "Validation: the platform's syntax check (C(kamailio -c)), then a B(trial start) of the candidate beside the live
    instance: every C(listen=) socket moved to a spare 127.0.0.1 port, a private C(run_dir), copies of its SQLite
    databases (a networked database is used as it is). The trial must answer JSON-RPC C(core.version) and SIP OPTIONS
    within O(trial_timeout). This catches what C(kamailio -c) passes but a start refuses: an unreachable or missing
    database, an undefined C(route(X)), a missing file, a port in use. A refused candidate changes nothing: the live
    file and the running callserver are untouched."
  - "Release: the live file is kept in O(backup_dir) (the newest O(keep) versions), the candidate replaces it
    atomically and O(restart_command) restarts the real instance (Kamailio has no reload of its routing script)."
  - "Health gate: JSON-RPC answers, SIP OPTIONS to O(sip_uri) is answered and the registrations are back to at least
    O(min_registrations) of those before, within O(gate_timeout). A failed gate (or a failed restart) puts the previous
    configuration back, restarts again and fails the task with RV(rolled_back=true)."
  - "Test call: with O(test_call_number) and an account (O(test_call_username), O(test_call_password)), the gate also
    places a test call (the C(voipops.voip.sip_call) client: INVITE with Digest auth, BYE after 0.2 s) through the
    restarted callserver to that number, one routed to the gateway group, and requires it answered. A configuration
    that starts, answers OPTIONS and keeps the registrations but no longer routes to the gateways (a wrong dispatcher
    set, a route that replies 503) fails the gate and is rolled back. Without a number or an account no test call is
    placed and RV(test_call) says so. The trial start places no test call (see the guide)."
  - A continuous OPTIONS probe during the swap and the gate reports the service gap in milliseconds.
  - The same configuration again changes nothing (no check, no restart).
author: voipops maintainers (@voipops)
extends_documentation_fragment:
  - voipops.voip.callserver
  - voipops.voip.attributes
  - voipops.voip.attributes.CHANGES
attributes:
  check_mode:
    support: full
    details: Runs the syntax check and the trial start (which touch nothing live) and shows the diff; no file is written and nothing restarts.
  diff_mode:
    support: full
    details: The diff of the live configuration file against the candidate.
  idempotent:
    support: full
options:
  rpc_url:
    required: true
  path:
    description: The live configuration file the callserver runs.
    type: path
    required: true
  src:
    description: A file holding the candidate configuration. One of O(src) and O(content) is required.
    type: path
  content:
    description:
      - The candidate configuration itself, for example C(lookup('ansible.builtin.template', 'kamailio.cfg.j2')).
    type: str
  restart_command:
    description:
      - The command (program and arguments, no shell) that restarts the real callserver on its configuration file,
        the way the host supervises it, for example V([systemctl, restart, kamailio]).
      - The embedded lab's is V([python3, <collection>/roles/lab/files/lab_restart.py, <lab>/run/kamailio.pid]).
      - Required unless in check mode or when nothing changes.
    type: list
    elements: str
  binary:
    description: The callserver binary used for the syntax check and the trial start.
    type: path
    default: /usr/sbin/kamailio
  backup_dir:
    description: Where the previous versions are kept. Defaults to a C(backups) directory beside O(path).
    type: path
  keep:
    description: How many previous versions to keep in O(backup_dir).
    type: int
    default: 5
  trial:
    description: Whether to run the trial start (the syntax check always runs).
    type: bool
    default: true
  trial_timeout:
    description: Seconds the trial instance has to answer.
    type: float
    default: 15
  sip_uri:
    description:
      - Where the gate and the service-gap probe send OPTIONS. Defaults to the first C(listen=) socket of the
        candidate (UDP first).
    type: str
  gate_timeout:
    description: Seconds the restarted callserver has to pass the health gate.
    type: float
    default: 30
  min_registrations:
    description: Share of the registrations before the release that must be back (0 to 1; 0.95 = 95%).
    type: float
    default: 0.95
  restart_timeout:
    description: Seconds O(restart_command) may take.
    type: float
    default: 60
  test_call_number:
    description:
      - A number the callserver routes to the gateway group (the lab's C(9XXXX)); the gate places a test call to it.
      - No test call without it (or without an account).
    type: str
  test_call_username:
    description:
      - The Digest account the test call authenticates with (an account of its own, allowed to call the number).
      - Falls back to E(VOIPOPS_TEST_CALL_USERNAME).
    type: str
  test_call_password:
    description:
      - The test-call account's password. Falls back to E(VOIPOPS_TEST_CALL_PASSWORD).
    type: str
  test_call_domain:
    description:
      - The SIP domain of the called number and of the account. Defaults to E(VOIPOPS_CALLSERVER_DOMAIN), else the
        host of O(sip_uri).
    type: str
  test_call_timeout:
    description: Seconds the test call may ring before it is cancelled (a failed attempt; the gate retries until O(gate_timeout)).
    type: float
    default: 8
  release_id:
    description:
      - The release's id (letters, digits, C(.), C(_), C(-)). With O(record_dir), every run that is not a check run
        writes the release record C(<record_dir>/<release_id>.json) (mode 0600, written atomically) and its page
        C(<release_id>.md) - the configuration's checksum before and after, the validation and gate results, the
        service gap, the test call, whether it was rolled back, the start and end of the run (every run is kept in C(runs)).
    type: str
  record_dir:
    description: Directory of the release records; see O(release_id).
    type: path
notes:
  - The release is one file; modules it loads are those installed on the host, and the trial start proves they load.
  - Run it on the callserver host (the trial start and the restart are local).
requirements:
  - requests
seealso:
  - module: voipops.voip.callserver_info
"""

EXAMPLES = r"""
- name: Release the routing script from the role's template, with a gate and automatic rollback
  voipops.voip.callserver_config:
    rpc_url: http://127.0.0.1:5071/RPC
    path: /etc/kamailio/kamailio.cfg
    content: "{{ lookup('ansible.builtin.template', 'kamailio.cfg.j2') }}"
    restart_command: [systemctl, restart, kamailio]
    keep: 10
  register: release

- name: Validate only (syntax check + trial start), show the diff
  voipops.voip.callserver_config:
    rpc_url: http://127.0.0.1:5071/RPC
    path: /etc/kamailio/kamailio.cfg
    src: files/kamailio.cfg
  check_mode: true
  diff: true
"""

RETURN = r"""
path:
  description: The live configuration file.
  returned: always
  type: str
checksum:
  description: SHA-1 of the candidate.
  returned: always
  type: str
previous_checksum:
  description: SHA-1 of the configuration that was live before (null when there was none).
  returned: always
  type: str
validation:
  description: What the validation found; C(check) and C(trial) are V(passed) or V(failed) (or absent when not run).
  returned: always
  type: dict
  sample: {"check": "passed", "trial": {"ok": true, "seconds": 0.41, "sip_uri": "sip:127.0.0.1:41234"}}
backup:
  description: Where the previous configuration was kept (null when nothing was swapped).
  returned: always
  type: str
restarted:
  description: Whether the callserver was restarted.
  returned: always
  type: bool
gate:
  description:
    - The health gate after the swap (C(passed), C(rpc), C(options), C(registrations), C(registrations_needed),
      C(reasons); with a test call C(test_call) and C(test_call_attempts)).
  returned: when the candidate was swapped in
  type: dict
registrations_before:
  description: Registrations before the restart.
  returned: when the candidate was swapped in
  type: int
rolled_back:
  description: Whether the previous configuration was put back after a failed gate.
  returned: always
  type: bool
rollback_gate:
  description: The health gate after the rollback.
  returned: when rolled back
  type: dict
test_call:
  description:
    - The gate's test call - C(placed) (false with a C(reason) when none was configured or the gate failed before it),
      and the last attempt's C(target), C(answered), C(classification), C(code), C(reason), C(post_dial_delay_ms),
      C(setup_ms), C(server), C(call_id), C(error) and the number of C(attempts).
  returned: always
  type: dict
  sample: {"placed": true, "target": "90001", "answered": true, "classification": "answered", "code": 200, "attempts": 1}
service_gap_ms:
  description: Longest time without an OPTIONS answer during the swap and the gate, in milliseconds (0 when nothing restarted).
  returned: always
  type: int
record:
  description: Path of the release record (JSON); null without O(release_id) and O(record_dir), or in check mode.
  returned: always
  type: str
page:
  description: Path of the record's page (Markdown); null when no record was written.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib
from ansible_collections.voipops.voip.plugins.module_utils.callservers import kamailio
from ansible_collections.voipops.voip.plugins.module_utils.callservers.base import (
    DriverError, callserver_argspec, connection, get_driver)
from ansible_collections.voipops.voip.plugins.module_utils.release import config
from ansible_collections.voipops.voip.plugins.module_utils.release import run_record
from ansible_collections.voipops.voip.plugins.module_utils.release.record import RecordError, now_iso


def main():
    argument_spec = callserver_argspec(required=("rpc_url",))
    argument_spec.update(
        path=dict(type="path", required=True),
        src=dict(type="path"),
        content=dict(type="str"),
        restart_command=dict(type="list", elements="str"),
        binary=dict(type="path", default="/usr/sbin/kamailio"),
        backup_dir=dict(type="path"),
        keep=dict(type="int", default=5),
        trial=dict(type="bool", default=True),
        trial_timeout=dict(type="float", default=15.0),
        sip_uri=dict(type="str"),
        gate_timeout=dict(type="float", default=30.0),
        min_registrations=dict(type="float", default=0.95),
        restart_timeout=dict(type="float", default=60.0),
        test_call_number=dict(type="str"),
        test_call_username=dict(type="str", fallback=(env_fallback, ["VOIPOPS_TEST_CALL_USERNAME"])),
        test_call_password=dict(type="str", no_log=True, fallback=(env_fallback, ["VOIPOPS_TEST_CALL_PASSWORD"])),
        test_call_domain=dict(type="str", fallback=(env_fallback, ["VOIPOPS_CALLSERVER_DOMAIN"])),
        test_call_timeout=dict(type="float", default=8.0),
        release_id=dict(type="str"),
        record_dir=dict(type="path"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_one_of=[("src", "content")], mutually_exclusive=[("src", "content")],
                           required_together=[("release_id", "record_dir")])
    if not kamailio.HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"), exception=kamailio.REQUESTS_IMPORT_ERROR)
    p = module.params
    if not 0 <= p["min_registrations"] <= 1:
        module.fail_json(msg="min_registrations must be between 0 and 1, got %s" % p["min_registrations"])
    candidate = p["content"]
    if p["src"]:
        candidate = config.read_text(p["src"])
        if candidate is None:
            module.fail_json(msg="src %s cannot be read" % p["src"])
    started = now_iso()
    try:
        result = config.release(
            get_driver(**connection(p)), p["path"], candidate, restart_command=p["restart_command"],
            backup_dir=p["backup_dir"], keep=p["keep"], binary=p["binary"], trial=p["trial"],
            trial_timeout=p["trial_timeout"], sip_uri=p["sip_uri"], gate_timeout=p["gate_timeout"],
            min_registrations=p["min_registrations"], restart_timeout=p["restart_timeout"],
            check_mode=module.check_mode,
            test_call=config.test_caller(p["test_call_number"], p["test_call_username"], p["test_call_password"],
                                         domain=p["test_call_domain"], ring_timeout=p["test_call_timeout"]))
        failed = None
    except config.ReleaseFailed as exc:
        result, failed = dict(exc.result), str(exc)
    except DriverError as exc:
        module.fail_json(msg=str(exc), changed=False)
    result.update(record=None, page=None)
    if p["release_id"] and not module.check_mode:
        try:
            result["record"], result["page"] = run_record.record_config(p["record_dir"], p["release_id"], result,
                                                                        started, failed)
        except (RecordError, IOError, OSError) as exc:
            failed = "%s%s" % (failed + "; " if failed else "", "the release record was not written: %s" % exc)
    if not module._diff:
        result.pop("diff", None)
    if failed is not None:
        result.pop("msg", None)
        module.fail_json(msg=failed, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
