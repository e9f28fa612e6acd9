# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SNMP connection options (shared through module_defaults group/voipops.voip.snmp)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  port:
    description: UDP port of the SNMP agents (default for every target).
    type: int
    default: 161
  version:
    description:
      - SNMP version. V(2c) uses O(community); V(3) uses the user-based security model (O(user), O(auth_key), O(priv_key)).
      - If not set, the environment variable E(VOIPOPS_SNMP_VERSION) is used (an AWX credential can inject it).
    type: str
    choices: ['2c', '3']
    default: '2c'
  community:
    description: SNMPv2c community (default for every target).
    type: str
  user:
    description:
      - SNMPv3 security name.
      - If not set, the environment variable E(VOIPOPS_SNMP_USER) is used.
    type: str
  auth_protocol:
    description:
      - SNMPv3 authentication protocol. Used when O(auth_key) is set; V(sha) (SHA-1) when not given.
      - If not set, the environment variable E(VOIPOPS_SNMP_AUTH_PROTOCOL) is used.
    type: str
    choices: [md5, sha, sha224, sha256, sha384, sha512]
  auth_key:
    description:
      - SNMPv3 authentication passphrase (at least 8 characters). Setting it selects authNoPriv, or authPriv together with O(priv_key).
      - If not set, the environment variable E(VOIPOPS_SNMP_AUTH_KEY) is used.
    type: str
  priv_protocol:
    description:
      - SNMPv3 privacy (encryption) protocol. Used when O(priv_key) is set; V(aes) (AES-128-CFB) when not given.
      - If not set, the environment variable E(VOIPOPS_SNMP_PRIV_PROTOCOL) is used.
    type: str
    choices: [des, 3des, aes, aes192, aes256]
  priv_key:
    description:
      - SNMPv3 privacy passphrase (at least 8 characters).
      - If not set, the environment variable E(VOIPOPS_SNMP_PRIV_KEY) is used.
    type: str
  context:
    description: SNMPv3 context name.
    type: str
  retries:
    description: How many times a request is sent again after a timeout.
    type: int
    default: 1
requirements:
  - pysnmp >= 7.1
notes:
  - Only numeric OIDs are used; no MIB files are needed on the controller.
  - The module-level SNMPv3 options fall back to the E(VOIPOPS_SNMP_*) environment variables (an AWX custom credential
    injects them, see the collection's C(docs/awx.md)); a target's own options still win over them.
  - SNMP runs from the controller (or the host the task is delegated to); the agents must accept its address.
"""

    # Separate: in modules that also talk to a callserver, O(timeout) belongs to the callserver.
    TIMEOUT = r"""
options:
  timeout:
    description: Seconds to wait for each SNMP response before a retry.
    type: float
    default: 2
"""
