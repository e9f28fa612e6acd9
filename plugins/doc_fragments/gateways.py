# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The O(gateways) option of gateway_info (``voipops.voip.gateways.info``) and gateway_firmware
(``voipops.voip.gateways.firmware``): each module's own keys of a gateway, and the keys of O(gateways[].snmp) once.

The argument spec of O(gateways[].snmp) is ``module_utils/snmp.py:credential_spec(with_defaults=False)`` plus
C(host) in both modules; keep the two in step (validate-modules compares them).

Ansible merges a fragment into a module one option deep (a module's C(gateways) would replace the fragment's
C(suboptions) whole), so the whole C(gateways) option lives here. The two texts are put together below the class:
the yamllint sanity test reads only string literals inside it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import textwrap


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options: {}
"""


# The keys of gateways[].snmp that mean the same in both modules (after host, port and version).
_SNMP_KEYS = r"""
community:
  description: SNMPv2c community.
  type: str
user:
  description: SNMPv3 security name.
  type: str
auth_protocol:
  description: SNMPv3 authentication protocol.
  type: str
  choices: [md5, sha, sha224, sha256, sha384, sha512]
auth_key:
  description: SNMPv3 authentication passphrase.
  type: str
priv_protocol:
  description: SNMPv3 privacy protocol.
  type: str
  choices: [des, 3des, aes, aes192, aes256]
priv_key:
  description: SNMPv3 privacy passphrase.
  type: str
context:
  description: SNMPv3 context name.
  type: str
timeout:
  description: Seconds per SNMP request before a retry.
  type: float
retries:
  description: SNMP retries after a timeout.
  type: int
"""

_INFO = r"""
description:
  - The gateways. The C(gateways) list of the lab's C(endpoints.json) can be passed as is.
type: list
elements: dict
required: true
suboptions:
  name:
    description: Gateway name; also matched against the dispatcher entry's DUID.
    type: str
    required: true
  host:
    description: Address of the gateway (SIP and SNMP default to it).
    type: str
  sip_port:
    description: SIP port when O(gateways[].sip_uri) is not given.
    type: int
    default: 5060
  sip_uri:
    description: SIP URI to send OPTIONS to, for example V(sip:10.0.0.2:5060). Default C(sip:host:sip_port).
    type: str
  dispatcher_uri:
    description: URI of the gateway in the callserver's dispatcher list when it differs from O(gateways[].sip_uri).
    type: str
  dispatcher_setid:
    description: Dispatcher set the gateway belongs to (only entries of this set match).
    type: int
  priority:
    description: Dispatcher priority (informational).
    type: int
  snmp:
    description:
      - SNMP settings of this gateway; what is not set here comes from the module's top-level SNMP options
        (O(community), O(version), O(user), O(auth_key), ...).
    type: dict
    suboptions:
      host:
        description: SNMP address when it differs from O(gateways[].host).
        type: str
      port:
        description: SNMP UDP port.
        type: int
      version:
        description: SNMP version.
        type: str
        choices: ['2c', '3']
"""

_FIRMWARE = r"""
description: The gateways, upgraded in this order.
type: list
elements: dict
required: true
suboptions:
  name:
    description: Name of the gateway (messages, results; matched against the dispatcher entry's DUID).
    type: str
    required: true
  api_url:
    description: Base URL of its management API, for example C(https://10.0.0.5/api/v1).
    type: str
    required: true
  sip_uri:
    description: Its SIP URI, for the OPTIONS gate and to find its dispatcher entry.
    type: str
  dispatcher_uri:
    description: Its URI in the dispatcher when it differs from O(gateways[].sip_uri).
    type: str
  dispatcher_setid:
    description: Its dispatcher set.
    type: int
    default: 1
  snmp:
    description:
      - Its SNMP agent, as the estate or the lab's C(endpoints.json) give it - C(host) (default the host of
        O(gateways[].sip_uri)), C(port), C(version), C(community) (no_log) or the SNMPv3 C(user), C(auth_protocol),
        C(auth_key), C(priv_protocol), C(priv_key), C(context), and C(timeout), C(retries); see
        M(voipops.voip.snmp_info) for these keys.
      - With it, the gate reads the gateway's C(sysDescr) and requires O(version) in it (within O(gate_timeout),
        before the gateway returns to service). Without it, no SNMP check.
    type: dict
    suboptions:
      host:
        description: SNMP address; defaults to the host of O(gateways[].sip_uri).
        type: str
      port:
        description: SNMP UDP port (161 when not set).
        type: int
      version:
        description: SNMP version (V(2c) when not set).
        type: str
        choices: ['2c', '3']
"""


def _gateways_option(own):
    """``own`` (the option ``gateways`` of one module, its C(snmp) suboptions ending with the module's own
    host/port/version) with the shared SNMP keys appended to C(gateways[].snmp), as a fragment."""
    snmp_keys = textwrap.indent(_SNMP_KEYS.strip("\n"), " " * 6)
    option = own.strip("\n") + "\n" + snmp_keys + "\n"
    return "\noptions:\n  gateways:\n" + textwrap.indent(option, " " * 4)


ModuleDocFragment.INFO = _gateways_option(_INFO)
ModuleDocFragment.FIRMWARE = _gateways_option(_FIRMWARE)
