# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection options of a callserver (shared through module_defaults group/voipops.voip.callserver).

The argument spec is ``module_utils/callservers/base.py:CALLSERVER_ARGSPEC``; keep the two in step.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  platform:
    description:
      - Callserver platform; selects the driver. An unknown platform fails the task with the list of known ones.
      - Known platforms - V(kamailio).
      - If not set, the environment variable E(VOIPOPS_CALLSERVER_PLATFORM) is used, then V(kamailio).
    type: str
    default: kamailio
  rpc_url:
    description:
      - URL of the callserver's management API.
      - For Kamailio, the JSON-RPC endpoint of the C(xhttp) and C(jsonrpcs) modules, for example
        C(http://127.0.0.1:5071/RPC).
      - A password in the URL is masked in messages and results.
      - If not set, the environment variable E(VOIPOPS_CALLSERVER_RPC_URL) is used (an AWX credential can inject it).
    type: str
  db_url:
    description:
      - The callserver's database, for the modules that manage users. For Kamailio
        C(sqlite:////abs/kamailio.db) or C(postgres://user:password@host:port/db).
      - If not set, the environment variable E(VOIPOPS_CALLSERVER_DB_URL) is used (an AWX credential can inject it).
      - Never logged or returned.
    type: str
  domain:
    description:
      - SIP domain (and digest realm) of the callserver's users.
      - If not set, the environment variable E(VOIPOPS_CALLSERVER_DOMAIN) is used.
    type: str
  timeout:
    description: Seconds to wait for each answer of the callserver.
    type: float
    default: 5
    aliases: [rpc_timeout]
  validate_certs:
    description: Verify the TLS certificate when O(rpc_url) is C(https).
    type: bool
    default: true
notes:
  - The callserver connection options are the same in every module of the action group
    C(group/voipops.voip.callserver), so one C(module_defaults) entry (or one AWX credential through the
    E(VOIPOPS_CALLSERVER_*) environment variables) serves them all; a module uses those it needs.
"""
