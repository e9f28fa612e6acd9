#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: handset_resync
short_description: Make handsets re-fetch their provisioning files (or reboot) with a SIP NOTIFY
version_added: 0.1.0
description:
  - Sends each handset its vendor's re-sync NOTIFY (Yealink and Poly C(check-sync), Snom
    C(check-sync;reboot=false), Grandstream C(check-sync), Cisco MPP C(resync)) or, with O(action=reboot),
    its vendor's reboot event, concurrently, to every address the handset has registered from at the callserver
    (read over O(rpc_url); a DECT base or an ATA registering several lines from one address gets one NOTIFY) or to
    the C(address) given for it.
  - The handsets come inline (O(handsets)) or from a file (O(handsets_file)), the estate file or a handsets file as
    M(voipops.voip.handset_provision) reads it. For thousands of handsets prefer the file, which the module reads
    itself, over a module argument that Ansible templates and sends through its module transport.
  - Returns one result per NOTIFY (O(details=full)), or counts by outcome and the failed ones (O(details=summary)),
    so a caller sees which handsets answered and which did not.
author: voipops maintainers (@voipops)
extends_documentation_fragment:
  - voipops.voip.callserver
  - voipops.voip.attributes
  - voipops.voip.attributes.CHANGES
attributes:
  check_mode:
    support: full
    details: In check mode the targets and events are computed and returned; nothing is sent.
  diff_mode:
    support: none
    details: A NOTIFY changes no stored state that could be shown as a diff.
  idempotent:
    support: none
    details: Every run sends the NOTIFY again (the handsets then re-fetch files that may not have changed).
options:
  handsets:
    description:
      - The estate's handsets, each with C(name), C(vendor), C(model), C(user) (extension), optionally C(mac)
        and C(address) (C(host:port) or a SIP URI, used when the handset is not registered).
      - Exactly one of O(handsets) and O(handsets_file) is required.
    type: list
    elements: dict
  handsets_file:
    description:
      - A file with the handsets, instead of O(handsets), read with the collection's loaders.
      - An estate file (a mapping with C(sites), see the estate schema) gives its handsets, validated, with their
        C(address) when they have one; an invalid estate fails naming file, line and field.
      - Any other file is a handsets file as M(voipops.voip.handset_provision) reads it in its own O(handsets_file)
        option (CSV with a header row, or YAML/JSON with a C(handsets) list or a top-level list); the same file can
        serve both modules. Its records may carry an C(address) column or key.
    type: path
  details:
    description:
      - V(full) returns RV(results), one entry per NOTIFY, and every RV(not_notified) handset.
      - V(summary) returns RV(outcomes) and RV(failures) (at most 100 NOTIFYs) instead of RV(results), and at most 100
        RV(not_notified) handsets; RV(summary) has the totals either way. For a re-sync of thousands of handsets, where
        the job log and Ansible's result processing would otherwise carry a record per handset.
    type: str
    choices: [full, summary]
    default: full
  names:
    description: Only these handsets (for example RV(voipops.voip.handset_provision#module:changed_handsets)).
    type: list
    elements: str
  action:
    description: V(resync) re-fetches the configuration; V(reboot) restarts the handset.
    type: str
    choices: [resync, reboot]
    default: resync
  timeout:
    description: Seconds to wait for each handset's answer (and for the callserver).
  concurrency:
    description: NOTIFY transactions in flight at once.
    type: int
    default: 500
notes:
  - A handset only acts on a NOTIFY its vendor documents; others are answered C(489 Bad Event).
  - Without O(rpc_url), only handsets with an C(address) are notified.
requirements:
  - requests (when O(rpc_url) is used)
"""

EXAMPLES = r"""
- name: Re-sync the handsets whose files changed
  voipops.voip.handset_resync:
    rpc_url: http://127.0.0.1:5071/RPC
    handsets: "{{ estate.handsets }}"
    names: "{{ prov.changed_handsets }}"
  register: resync

- name: Re-sync 10,000 handsets from the estate file, reporting only counts and failures
  voipops.voip.handset_resync:
    rpc_url: http://127.0.0.1:5071/RPC
    handsets_file: inventories/lab/estate.yml
    names: "{{ prov.changed_handsets }}"
    details: summary
  register: resync

- name: Reboot one handset
  voipops.voip.handset_resync:
    rpc_url: http://127.0.0.1:5071/RPC
    handsets: "{{ estate.handsets | selectattr('name', 'eq', 'hs-0042') }}"
    action: reboot
"""

RETURN = r"""
results:
  description: One entry per NOTIFY sent (a handset registered twice gets two); in check mode their status is C(planned).
  returned: when O(details=full)
  type: list
  elements: dict
  sample: [{"name": "hs-0001", "vendor": "yealink", "event": "check-sync", "uri": "sip:1001@10.0.0.7:5060",
            "status": "ok", "code": 200, "reason": "OK", "rtt_ms": 1.2, "user_agent": "Yealink SIP-T54W 96.86.0.100",
            "error": null}]
failures:
  description:
    - The NOTIFYs that did not succeed (no answer, an error answer, a send error), in the form of RV(results), sorted
      by handset name, at most 100; RV(summary.failed) is their number.
    - (Not called C(failed), which Ansible would read as "the task failed".)
  returned: when O(details=summary)
  type: list
  elements: dict
  sample: [{"name": "hs-0007", "vendor": "snom", "event": "check-sync;reboot=false", "uri": "sip:1007@10.0.0.9:5060",
            "status": "timeout", "code": null, "reason": null, "rtt_ms": null, "user_agent": null,
            "error": "no final response within 5s"}]
outcomes:
  description: The number of NOTIFYs per status (C(ok), C(timeout), C(refused), C(error), ...; C(planned) in check mode).
  returned: always
  type: dict
  sample: {"ok": 9998, "timeout": 2}
not_notified:
  description:
    - Handsets that were not notified, with the reason (not registered and no address, unknown vendor); at most 100
      with O(details=summary) (RV(summary.not_notified) is their number).
    - (Not called C(skipped), which Ansible would read as "the task was skipped".)
  returned: always
  type: list
  elements: dict
  sample: [{"name": "hs-0002", "reason": "not registered and no address given"}]
summary:
  description: Totals.
  returned: always
  type: dict
  sample: {"targets": 50, "ok": 49, "failed": 1, "not_notified": 0}
  contains:
    targets:
      description: NOTIFYs sent (or planned, in check mode).
      type: int
    ok:
      description: NOTIFYs answered with success.
      type: int
    failed:
      description: NOTIFYs that did not succeed (0 in check mode).
      type: int
    not_notified:
      description: Handsets that were not notified.
      type: int
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.voipops.voip.plugins.module_utils.handsets import fleet, resync
from ansible_collections.voipops.voip.plugins.module_utils.source import SourceError, SourceErrors
from ansible_collections.voipops.voip.plugins.module_utils.callservers.base import (
    DriverError, callserver_argspec, connection, get_driver)
from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio import HAS_REQUESTS, REQUESTS_IMPORT_ERROR


def main():
    argument_spec = callserver_argspec()
    argument_spec.update(
        handsets=dict(type="list", elements="dict"),
        handsets_file=dict(type="path"),
        details=dict(type="str", choices=["full", "summary"], default="full"),
        names=dict(type="list", elements="str"),
        action=dict(type="str", choices=["resync", "reboot"], default="resync"),
        concurrency=dict(type="int", default=500),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_one_of=[("handsets", "handsets_file")],
                           mutually_exclusive=[("handsets", "handsets_file")])
    p = module.params
    handsets = p["handsets"]
    if handsets is None:
        try:
            handsets = resync.load_handsets_file(p["handsets_file"])
        except SourceErrors as exc:
            module.fail_json(msg=str(exc), errors=exc.as_list())
        except SourceError as exc:
            module.fail_json(msg=str(exc), errors=[exc.as_dict()])
    registrations = []
    if p["rpc_url"]:
        if not HAS_REQUESTS:
            module.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_ERROR)
        try:
            registrations = get_driver(**connection(p)).registrations()
        except DriverError as exc:
            module.fail_json(msg="cannot read the registrations: %s" % exc)
    targets, skipped = fleet.resync_targets(handsets, registrations, action=p["action"], names=p["names"])
    if module.check_mode:
        results = [dict(t, status="planned", code=None, reason=None, rtt_ms=None, user_agent=None, error=None)
                   for t in targets]
    else:
        results = fleet.resync(targets, concurrency=p["concurrency"], timeout=p["timeout"])
    ok = sum(1 for r in results if r["status"] == "ok")
    summary = {"targets": len(results), "ok": ok, "failed": len(results) - ok if not module.check_mode else 0,
               "not_notified": len(skipped)}
    outcomes, failures = resync.summarize(results)
    if p["details"] == "summary":
        module.exit_json(changed=bool(targets), outcomes=outcomes, failures=failures,
                         not_notified=skipped[:resync.FAILED_MAX], summary=summary)
    module.exit_json(changed=bool(targets), results=results, outcomes=outcomes, not_notified=skipped, summary=summary)


if __name__ == "__main__":
    main()
