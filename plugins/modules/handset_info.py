#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: handset_info
short_description: Registered handsets joined with the estate, with vendor, model and firmware from the User-Agent
version_added: 0.1.0
description:
  - Reads the callserver's registrations and pairs them with the estate's handsets (the MAC a User-Agent shows first,
    then the user of the address-of-record), with the same matcher and the same verdict as the health audit and the
    C(registrations) inventory.
  - A contact whose User-Agent no vendor profile reads is matched by user (and MAC when known), so the handset is
    registered with C(status=ua_unrecognised), never reported as not registered. Another vendor or model than the
    estate says is C(device_mismatch); a device registering an account that is none of its lines is C(user_mismatch).
  - A DECT base or an ATA is one handset with several C(lines) (the estate's C(lines)); each line's user registers
    with the device's User-Agent, and C(lines) tells which lines are registered.
  - For every handset, reports whether it is registered, its contact address, how long ago it last registered,
    and the vendor, model, firmware version and MAC its User-Agent tells (parsed by the vendor profiles).
  - Lists the handsets that are provisioned but not registered, and the registered devices the estate does not
    know (a user no handset is bound to, a User-Agent showing another MAC, or a second, unreadable device on a line
    whose handset is registered).
author: voipops maintainers (@voipops)
extends_documentation_fragment:
  - voipops.voip.callserver
  - voipops.voip.attributes
  - voipops.voip.attributes.INFO_MODULE
options:
  handsets:
    description:
      - The estate's handsets, each with C(name), C(vendor), C(model), C(user) (extension) and optionally C(mac).
      - A multi-line device (DECT base, ATA) gives C(lines), a list of C({user}) in line order, instead of C(user).
    type: list
    elements: dict
    required: true
  rpc_url:
    required: true
requirements:
  - requests
"""

EXAMPLES = r"""
- name: Which handsets are registered, on which firmware
  voipops.voip.handset_info:
    rpc_url: http://127.0.0.1:5071/RPC
    handsets: "{{ estate.handsets }}"
  register: fleet

- name: Report handsets that should be registered but are not
  ansible.builtin.debug:
    msg: "{{ fleet.unregistered }}"
"""

RETURN = r"""
handsets:
  description:
    - Every estate handset with C(registered), C(status), C(lines), C(contacts), C(address), C(firmware), C(user_agent),
      C(registered_for_s).
    - C(status) is C(matched), C(ua_unrecognised), C(device_mismatch), C(user_mismatch) (the most telling of its
      contacts') or null when not registered; each contact has its own C(status), C(line) and C(reason).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "hs-0001", "vendor": "yealink", "model": "T54W", "mac": "80:5e:c0:00:00:01", "user": "1001",
            "registered": true, "address": "127.0.0.1:40400", "firmware": "96.86.0.100",
            "user_agent": "Yealink SIP-T54W 96.86.0.100", "registered_for_s": 12, "status": "matched",
            "lines": [{"line": 1, "user": "1001", "registered": true}], "contacts": []}]
unregistered:
  description: Names of the handsets that are provisioned but not registered.
  returned: always
  type: list
  elements: str
  sample: ["hs-0007"]
unknown:
  description: Registered devices the estate does not know, with what their User-Agent tells and why they are unknown.
  returned: always
  type: list
  elements: dict
  sample: [{"user": "1004", "user_agent": "Linphone/5.2.0", "vendor": null, "address": "127.0.0.1:5066",
            "reason": "registered as 1004, which no handset of the estate uses"}]
summary:
  description: Counts (C(ua_unrecognised) and C(device_mismatch) are handsets with that status), and the number of
    matched handsets per vendor, model and firmware.
  returned: always
  type: dict
  sample: {"handsets": 50, "registered": 49, "unregistered": 1, "unknown_devices": 1, "registrations": 50,
           "ua_unrecognised": 0, "device_mismatch": 0, "firmware": {"yealink T54W 96.86.0.100": 5}}
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.voipops.voip.plugins.module_utils.handsets import fleet
from ansible_collections.voipops.voip.plugins.module_utils.callservers.base import (
    DriverError, callserver_argspec, connection, get_driver)
from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio import HAS_REQUESTS, REQUESTS_IMPORT_ERROR


def main():
    argument_spec = callserver_argspec(required=("rpc_url",))
    argument_spec.update(handsets=dict(type="list", elements="dict", required=True))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_ERROR)
    p = module.params
    try:
        registrations = get_driver(**connection(p)).registrations()
    except DriverError as exc:
        module.fail_json(msg="cannot read the registrations: %s" % exc)
    module.exit_json(changed=False, **fleet.join(p["handsets"], registrations))


if __name__ == "__main__":
    main()
