# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection options of a callserver (shared through module_defaults group/voipops.voip.callserver)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  rpc_url:
    description:
      - URL of the callserver's management API.
      - For Kamailio, the JSON-RPC endpoint of the C(xhttp) and C(jsonrpcs) modules, for example
        C(http://127.0.0.1:5071/RPC).
      - Can be set once for all callserver modules with C(module_defaults) and the C(group/voipops.voip.callserver) group.
    type: str
    required: true
  platform:
    description:
      - Callserver platform; selects the driver.
    type: str
    choices: [kamailio]
    default: kamailio
  timeout:
    description: Seconds to wait for each answer of the callserver.
    type: float
    default: 5
  validate_certs:
    description: Verify the TLS certificate when O(rpc_url) is C(https).
    type: bool
    default: true
requirements:
  - requests
"""
