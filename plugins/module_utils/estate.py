# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The estate model: one validated, typed picture of the VoIP estate.

``load_estate(path)`` reads the estate source of truth (YAML, handsets optionally from a CSV file
named by ``handsets_csv``), validates ALL of it and either returns an :class:`Estate` or raises
:class:`~ansible_collections.voipops.voip.plugins.module_utils.source.SourceErrors` naming file,
line and field of every problem.  The schema is documented in ``docs/estate.md``.

Records are plain JSON-serialisable dicts (they become inventory host vars and report data):

- every component has ``name``, ``type`` (callserver|gateway|trunk|link|handset), ``kind``,
  ``site``, ``maintainer`` (a supplier name), ``depends_on`` (list of component names, with the
  implicit dependencies already added: a trunk/link depends on its endpoint components, a handset
  on its site's ``handset_depends_on``) and ``source`` (``{"file": ..., "line": ...}``);
- MAC addresses are EUI-48 in ``unix_expanded`` form, lower case: ``00:15:65:aa:bb:cc``;
- durations are minutes (``{"days": 0, "minutes": 240}``, see :func:`.sla.parse_duration`).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.voipops.voip.plugins.module_utils.handsets.registrations import handset_users
from ansible_collections.voipops.voip.plugins.module_utils.handsets.registrations import normalize_mac  # noqa: F401 (re-exported: one MAC rule)
from ansible_collections.voipops.voip.plugins.module_utils.schema import estate as schema
from ansible_collections.voipops.voip.plugins.module_utils.schema.estate import (  # noqa: F401 (re-exported)
    HAS_NETADDR, NETADDR_IMPORT_ERROR, SCHEMA_VERSION, find_cycle,
)
from ansible_collections.voipops.voip.plugins.module_utils.schema.values import (  # noqa: F401 (re-exported)
    NumberRange, parse_number_range,
)
from ansible_collections.voipops.voip.plugins.module_utils.sla import (  # noqa: F401 (re-exported)
    format_duration, parse_days, parse_duration,
)
from ansible_collections.voipops.voip.plugins.module_utils.source import (
    ErrorCollector,
    SourceError,
    Validator,
    load_yaml,
)


__all__ = ["Estate", "EstateLoad", "build_estate", "load_estate", "load_endpoints", "overlay_endpoints",
           "topological_order", "find_cycle", "normalize_mac", "NumberRange", "parse_duration", "format_duration",
           "parse_number_range", "parse_days", "HAS_NETADDR", "NETADDR_IMPORT_ERROR", "SCHEMA_VERSION"]


def _require_netaddr():
    if not HAS_NETADDR:
        raise SourceError("the netaddr Python library is required to validate the estate")


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------

class Estate(object):
    """A validated estate.  ``sites``/``suppliers``/``components`` are dicts name -> record."""

    def __init__(self, path=None):
        self.path = path
        self.domain = None
        self.sites = {}
        self.suppliers = {}
        self.components = {}
        self.rooms = {}
        self.racks = {}
        self.patch_panels = {}
        self.approved_firmware = {}
        self.thresholds = {}  # the estate's own audit thresholds, over audit/finding.DEFAULT_THRESHOLDS
        self._dependents = None
        self._levels = None

    # -- queries ----------------------------------------------------------------------------
    def of_type(self, ctype):
        return [c for c in self.components.values() if c["type"] == ctype]

    @property
    def handsets(self):
        return self.of_type("handset")

    def component(self, name):
        return self.components.get(name)

    def supplier_of(self, name):
        comp = self.components.get(name)
        return self.suppliers.get(comp["maintainer"]) if comp and comp.get("maintainer") else None

    def site_of(self, name):
        comp = self.components.get(name)
        return self.sites.get(comp["site"]) if comp and comp.get("site") else None

    def location_of(self, name):
        """Where to go for component ``name``: ``{site, room, rack, unit, patch_port, switch_port, circuit_id, text}``.

        A trunk or link without a location of its own stands where its ``a`` end stands (the gateway it terminates
        on); its circuit id is its own.  ``text`` is the one line a ticket shows (``ams / ams-dc1 / rack ams-r01
        U12-U13 / patch ams-pp01:12 / circuit TLC-AMS-E1-0001``).  Keys without a value are None.
        """
        comp = self.components.get(name) or {}
        loc = comp.get("location")
        if not loc and comp.get("type") in ("trunk", "link"):
            end = (comp.get("a") or {}).get("component")
            loc = (self.components.get(end) or {}).get("location") if end else None
        loc = loc or {}
        unit = loc.get("unit")
        height = loc.get("height") or 1
        room = self.rooms.get(loc.get("room")) if loc.get("room") else None
        out = {"site": comp.get("site") or (room or {}).get("site"), "room": loc.get("room"), "rack": loc.get("rack"),
               "unit": None if not unit else ("U%d" % unit if height == 1 else "U%d-U%d" % (unit, unit + height - 1)),
               "patch_port": loc.get("patch"), "switch_port": loc.get("switch_port"),
               "circuit_id": comp.get("circuit_id")}
        parts = [p for p in (out["site"], out["room"]) if p]
        if out["rack"]:
            parts.append("rack %s%s" % (out["rack"], " " + out["unit"] if out["unit"] else ""))
        if out["patch_port"]:
            parts.append("patch %s" % out["patch_port"])
        if out["switch_port"]:
            parts.append("switch %s" % out["switch_port"])
        if out["circuit_id"]:
            parts.append("circuit %s" % out["circuit_id"])
        out["text"] = " / ".join(parts) or None
        return out

    def dependents(self, name):
        """Direct dependents of ``name`` (components that list it in depends_on)."""
        if self._dependents is None:
            deps = dict((n, []) for n in self.components)
            for comp in self.components.values():
                for dep in comp["depends_on"]:
                    deps.setdefault(dep, []).append(comp["name"])
            self._dependents = deps
        return self._dependents.get(name, [])

    def ancestors(self, name):
        """Everything ``name`` depends on, transitively (a set)."""
        seen, stack = set(), list(self.components[name]["depends_on"]) if name in self.components else []
        while stack:
            cur = stack.pop()
            if cur in seen:
                continue
            seen.add(cur)
            stack.extend(self.components[cur]["depends_on"])
        return seen

    def descendants(self, name):
        """Everything that depends on ``name``, transitively (a set)."""
        seen, stack = set(), list(self.dependents(name))
        while stack:
            cur = stack.pop()
            if cur in seen:
                continue
            seen.add(cur)
            stack.extend(self.dependents(cur))
        return seen

    def level(self, name):
        """Dependency depth: 0 for a component that depends on nothing, 1 + max(level of deps) else."""
        if self._levels is None:
            self._levels = {}
            for comp in topological_order(self.components):
                deps = self.components[comp]["depends_on"]
                self._levels[comp] = 1 + max(self._levels[d] for d in deps) if deps else 0
        return self._levels.get(name, 0)

    def approved_versions(self, vendor, model):
        """Approved firmware versions for vendor/model (model-specific list, else the vendor ``'*'``); None = no policy."""
        per_vendor = self.approved_firmware.get((vendor or "").lower())
        if per_vendor is None:
            return None
        if model in per_vendor:
            return per_vendor[model]
        lowered = dict((k.lower(), v) for k, v in per_vendor.items())
        if (model or "").lower() in lowered:
            return lowered[(model or "").lower()]
        return per_vendor.get("*")

    def handset_by_mac(self):
        return dict((h["mac"], h) for h in self.handsets)

    def handsets_by_user(self):
        """{user: [handsets]}; a multi-line device (DECT base, ATA) is listed under every line's user."""
        result = {}
        for h in self.handsets:
            for user in handset_users(h):
                result.setdefault(user, []).append(h)
        return result

    def site_for_number(self, number):
        for site in self.sites.values():
            for rng in site["_extensions"] + site["_dids"]:
                if number in rng:
                    return site["name"]
        return None

    def as_dict(self):
        """Plain JSON-able data (no private keys)."""
        def clean(rec):
            return dict((k, v) for k, v in rec.items() if not k.startswith("_"))
        return {
            "schema_version": SCHEMA_VERSION,
            "domain": self.domain,
            "sites": dict((k, clean(v)) for k, v in self.sites.items()),
            "suppliers": dict((k, clean(v)) for k, v in self.suppliers.items()),
            "components": dict((k, clean(v)) for k, v in self.components.items()),
            "rooms": dict((k, clean(v)) for k, v in self.rooms.items()),
            "racks": dict((k, clean(v)) for k, v in self.racks.items()),
            "patch_panels": dict((k, clean(v)) for k, v in self.patch_panels.items()),
            "approved_firmware": self.approved_firmware,
            "thresholds": self.thresholds,
        }


def topological_order(components):
    """Names in dependency order (dependencies first); ties broken by name.  Assumes no cycles."""
    indeg = dict((n, 0) for n in components)
    rev = dict((n, []) for n in components)
    for name, comp in components.items():
        for dep in comp["depends_on"]:
            if dep in components:
                indeg[name] += 1
                rev[dep].append(name)
    import heapq
    heap = [n for n, d in indeg.items() if d == 0]
    heapq.heapify(heap)
    order = []
    while heap:
        cur = heapq.heappop(heap)
        order.append(cur)
        for nxt in rev[cur]:
            indeg[nxt] -= 1
            if indeg[nxt] == 0:
                heapq.heappush(heap, nxt)
    return order


# --------------------------------------------------------------------------------------------
# Loading and validation: the schema's tables (schema/estate.py) walked by source.Validator
# --------------------------------------------------------------------------------------------

class EstateLoad(object):
    """One validation run: what the schema's checks and rules see as ``ctx.state``."""

    def __init__(self, path):
        self.path = path
        self.errors = ErrorCollector(path)
        self.estate = Estate(path)
        self.names = {}   # record group -> name -> (file, line) where first defined
        self.ranges = []  # (NumberRange, site name) of every site read so far
        self.validator = Validator(self.errors, path=path, state=self)

    def run(self, data):
        if not isinstance(data, dict):
            self.errors.add("the estate file must be a mapping with sites, suppliers, callservers, ...", line=1)
            self.errors.raise_if_any()
        self.estate.domain = self.validator.walk(data, schema.ESTATE, "estate")[0]["domain"]
        self.errors.raise_if_any()
        return self.estate


def overlay_endpoints(components, endpoints):
    """Overlay live addresses/ports onto components by name (pure; mutates ``components``).

    ``endpoints`` has the shape of the embedded lab's ``endpoints.json``: ``callserver`` (or a
    ``callservers`` list) and ``gateways`` entries with ``name``, ``host``, ``sip_port``, ``tls_port``,
    ``rpc_url``, ``db_url`` and ``snmp``; ``applications`` entries (``name``, ``endpoint``, ``password`` -- a
    reference such as ``{"file": path}``) overlay application links.  Returns the names of the components that were updated.
    """
    entries = []
    if isinstance(endpoints.get("callserver"), dict):
        entries.append(endpoints["callserver"])
    entries.extend(e for e in endpoints.get("callservers", []) or [] if isinstance(e, dict))
    entries.extend(e for e in endpoints.get("gateways", []) or [] if isinstance(e, dict))
    applied = []
    for entry in endpoints.get("applications", []) or []:
        # an application link's live endpoint, and where its password is kept (a reference, never the value)
        comp = components.get(entry.get("name")) if isinstance(entry, dict) else None
        if comp is None or comp.get("type") != "application":
            continue
        if entry.get("endpoint"):
            comp["endpoint"] = entry["endpoint"]
        if isinstance(entry.get("password"), dict) and comp.get("ldap"):
            comp["ldap"] = dict(comp["ldap"], password=entry["password"])
        applied.append(comp["name"])
    for entry in entries:
        comp = components.get(entry.get("name"))
        if comp is None:
            continue
        if entry.get("host"):
            comp["address"] = entry["host"]
        for key in ("sip_port", "tls_port", "rpc_url", "db_url"):
            if entry.get(key) is not None:
                comp[key] = entry[key]
        if isinstance(entry.get("snmp"), dict):
            snmp = dict(comp.get("snmp") or {})
            snmp.update(entry["snmp"])
            comp["snmp"] = snmp
        applied.append(comp["name"])
    return applied


def load_endpoints(path):
    """Read an endpoints JSON file (see :func:`overlay_endpoints`); SourceError when unreadable."""
    import json
    try:
        with open(path, "r") as handle:
            data = json.load(handle)
    except (IOError, OSError) as exc:
        raise SourceError("cannot read file: %s" % exc.strerror, path=path)
    except ValueError as exc:
        raise SourceError("not JSON: %s" % exc, path=path)
    if not isinstance(data, dict):
        raise SourceError("not a JSON object", path=path)
    return data


def build_estate(data, path="<estate>"):
    """Validate already-parsed estate data (from :func:`load_yaml` for line numbers)."""
    _require_netaddr()
    return EstateLoad(path).run(data)


def load_estate(path):
    """Load and validate an estate file; returns :class:`Estate` or raises SourceError(s)."""
    _require_netaddr()
    data = load_yaml(path)
    return EstateLoad(path).run(data)
