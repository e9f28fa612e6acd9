#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: callserver_info
short_description: Read a callserver's version, uptime, statistics, registrations and gateways
version_added: 0.1.0
description:
  - Reads the live state of a callserver through its management API in one module call.
  - Returns the version, uptime, key statistics, the registration count with every contact per
    address-of-record (including the User-Agent of the device), and the media gateways the callserver
    routes to (Kamailio dispatcher) with their state.
author: voipops maintainers (@voipops)
extends_documentation_fragment:
  - voipops.voip.callserver
  - voipops.voip.attributes
  - voipops.voip.attributes.INFO_MODULE
options:
  rpc_url:
    required: true
  gather:
    description: What to read. All by default.
    type: list
    elements: str
    choices: [version, uptime, statistics, registrations, gateways]
    default: [version, uptime, statistics, registrations, gateways]
notes:
  - A callserver that does not answer makes the task fail with a message naming the URL, after O(timeout) seconds.
requirements:
  - requests
seealso:
  - module: voipops.voip.gateway_info
"""

EXAMPLES = r"""
- name: Read the lab callserver
  voipops.voip.callserver_info:
    rpc_url: http://127.0.0.1:5071/RPC
  register: cs

- name: Show who is registered with what
  ansible.builtin.debug:
    msg: "{{ cs.callserver.registrations.by_aor | dict2items | map(attribute='value') | flatten | map(attribute='user_agent') | list }}"

- name: Only the gateways, for many callservers at once
  voipops.voip.callserver_info:
    rpc_url: "{{ callserver_rpc_url }}"
    gather: [gateways]
"""

RETURN = r"""
callserver:
  description: The callserver's state.
  returned: success
  type: dict
  contains:
    platform:
      description: Driver used (O(platform)).
      type: str
      sample: kamailio
    rpc_url:
      description: The API URL that was read (a password in it masked).
      type: str
    version:
      description: Version string reported by the callserver.
      type: str
      sample: kamailio 5.6.3 (x86_64/linux)
    uptime_seconds:
      description: Seconds since the callserver started.
      type: int
      sample: 86400
    started:
      description: The callserver's own clock at the time of the read.
      type: str
    statistics:
      description: Key counters (requests, replies, transactions, shared memory, registrations, dispatcher).
      type: dict
      sample: {"core:rcv_requests": 1200, "usrloc:registered_users": 42}
    counters:
      description:
        - With C(statistics) gathered, the callserver's counters the health audit computes its KPIs from
          (registrations accepted and rejected; calls per gateway group, that is dispatcher set, by final answer).
        - Gateway-group counters come from the C(statistics) module's script counters C(gw<set>_<what>) (see
          the KPI section of the health audit guide); a callserver without them has no C(gateway_groups).
      type: dict
      sample: {"registrations": {"accepted": 120, "rejected": 2},
               "gateway_groups": {"1": {"invites": 40, "2xx": 31, "486": 5, "5xx": 2, "503": 2}}}
    registrations:
      description: Registered contacts.
      type: dict
      contains:
        contacts:
          description: Number of registered contacts.
          type: int
        aors:
          description: Number of addresses-of-record with at least one contact.
          type: int
        by_aor:
          description:
            - Contacts per address-of-record. Each contact has C(contact), C(expires), C(user_agent),
              C(received), C(socket), C(call_id), C(cseq), C(last_modified) and more.
          type: dict
          sample: {"1001": [{"contact": "sip:1001@127.0.0.1:5062", "user_agent": "Yealink SIP-T54W 96.86.0.100"}]}
    gateways:
      description: Media gateways/SBCs the callserver routes to, with state C(active), C(inactive), C(disabled) or C(trying).
      type: list
      elements: dict
      sample: [{"setid": 1, "uri": "sip:127.0.0.1:5080", "flags": "AP", "state": "active", "probing": true, "duid": "mgw1"}]
    gateways_summary:
      description: Counts of gateways per state.
      type: dict
      sample: {"total": 2, "active": 2, "inactive": 0, "disabled": 0}
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.voipops.voip.plugins.module_utils.callservers import kamailio
from ansible_collections.voipops.voip.plugins.module_utils.callservers.base import (
    DriverError, callserver_argspec, connection, get_driver)
from ansible_collections.voipops.voip.plugins.module_utils.fileio import mask_url

GATHER = ["version", "uptime", "statistics", "registrations", "gateways"]


def main():
    argument_spec = callserver_argspec(required=("rpc_url",))
    argument_spec.update(gather=dict(type="list", elements="str", choices=GATHER, default=GATHER))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not kamailio.HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"), exception=kamailio.REQUESTS_IMPORT_ERROR)
    p = module.params
    try:
        facts = get_driver(**connection(p)).info(gather=p["gather"])
    except DriverError as exc:
        module.fail_json(msg=str(exc), rpc_url=mask_url(p["rpc_url"]))
    module.exit_json(changed=False, callserver=facts)


if __name__ == "__main__":
    main()
