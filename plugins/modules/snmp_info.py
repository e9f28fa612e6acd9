#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: snmp_info
short_description: Read decoded SNMP facts (system, interfaces, host, E1/T1 alarms, ISDN) from many agents at once
version_added: 0.1.0
description:
  - Polls many SNMP agents concurrently from one module call (SNMP v2c and v3) and returns facts people read,
    not raw OIDs, for example C(uptime) V(49d 1h 20m), interface speed V(1 Gbit/s), storage percent used,
    E1/T1 alarms V(LOS)/V(AIS)/V(RAI) and ISDN B-channel states.
  - Fact groups (O(gather)) - V(system) (SNMPv2-MIB system group), V(interfaces) (IF-MIB ifTable + ifXTable),
    V(host) (HOST-RESOURCES-MIB storage and processor load), V(ucd) (net-snmp UCD-SNMP-MIB load, memory,
    disks, process counts), V(ds1) (DS1-MIB dsx1LineStatus decoded to alarms), V(isdn) (ISDN-MIB bearer and
    D channels).
  - A target that does not answer does not fail the task (unless O(fail_on_error=true)); its result carries
    C(ok=false) and an C(error) naming the target.
author: voipops maintainers (@voipops)
extends_documentation_fragment:
  - voipops.voip.snmp
  - voipops.voip.snmp.TIMEOUT
  - voipops.voip.attributes
  - voipops.voip.attributes.INFO_MODULE
options:
  targets:
    description:
      - The SNMP agents. Keys not given fall back to the module's top-level options of the same name.
      - A plain string is taken as a host name or address.
    type: list
    elements: raw
    required: true
  gather:
    description: Fact groups to collect from every target.
    type: list
    elements: str
    choices: [system, interfaces, host, ucd, ds1, isdn]
    default: [system]
  get:
    description: Extra numeric OIDs (exact instances) to read; returned raw in RV(results[].values).
    type: list
    elements: str
    default: []
  walk:
    description: Extra numeric OID subtrees to walk; returned raw in RV(results[].values).
    type: list
    elements: str
    default: []
  concurrency:
    description: How many agents are polled at the same time.
    type: int
    default: 64
  fail_on_error:
    description: Fail the task when any target does not answer or answers with an error.
    type: bool
    default: false
notes:
  - Each element of O(targets) accepts C(name), C(host), C(port), C(version), C(community), C(user),
    C(auth_protocol), C(auth_key), C(priv_protocol), C(priv_key), C(context), C(timeout), C(retries).
    Secrets given per target are hidden from logs like the top-level ones.
  - GETBULK walks all needed table columns of a target in parallel, so a small gateway is read in one or two requests.
seealso:
  - module: voipops.voip.gateway_info
"""

EXAMPLES = r"""
- name: System facts of the callserver host and both gateways (SNMPv2c)
  voipops.voip.snmp_info:
    community: kamlab-ro
    targets:
      - 127.0.0.1:11171
      - {name: mgw1, host: 127.0.0.1, port: 16101, community: mgw1}
  register: snmp

- name: E1 alarms and ISDN channels of every gateway in the inventory, SNMPv3 authPriv
  voipops.voip.snmp_info:
    version: "3"
    user: monitor
    auth_protocol: sha
    auth_key: "{{ vault_snmp_auth }}"
    priv_protocol: aes
    priv_key: "{{ vault_snmp_priv }}"
    targets: "{{ groups['gateways'] | map('extract', hostvars, 'ansible_host') | list }}"
    gather: [system, interfaces, ds1, isdn]
  register: gw

- name: Lines in alarm
  ansible.builtin.debug:
    msg: "{{ item.0.name }} {{ item.1.name }}: {{ item.1.alarms | join('+') }}"
  loop: "{{ gw.results | subelements('facts.ds1', skip_missing=true) }}"
  when: item.1.alarms | length > 0

- name: Disk and memory of the callserver host (net-snmp)
  voipops.voip.snmp_info:
    targets: [{host: 127.0.0.1, port: 11171, community: kamlab-ro}]
    gather: [host, ucd]
"""

RETURN = r"""
results:
  description: One entry per target, in the order of O(targets).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The target's name (C(host:port) when not given).
      type: str
      sample: mgw1
    host:
      description: Host polled.
      type: str
    port:
      description: UDP port polled.
      type: int
    version:
      description: SNMP version used.
      type: str
    ok:
      description: Whether the agent answered without error.
      type: bool
    error:
      description: Why the target failed, naming it (null when C(ok)).
      type: str
      sample: "mgw2: no SNMP response within 2.0s x 2 tries (host 10.0.0.2 port 161, community or ACL wrong, or agent down)"
    requests:
      description: SNMP requests sent to this target (retries included).
      type: int
    elapsed:
      description: Seconds this target took.
      type: float
    facts:
      description: Decoded facts per requested group (a group the agent does not implement is empty).
      type: dict
      contains:
        system:
          description: C(descr), C(object_id), C(uptime) (for example V(49d 1h 20m)), C(uptime_seconds), C(contact), C(name), C(location), C(services).
          type: dict
          sample: {"name": "mgw1", "uptime": "11h 47m", "uptime_seconds": 42420, "descr": "kamlab simulated media gateway"}
        interfaces:
          description:
            - Interfaces ordered by ifIndex with C(index), C(name), C(descr), C(alias), C(type), C(mtu), C(speed) (V(1 Gbit/s)),
              C(speed_bps), C(mac), C(admin_status), C(oper_status), C(in_octets), C(out_octets), C(in_errors), C(out_errors),
              C(in_discards), C(out_discards), C(last_change_ago) and C(fault) (switched on but not up).
          type: list
          elements: dict
        host:
          description: C(uptime), C(processes), C(users), C(memory), C(storage) (each with C(percent_used)), C(processor_load), C(processor_load_avg).
          type: dict
        ucd:
          description:
            - C(load) (V(1min)/V(5min)/V(15min)), C(memory) (with C(real_used_percent)), C(disks) (with C(percent_used)),
              C(processes) (count, min, error), C(cpu_percent).
          type: dict
        ds1:
          description:
            - E1/T1 lines with C(name), C(if_index), C(line_type), C(line_coding), C(circuit_id), C(line_status) (the raw bit map),
              C(alarms) (V(LOS), V(LOF), V(AIS), V(RAI), V(LOOPBACK), ...), C(status_flags) (DS1-MIB names), C(severity)
              (V(ok), V(warning), V(critical)) and C(state) (V(up), V(degraded), V(down)).
          type: list
          elements: dict
          sample: [{"name": "e1-0-0", "alarms": ["LOS"], "severity": "critical", "state": "down", "line_status": 64}]
        isdn:
          description:
            - C(channels) (B channels with C(state) V(idle), V(connecting), V(connected) or V(active) and their C(trunk)),
              C(summary) (counts per state, C(total), C(busy)), C(trunks) (counts per E1) and C(d_channels) (LAPD state, C(up)).
          type: dict
    values:
      description: Raw values of O(get) and O(walk) by numeric OID (text for printable strings, else V(0x...) hex).
      type: dict
      returned: when O(get) or O(walk) is set
      sample: {"1.3.6.1.2.1.1.5.0": "mgw1"}
summary:
  description: Counts over all targets.
  returned: always
  type: dict
  sample: {"total": 3, "ok": 2, "failed": 1}
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.voipops.voip.plugins.module_utils import snmp


def _targets(module):
    defaults = dict((k, module.params[k]) for k in snmp.CREDENTIAL_KEYS)
    targets, errors = [], []
    known = set(snmp.CREDENTIAL_KEYS) | set(["name", "host"])
    for i, item in enumerate(module.params["targets"]):
        if isinstance(item, str):
            host, _sep, port = item.rpartition(":") if item.count(":") == 1 else (item, "", "")
            item = {"host": host or item, "port": int(port)} if port.isdigit() else {"host": item}
        if not isinstance(item, dict):
            errors.append("targets[%d]: expected a host or a dict, got %r" % (i, item))
            continue
        unknown = sorted(set(item) - known)
        if unknown:
            errors.append("targets[%d]: unknown keys %s (known: %s)" % (i, ", ".join(unknown), ", ".join(sorted(known))))
            continue
        for secret in ("community", "auth_key", "priv_key"):
            if item.get(secret):
                module.no_log_values.add(str(item[secret]))
        try:
            targets.append(snmp.normalize_target(item, defaults))
        except ValueError as exc:
            errors.append("targets[%d]: %s" % (i, exc))
    if errors:
        module.fail_json(msg="invalid targets: " + "; ".join(errors), errors=errors)
    return targets


def main():
    argument_spec = snmp.credential_spec()
    argument_spec.update(
        targets=dict(type="list", elements="raw", required=True),
        gather=dict(type="list", elements="str", default=["system"],
                    choices=["system", "interfaces", "host", "ucd", "ds1", "isdn"]),
        get=dict(type="list", elements="str", default=[]),
        walk=dict(type="list", elements="str", default=[]),
        concurrency=dict(type="int", default=64),
        fail_on_error=dict(type="bool", default=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not snmp.HAS_PYSNMP:
        module.fail_json(msg=missing_required_lib("pysnmp"), exception=snmp.PYSNMP_IMPORT_ERROR)
    p = module.params
    targets = _targets(module)
    try:
        for oid in p["get"] + p["walk"]:
            snmp._check_oid(oid)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    poller = snmp.SnmpPoller(timeout=p["timeout"], retries=p["retries"], concurrency=p["concurrency"])
    results = poller.poll(targets, p["gather"], extra_get=p["get"], extra_walk=p["walk"])
    ok = sum(1 for r in results if r["ok"])
    summary = {"total": len(results), "ok": ok, "failed": len(results) - ok}
    if p["fail_on_error"] and summary["failed"]:
        module.fail_json(msg="%d of %d SNMP targets failed: %s" % (
            summary["failed"], summary["total"], "; ".join(r["error"] for r in results if not r["ok"])),
            results=results, summary=summary)
    module.exit_json(changed=False, results=results, summary=summary)


if __name__ == "__main__":
    main()
