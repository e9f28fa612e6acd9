# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: registrations
short_description: The live view of the handsets registered on the callserver
version_added: 0.1.0
author: voipops maintainers (@voipops)
description:
  - Asks the callserver (Kamailio JSON-RPC C(ul.dump)) which devices are registered right now and makes each
    registered address-of-record a host, with vendor, model, firmware and MAC parsed from its User-Agent by the
    collection's handset vendor profiles.
  - With O(estate_file), registrations are matched to the estate's handsets by the collection's one matcher (MAC from
    the User-Agent first, then the user/extension; a User-Agent no vendor profile reads is matched by user, never
    left out); a matched host takes the handset's name (a DECT base or ATA is one host with a contact per line), an
    unmatched one lands in the C(unknown_devices) group.
  - "Groups: C(registered), C(vendor_<vendor>), C(model_<model>), C(unknown_devices) (names sanitized, optionally
    prefixed with O(group_prefix)). Host vars: C(voipops_aor), C(voipops_user), C(voipops_contacts) (every contact of
    the AoR), C(voipops_user_agent), C(voipops_vendor), C(voipops_model), C(voipops_firmware), C(voipops_mac),
    C(voipops_expires), C(voipops_known), C(voipops_handset) (the estate record when matched),
    C(voipops_registration) (with the estate: C(matched), C(ua_unrecognised), C(device_mismatch), C(user_mismatch)
    or C(unknown), the same verdict as handset_info and the health audit) and C(ansible_host)
    (the source address the registration came from)."
extends_documentation_fragment:
  - constructed
  - inventory_cache
options:
  plugin:
    description: Token that ensures this is a source file for this plugin.
    required: true
    type: str
    choices: [voipops.voip.registrations]
  platform:
    description:
      - Callserver platform; selects the driver (as the modules' O(voipops.voip.callserver_info#module:platform)).
        An unknown platform fails the inventory source with the list of known ones.
    type: str
    default: kamailio
    env:
      - name: VOIPOPS_CALLSERVER_PLATFORM
  rpc_url:
    description:
      - The callserver's management API; for Kamailio its JSON-RPC URL (C(http://host:port/RPC)). Either this or
        O(endpoints_file).
    type: str
    env:
      - name: VOIPOPS_CALLSERVER_RPC_URL
      - name: VOIPOPS_RPC_URL
  endpoints_file:
    description: JSON file with a C(callserver.rpc_url) key (the embedded lab's C(endpoints.json)); relative to this file.
    type: str
  estate_file:
    description: The estate file, to match registrations to handsets; relative to this file.
    type: str
  timeout:
    description: Seconds to wait for the callserver.
    type: float
    default: 10.0
  validate_certs:
    description: Verify the TLS certificate of an C(https) RPC URL.
    type: bool
    default: true
  group_prefix:
    description: Prefix of the groups this plugin makes.
    type: str
    default: ''
notes:
  - A callserver that does not answer fails the inventory source with the URL in the message.
"""

EXAMPLES = r"""
# registrations.yml
plugin: voipops.voip.registrations
endpoints_file: ../../.state/lab/endpoints.json
estate_file: estate.yml
keyed_groups:
  - key: voipops_firmware
    prefix: firmware
"""

import json
import os
import re

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

# the driver, the estate loader and the User-Agent rules are imported where they are used: Ansible loads every enabled
# inventory plugin at the start of every run, most of which have no registrations source


def _registrations():
    from ansible_collections.voipops.voip.plugins.module_utils.handsets import registrations
    return registrations


def _by_aor(entries):
    by_aor = {}
    for entry in entries:
        by_aor.setdefault(entry.get("aor"), []).append(entry)
    return [(None, regs, None) for _aor, regs in sorted(by_aor.items(), key=lambda kv: str(kv[0]))]


def registration_hosts(contacts, estate=None, parse=None):
    """Contacts -> {host name: host vars} (pure).  Matched handsets keep their estate name.

    With the estate, contacts are paired with handsets by the one matcher (:func:`.registrations.match`);
    a pairing whose User-Agent disagrees with the estate still names the handset (as the audit does).
    """
    from ansible_collections.voipops.voip.plugins.module_utils.sip_message import host_port
    rules = _registrations()
    parse = parse or rules.parse_user_agent
    aor_user, handset_status = rules.aor_user, rules.handset_status
    hosts = {}
    if estate is not None:
        matched, unknown = rules.match_by_handset(estate.handsets, contacts, parse)
        groups = [(name, regs, estate.components[name]) for name, regs in sorted(matched.items())]
        groups.extend(_by_aor(unknown))
    else:
        groups = _by_aor([dict(contact, ua=parse(contact.get("user_agent")) or {}) for contact in contacts])
    for name, regs, handset in groups:
        first = regs[0]
        ua = first.get("ua") or {}
        user = aor_user(first.get("aor"))
        host = name or re.sub(r"[^A-Za-z0-9_.-]", "_", "reg-%s" % user)
        address = None
        for source in (first.get("received"), first.get("contact")):
            if source and not str(source).startswith("[not set"):  # Kamailio prints "[not set]" for empty fields
                address = host_port(source)[0]
                break
        hv = {
            "voipops_aor": first.get("aor"),
            "voipops_user": user,
            "voipops_contacts": [dict((k, v) for k, v in r.items() if k not in ("ua", "reason")) for r in regs],
            "voipops_user_agent": first.get("user_agent"),
            "voipops_vendor": ua.get("vendor"),
            "voipops_model": ua.get("model"),
            "voipops_firmware": ua.get("firmware"),
            "voipops_mac": ua.get("mac") or (handset or {}).get("mac"),
            "voipops_expires": first.get("expires"),
            "voipops_registered": True,
            "voipops_known": handset is not None if estate is not None else None,
            "voipops_handset": handset,
            # the one matcher's verdict: matched, ua_unrecognised, device_mismatch, user_mismatch (a handset), or
            # unknown (a device the estate does not know); None without an estate
            "voipops_registration": (handset_status([r.get("status") for r in regs]) if handset is not None
                                     else "unknown") if estate is not None else None,
        }
        if address:
            hv["ansible_host"] = address
        hosts[host] = hv
    return hosts


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):

    NAME = "voipops.voip.registrations"

    def verify_file(self, path):
        if not super(InventoryModule, self).verify_file(path):
            return False
        if path.endswith((".registrations.yml", ".registrations.yaml")) or os.path.basename(path) in (
                "registrations.yml", "registrations.yaml"):
            return True
        if path.endswith((".yml", ".yaml")):
            try:
                with open(path, "r") as handle:
                    head = handle.read(4096)
            except (IOError, OSError):
                return False
            return any(line.strip().replace('"', "").replace("'", "") == "plugin: voipops.voip.registrations"
                       for line in head.splitlines())
        return False

    def _relative(self, path, value):
        value = os.path.expanduser(value) if value else value
        if value and not os.path.isabs(value):
            return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(path)), value))
        return value

    def _rpc_url(self, path):
        url = self.get_option("rpc_url")
        if url:
            return url
        endpoints = self._relative(path, self.get_option("endpoints_file"))
        if not endpoints:
            raise AnsibleParserError("voipops.voip.registrations: set rpc_url (or VOIPOPS_CALLSERVER_RPC_URL) or "
                                     "endpoints_file")
        try:
            with open(endpoints, "r") as handle:
                return json.load(handle)["callserver"]["rpc_url"]
        except (IOError, OSError, ValueError, KeyError, TypeError) as exc:
            raise AnsibleParserError("voipops.voip.registrations: no callserver.rpc_url in %s: %s" % (endpoints, exc))

    def parse(self, inventory, loader, path, cache=True):
        from ansible_collections.voipops.voip.plugins.module_utils.callservers.base import DriverError, get_driver
        from ansible_collections.voipops.voip.plugins.module_utils.estate import load_estate
        from ansible_collections.voipops.voip.plugins.module_utils.source import SourceError, SourceErrors
        super(InventoryModule, self).parse(inventory, loader, path)
        self._read_config_data(path)
        url = self._rpc_url(path)
        cache_key = self.get_cache_key(path)
        use_cache = self.get_option("cache") and cache
        update_cache = self.get_option("cache") and not cache
        contacts = None
        if use_cache:
            try:
                contacts = self._cache[cache_key]
            except KeyError:
                update_cache = True
        if contacts is None:
            try:
                contacts = get_driver(self.get_option("platform"), rpc_url=url, timeout=self.get_option("timeout"),
                                      validate_certs=self.get_option("validate_certs")).registrations()
            except DriverError as exc:
                raise AnsibleParserError("voipops.voip.registrations: %s" % exc)
        if update_cache:
            self._cache[cache_key] = contacts
        estate = None
        estate_path = self._relative(path, self.get_option("estate_file"))
        if estate_path:
            try:
                estate = load_estate(estate_path)
            except (SourceError, SourceErrors) as exc:
                raise AnsibleParserError("voipops.voip.registrations: invalid estate: %s" % exc)
        self._populate(registration_hosts(contacts, estate), estate is not None)

    def _group(self, name):
        return self.inventory.add_group(self._sanitize_group_name(self.get_option("group_prefix") + name))

    def _populate(self, hosts, with_estate):
        strict = self.get_option("strict")
        registered = self._group("registered")
        unknown = self._group("unknown_devices") if with_estate else None
        for name in sorted(hosts):
            hv = hosts[name]
            host = self.inventory.add_host(name, group=registered)
            for key, value in hv.items():
                self.inventory.set_variable(host, key, value)
            if hv["voipops_vendor"]:
                self.inventory.add_child(self._group("vendor_" + hv["voipops_vendor"]), host)
            if hv["voipops_model"]:
                self.inventory.add_child(self._group("model_" + hv["voipops_model"]), host)
            if unknown and not hv["voipops_known"]:
                self.inventory.add_child(unknown, host)
            self._set_composite_vars(self.get_option("compose"), hv, host, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), hv, host, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), hv, host, strict=strict)
