#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: extension_diagnose
short_description: Triage of one extension, user or handset ("my phone doesn't work")
version_added: 0.1.0
description:
  - Checks one extension end to end, in dependency order, and stops at the first cause it can prove; the evidence of
    the steps before it is returned too. See docs/triage.md for the card and the JSON shape.
  - 1 C(profile) on the callserver - exists, class of service, grants and features with their expiry, number in
    cooling, do-not-disturb or unconditional forward.
  - 2 C(handset) - the estate's record (site, vendor, model, MAC), its provisioning file (present, rendered for this
    user, fetched by the phone since it last changed, from the provisioning server's access log), its firmware against
    the estate's approved list.
  - 3 C(registration) - the live registrations paired with the estate by the one registration matcher - none (a
    handset swapped for one with another MAC when that MAC asked for its file in vain), expired, from another device
    or User-Agent than the estate says, several.
  - 4 C(reachability) - a SIP OPTIONS to the registered contact, then a test call to the extension through the
    callserver (M(voipops.voip.sip_call)) when a test-call account is given - answered, rang without being picked
    up (both fine), busy or rejected by the phone (with the code), refused by the callserver, or no answer at all.
  - 5 C(path) - the gateways of the handset's site (dispatcher state and SIP OPTIONS) and open tickets of the last
    audit on anything the handset depends on.
  - 6 C(changes) - mutation journal rows (database and O(audit_log)) and release records that touched this user or
    phone recently.
  - The cause is routed like a health-audit finding - responsible supplier, priority, response and resolve deadlines.
  - Read-only. Connection options left unset are taken from the estate's callserver (O(rpc_url), O(db_url)) and the
    estate's domain.
author: voipops maintainers (@voipops)
extends_documentation_fragment:
  - voipops.voip.callserver
  - voipops.voip.attributes
  - voipops.voip.attributes.INFO_MODULE
options:
  extension:
    description: The extension (or one of its aliases) to diagnose.
    type: str
  employee_id:
    description: The employee id of a managed user; needs O(db_url).
    type: str
  mac:
    description: The MAC of an estate handset, in any notation.
    type: str
  handset:
    description: The name of an estate handset.
    type: str
  estate:
    description: The estate file (docs/estate.md).
    type: path
    required: true
  endpoints_file:
    description:
      - Live addresses and ports to overlay onto the estate's components by name (the lab's C(endpoints.json)).
    type: path
  provisioning_root:
    description: Directory the provisioning server serves the handset files from (where handset_provision writes).
    type: path
  access_log:
    description:
      - The provisioning server's access log, in the lab's nginx C(prov) format or nginx's C(combined) format.
    type: path
  audit_report:
    description: JSON report of the last health audit; its open tickets on the handset's path are evidence.
    type: path
  audit_log:
    description:
      - The mutation journal exported by P(voipops.voip.callserver_users#module) (its C(audit_log), JSON lines), read
        besides the journal rows in the callserver's database.
    type: path
  release_records:
    description: Release record files or directories (JSON or JSON lines); records naming the handset, its MAC or
      the extension are listed as recent changes.
    type: list
    elements: path
    default: []
  changes_days:
    description: How many days back recent changes count.
    type: int
    default: 14
  sip_timeout:
    description: Seconds to wait for an answer to each SIP OPTIONS.
    type: float
    default: 2.0
  sip_options:
    description: Send SIP OPTIONS to the registered contact and the site's gateways.
    type: bool
    default: true
  test_call_username:
    description:
      - The callserver account that places the test call (the caller). Without it no test call is placed (listed in
        RV(not_done)).
      - If not set, the environment variable E(VOIPOPS_TEST_CALL_USERNAME) is used.
    type: str
  test_call_password:
    description:
      - The test-call account's password. Never logged or returned.
      - If not set, the environment variable E(VOIPOPS_TEST_CALL_PASSWORD) is used.
    type: str
  test_call_proxy:
    description:
      - The callserver's SIP address (V(host:port), UDP) to call through.
      - If not set, the environment variable E(VOIPOPS_TEST_CALL_PROXY) is used, then the estate callserver's
        C(address) and C(sip_port).
    type: str
  test_call_ring_timeout:
    description: Seconds the test call may ring before it is cancelled (a phone that rings is fine).
    type: float
    default: 8.0
notes:
  - Exactly one of O(extension), O(employee_id), O(mac) and O(handset) is required.
  - A step whose source is not given (no O(db_url), no O(provisioning_root)) is reported as not checked, never guessed.
requirements:
  - requests
  - netaddr
"""

EXAMPLES = r"""
- name: Why does extension 1001 not work?
  voipops.voip.extension_diagnose:
    extension: "1001"
    estate: inventories/lab/estate.yml
    endpoints_file: .state/lab/endpoints.json
    provisioning_root: .state/lab/prov
    access_log: .state/lab/log/nginx-access.log
  register: triage

- name: The card
  ansible.builtin.debug:
    msg: "{{ triage.card }}"

- name: By MAC, with the last audit's tickets
  voipops.voip.extension_diagnose:
    mac: "00-15-65-10-01-01"
    estate: /etc/voipops/estate.yml
    rpc_url: https://callserver.example.org/RPC
    db_url: "{{ vault_callserver_db_url }}"
    domain: voip.example.org
    audit_report: /var/lib/voipops/audit/health_audit.json
"""

RETURN = r"""
verdict:
  description: C(cause) (a cause is proven), C(suspect) (nothing proven, a recent change is the best lead) or
    C(no_fault_found).
  returned: always
  type: str
  sample: cause
cause:
  description: The first proven cause (or the newest suspect change) with C(step), C(kind), C(level), C(severity),
    C(component), C(summary), C(action) and C(evidence); null when nothing was found.
  returned: always
  type: dict
  sample: {"step": "registration", "kind": "not_registered", "level": "cause", "severity": "major",
           "component": "hs-1001", "summary": "no device is registered for extension 1001 (hs-1001)",
           "action": "check that the phone has power and network", "evidence": {}}
responsible:
  description: Who fixes the cause and by when, routed like a health-audit finding (C(supplier), C(contact),
    C(coverage), C(priority), C(impact), C(response_due), C(resolve_due), C(ticket)); C(supplier) is
    C(administration) for a cause on the user's profile.
  returned: always
  type: dict
  sample: {"supplier": "phonecare", "priority": "P3", "coverage": "business_hours",
           "response_due": "2026-12-08T13:00:00+01:00", "resolve_due": "2026-12-10T13:00:00+01:00"}
target:
  description: What was asked for and what it resolved to (C(by), C(value), C(extension), C(employee_id), C(handset);
    C(alias) when an alias of the extension was asked for).
  returned: always
  type: dict
  sample: {"by": "extension", "value": "1001", "extension": "1001", "employee_id": null, "handset": "hs-1001"}
handset:
  description: The estate's handset of the extension (name, vendor, model, mac, site, user, address, maintainer).
  returned: always
  type: dict
steps:
  description: Every step in order with C(name), C(status) (C(cause), C(warning), C(suspect), C(ok), C(info) or
    C(not_run)) and its C(observations).
  returned: always
  type: list
  elements: dict
stopped_at:
  description: The step that proved the cause (later steps are C(not_run)); null when every step ran.
  returned: always
  type: str
evidence:
  description: The raw evidence per step (profile, provisioning, firmware, registrations, options, path, changes).
  returned: always
  type: dict
checked_at:
  description: When the triage ran (UTC).
  returned: always
  type: str
not_done:
  description: Checks of the triage that could not be done in this run, with why (the test call without a test-call
    account).
  returned: always
  type: list
  elements: str
card:
  description: The readable card, one line per element.
  returned: always
  type: list
  elements: str
version:
  description: Version of this result's shape.
  returned: always
  type: int
  sample: 1
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.parameters import env_fallback

from ansible_collections.voipops.voip.plugins.module_utils.callservers.base import (
    DriverError, callserver_argspec, connection, get_driver)
from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio import HAS_REQUESTS, REQUESTS_IMPORT_ERROR
from ansible_collections.voipops.voip.plugins.module_utils.diagnose import engine
from ansible_collections.voipops.voip.plugins.module_utils.diagnose.gather import Gatherer, TargetError
from ansible_collections.voipops.voip.plugins.module_utils.estate import (
    HAS_NETADDR, NETADDR_IMPORT_ERROR, load_endpoints, load_estate, overlay_endpoints)
from ansible_collections.voipops.voip.plugins.module_utils.source import SourceError, SourceErrors

TARGETS = ("extension", "employee_id", "mac", "handset")


def main():
    argument_spec = callserver_argspec()
    argument_spec.update(
        extension=dict(type="str"), employee_id=dict(type="str"), mac=dict(type="str"), handset=dict(type="str"),
        estate=dict(type="path", required=True), endpoints_file=dict(type="path"),
        provisioning_root=dict(type="path"), access_log=dict(type="path"), audit_report=dict(type="path"),
        audit_log=dict(type="path"),
        release_records=dict(type="list", elements="path", default=[]), changes_days=dict(type="int", default=14),
        sip_timeout=dict(type="float", default=2.0), sip_options=dict(type="bool", default=True),
        test_call_username=dict(type="str", fallback=(env_fallback, ["VOIPOPS_TEST_CALL_USERNAME"])),
        test_call_password=dict(type="str", no_log=True, fallback=(env_fallback, ["VOIPOPS_TEST_CALL_PASSWORD"])),
        test_call_proxy=dict(type="str", fallback=(env_fallback, ["VOIPOPS_TEST_CALL_PROXY"])),
        test_call_ring_timeout=dict(type="float", default=8.0),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_one_of=[TARGETS], mutually_exclusive=[TARGETS])
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_ERROR)
    if not HAS_NETADDR:
        module.fail_json(msg=missing_required_lib("netaddr"), exception=NETADDR_IMPORT_ERROR)
    p = module.params
    try:
        estate = load_estate(p["estate"])
        if p["endpoints_file"]:
            overlay_endpoints(estate.components, load_endpoints(p["endpoints_file"]))
    except (SourceError, SourceErrors) as exc:
        module.fail_json(msg="cannot use the estate: %s" % exc)
    conn = connection(p)
    callservers = sorted(estate.of_type("callserver"), key=lambda c: c["name"])
    for key in ("rpc_url", "db_url"):
        if not conn.get(key) and callservers and callservers[0].get(key):
            conn[key] = callservers[0][key]
    conn.setdefault("domain", estate.domain)
    test_call = None
    if p["test_call_username"]:
        proxy = p["test_call_proxy"]
        if not proxy and callservers and callservers[0].get("address"):
            proxy = "%s:%s" % (callservers[0]["address"], callservers[0].get("sip_port") or 5060)
        test_call = {"proxy": proxy, "domain": conn.get("domain") or estate.domain, "username": p["test_call_username"],
                     "password": p["test_call_password"], "ring_timeout": p["test_call_ring_timeout"], "hold": 0.5}
    try:
        driver = get_driver(read_only=True, **conn)
        gatherer = Gatherer(estate, driver, provisioning_root=p["provisioning_root"], access_log=p["access_log"],
                            sip_timeout=p["sip_timeout"], audit_report=p["audit_report"],
                            release_records=p["release_records"], changes_days=p["changes_days"],
                            sip_options=p["sip_options"], audit_log=p["audit_log"], test_call=test_call)
        try:
            result = engine.run(gatherer, **dict((k, p[k]) for k in TARGETS))
        finally:
            driver.close()
    except TargetError as exc:
        module.fail_json(msg="cannot diagnose: %s" % exc)
    except DriverError as exc:
        module.fail_json(msg="the callserver cannot be read: %s" % exc)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
