#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: handset_provision
short_description: Render every handset's provisioning files into the provisioning server root
version_added: 0.1.0
description:
  - Renders, for every handset of the estate, the files its vendor's phones fetch at boot and on re-sync
    (Yealink C(y0000000000XX.cfg) + C(<mac>.cfg), Poly C(<mac>.cfg) + C(phone<mac>.cfg), Snom
    C(snom<model>-<MAC>.htm) + C(<MAC>.xml), Grandstream C(cfg<mac>.xml), Cisco MPP C(<mac>.xml)).
  - Each file carries the SIP account of the handset's user, the registrar and transport, NTP, time zone,
    language, display name and, when a firmware image for the handset's family is present under
    C(<root>/firmware/<vendor>/), the firmware URL.  A C(firmware/manifest.json) lists every image with its
    size and SHA-256.
  - The whole input is validated first; a bad MAC, an unknown vendor or model, a handset bound to a user
    that does not exist or a pinned firmware that is not on the server fails the task naming every error,
    and nothing is written.
  - Files are written atomically (temporary file and rename) with O(mode); files written by an earlier run
    for handsets that are gone are removed.  Files this module did not write are never touched.
author: voipops maintainers (@voipops)
extends_documentation_fragment:
  - voipops.voip.callserver
  - voipops.voip.provisioning
  - voipops.voip.attributes
  - voipops.voip.attributes.CHANGES
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The diff shows every created, updated and removed file with passwords replaced by C(********).
  idempotent:
    support: full
options:
  domain:
    description:
      - SIP domain of the handsets' accounts (defaults to O(registrar)).
      - If not set, the environment variable E(VOIPOPS_CALLSERVER_DOMAIN) is used.
  handsets:
    description:
      - The estate's handsets, each C({name, mac, vendor, model, site, user, firmware}); C(user) is the extension.
      - A multi-line device (a DECT base with its handsets, an ATA with its ports) gives C(lines) instead of C(user),
        the extensions in line order (a list of extensions or of C({user}), or C(a|b) in CSV). It gets one file with
        a line per extension; a model takes at most its number of lines (Yealink W70B 10, Cisco ATA191 2, a desk
        phone 1).
      - Either O(handsets) or O(handsets_file) is required.
  users_file:
    description:
      - A YAML file (a C(users) list or a top-level list) or CSV file (C(extension,display_name,sip_password)) with
        the users, instead of O(users).
      - Prefer it for thousands of users; every inline O(users[].sip_password) is a C(no_log) value that Ansible
        scrubs from all output, which costs time in proportion to output size times number of secrets.
  users:
    description:
      - The callserver's users, as returned by M(voipops.voip.callserver_users) or read from an estate file.
      - Either O(users) or O(users_file) is required.
    type: list
    elements: dict
    suboptions:
      extension:
        description: The extension (SIP user name unless O(users[].username) is given).
        type: str
        required: true
      display_name:
        description: Name shown on the handset.
        type: str
      sip_password:
        description: SIP digest password.
        type: str
        required: true
      username:
        description: SIP user name, when it differs from the extension.
        type: str
      auth_user:
        description: Digest authentication user name, when it differs from the user name.
        type: str
      label:
        description: Line key label (defaults to the display name).
        type: str
  mode:
    description:
      - File mode of the written files. The files hold SIP passwords - keep them out of reach of other users
        (the default V(0640) with O(group) the web server's group; never world-readable in production).
  group:
    description:
      - Group that owns the written files (for example the web server's group), so O(mode) C(0640) is readable by it.
      - Without it, the files get the group of O(root) when that directory is setgid (as the lab's is, with its nginx
        workers' group), else the group of the user running the module.
    type: str
notes:
  - Files are replaced by rename, so the web server never serves a half-written file.
  - The index C(.voipops-handsets.<root name>.json) beside O(root) (mode 0600, never in the web root) records the
    files this module owns.
  - The module is in the action group C(group/voipops.voip.callserver) so that one C(module_defaults) entry serves
    every callserver module; of the callserver connection options it uses only O(domain).
  - O(users_file) accepts the O(voipops.voip.callserver_users#module:credentials_file) that
    M(voipops.voip.callserver_users) writes for joiners and movers, as is.
"""

EXAMPLES = r"""
- name: Provision every handset of the estate
  voipops.voip.handset_provision:
    root: /srv/prov
    provisioning_url: http://prov.example.org/
    registrar: sip.example.org
    timezone: Europe/Amsterdam
    language: nl
    handsets: "{{ estate_handsets }}"
    users: "{{ callserver_users.users }}"
  register: prov

- name: Re-sync the handsets whose files changed (handset_resync takes the handsets and, in names, which of them)
  voipops.voip.handset_resync:
    rpc_url: http://127.0.0.1:5071/RPC
    handsets: "{{ estate_handsets }}"
    names: "{{ prov.changed_handsets }}"
  when: prov.changed
"""

RETURN = r"""
handsets:
  description: Number of handsets rendered.
  returned: always
  type: int
  sample: 50
files:
  description: Files created, updated and removed (paths relative to O(root)), and how many were unchanged.
  returned: always
  type: dict
  sample: {"created": ["001565aabbcc.cfg"], "updated": [], "removed": [], "unchanged": 99}
changed_handsets:
  description: Names of the handsets whose own files were created or updated (candidates for a re-sync).
  returned: always
  type: list
  elements: str
  sample: ["hs-0001"]
firmware:
  description: The firmware manifest, one entry per image found under C(<root>/firmware/).
  returned: always
  type: list
  elements: dict
  sample: [{"vendor": "yealink", "family": "T5xW", "version": "96.86.0.100", "size": 1048576,
            "sha256": "9f86d0...", "file": "firmware/yealink/T54W(T57W,T53W,T53,T53C,T54,T57)-96.86.0.100.rom"}]
errors:
  description: Every input error (file, line, object, field, message) when the input is rejected.
  returned: failure
  type: list
  elements: dict
"""

import grp
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.voipops.voip.plugins.module_utils.callservers.base import callserver_argspec
from ansible_collections.voipops.voip.plugins.module_utils.handsets import base, registrations
from ansible_collections.voipops.voip.plugins.module_utils import provision
from ansible_collections.voipops.voip.plugins.module_utils.source import SourceError, SourceErrors


def main():
    # the callserver connection options are accepted (group/voipops.voip.callserver); only domain is used here
    argument_spec = callserver_argspec()
    argument_spec.update(provision.provisioning_argspec())
    argument_spec.update(
        users=dict(type="list", elements="dict", options=dict(
            extension=dict(type="str", required=True),
            display_name=dict(type="str"),
            sip_password=dict(type="str", required=True, no_log=True),
            username=dict(type="str"),
            auth_user=dict(type="str"),
            label=dict(type="str"),
        )),
        group=dict(type="str"),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        required_one_of=[("handsets", "handsets_file"), ("users", "users_file")],
        mutually_exclusive=[("handsets", "handsets_file"), ("users", "users_file")],
        supports_check_mode=True,
    )
    if not base.HAS_JINJA2:
        module.fail_json(msg=missing_required_lib("jinja2"), exception=base.JINJA2_IMPORT_ERROR)
    if not registrations.HAS_NETADDR:
        module.fail_json(msg=missing_required_lib("netaddr"), exception=registrations.NETADDR_IMPORT_ERROR)
    p = module.params
    try:
        mode = provision.file_mode(p["mode"])
    except ValueError:
        module.fail_json(msg="mode '%s' is not an octal file mode" % p["mode"])
    gid = None
    if p["group"]:
        try:
            gid = grp.getgrnam(p["group"]).gr_gid
        except KeyError:
            module.fail_json(msg="group '%s' does not exist" % p["group"])
    settings = provision.settings_of(p)

    def provision_all(fast):
        handsets = p["handsets"] if p["handsets"] is not None else provision.load_handsets(p["handsets_file"], fast=fast)
        users = p["users"] if p["users"] is not None else provision.load_users(p["users_file"], fast=fast)
        runner = provision.Provisioner(p["root"], handsets, users, settings, mode=mode, gid=gid)
        return runner.run(check_mode=module.check_mode, want_diff=module._diff)

    try:
        try:
            # JSON input files are read fast first; bad input is read again with line tracking (validation
            # writes nothing), so every error still names its file and line
            result = provision_all(fast=True)
        except SourceErrors:
            if p["handsets_file"] is None and p["users_file"] is None:
                raise
            result = provision_all(fast=False)
    except SourceErrors as exc:
        module.fail_json(msg=str(exc), errors=exc.as_list())
    except (SourceError, base.ProfileError) as exc:
        module.fail_json(msg=str(exc))
    except (IOError, OSError) as exc:
        module.fail_json(msg="cannot write the provisioning files: %s" % exc, exception=traceback.format_exc())
    # A compact invocation: echoing thousands of handsets and users back (and scrubbing every secret from
    # that echo) would cost more than the whole provisioning run.
    invocation = dict((k, v) for k, v in p.items() if k not in ("handsets", "users"))
    invocation["handsets"] = "%d handsets" % len(p["handsets"]) if p["handsets"] is not None else None
    invocation["users"] = "%d users" % len(p["users"]) if p["users"] is not None else None
    module.exit_json(invocation={"module_args": invocation}, **result)


if __name__ == "__main__":
    main()
