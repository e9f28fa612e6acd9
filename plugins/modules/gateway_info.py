#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: gateway_info
short_description: One health record per media gateway - SNMP (E1/ISDN alarms), SIP OPTIONS and the callserver's view
version_added: 0.1.0
description:
  - For every gateway, at the same time - polls SNMP (interfaces, E1/T1 alarms from DS1-MIB, ISDN channels),
    sends a SIP OPTIONS, and reads the callserver's view of it (Kamailio dispatcher state) - then merges the
    three into one record with a verdict RV(gateways[].status) V(ok), V(degraded) or V(down) and the
    RV(gateways[].reasons) in words.
  - V(down) means the gateway cannot take calls - no answer to OPTIONS, the callserver does not route to it
    (dispatcher inactive, disabled or not listed), or every E1/T1 is in a critical alarm (LOS, LOF, AIS, ...).
  - V(degraded) means it can, but something needs attention - one E1 in alarm, a far-end alarm (RAI),
    an interface switched on but down, an ISDN D channel down, SNMP not answering, OPTIONS answered with an error.
  - A gateway problem never fails the task; a callserver that does not answer is reported in RV(callserver)
    and leaves the dispatcher state V(unknown).
author: voipops maintainers (@voipops)
extends_documentation_fragment:
  - voipops.voip.callserver
  - voipops.voip.snmp
  - voipops.voip.gateways.info
  - voipops.voip.attributes
  - voipops.voip.attributes.INFO_MODULE
options:
  rpc_url:
    required: true
  # gateways (its keys and those of gateways[].snmp): doc fragment voipops.voip.gateways.info
  gather:
    description: SNMP fact groups to read per gateway. An empty list skips SNMP.
    type: list
    elements: str
    choices: [system, interfaces, ds1, isdn]
    default: [system, interfaces, ds1, isdn]
  probe_sip:
    description: Send a SIP OPTIONS to every gateway.
    type: bool
    default: true
  sip_timeout:
    description: Seconds to wait for the answer to OPTIONS.
    type: float
    default: 2
  snmp_timeout:
    description: Seconds to wait for each SNMP response before a retry (a gateway's own C(snmp.timeout) wins).
    type: float
    default: 2
  concurrency:
    description: Gateways handled at the same time (SNMP and SIP each).
    type: int
    default: 64
notes:
  - SNMP secrets (C(community), C(auth_key), C(priv_key)) are hidden from logs and output wherever they appear.
  - The module is in the action groups C(group/voipops.voip.callserver) (the callserver connection - O(rpc_url),
    O(timeout) - of which it reads the dispatcher) and C(group/voipops.voip.snmp) (the SNMP credentials); O(timeout) is
    always the callserver's, O(snmp_timeout) the SNMP one.
requirements:
  - requests
seealso:
  - module: voipops.voip.snmp_info
  - module: voipops.voip.callserver_info
"""

EXAMPLES = r"""
- name: Health of the lab's gateways
  voipops.voip.gateway_info:
    rpc_url: "{{ lab.callserver.rpc_url }}"
    gateways: "{{ lab.gateways }}"
  register: gw

- name: Fail the play when a gateway is down
  ansible.builtin.assert:
    that: gw.summary.down == 0
    fail_msg: "{{ gw.gateways | selectattr('status', 'eq', 'down') | map(attribute='name') | list }}: {{ gw.gateways | map(attribute='reasons') | flatten }}"

- name: Production gateways, SNMPv3 authPriv shared by all
  voipops.voip.gateway_info:
    rpc_url: https://cs1.example.net:5071/RPC
    version: "3"
    user: monitor
    auth_protocol: sha256
    auth_key: "{{ vault_snmp_auth }}"
    priv_protocol: aes
    priv_key: "{{ vault_snmp_priv }}"
    gateways:
      - {name: mgw-ams-01, host: 10.20.0.11}
      - {name: mgw-rtm-01, host: 10.30.0.11, sip_port: 5080}
"""

RETURN = r"""
gateways:
  description: One record per gateway, in the order of O(gateways).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Gateway name.
      type: str
    sip_uri:
      description: URI that was probed.
      type: str
    status:
      description: Verdict - V(ok), V(degraded) or V(down).
      type: str
      sample: degraded
    reasons:
      description: Why the status is not V(ok) (empty when it is), most severe first.
      type: list
      elements: str
      sample: ["E1/T1 e1-0-0: LOS"]
    alarms:
      description: E1/T1 lines with alarms - C(line), C(if_index), C(alarms) (V(LOS), V(AIS), V(RAI), ...), C(severity).
      type: list
      elements: dict
      sample: [{"line": "e1-0-0", "if_index": 2, "alarms": ["LOS"], "severity": "critical"}]
    sip:
      description:
        - Result of the OPTIONS probe - C(status) (V(ok), V(timeout), V(refused), V(error), ...), C(reachable), C(code),
          C(reason), C(rtt_ms), C(server), C(user_agent), C(error), C(uri). Null when O(probe_sip=false).
      type: dict
      sample: {"status": "ok", "reachable": true, "code": 200, "rtt_ms": 0.8}
    dispatcher:
      description:
        - The callserver's view - C(state) V(active), V(inactive), V(disabled), V(trying), V(absent) (not listed) or
          V(unknown) (callserver did not answer), with C(flags), C(setid), C(uri), C(duid), C(probing) when listed.
      type: dict
      sample: {"state": "active", "flags": "AP", "setid": 1, "uri": "sip:127.0.0.1:5080"}
    snmp:
      description:
        - C(ok), C(error), C(target), and the decoded facts per O(gather) group - C(system), C(interfaces), C(ds1), C(isdn)
          (see M(voipops.voip.snmp_info) for their keys). Null when O(gather) is empty.
      type: dict
    problems:
      description:
        - What is wrong, as the gateway family judges it (the one severity model the health audit files as findings) -
          C(check), C(kind), C(severity) (null when it only shapes the status), C(effect) (V(down) or V(degraded)),
          C(reason) (the text in RV(gateways[].reasons)), C(summary), C(details), C(availability) and, for a problem of one
          interface or E1/T1 line, C(line) (the names the line is known by, and the C(kind)/C(severity) it has on the
          estate trunk that line carries).
      type: list
      elements: dict
      sample: [{"check": "snmp", "kind": "e1_alarm:e1-0-0", "severity": "critical", "effect": "degraded",
                "reason": "E1/T1 e1-0-0: LOS", "availability": true}]
summary:
  description: Gateways per status.
  returned: always
  type: dict
  sample: {"total": 2, "ok": 1, "degraded": 1, "down": 0}
callserver:
  description: Whether the callserver's dispatcher view could be read - C(rpc_url), C(ok), C(error).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.voipops.voip.plugins.module_utils import snmp
from ansible_collections.voipops.voip.plugins.module_utils.gateways import base as gateways
from ansible_collections.voipops.voip.plugins.module_utils.callservers import kamailio
from ansible_collections.voipops.voip.plugins.module_utils.callservers.base import callserver_argspec

SECRET_KEYS = ("community", "auth_key", "priv_key")


def main():
    argument_spec = snmp.credential_spec()
    del argument_spec["timeout"]
    snmp_options = snmp.credential_spec(with_defaults=False)
    snmp_options["host"] = dict(type="str")
    argument_spec.update(callserver_argspec(required=("rpc_url",)))
    argument_spec.update(
        gateways=dict(type="list", elements="dict", required=True, options=dict(
            name=dict(type="str", required=True),
            host=dict(type="str"),
            sip_port=dict(type="int", default=5060),
            sip_uri=dict(type="str"),
            dispatcher_uri=dict(type="str"),
            dispatcher_setid=dict(type="int"),
            priority=dict(type="int"),
            snmp=dict(type="dict", options=snmp_options),
        )),
        gather=dict(type="list", elements="str", choices=["system", "interfaces", "ds1", "isdn"],
                    default=["system", "interfaces", "ds1", "isdn"]),
        probe_sip=dict(type="bool", default=True),
        sip_timeout=dict(type="float", default=2.0),
        snmp_timeout=dict(type="float", default=2.0),
        concurrency=dict(type="int", default=64),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not snmp.HAS_PYSNMP:
        module.fail_json(msg=missing_required_lib("pysnmp"), exception=snmp.PYSNMP_IMPORT_ERROR)
    if not kamailio.HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"), exception=kamailio.REQUESTS_IMPORT_ERROR)
    p = module.params
    family = gateways.get_family("generic")
    snmp_defaults = dict((k, p[k]) for k in snmp.CREDENTIAL_KEYS if k != "timeout" and p.get(k) is not None)
    errors = []
    for i, g in enumerate(p["gateways"]):
        if not g.get("host") and not g.get("sip_uri"):
            errors.append("gateways[%d] (%s): needs host or sip_uri" % (i, g["name"]))
        try:
            snmp.normalize_target(family.snmp_target(g, snmp_defaults),
                                  {"timeout": p["snmp_timeout"], "retries": p["retries"]})
        except ValueError as exc:
            if p["gather"]:
                errors.append("gateways[%d]: %s" % (i, exc))
    if errors:
        module.fail_json(msg="invalid gateways: " + "; ".join(errors), errors=errors)

    records, summary, callserver = family.state(
        p["gateways"], snmp_defaults=snmp_defaults, groups=p["gather"], rpc_url=p["rpc_url"],
        rpc_timeout=p["timeout"], validate_certs=p["validate_certs"], sip_timeout=p["sip_timeout"],
        snmp_timeout=p["snmp_timeout"], snmp_retries=p["retries"], concurrency=p["concurrency"],
        probe_sip=p["probe_sip"], platform=p["platform"])
    module.exit_json(changed=False, gateways=records, summary=summary, callserver=callserver)


if __name__ == "__main__":
    main()
