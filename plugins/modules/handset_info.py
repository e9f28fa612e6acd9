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
    then the user of the address-of-record), the same pairing as the health audit and the C(registrations) inventory;
    a contact counts as the handset's when its User-Agent agrees with the estate (vendor, model, MAC when shown, user).
  - For every handset, reports whether it is registered, its contact address, how long ago it last registered,
    and the vendor, model, firmware version and MAC its User-Agent tells (parsed by the vendor profiles).
  - Lists the handsets that are provisioned but not registered, and the registered devices the estate does not
    know (a user no handset is bound to, or a User-Agent that does not match the estate's handset).
author: voipops maintainers (@voipops)
extends_documentation_fragment:
  - voipops.voip.callserver
  - voipops.voip.attributes
  - voipops.voip.attributes.INFO_MODULE
options:
  handsets:
    description: The estate's handsets, each with C(name), C(vendor), C(model), C(user) (extension) and optionally C(mac).
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
  description: Every estate handset with C(registered), C(contacts), C(address), C(firmware), C(user_agent), C(registered_for_s).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "hs-0001", "vendor": "yealink", "model": "T54W", "mac": "80:5e:c0:00:00:01", "user": "1001",
            "registered": true, "address": "127.0.0.1:40400", "firmware": "96.86.0.100",
            "user_agent": "Yealink SIP-T54W 96.86.0.100", "registered_for_s": 12, "contacts": []}]
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
  description: Counts, and the number of registered handsets per vendor, model and firmware.
  returned: always
  type: dict
  sample: {"handsets": 50, "registered": 49, "unregistered": 1, "unknown_devices": 1, "registrations": 50,
           "firmware": {"yealink T54W 96.86.0.100": 5}}
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
