# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: lab_ports
short_description: Allocate and remember free loopback ports for the embedded lab
version_added: 0.1.0
description:
  - Keeps a JSON map of component name to port number in O(path).
  - Names missing from the map get a port that is free for both TCP and UDP on 127.0.0.1; names
    already in the map keep their port, so running the lab twice changes nothing.
  - The lab role's own module (C(roles/lab/library)), called by its short name in the role's tasks; it is not
    part of the collection's plugins. Ansible finds it because the lab playbooks load the role by path.
author: voipops maintainers (@voipops)
extends_documentation_fragment:
  - voipops.voip.attributes
  - voipops.voip.attributes.CHANGES
attributes:
  check_mode:
    support: full
    details: In check mode the ports that would be allocated are returned but not saved.
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  path:
    description: The JSON file holding the port map; created when missing.
    type: path
    required: true
  names:
    description: Every component name that needs a port.
    type: list
    elements: str
    required: true
notes:
  - Only loopback (127.0.0.1) ports are allocated; the lab never listens anywhere else.
"""

EXAMPLES = r"""
- name: Ports for the lab's callserver and gateways
  lab_ports:
    path: "{{ lab_state_dir }}/ports.json"
    names: [kamailio_sip, kamailio_rpc, mgw1_sip, mgw1_snmp]
  register: lab_ports
"""

RETURN = r"""
ports:
  description: Map of name to port number (all names asked for, plus any others already in the file).
  returned: always
  type: dict
  sample: {"kamailio_sip": 40123, "kamailio_rpc": 40124}
added:
  description: Names that got a new port in this run.
  returned: always
  type: list
  elements: str
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils import lab_supervisor as lab


def main():
    module = AnsibleModule(
        argument_spec=dict(path=dict(type="path", required=True), names=dict(type="list", elements="str", required=True)),
        supports_check_mode=True,
    )
    path = module.params["path"]
    names = module.params["names"]
    before = {}
    if os.path.exists(path):
        try:
            with open(path) as handle:
                before = json.load(handle)
        except ValueError as exc:
            module.fail_json(msg="%s is not valid JSON (%s): remove it to let the lab pick new ports" % (path, exc))
    missing = [n for n in names if n not in before]
    if module.check_mode:
        ports = dict(before)
        for name in missing:
            ports[name] = lab.pick_free_port(avoid=ports.values())
        added = missing
    else:
        parent = os.path.dirname(path)
        if parent and not os.path.isdir(parent):
            os.makedirs(parent)
        ports, added = lab.allocate_ports(path, names)
    module.exit_json(changed=bool(added), ports=ports, added=added,
                     diff={"before": before, "after": ports})


if __name__ == "__main__":
    main()
