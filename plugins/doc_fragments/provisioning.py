# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Provisioning options of the handsets' files, shared by handset_provision and handset_release.

The argument spec is ``module_utils/provision.py:PROVISIONING_ARGSPEC`` (``provisioning_argspec()``); keep the two
in step (tests/unit/plugins/modules/test_provisioning_options.py compares them).  A module states its own
differences in its DOCUMENTATION, which wins over this fragment option by option (key by key): handset_release
requires O(users_file) and takes O(handsets) and O(handsets_file) instead of its estate file. Both read O(root) and
O(provisioning_url) from the environment when the task does not set them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  root:
    description:
      - The provisioning server's document root (the lab's C(provisioning.root)).
      - Defaults to the environment variable E(VOIPOPS_PROVISIONING_ROOT) (an AWX credential can inject it).
    type: path
    required: true
  provisioning_url:
    description:
      - The URL at which O(root) is served (the lab's C(provisioning.url)); firmware URLs are built from it.
      - Defaults to the environment variable E(VOIPOPS_PROVISIONING_URL).
    type: str
    required: true
  registrar:
    description: Host name or address of the SIP registrar the handsets register with.
    type: str
    required: true
  registrar_port:
    description: SIP port of the registrar.
    type: int
    default: 5060
  transport:
    description: SIP transport.
    type: str
    choices: [udp, tcp, tls]
    default: udp
  expires:
    description: Registration expiry the handsets ask for, in seconds.
    type: int
    default: 3600
  ntp_server:
    description: NTP server for the handsets.
    type: str
    default: pool.ntp.org
  timezone:
    description: IANA time zone name, rendered in each vendor's own form (offset, POSIX rule, ...).
    type: str
    default: UTC
  language:
    description: Handset display language (ISO 639-1).
    type: str
    choices: [en, nl, de, fr, es, it]
    default: en
  firmware:
    description:
      - V(latest) points each handset at the newest image of its family found under C(<root>/firmware/<vendor>/),
        unless the handset pins a C(firmware) version.
      - V(none) writes no firmware URL except for handsets that pin one.
    type: str
    choices: [latest, none]
    default: latest
  handsets:
    description:
      - The handsets, each C({name, mac, vendor, model, site, user, firmware}); C(user) is the extension.
      - A multi-line device (a DECT base with its handsets, an ATA with its ports) gives C(lines) instead of C(user),
        the extensions in line order (a list of extensions or of C({user}), or C(a|b) in CSV). It gets one file with
        a line per extension; a model takes at most its number of lines (Yealink W70B 10, Cisco ATA191 2, a desk
        phone 1).
    type: list
    elements: dict
  handsets_file:
    description:
      - A YAML file with a C(handsets) list (or a top-level list) or a CSV file with columns
        C(name,mac,vendor,model,user) (and optionally C(site,firmware,lines)); errors then name file and line.
    type: path
  users_file:
    description:
      - A YAML file (a C(users) list or a top-level list) or CSV file (C(extension,display_name,sip_password)) with
        the SIP accounts of the handsets' users.
    type: path
  mode:
    description:
      - File mode of the written files. The files hold SIP passwords - keep them out of reach of other users
        (the default V(0640) with the web server's group; never world-readable in production).
    type: raw
    default: '0640'
"""
