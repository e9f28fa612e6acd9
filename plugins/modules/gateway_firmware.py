#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: gateway_firmware
short_description: Upgrade media gateways one at a time, drained from the callserver, with a health gate
version_added: 0.2.0
description:
  - Upgrades the firmware of the gateways in O(gateways), one after the other, without failing a call.
  - "Per gateway: drain it in the callserver's dispatcher (no new calls), let its calls end (a graceful reset that
    the device performs when its last call has ended, or after O(drain_timeout) seconds), upload the image (a busy
    device is retried), wait until it is healthy on O(version), return it to service, and gate it (it answers SIP
    OPTIONS and its dispatcher entry is active again). A gateway with SNMP settings (O(gateways[].snmp)) must also
    show O(version) in its SNMP C(sysDescr) (1.3.6.1.2.1.1.1.0; a Mediant's ends in C(SW Version: <version>)) before
    it returns to service; one that does not fails the gate, named, and stays drained."
  - "The first failure stops the rollout: that gateway stays drained and is named in RV(failed_gateway); the gateways
    before it run the new version and carry calls, those after it are not touched. An image the gateway refuses, or a
    load that does not boot (the device comes back on its previous load), fails it. A gateway that runs the new load
    but fails the gate is loaded with O(rollback_image) when one is given."
  - Gateways already healthy on O(version) are left alone (a second run changes nothing).
  - "Family V(audiocodes_rest): AudioCodes Mediant devices through their REST API (REST API for Mediant Devices 7.40:
    C(GET /api/v1/status), C(PUT /api/v1/files/software), C(POST /api/v1/actions/reset))."
author: voipops maintainers (@voipops)
extends_documentation_fragment:
  - voipops.voip.callserver
  - voipops.voip.gateways.firmware
  - voipops.voip.attributes
  - voipops.voip.attributes.CHANGES
attributes:
  check_mode:
    support: full
    details: Reads every gateway's version and reports which would be upgraded; nothing is drained, sent or reset.
  diff_mode:
    support: full
    details: The version of every gateway before and after.
  idempotent:
    support: full
options:
  rpc_url:
    required: true
  # gateways (its keys and those of gateways[].snmp): doc fragment voipops.voip.gateways.firmware
  family:
    description: The gateway family (management API).
    type: str
    choices: [audiocodes_rest]
    default: audiocodes_rest
  image:
    description: The firmware image to load (an AudioCodes C(.cmp)).
    type: path
    required: true
  version:
    description: The version the gateways report when they run O(image) (C(versionID)).
    type: str
    required: true
  rollback_image:
    description: The image of the previous version, loaded when a gateway runs the new version but fails the gate.
    type: path
  username:
    description:
      - User of the management API.
      - If not set, the environment variable E(VOIPOPS_GATEWAY_USERNAME) is used (an AWX credential can inject it).
    type: str
  password:
    description:
      - Password of the management API.
      - If not set, the environment variable E(VOIPOPS_GATEWAY_PASSWORD) is used (an AWX credential can inject it).
    type: str
  api_timeout:
    description: Seconds for one management API request.
    type: float
    default: 10
  api_validate_certs:
    description: Whether to verify the management API's TLS certificate.
    type: bool
    default: true
  drain_timeout:
    description:
      - The graceful reset's C(gracefulTimeout) after the drain, in seconds - the longest a call may keep the gateway
        from its upgrade. V(1) waits for the last call however long it takes; V(0) skips the graceful reset (the upload
        resets the gateway at once, cutting calls still in progress).
    type: int
    default: 300
  boot_timeout:
    description: Seconds a gateway has to come back after a reset.
    type: float
    default: 600
  busy_retries:
    description: How often a busy refusal (HTTP 409, e.g. HA synchronization in progress) is retried.
    type: int
    default: 5
  busy_delay:
    description: Seconds between those retries.
    type: float
    default: 10
  gate_timeout:
    description: Seconds a returned gateway has to answer OPTIONS and show active in the dispatcher.
    type: float
    default: 60
  poll_interval:
    description: Seconds between status reads while waiting.
    type: float
    default: 1
  release_id:
    description:
      - The release's id (letters, digits, C(.), C(_), C(-)). With O(record_dir), every run that is not a check run
        writes the release record C(<record_dir>/<release_id>.json) (mode 0600, written atomically) and its page
        C(<release_id>.md) - each gateway's version before and after, its outcome and gate, the failed gateway, the
        start and end of the run (every run is kept in C(runs)).
    type: str
  record_dir:
    description: Directory of the release records; see O(release_id).
    type: path
requirements:
  - requests
  - pysnmp >= 7.1 (for O(gateways[].snmp))
seealso:
  - module: voipops.voip.gateway_info
"""

EXAMPLES = r"""
- name: Upgrade the gateways of dispatcher set 1, one at a time
  voipops.voip.gateway_firmware:
    rpc_url: http://127.0.0.1:5071/RPC
    gateways:
      - {name: mgw1, api_url: "https://10.0.0.11/api/v1", sip_uri: "sip:10.0.0.11:5060"}
      - {name: mgw2, api_url: "https://10.0.0.12/api/v1", sip_uri: "sip:10.0.0.12:5060"}
    image: files/M1000_SIP_7.40A.250.001.cmp
    version: 7.40A.250.001
    rollback_image: files/M1000_SIP_7.40A.100.001.cmp
    username: admin
    password: "{{ vault_gateway_password }}"
  register: upgrade

- name: Who would be upgraded (user and password from VOIPOPS_GATEWAY_USERNAME / _PASSWORD, e.g. an AWX credential)
  voipops.voip.gateway_firmware:
    rpc_url: http://127.0.0.1:5071/RPC
    gateways: "{{ gateways }}"
    image: files/M1000_SIP_7.40A.250.001.cmp
    version: 7.40A.250.001
  check_mode: true
"""

RETURN = r"""
gateways:
  description: One record per gateway, in order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The gateway.
      type: str
    status:
      description: V(upgraded), V(current) (already on the version), V(would upgrade) (check mode), V(failed),
        V(rolled back) or V(not started).
      type: str
    before:
      description: Version before.
      type: str
    after:
      description: Version after.
      type: str
    drained:
      description: Whether it is left drained (a failed gateway).
      type: bool
    rolled_back:
      description: Whether O(rollback_image) was loaded.
      type: bool
    steps:
      description: What was done, in words.
      type: list
      elements: str
    gate:
      description:
        - The gate (C(passed), C(options), C(dispatcher); with SNMP settings C(snmp) - C(passed), the C(sys_descr)
          read and an C(error)). A failed SNMP part ends the gate before the gateway returns to service (no
          C(options), C(dispatcher)).
      type: dict
    error:
      description: Why it failed.
      type: str
failed_gateway:
  description: The gateway that stopped the rollout (null when none did).
  returned: always
  type: str
target_version:
  description: O(version).
  returned: always
  type: str
record:
  description: Path of the release record (JSON); null without O(release_id) and O(record_dir), or in check mode.
  returned: always
  type: str
page:
  description: Path of the record's page (Markdown); null when no record was written.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib
from ansible_collections.voipops.voip.plugins.module_utils import snmp
from ansible_collections.voipops.voip.plugins.module_utils.callservers.base import (
    DriverError, callserver_argspec, connection, get_driver)
from ansible_collections.voipops.voip.plugins.module_utils.gateways import audiocodes_rest
from ansible_collections.voipops.voip.plugins.module_utils.gateways.base import GatewayError, get_family
from ansible_collections.voipops.voip.plugins.module_utils.release import gateway as rollout
from ansible_collections.voipops.voip.plugins.module_utils.release import run_record
from ansible_collections.voipops.voip.plugins.module_utils.release.record import RecordError, now_iso


def main():
    argument_spec = callserver_argspec(required=("rpc_url",))
    snmp_options = snmp.credential_spec(with_defaults=False)
    snmp_options["host"] = dict(type="str")
    argument_spec.update(
        gateways=dict(type="list", elements="dict", required=True, options=dict(
            name=dict(type="str", required=True),
            api_url=dict(type="str", required=True),
            sip_uri=dict(type="str"),
            dispatcher_uri=dict(type="str"),
            dispatcher_setid=dict(type="int", default=1),
            snmp=dict(type="dict", options=snmp_options),
        )),
        family=dict(type="str", default="audiocodes_rest", choices=["audiocodes_rest"]),
        image=dict(type="path", required=True),
        version=dict(type="str", required=True),
        rollback_image=dict(type="path"),
        username=dict(type="str", fallback=(env_fallback, ["VOIPOPS_GATEWAY_USERNAME"])),
        password=dict(type="str", no_log=True, fallback=(env_fallback, ["VOIPOPS_GATEWAY_PASSWORD"])),
        api_timeout=dict(type="float", default=10.0),
        api_validate_certs=dict(type="bool", default=True),
        drain_timeout=dict(type="int", default=300),
        boot_timeout=dict(type="float", default=600.0),
        busy_retries=dict(type="int", default=5),
        busy_delay=dict(type="float", default=10.0),
        gate_timeout=dict(type="float", default=60.0),
        poll_interval=dict(type="float", default=1.0),
        release_id=dict(type="str"),
        record_dir=dict(type="path"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_together=[("release_id", "record_dir")])
    if not audiocodes_rest.HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"), exception=audiocodes_rest.REQUESTS_IMPORT_ERROR)
    p = module.params
    names = [g["name"] for g in p["gateways"]]
    dupes = sorted(set(n for n in names if names.count(n) > 1))
    if dupes:
        module.fail_json(msg="gateways: %s listed more than once" % ", ".join(dupes))
    for index, gw in enumerate(p["gateways"]):
        if gw.get("snmp"):
            if not snmp.HAS_PYSNMP:
                module.fail_json(msg=missing_required_lib("pysnmp"), exception=snmp.PYSNMP_IMPORT_ERROR)
            try:
                rollout.snmp_target_of(gw)
            except ValueError as exc:
                module.fail_json(msg="gateways[%d].snmp: %s" % (index, exc))
    for option in ("image", "rollback_image"):
        if p[option] and not module.check_mode:
            try:
                open(p[option], "rb").close()
            except (IOError, OSError) as exc:
                module.fail_json(msg="%s %s cannot be read: %s" % (option, p[option], exc))
    conn = dict(username=p["username"], password=p["password"], timeout=p["api_timeout"],
                validate_certs=p["api_validate_certs"])
    started = now_iso()
    try:
        run = rollout.Rollout(
            get_family(p["family"]), get_driver(**connection(p)), p["image"], p["version"], conn=conn,
            rollback_image=p["rollback_image"], drain_timeout=p["drain_timeout"], boot_timeout=p["boot_timeout"],
            busy_retries=p["busy_retries"], busy_delay=p["busy_delay"], gate_timeout=p["gate_timeout"],
            poll=p["poll_interval"])
        result = run.run(p["gateways"], check_mode=module.check_mode)
        failed = None
    except rollout.RolloutFailed as exc:
        result, failed = exc.result, str(exc)
    except (GatewayError, DriverError) as exc:
        module.fail_json(msg=str(exc), changed=False)
    result.update(record=None, page=None)
    if p["release_id"] and not module.check_mode:
        try:
            result["record"], result["page"] = run_record.record_gateways(p["record_dir"], p["release_id"], result,
                                                                          started, failed)
        except (RecordError, IOError, OSError) as exc:
            failed = "%s%s" % (failed + "; " if failed else "", "the release record was not written: %s" % exc)
    if module._diff:
        result["diff"] = _diff(result)
    if failed is not None:
        result.pop("msg", None)
        module.fail_json(msg=failed, **result)
    module.exit_json(**result)


def _diff(result):
    return {"before": dict((g["name"], g.get("before")) for g in result["gateways"]),
            "after": dict((g["name"], g.get("after")) for g in result["gateways"])}


if __name__ == "__main__":
    main()
