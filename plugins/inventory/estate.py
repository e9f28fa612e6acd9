# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: estate
short_description: The VoIP estate source of truth (YAML + handsets CSV) as an inventory
version_added: 0.1.0
author: voipops maintainers (@voipops)
description:
  - Reads an estate file (sites, suppliers with SLAs, callservers, gateways/SBCs, trunks and links, handsets, approved
    firmware; handsets may also come from a CSV file) and makes every component a host.
  - The whole estate is validated first (addresses inside the site's subnets, MACs, number ranges, references,
    dependency cycles); any error fails the inventory with file, line and field.
  - "Groups: C(voipops) (every component), per type C(callservers), C(gateways), C(trunks), C(links), C(handsets),
    C(applications),
    and C(kind_<kind>), C(site_<site>), C(vendor_<vendor>), C(model_<model>), C(supplier_<maintainer>)
    (all names sanitized, optionally prefixed with O(group_prefix)). O(keyed_groups) and O(groups) add more."
  - "Host vars: C(voipops_component) (the validated record), C(voipops_type), C(voipops_kind), C(voipops_site),
    C(voipops_maintainer), C(voipops_depends_on), C(voipops_dependents), C(voipops_supplier) (contact, coverage,
    SLA), C(voipops_sip_uri), C(voipops_snmp), C(voipops_rpc_url) and C(ansible_host) where they apply, and for the
    collection's modules C(voipops_snmp_target) (a M(voipops.voip.snmp_info) target) and on gateways
    C(voipops_gateway) (an item of M(voipops.voip.gateway_info)'s O(voipops.voip.gateway_info#module:gateways)), and where a
    component has a C(tls_port), C(voipops_tls_target) (a M(voipops.voip.tls_info) target); on an application link
    C(voipops_app_target) (an item of M(voipops.voip.app_probe)'s O(voipops.voip.app_probe#module:targets)); where a
    component says where it stands, C(voipops_location) (room, rack, unit, height, patch, switch_port). The group
    C(voipops) carries C(voipops_estate_file), C(voipops_endpoints_file) (when an overlay was applied),
    C(voipops_sites), C(voipops_suppliers), C(voipops_approved_firmware);
    the group C(callservers) carries the handset fleet as C(voipops_handsets)."
  - The schema of the estate file is in the collection's C(docs/estate.md).
extends_documentation_fragment:
  - constructed
  - inventory_cache
options:
  plugin:
    description: Token that ensures this is a source file for this plugin.
    required: true
    type: str
    choices: [voipops.voip.estate]
  estate_file:
    description: The estate YAML file; a relative path is relative to this configuration file.
    type: str
    required: true
  handsets:
    description:
      - V(hosts) makes one host per handset. V(none) keeps handsets out of the host list (large fleets handled by bulk
        modules); the fleet is available as C(voipops_handsets) on the C(callservers) group unless O(fleet_var=false).
    type: str
    choices: [hosts, none]
    default: hosts
  fleet_var:
    description:
      - Set the whole handset fleet as C(voipops_handsets) on the C(callservers) group.
      - V(false) for large fleets. Ansible tags every variable it is given, which costs about 2 s of every run's
        start-up at 5,000 handsets. The collection's own roles and modules read the fleet from the estate file
        (C(voipops_estate_file)) instead (health audit, handset re-sync, handset releases).
    type: bool
    default: true
  endpoints_file:
    description:
      - Optional JSON file (the embedded lab's C(endpoints.json) shape) whose C(callserver) and C(gateways) entries
        overlay live addresses, ports, RPC URL and SNMP settings onto the components of the same name.
      - A relative path is relative to this configuration file. A missing file gives a warning, not an error.
    type: str
  group_prefix:
    description: Prefix for every group this plugin makes (not for O(groups) and O(keyed_groups)).
    type: str
    default: ''
  connection:
    description:
      - C(ansible_connection) of the components. The collection's modules run on the controller and talk SIP, SNMP
        and HTTP to the devices, so V(local) is the default; an empty string sets nothing.
    type: str
    default: local
  python_interpreter:
    description:
      - C(ansible_python_interpreter) for the components when O(connection=local). Defaults to the Python running
        the inventory (the one that has this collection's requirements).
    type: str
notes:
  - Works as an AWX/Automation Platform inventory source (a file in the project with C(plugin) set to this plugin).
  - With O(cache) on, the cache key includes a digest of the estate, CSV and endpoints files, so an edited
    estate is never served stale.
"""

EXAMPLES = r"""
# inventories/lab/estate.inventory.yml
plugin: voipops.voip.estate
estate_file: estate.yml
endpoints_file: ../../.state/lab/endpoints.json
keyed_groups:
  - key: voipops_component.vendor
    prefix: make
compose:
  ansible_port: voipops_component.sip_port | default(omit)
groups:
  critical_path: voipops_type in ['callserver', 'gateway', 'trunk']

# a large fleet (another file, e.g. inventories/prod/estate.inventory.yml): handsets stay out of the host list and
# out of the variables; the bulk modules read the estate file (voipops_estate_file)
# plugin: voipops.voip.estate
# estate_file: /srv/voip/estate.yml
# handsets: none
# fleet_var: false
# cache: true
# cache_plugin: ansible.builtin.jsonfile
# cache_connection: /var/cache/ansible/voipops
"""

import hashlib
import json
import os
import sys

import yaml
from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

# the estate loader (module_utils.estate, schema, netaddr, ...) is imported where an estate is read: Ansible loads every
# enabled inventory plugin at the start of every run, most of which read no estate (about 0.08 s saved per run)

TYPE_GROUPS = {"callserver": "callservers", "gateway": "gateways", "trunk": "trunks", "link": "links", "handset": "handsets",
               "application": "applications"}


def _digest(paths):
    sha = hashlib.sha256()
    for path in paths:
        sha.update(path.encode("utf-8"))
        try:
            with open(path, "rb") as handle:
                sha.update(handle.read())
        except (IOError, OSError):
            sha.update(b"<missing>")
    return sha.hexdigest()[:16]


#: estate snmp keys -> the keys of the snmp_info targets / gateway_info snmp suboptions
SNMP_TARGET_KEYS = {"host": "host", "port": "port", "version": "version", "community": "community", "username": "user",
                    "auth_protocol": "auth_protocol", "auth_password": "auth_key", "priv_protocol": "priv_protocol",
                    "priv_password": "priv_key"}


def snmp_target(name, snmp):
    """An estate ``snmp`` mapping as a target of ``voipops.voip.snmp_info`` (and ``gateway_info``'s ``snmp``)."""
    target = {"name": name}
    for key, module_key in SNMP_TARGET_KEYS.items():
        if snmp.get(key) is not None:
            target[module_key] = snmp[key]
    return target


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):

    NAME = "voipops.voip.estate"

    def verify_file(self, path):
        if not super(InventoryModule, self).verify_file(path):
            return False
        names = ("estate.inventory.yml", "estate.inventory.yaml")
        if path.endswith((".estate.yml", ".estate.yaml")) or os.path.basename(path) in names:
            return True
        if path.endswith((".yml", ".yaml")):
            try:
                with open(path, "r") as handle:
                    head = handle.read(4096)
            except (IOError, OSError):
                return False
            return any(line.strip().replace('"', "").replace("'", "") in ("plugin: voipops.voip.estate",)
                       for line in head.splitlines())
        return False

    def _relative(self, path, value):
        value = os.path.expanduser(value) if value else value
        if value and not os.path.isabs(value):
            return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(path)), value))
        return value

    def _load(self, estate_path, endpoints_path):
        from ansible_collections.voipops.voip.plugins.module_utils.estate import load_estate, overlay_endpoints
        from ansible_collections.voipops.voip.plugins.module_utils.source import SourceError, SourceErrors
        try:
            estate = load_estate(estate_path)
        except (SourceError, SourceErrors) as exc:
            raise AnsibleParserError("voipops.voip.estate: invalid estate: %s" % exc)
        data = estate.as_dict()
        data["_dependents"] = dict((name, sorted(estate.dependents(name))) for name in estate.components)
        data["_order"] = list(estate.components)
        data["_overlay"] = []
        data["_estate_path"] = estate_path
        if endpoints_path:
            if os.path.exists(endpoints_path):
                try:
                    with open(endpoints_path, "r") as handle:
                        endpoints = json.load(handle)
                except (IOError, OSError, ValueError) as exc:
                    raise AnsibleParserError("voipops.voip.estate: cannot read endpoints_file %s: %s" % (endpoints_path, exc))
                if not isinstance(endpoints, dict):
                    raise AnsibleParserError("voipops.voip.estate: endpoints_file %s is not a JSON object" % endpoints_path)
                data["_overlay"] = overlay_endpoints(data["components"], endpoints)
                if endpoints.get("domain") and not data.get("domain"):
                    data["domain"] = endpoints["domain"]
            else:
                data["_overlay_missing"] = endpoints_path
        return data

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path)
        self._read_config_data(path)
        estate_path = self._relative(path, self.get_option("estate_file"))
        endpoints_path = self._relative(path, self.get_option("endpoints_file"))
        self._endpoints_path = endpoints_path
        watched = self._watched_files(estate_path) + ([endpoints_path] if endpoints_path else [])
        cache_key = "%s_%s" % (self.get_cache_key(path), _digest(watched))
        use_cache = self.get_option("cache") and cache
        update_cache = self.get_option("cache") and not cache
        data = None
        if use_cache:
            try:
                data = self._cache[cache_key]
            except KeyError:
                update_cache = True
        if data is None:
            data = self._load(estate_path, endpoints_path)
        if update_cache:
            self._cache[cache_key] = data
        if data.get("_overlay_missing"):
            self.display.warning("voipops.voip.estate: endpoints_file %s does not exist (is the lab up?); using the "
                                 "addresses of the estate file" % data["_overlay_missing"])
        self._populate(data, estate_path)

    @staticmethod
    def _watched_files(estate_path):
        """The estate file and the handsets CSV file(s) it names (for the cache key)."""
        files = [estate_path]
        try:
            with open(estate_path, "r") as handle:
                head = yaml.safe_load(handle)
            csvs = head.get("handsets_csv") if isinstance(head, dict) else None
        except (IOError, OSError, yaml.YAMLError):
            return files
        for rel in (csvs if isinstance(csvs, list) else [csvs] if csvs else []):
            rel = str(rel)
            files.append(rel if os.path.isabs(rel) else os.path.join(os.path.dirname(os.path.abspath(estate_path)), rel))
        return files

    def _group(self, name):
        return self.inventory.add_group(self._sanitize_group_name(self.get_option("group_prefix") + name))

    def _populate(self, data, estate_path):
        strict = self.get_option("strict")
        handsets_as_hosts = self.get_option("handsets") == "hosts"
        connection = self.get_option("connection")
        interpreter = self.get_option("python_interpreter") or sys.executable
        top = self._group("voipops")
        self.inventory.set_variable(top, "voipops_estate_file", estate_path)
        self.inventory.set_variable(top, "voipops_endpoints_file", self._endpoints_path if data["_overlay"] else None)
        self.inventory.set_variable(top, "voipops_domain", data.get("domain"))
        self.inventory.set_variable(top, "voipops_sites", data["sites"])
        self.inventory.set_variable(top, "voipops_suppliers", data["suppliers"])
        self.inventory.set_variable(top, "voipops_approved_firmware", data["approved_firmware"])
        for tgroup in TYPE_GROUPS.values():
            self.inventory.add_child(top, self._group(tgroup))
        fleet = [c for c in (data["components"][n] for n in data["_order"]) if c["type"] == "handset"]
        if self.get_option("fleet_var"):
            self.inventory.set_variable(self._group("callservers"), "voipops_handsets", fleet)
        for name in data["_order"]:
            comp = data["components"][name]
            if comp["type"] == "handset" and not handsets_as_hosts:
                continue
            host = self.inventory.add_host(name, group=self._group(TYPE_GROUPS[comp["type"]]))
            hostvars = self._hostvars(comp, data, connection, interpreter)
            for key, value in hostvars.items():
                self.inventory.set_variable(host, key, value)
            if comp.get("kind") and comp["kind"] != comp["type"]:
                self.inventory.add_child(self._group("kind_" + comp["kind"]), host)
            for prefix, value in (("site_", comp.get("site")), ("vendor_", comp.get("vendor")),
                                  ("model_", comp.get("model")), ("supplier_", comp.get("maintainer"))):
                if value:
                    self.inventory.add_child(self._group(prefix + str(value)), host)
            self._set_composite_vars(self.get_option("compose"), hostvars, host, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), hostvars, host, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), hostvars, host, strict=strict)

    @staticmethod
    def _hostvars(comp, data, connection, interpreter):
        supplier = data["suppliers"].get(comp.get("maintainer")) or {}
        hv = {
            "voipops_component": comp,
            "voipops_type": comp["type"],
            "voipops_kind": comp.get("kind"),
            "voipops_site": comp.get("site"),
            "voipops_maintainer": comp.get("maintainer"),
            "voipops_supplier": {"name": supplier.get("name"), "contact": supplier.get("contact"),
                                 "coverage": supplier.get("coverage"), "sla": supplier.get("sla")},
            "voipops_depends_on": comp.get("depends_on") or [],
            "voipops_dependents": data["_dependents"].get(comp["name"], []),
        }
        if comp.get("address"):
            hv["ansible_host"] = comp["address"]
            if comp.get("sip_port"):
                host = comp["address"]
                if ":" in host:
                    host = "[%s]" % host
                hv["voipops_sip_uri"] = "sip:%s:%s" % (host, comp["sip_port"])
        if comp.get("address") and comp.get("tls_port"):
            hv["voipops_tls_target"] = {"name": comp["name"], "host": comp["address"], "port": comp["tls_port"]}
        if comp.get("snmp"):
            snmp = dict(comp["snmp"])
            snmp.setdefault("host", comp.get("address"))
            hv["voipops_snmp"] = snmp
            hv["voipops_snmp_target"] = snmp_target(comp["name"], snmp)
        if comp["type"] == "gateway":
            gateway = {"name": comp["name"], "host": comp.get("address"), "sip_port": comp.get("sip_port") or 5060}
            if "voipops_sip_uri" in hv:
                gateway["sip_uri"] = hv["voipops_sip_uri"]
            if comp.get("snmp"):
                gateway["snmp"] = dict((k, v) for k, v in hv["voipops_snmp_target"].items() if k != "name")
            hv["voipops_gateway"] = gateway
        if comp.get("rpc_url"):
            hv["voipops_rpc_url"] = comp["rpc_url"]
        if comp["type"] == "application" and comp.get("endpoint"):
            # an item of voipops.voip.app_probe's targets (a password is a reference here, never a value)
            hv["voipops_app_target"] = dict((k, comp.get(k)) for k in ("name", "kind", "endpoint", "expect", "ldap", "timeout")
                                            if comp.get(k) is not None)
            hv["voipops_app_target"]["base_dir"] = os.path.dirname(os.path.abspath(data.get("_estate_path") or "."))
        if comp.get("location"):
            hv["voipops_location"] = comp["location"]
        if connection:
            hv["ansible_connection"] = connection
            if connection == "local":
                hv["ansible_python_interpreter"] = interpreter
        return hv
