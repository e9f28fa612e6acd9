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
      - One of O(handsets) and O(estate_file) is required.
    type: list
    elements: dict
  estate_file:
    description:
      - The estate source-of-truth file (see the C(voipops.voip.estate) inventory plugin); its handsets are read from
        it, by the same loader as the inventory plugin and M(voipops.voip.audit_report), instead of O(handsets).
      - A large fleet then never travels through Ansible's templating and module arguments.
      - An invalid estate fails the module with every error's file, line and field.
    type: path
  dest:
    description:
      - Write the whole result (RV(handsets), RV(unregistered), RV(unknown), RV(summary)) as JSON to this file (mode
        C(0600), replaced atomically) and return only RV(summary), RV(dest) and RV(registered_sample), so that thousands
        of handsets stay out of the job's events. M(voipops.voip.audit_report) reads the file under its
        O(voipops.voip.audit_report#module:results_files) option (key C(handset_info)).
      - The file is written in check mode too - it is this run's answer, not a change to the callserver.
    type: path
  registered_sample:
    description:
      - Return the first this many registered handsets (in estate order) as RV(registered_sample), with their
        C(name) and C(user) - the phones the health audit places test calls to.
    type: int
    default: 0
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

- name: A fleet of thousands - the estate's handsets from the estate file, the whole answer to a file
  voipops.voip.handset_info:
    rpc_url: http://127.0.0.1:5071/RPC
    estate_file: /etc/voipops/estate.yml
    dest: /tmp/audit/handset_info.json
    registered_sample: 3
  register: fleet

- name: Three registered phones to call
  ansible.builtin.debug:
    msg: "{{ fleet.registered_sample | map(attribute='user') | list }}"
"""

RETURN = r"""
handsets:
  description:
    - Every estate handset with C(registered), C(status), C(lines), C(contacts), C(address), C(firmware), C(user_agent),
      C(registered_for_s).
    - C(status) is C(matched), C(ua_unrecognised), C(device_mismatch), C(user_mismatch) (the most telling of its
      contacts') or null when not registered; each contact has its own C(status), C(line) and C(reason).
  returned: when O(dest) is not set
  type: list
  elements: dict
  sample: [{"name": "hs-0001", "vendor": "yealink", "model": "T54W", "mac": "80:5e:c0:00:00:01", "user": "1001",
            "registered": true, "address": "127.0.0.1:40400", "firmware": "96.86.0.100",
            "user_agent": "Yealink SIP-T54W 96.86.0.100", "registered_for_s": 12, "status": "matched",
            "lines": [{"line": 1, "user": "1001", "registered": true}], "contacts": []}]
unregistered:
  description: Names of the handsets that are provisioned but not registered.
  returned: when O(dest) is not set
  type: list
  elements: str
  sample: ["hs-0007"]
unknown:
  description: Registered devices the estate does not know, with what their User-Agent tells and why they are unknown.
  returned: when O(dest) is not set
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
registered_sample:
  description: The first O(registered_sample) registered handsets, in estate order (a multi-line device with its first
    registered line's C(user)); empty when O(registered_sample) is 0.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "hs-0001", "user": "1001"}]
dest:
  description: The file the whole result was written to.
  returned: when O(dest) is set
  type: str
  sample: /tmp/audit/handset_info.json
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.voipops.voip.plugins.module_utils.handsets import fleet
from ansible_collections.voipops.voip.plugins.module_utils.callservers.base import (
    DriverError, callserver_argspec, connection, get_driver)
from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio import HAS_REQUESTS, REQUESTS_IMPORT_ERROR
from ansible_collections.voipops.voip.plugins.module_utils.estate import HAS_NETADDR, NETADDR_IMPORT_ERROR, load_estate
from ansible_collections.voipops.voip.plugins.module_utils.source import SourceError, SourceErrors


def main():
    argument_spec = callserver_argspec(required=("rpc_url",))
    argument_spec.update(handsets=dict(type="list", elements="dict"), estate_file=dict(type="path"),
                         dest=dict(type="path"), registered_sample=dict(type="int", default=0))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_one_of=[("handsets", "estate_file")], mutually_exclusive=[("handsets", "estate_file")])
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_ERROR)
    p = module.params
    handsets = p["handsets"]
    if p["estate_file"]:
        if not HAS_NETADDR:
            module.fail_json(msg=missing_required_lib("netaddr"), exception=NETADDR_IMPORT_ERROR)
        try:
            handsets = load_estate(p["estate_file"]).handsets
        except (SourceError, SourceErrors) as exc:
            module.fail_json(msg="invalid estate: %s" % exc,
                             errors=exc.as_list() if isinstance(exc, SourceErrors) else [exc.as_dict()])
    try:
        registrations = get_driver(**connection(p)).registrations()
    except DriverError as exc:
        module.fail_json(msg="cannot read the registrations: %s" % exc)
    try:
        result = fleet.info_result(fleet.join(handsets, registrations), dest=p["dest"], sample=p["registered_sample"])
    except (IOError, OSError) as exc:
        module.fail_json(msg="cannot write %s: %s" % (p["dest"], exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
