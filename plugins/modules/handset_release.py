#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: handset_release
short_description: Roll a handset firmware release out in gated waves, resumable and reverted on a failed gate
version_added: 0.2.0
description:
  - Reads a C(handset_firmware) release file (target image per vendor and model family, scope, waves, maintenance
    window, gate; see docs/release_rollout.md) and validates it against the handsets and the firmware manifest of
    the provisioning server. Every error names file, line and field, and nothing is written.
  - Plans the waves once (a canary, then counts or shares of the scope) and keeps them, with every phone's state,
    its version before and after and each wave's gate, in the release record C(<record_dir>/<id>.json) (mode 0600,
    written atomically) and a page C(<id>.md). A rerun continues where the last run stopped.
  - Runs the next wave (at most O(max_waves) per call) - refused outside the maintenance window unless O(force) -
    by pinning exactly the wave's handsets to the target image in their provisioning files (the rendering of
    M(voipops.voip.handset_provision); a run that would change a file of a phone outside the release is refused),
    sending them their vendor's re-sync NOTIFY, and waiting until the callserver's registrations show them back
    on the target version or the gate's timeout.
  - The gate passes when the share of the wave registered again on the target version reaches C(gate.registered)
    and no more than C(gate.unregistered_rise) phones outside the wave that were registered before the wave are
    unregistered. A failed gate halts the release, gives the wave's phones their previous files back, re-syncs
    them and reports which phone failed how (V(image_refused), V(came_back_on_old_version), V(did_not_come_back)).
  - A phone of the wave that is in a call (the callserver's calls in progress, Kamailio's C(dlg.list), matched to the
    phone's registered contact) is deferred - its files are not re-pointed and it gets no re-sync - and so is a phone
    that holds the update itself because a call started; the gate counts deferred phones apart. Deferred phones are
    retried at the start of every later run (and after the wave, waiting up to O(defer_wait) seconds for their calls
    to end), inside the window. A release with deferred phones stays V(in_progress) until all are done.
  - O(action=revert) takes a whole release back - every phone it moved to its target returns to the version it ran
    before, wave by wave in reverse order - and records it (status V(reverted)).
author: voipops maintainers (@voipops)
extends_documentation_fragment:
  - voipops.voip.callserver
  - voipops.voip.provisioning
  - voipops.voip.attributes
  - voipops.voip.attributes.CHANGES
attributes:
  check_mode:
    support: full
    details: Check mode returns the plan (the waves and what the next wave would move) and writes nothing.
  diff_mode:
    support: full
    details: The diff lists, per phone of the next wave, the version it moves from and to.
  idempotent:
    support: full
    details: A rerun of a finished (or halted, or reverted) release changes nothing; so does a second revert.
options:
  action:
    description:
      - V(rollout) runs the next wave(s). V(revert) takes every phone the release moved back to the version it ran
        before (its files pinned to that version, a re-sync, a wait of the gate's timeout until it is registered on
        it), wave by wave in reverse order, inside the window unless O(force); the release is then V(reverted).
    type: str
    choices: [rollout, revert]
    default: rollout
  defer_wait:
    description:
      - Seconds to wait after a wave for its deferred phones' calls to end, to retry them in the same run.
        V(0) leaves them to the next run (each run retries first the deferred phones whose calls have ended).
    type: float
    default: 0
  release_file:
    description: The release file (YAML) of kind C(handset_firmware).
    type: path
    required: true
  record_dir:
    description: Directory of the release records (C(<id>.json), C(<id>.md), C(<id>.lock)).
    type: path
    required: true
  max_waves:
    description: Waves to run in this call (V(0) = until the release is done or halted). An AWX workflow runs one per job.
    type: int
    default: 1
  force:
    description: Run a wave outside the release's maintenance window.
    type: bool
    default: false
  now:
    description: The current time as ISO 8601 UTC (for previews of a window); empty = the clock.
    type: str
  poll_interval:
    description: Seconds between two reads of the registrations while waiting for the gate.
    type: float
    default: 2.0
  concurrency:
    description: Re-sync NOTIFYs sent at once.
    type: int
    default: 500
  groups:
    description:
      - "Handset groups the release's C(scope.groups) may name, C({group: [handset names]}) (for example the
        inventory's C(groups)); an estate handset's C(tags) are groups too."
    type: dict
  estate_file:
    description: The estate file; its handsets are the fleet and its sites give the window's time zones.
    type: path
  handsets:
    description:
      - The handsets, each C({name, mac, vendor, model, site, user, firmware}), instead of O(estate_file).
  handsets_file:
    description: A handsets file as M(voipops.voip.handset_provision) reads it, instead of O(estate_file).
  users_file:
    required: true
notes:
  - The provisioning options must be those of the last M(voipops.voip.handset_provision) run, so that only the
    release's phones get other files; the module checks this before it writes anything.
  - After a release, pin the new version in the estate (or provision with O(firmware=latest)); a later
    M(voipops.voip.handset_provision) run with other pins would point the phones elsewhere.
"""

EXAMPLES = r"""
- name: Run the next wave of a handset firmware release
  voipops.voip.handset_release:
    release_file: releases/fw-2026-12-yealink.yml
    record_dir: /var/lib/voipops/releases
    estate_file: inventories/prod/estate.yml
    users_file: /var/lib/voipops/credentials.json
    root: /srv/prov
    provisioning_url: http://prov.example.org/
    registrar: sip.example.org
    firmware: none
    rpc_url: http://127.0.0.1:5071/RPC
  register: wave

- name: Stop here when the gate failed (the wave was already rolled back)
  ansible.builtin.assert:
    that: wave.verdict not in ['failed', 'halted']
    fail_msg: "{{ wave.failed_targets }}"
"""

RETURN = r"""
release:
  description: The release id.
  returned: always
  type: str
  sample: fw-2026-12-yealink
status:
  description: The release's status in its record (V(new), V(in_progress), V(done), V(halted)).
  returned: always
  type: str
  sample: in_progress
verdict:
  description:
    - V(passed) (the waves run in this call passed their gate), V(failed) (a wave failed its gate in this call and
      was rolled back), V(halted) (halted by an earlier run), V(done), V(refused) (outside the window),
      V(planned) (check mode), V(reverted) (with O(action=revert), every phone back on its previous version).
  returned: always
  type: str
  sample: passed
waves_run:
  description: The waves (1-based) run in this call.
  returned: always
  type: list
  elements: int
  sample: [1]
deferred:
  description: The phones of the release deferred because they were in a call, not yet retried successfully.
  returned: always
  type: list
  elements: str
  sample: ["hs-1001"]
retried:
  description: The deferred phones retried in this call (their calls had ended).
  returned: always
  type: list
  elements: str
  sample: []
action:
  description: V(revert) when O(action=revert).
  returned: when O(action=revert)
  type: str
  sample: revert
reverted_waves:
  description: With O(action=revert), the waves (1-based, in the order reverted) taken back in this call.
  returned: when O(action=revert)
  type: list
  elements: int
  sample: [3, 2, 1]
revert_failed:
  description: With O(action=revert), phones not registered on their previous version within the gate's timeout.
  returned: when O(action=revert) and not in check mode
  type: dict
  sample: {}
next_wave:
  description: In check mode, the wave (1-based) the next run would start or finish; null when none is left.
  returned: check mode
  type: int
  sample: 2
moves:
  description:
    - In check mode, the phones of the next wave with the version they run and the target. With O(action=revert)
      (also when not in check mode), every phone to take back, with its wave, the version it runs and the one it
      goes back to.
  returned: check mode or O(action=revert)
  type: list
  elements: dict
  sample: [{"name": "hs-1001", "from": "96.86.0.100", "to": "96.86.0.110"}]
window:
  description: In check mode, whether the next wave may start now, and why not.
  returned: check mode
  type: dict
  sample: {"open": false, "detail": "Mon 2026-12-07 14:00 Europe/Amsterdam is outside the maintenance window"}
waves:
  description: Every wave with its phones, state and gate.
  returned: always
  type: list
  elements: dict
  sample: [{"wave": 1, "names": ["hs-1001"], "state": "done", "gate": {"passed": true, "share": 1.0}}]
gate:
  description:
    - The gate of the last wave run in this call - C(passed), C(share), C(required), C(on_target), C(counted),
      C(deferred), C(rise), C(allowed_rise), C(newly_unregistered_outside), C(failed) ({name, outcome}).
  returned: always
  type: dict
  sample: {"passed": false, "share": 0.5, "required": 1.0, "failed": {"hs-5": "image_refused"}}
failed_targets:
  description: Every phone of the release whose wave did not bring it onto the target, with how and its versions.
  returned: always
  type: dict
  sample: {"hs-5": {"outcome": "image_refused", "before": "11.3.7", "after": "11.3.7", "to": "11.3.9"}}
targets:
  description: Every phone of the release with its state, version before and after, target and outcome.
  returned: always
  type: dict
  sample: {"hs-1001": {"state": "done", "before": "96.86.0.100", "after": "96.86.0.110", "to": "96.86.0.110",
           "outcome": "on_target"}}
excluded:
  description: Phones of the scope left out, with the reason (no target image for their family).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "hs-1002", "reason": "no target image for poly VVX"}]
refused:
  description: Why the wave was refused (outside the maintenance window), else null.
  returned: always
  type: str
  sample: null
record:
  description: Path of the release record (JSON).
  returned: always
  type: str
  sample: /var/lib/voipops/releases/fw-2026-12-yealink.json
page:
  description: Path of the release page a person reads (Markdown).
  returned: always
  type: str
  sample: /var/lib/voipops/releases/fw-2026-12-yealink.md
errors:
  description: Every input error (file, line, object, field, message) when the input is rejected.
  returned: failure
  type: list
  elements: dict
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.voipops.voip.plugins.module_utils.callservers.base import (
    DriverError, callserver_argspec, connection, get_driver)
from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio import HAS_REQUESTS, REQUESTS_IMPORT_ERROR
from ansible_collections.voipops.voip.plugins.module_utils.handsets import base, registrations
from ansible_collections.voipops.voip.plugins.module_utils import provision
from ansible_collections.voipops.voip.plugins.module_utils.release import handset
from ansible_collections.voipops.voip.plugins.module_utils.release.record import RecordError
from ansible_collections.voipops.voip.plugins.module_utils.source import SourceError, SourceErrors


def main():
    argument_spec = callserver_argspec()
    # the provisioning options of handset_provision: the release re-renders the files it wrote
    argument_spec.update(provision.provisioning_argspec(required=("users_file",)))
    argument_spec.update(
        release_file=dict(type="path", required=True),
        record_dir=dict(type="path", required=True),
        action=dict(type="str", choices=["rollout", "revert"], default="rollout"),
        defer_wait=dict(type="float", default=0.0),
        max_waves=dict(type="int", default=1),
        force=dict(type="bool", default=False),
        now=dict(type="str"),
        poll_interval=dict(type="float", default=2.0),
        concurrency=dict(type="int", default=500),
        groups=dict(type="dict"),
        estate_file=dict(type="path"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_one_of=[("estate_file", "handsets", "handsets_file")],
                           mutually_exclusive=[("estate_file", "handsets", "handsets_file")])
    for ok, lib, err in ((base.HAS_JINJA2, "jinja2", base.JINJA2_IMPORT_ERROR),
                         (registrations.HAS_NETADDR, "netaddr", registrations.NETADDR_IMPORT_ERROR),
                         (HAS_REQUESTS, "requests", REQUESTS_IMPORT_ERROR)):
        if not ok:
            module.fail_json(msg=missing_required_lib(lib), exception=err)
    p = module.params
    if not p["rpc_url"]:
        module.fail_json(msg="rpc_url is required: the gate reads the callserver's live registrations")
    try:
        mode = provision.file_mode(p["mode"])
    except ValueError:
        module.fail_json(msg="mode '%s' is not an octal file mode" % p["mode"])
    settings = provision.settings_of(p)
    try:
        driver = get_driver(**connection(p))
        handsets, sites, groups = handset.load_inputs(p)
        users = provision.load_users(p["users_file"])
        run = handset.HandsetRelease(
            p["release_file"], p["record_dir"], p["root"], settings, handsets, users, driver.registrations,
            sites=sites, groups=groups, force=p["force"], now=p["now"], max_waves=p["max_waves"],
            poll=p["poll_interval"], mode=mode, concurrency=p["concurrency"], sip_timeout=p["timeout"],
            active_calls=driver.active_calls, defer_wait=p["defer_wait"])
        if p["action"] == "revert":
            result = run.revert_release(check_mode=module.check_mode)
        else:
            result = run.run(check_mode=module.check_mode)
    except SourceErrors as exc:
        module.fail_json(msg=str(exc), errors=exc.as_list())
    except (SourceError, base.ProfileError, RecordError, DriverError) as exc:
        module.fail_json(msg=str(exc))
    except handset.ReleaseError as exc:
        module.fail_json(msg=str(exc), **exc.result)
    except (IOError, OSError) as exc:
        module.fail_json(msg="release I/O failed: %s" % exc, exception=traceback.format_exc())
    if module._diff and result.get("moves") and p["action"] == "revert":
        result["diff"] = {"before": "".join("%s: %s\n" % (m["name"], m["from"]) for m in result["moves"]),
                          "after": "".join("%s: %s\n" % (m["name"], m["to"]) for m in result["moves"]),
                          "before_header": "%s (running)" % result["release"],
                          "after_header": "%s (reverted)" % result["release"]}
    elif module._diff and result.get("moves"):
        result["diff"] = {"before": "".join("%s: %s\n" % (m["name"], m["from"]) for m in result["moves"]),
                          "after": "".join("%s: %s\n" % (m["name"], m["to"]) for m in result["moves"]),
                          "before_header": "%s wave %s (running)" % (result["release"], result.get("next_wave")),
                          "after_header": "%s wave %s (target)" % (result["release"], result.get("next_wave"))}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
