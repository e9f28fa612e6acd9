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

import datetime
import os
import re
import traceback

from ansible_collections.voipops.voip.plugins.module_utils.handsets.registrations import normalize_mac  # one MAC rule for every caller
from ansible_collections.voipops.voip.plugins.module_utils.sla import parse_days, parse_duration, parse_time as _parse_time
from ansible_collections.voipops.voip.plugins.module_utils.source import (
    ErrorCollector,
    SourceError,
    load_csv,
    load_yaml,
    line_of,
)

try:
    import netaddr
    HAS_NETADDR = True
    NETADDR_IMPORT_ERROR = None
except ImportError:
    HAS_NETADDR = False
    NETADDR_IMPORT_ERROR = traceback.format_exc()

try:
    import zoneinfo
    HAS_ZONEINFO = True
except ImportError:  # pragma: no cover - Python < 3.9
    zoneinfo = None
    HAS_ZONEINFO = False

SCHEMA_VERSION = 1

COMPONENT_SECTIONS = ("callservers", "gateways", "trunks", "links", "handsets")
SECTION_TYPE = {"callservers": "callserver", "gateways": "gateway", "trunks": "trunk", "links": "link",
                "handsets": "handset"}
GATEWAY_KINDS = ("sbc", "mgw")
TRUNK_KINDS = ("sip", "isdn_pri", "e1")
LINK_KINDS = ("lan", "wan")
PRIORITIES = ("P1", "P2", "P3", "P4")
COVERAGES = ("24x7", "business_hours")
SNMP_VERSIONS = ("1", "2c", "3")
HANDSET_CSV_COLUMNS = ("name", "mac", "vendor", "model", "site", "user", "address", "maintainer", "depends_on")

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_HOSTNAME_RE = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_RE = re.compile(r"^\+?[0-9 ()./-]{3,}$")


# --------------------------------------------------------------------------------------------
# Small parsers (public: the users helper and the SLA code use them too)
# --------------------------------------------------------------------------------------------

class NumberRange(object):
    """An inclusive range of dialable numbers: ``2000-2999`` or ``+31201234000-+31201234999``."""

    __slots__ = ("start", "end", "width", "plus")

    def __init__(self, start, end, width, plus):
        self.start, self.end, self.width, self.plus = start, end, width, plus

    def __contains__(self, number):
        number = str(number).strip()
        plus = number.startswith("+")
        digits = number[1:] if plus else number
        if plus != self.plus or len(digits) != self.width or not digits.isdigit():
            return False
        return self.start <= int(digits) <= self.end

    def overlaps(self, other):
        return (self.plus == other.plus and self.width == other.width and self.start <= other.end
                and other.start <= self.end)

    def __len__(self):
        return self.end - self.start + 1

    def __str__(self):
        fmt = ("+" if self.plus else "") + "%0" + str(self.width) + "d"
        if self.start == self.end:
            return fmt % self.start
        return (fmt + "-" + fmt) % (self.start, self.end)

    __repr__ = __str__


def parse_number_range(value, e164=False):
    """Parse ``"2000-2999"``, ``"2000"``, ``"+31201234000-+31201234999"`` into a NumberRange.

    ``e164=True`` requires the ``+`` form with 8..15 digits (ITU-T E.164).  ValueError on bad input.
    """
    text = str(value).strip()
    if "-" in text[1:]:
        idx = text.index("-", 1)
        first, last = text[:idx].strip(), text[idx + 1:].strip()
    else:
        first = last = text
    ends = []
    for part in (first, last):
        plus = part.startswith("+")
        digits = part[1:] if plus else part
        if not digits.isdigit():
            raise ValueError("%r is not a number range like '2000-2999' or '+31201234000-+31201234999'" % (value,))
        ends.append((plus, digits))
    (plus_a, a), (plus_b, b) = ends
    if plus_a != plus_b:
        raise ValueError("%r mixes E.164 (+) and local numbers" % (value,))
    if len(a) != len(b):
        raise ValueError("%r: both ends must have the same number of digits" % (value,))
    if e164:
        if not plus_a:
            raise ValueError("%r is not E.164: it must start with '+'" % (value,))
        if not 8 <= len(a) <= 15 or a[0] == "0":
            raise ValueError("%r is not E.164: country code then 8 to 15 digits in all" % (value,))
    if int(a) > int(b):
        raise ValueError("%r: start is above end" % (value,))
    return NumberRange(int(a), int(b), len(a), plus_a)


def _require_netaddr():
    if not HAS_NETADDR:
        raise SourceError("the netaddr Python library is required to validate the estate")


def _is_list(value):
    return isinstance(value, list)


def _is_map(value):
    return isinstance(value, dict)


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
        self.approved_firmware = {}
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
        result = {}
        for h in self.handsets:
            if h.get("user"):
                result.setdefault(h["user"], []).append(h)
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
            "approved_firmware": self.approved_firmware,
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


def find_cycle(components):
    """Return one dependency cycle as a list of names (first == last), or None."""
    white, grey, black = 0, 1, 2
    color = dict((n, white) for n in components)
    for root in sorted(components):
        if color[root] != white:
            continue
        stack = [(root, iter(components[root]["depends_on"]))]
        path = [root]
        color[root] = grey
        while stack:
            node, it = stack[-1]
            advanced = False
            for dep in it:
                if dep not in components:
                    continue
                if color[dep] == grey:
                    return path[path.index(dep):] + [dep]
                if color[dep] == white:
                    color[dep] = grey
                    stack.append((dep, iter(components[dep]["depends_on"])))
                    path.append(dep)
                    advanced = True
                    break
            if not advanced:
                color[node] = black
                stack.pop()
                path.pop()
    return None


# --------------------------------------------------------------------------------------------
# Loading and validation
# --------------------------------------------------------------------------------------------

class _Validator(object):
    def __init__(self, path):
        self.path = path
        self.errors = ErrorCollector(path)
        self.estate = Estate(path)

    # helpers -------------------------------------------------------------------------------
    def err(self, message, node=None, key=None, obj=None, field=None, line=None, path=None):
        if line is None and node is not None:
            line = line_of(node, key)
        self.errors.add(message, line=line, obj=obj, field=field if field is not None else key,
                        path=path or getattr(node, "path", None) or self.path)

    def check_keys(self, rec, allowed, required, obj, prefix=""):
        for key in rec:
            if key not in allowed:
                self.err("unknown field (allowed: %s)" % ", ".join(sorted(allowed)), rec, key, obj, prefix + str(key))
        for key in required:
            if rec.get(key) in (None, "", []):
                self.err("is required", rec, key if key in rec else None, obj, prefix + key)

    def str_field(self, rec, key, obj, required=False, choices=None, lower=False, prefix=""):
        value = rec.get(key)
        if value is None or value == "":
            if required:
                self.err("is required", rec, key if key in rec else None, obj, prefix + key)
            return None
        if isinstance(value, (dict, list, bool)):
            self.err("must be a string", rec, key, obj, prefix + key)
            return None
        value = str(value).strip()
        if lower:
            value = value.lower()
        if choices and value not in choices:
            self.err("%r is not one of: %s" % (value, ", ".join(choices)), rec, key, obj, prefix + key)
            return None
        return value

    def list_field(self, rec, key, obj, prefix=""):
        value = rec.get(key)
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        if not _is_list(value):
            self.err("must be a list", rec, key, obj, prefix + key)
            return []
        return value

    def name_of(self, rec, what, seen, index_line=None):
        name = rec.get("name") if _is_map(rec) else None
        if name is None or name == "":
            self.err("is required", rec, None, "%s #%s" % (what, index_line or "?"), "name")
            return None
        name = str(name).strip()
        if not _NAME_RE.match(name):
            self.err("%r is not a valid name (letters, digits, '_', '.', '-'; max 63)" % name, rec, "name",
                     "%s '%s'" % (what, name), "name")
            return None
        if name in seen:
            where = seen[name]
            self.err("duplicate name (already defined at %s line %s)" % (os.path.basename(where[0] or "?"), where[1]),
                     rec, "name", "%s '%s'" % (what, name), "name")
            return None
        seen[name] = (getattr(rec, "path", None) or self.path, line_of(rec, "name"))
        return name

    def source(self, rec):
        return {"file": getattr(rec, "path", None) or self.path, "line": line_of(rec)}

    # sections ------------------------------------------------------------------------------
    def sites(self, data):
        seen = {}
        ranges = []  # (range, site, rec, key)
        for idx, rec in enumerate(self.list_field(data, "sites", "estate")):
            if not _is_map(rec):
                self.err("each site must be a mapping", line=line_of(data["sites"], idx), obj="sites", field="sites")
                continue
            name = self.name_of(rec, "site", seen, line_of(rec))
            obj = "site '%s'" % (name or "?")
            self.check_keys(rec, ("name", "description", "subnets", "extensions", "dids", "timezone",
                                  "business_hours", "holidays", "handset_maintainer", "handset_depends_on"),
                            ("name", "timezone"), obj)
            site = {"name": name, "description": rec.get("description") or "", "subnets": [], "extensions": [],
                    "dids": [], "timezone": None, "business_hours": None, "holidays": [],
                    "handset_maintainer": None, "handset_depends_on": [], "source": self.source(rec),
                    "_networks": [], "_extensions": [], "_dids": []}
            for subnet in self.list_field(rec, "subnets", obj):
                try:
                    net = netaddr.IPNetwork(str(subnet).strip())
                    if "/" not in str(subnet):
                        raise ValueError("no prefix length")
                    site["_networks"].append(net)
                    site["subnets"].append(str(net.cidr))
                except (netaddr.AddrFormatError, ValueError, TypeError):
                    self.err("%r is not a subnet like '10.1.0.0/16'" % (subnet,), rec, "subnets", obj, "subnets")
            for key, e164 in (("extensions", False), ("dids", True)):
                for value in self.list_field(rec, key, obj):
                    try:
                        rng = parse_number_range(value, e164=e164)
                    except ValueError as exc:
                        self.err(str(exc), rec, key, obj, key)
                        continue
                    for other, other_site, _r, other_key in ranges:
                        if rng.overlaps(other):
                            self.err("%s overlaps %s of site '%s'" % (rng, other, other_site), rec, key, obj, key)
                    ranges.append((rng, name, rec, key))
                    site["_" + key].append(rng)
                    site[key].append(str(rng))
            tz = self.str_field(rec, "timezone", obj)
            if tz:
                try:
                    if not HAS_ZONEINFO:
                        raise ValueError("zoneinfo unavailable")
                    zoneinfo.ZoneInfo(tz)
                    site["timezone"] = tz
                except Exception:  # ZoneInfoNotFoundError, ValueError for bad keys
                    self.err("%r is not an IANA time zone like 'Europe/Amsterdam'" % tz, rec, "timezone", obj)
            site["business_hours"] = self.business_hours(rec, obj)
            site["holidays"] = self.holidays(rec, obj)
            site["handset_maintainer"] = self.str_field(rec, "handset_maintainer", obj)
            site["handset_depends_on"] = [str(d) for d in self.list_field(rec, "handset_depends_on", obj)]
            if name:
                self.estate.sites[name] = site

    def business_hours(self, rec, obj, default=True):
        value = rec.get("business_hours")
        if value is None:
            return {"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "18:00"} if default else None
        if not _is_map(value):
            self.err("must be a mapping like {days: mon-fri, start: '08:00', end: '18:00'}", rec, "business_hours", obj)
            return None
        self.check_keys(value, ("days", "start", "end"), ("days", "start", "end"), obj, "business_hours.")
        result = {}
        try:
            result["days"] = parse_days(value.get("days", "mon-fri"))
        except ValueError as exc:
            self.err(str(exc), value, "days", obj, "business_hours.days")
        for key in ("start", "end"):
            try:
                result[key] = _parse_time(value.get(key))
            except ValueError as exc:
                self.err(str(exc), value, key, obj, "business_hours." + key)
        if len(result) == 3 and result["end"] <= result["start"]:
            self.err("end %s is not after start %s (windows across midnight are not supported)"
                     % (result["end"], result["start"]), value, "end", obj, "business_hours.end")
            return None
        return result if len(result) == 3 else None

    def holidays(self, rec, obj):
        result = []
        for value in self.list_field(rec, "holidays", obj):
            try:
                result.append(datetime.date.fromisoformat(str(value).strip()).isoformat())
            except ValueError:
                self.err("%r is not a date like '2026-12-25'" % (value,), rec, "holidays", obj, "holidays")
        return sorted(set(result))

    def suppliers(self, data):
        seen = {}
        for idx, rec in enumerate(self.list_field(data, "suppliers", "estate")):
            if not _is_map(rec):
                self.err("each supplier must be a mapping", line=line_of(data["suppliers"], idx), obj="suppliers")
                continue
            name = self.name_of(rec, "supplier", seen, line_of(rec))
            obj = "supplier '%s'" % (name or "?")
            self.check_keys(rec, ("name", "description", "contact", "coverage", "sla", "timezone", "business_hours",
                                  "holidays"), ("name", "coverage", "sla"), obj)
            sup = {"name": name, "description": rec.get("description") or "", "contact": {},
                   "coverage": self.str_field(rec, "coverage", obj, choices=COVERAGES),
                   "sla": {}, "timezone": None, "business_hours": None, "holidays": [], "source": self.source(rec)}
            contact = rec.get("contact") or {}
            if not _is_map(contact):
                self.err("must be a mapping {email, phone, webhook}", rec, "contact", obj)
                contact = {}
            self.check_keys(contact, ("email", "phone", "webhook", "name"), (), obj, "contact.")
            for key, regex, what in (("email", _EMAIL_RE, "an e-mail address"), ("phone", _PHONE_RE, "a phone number"),
                                     ("webhook", re.compile(r"^https?://\S+$"), "an http(s) URL"),
                                     ("name", re.compile(r"."), "a name")):
                value = contact.get(key)
                if value is None:
                    continue
                if not regex.match(str(value)):
                    self.err("%r is not %s" % (value, what), contact, key, obj, "contact." + key)
                else:
                    sup["contact"][key] = str(value)
            sla = rec.get("sla")
            if sla is not None and not _is_map(sla):
                self.err("must be a mapping P1..P4 -> {response, resolve}", rec, "sla", obj)
            elif sla:
                for prio in sla:
                    if str(prio).upper() not in PRIORITIES:
                        self.err("unknown priority (allowed: P1, P2, P3, P4)", sla, prio, obj, "sla.%s" % prio)
                for prio in PRIORITIES:
                    entry = sla.get(prio, sla.get(prio.lower()))
                    if entry is None:
                        self.err("is required", sla, None, obj, "sla.%s" % prio)
                        continue
                    if not _is_map(entry):
                        self.err("must be a mapping {response: 30m, resolve: 4h}", sla, prio, obj, "sla.%s" % prio)
                        continue
                    self.check_keys(entry, ("response", "resolve"), ("response", "resolve"), obj, "sla.%s." % prio)
                    parsed = {}
                    for key in ("response", "resolve"):
                        if entry.get(key) is None:
                            continue
                        try:
                            parsed[key] = parse_duration(entry[key])
                        except ValueError as exc:
                            self.err(str(exc), entry, key, obj, "sla.%s.%s" % (prio, key))
                    if len(parsed) == 2:
                        sup["sla"][prio] = parsed
            tz = self.str_field(rec, "timezone", obj)
            if tz:
                try:
                    zoneinfo.ZoneInfo(tz)
                    sup["timezone"] = tz
                except Exception:
                    self.err("%r is not an IANA time zone like 'Europe/Amsterdam'" % tz, rec, "timezone", obj)
            if rec.get("business_hours") is not None:
                sup["business_hours"] = self.business_hours(rec, obj)
            sup["holidays"] = self.holidays(rec, obj)
            if name:
                self.estate.suppliers[name] = sup

    def snmp(self, rec, obj):
        value = rec.get("snmp")
        if value is None:
            return None
        if not _is_map(value):
            self.err("must be a mapping {port, version, community}", rec, "snmp", obj)
            return None
        allowed = ("host", "port", "version", "community", "username", "auth_protocol", "auth_password",
                   "priv_protocol", "priv_password", "security_level", "timeout", "retries")
        self.check_keys(value, allowed, (), obj, "snmp.")
        result = dict((k, value[k]) for k in allowed if value.get(k) is not None)
        version = str(value.get("version", "2c")).lower()
        if version not in SNMP_VERSIONS:
            self.err("%r is not one of: 1, 2c, 3" % version, value, "version", obj, "snmp.version")
        result["version"] = version
        result["port"] = self.port(value, "port", obj, "snmp.port", default=161)
        if version == "3":
            if not value.get("username"):
                self.err("is required for SNMPv3", value, None, obj, "snmp.username")
        elif not value.get("community"):
            self.err("is required for SNMP v1/v2c", value, None, obj, "snmp.community")
        return result

    def port(self, rec, key, obj, field=None, default=None):
        value = rec.get(key)
        if value is None:
            return default
        try:
            port = int(str(value).strip())
            if not 1 <= port <= 65535:
                raise ValueError()
            return port
        except ValueError:
            self.err("%r is not a port number (1-65535)" % (value,), rec, key, obj, field or key)
            return default

    def address(self, rec, key, obj, site_name):
        value = rec.get(key)
        if value is None or value == "":
            return None
        text = str(value).strip()
        try:
            ip = netaddr.IPAddress(text)
        except (netaddr.AddrFormatError, ValueError, TypeError):
            ip = None
        if ip is None:
            if "." in text and all(p.isdigit() for p in text.split(".")):
                self.err("%r is not an IP address" % text, rec, key, obj, key)
                return None
            if not _HOSTNAME_RE.match(text):
                self.err("%r is neither an IP address nor a host name" % text, rec, key, obj, key)
                return None
            return text
        if "." in text and text.count(".") != 3:  # netaddr accepts '10.1' as inet_aton would
            self.err("%r is not a dotted-quad IPv4 address" % text, rec, key, obj, key)
            return None
        site = self.estate.sites.get(site_name) if site_name else None
        if site and site["_networks"] and not any(ip in net for net in site["_networks"]):
            self.err("%s is not inside the subnets of site '%s' (%s)" % (ip, site_name, ", ".join(site["subnets"])),
                     rec, key, obj, key)
        return str(ip)

    def component_common(self, rec, section, name, obj, extra_allowed, required=()):
        allowed = ("name", "description", "site", "maintainer", "depends_on", "vendor", "model", "tags") + tuple(extra_allowed)
        self.check_keys(rec, allowed, ("name",) + tuple(required), obj)
        comp = {"name": name, "type": SECTION_TYPE[section], "kind": None,
                "description": str(rec.get("description") or ""),
                "site": self.str_field(rec, "site", obj),
                "maintainer": self.str_field(rec, "maintainer", obj),
                "vendor": self.str_field(rec, "vendor", obj, lower=True),
                "model": self.str_field(rec, "model", obj),
                "depends_on": [], "tags": [str(t) for t in self.list_field(rec, "tags", obj)],
                "source": self.source(rec),
                "_rec": rec}
        for dep in self.list_field(rec, "depends_on", obj):
            comp["depends_on"].append(str(dep).strip())
        if comp["site"] and comp["site"] not in self.estate.sites:
            self.err("unknown site %r (known: %s)" % (comp["site"], ", ".join(sorted(self.estate.sites)) or "none"),
                     rec, "site", obj)
        return comp

    def endpoint(self, rec, key, obj):
        value = rec.get(key)
        if value is None:
            self.err("is required", rec, None, obj, key)
            return None
        if isinstance(value, str):
            return {"component": value.strip(), "port": None, "external": None}
        if _is_map(value):
            self.check_keys(value, ("component", "port", "external"), (), obj, key + ".")
            if bool(value.get("component")) == bool(value.get("external")):
                self.err("give exactly one of 'component' (a name in the estate) or 'external' (a label)",
                         value, None, obj, key)
                return None
            return {"component": str(value["component"]).strip() if value.get("component") else None,
                    "port": str(value["port"]) if value.get("port") is not None else None,
                    "external": str(value["external"]) if value.get("external") else None}
        self.err("must be a component name or a mapping {component|external, port}", rec, key, obj)
        return None

    def components(self, data):
        seen = {}
        for section in COMPONENT_SECTIONS:
            if section == "handsets":
                continue
            for idx, rec in enumerate(self.list_field(data, section, "estate")):
                if not _is_map(rec):
                    self.err("each entry must be a mapping", line=line_of(data[section], idx), obj=section, field=section)
                    continue
                name = self.name_of(rec, SECTION_TYPE[section], seen, line_of(rec))
                obj = "%s '%s'" % (SECTION_TYPE[section], name or "?")
                getattr(self, "_" + section)(rec, section, name, obj)
        self.handsets_yaml(data, seen)
        self.handsets_csv(data, seen)

    def _store(self, comp):
        if comp["name"]:
            self.estate.components[comp["name"]] = comp

    def _callservers(self, rec, section, name, obj):
        comp = self.component_common(rec, section, name, obj,
                                     ("address", "sip_port", "transport", "rpc_url", "db_url", "snmp", "kind", "tls_port"),
                                     ("site", "maintainer", "address"))
        comp["kind"] = self.str_field(rec, "kind", obj, lower=True) or comp["vendor"] or "callserver"
        comp["address"] = self.address(rec, "address", obj, comp["site"])
        comp["sip_port"] = self.port(rec, "sip_port", obj, default=5060)
        comp["tls_port"] = self.port(rec, "tls_port", obj)
        comp["transport"] = self.str_field(rec, "transport", obj, lower=True, choices=("udp", "tcp", "tls")) or "udp"
        comp["rpc_url"] = self.str_field(rec, "rpc_url", obj)
        comp["db_url"] = self.str_field(rec, "db_url", obj)
        comp["snmp"] = self.snmp(rec, obj)
        self._store(comp)

    def _gateways(self, rec, section, name, obj):
        comp = self.component_common(rec, section, name, obj,
                                     ("kind", "address", "sip_port", "transport", "snmp", "tls_port", "interfaces"),
                                     ("kind", "site", "maintainer", "address"))
        comp["kind"] = self.str_field(rec, "kind", obj, lower=True, choices=GATEWAY_KINDS)
        comp["address"] = self.address(rec, "address", obj, comp["site"])
        comp["sip_port"] = self.port(rec, "sip_port", obj, default=5060)
        comp["tls_port"] = self.port(rec, "tls_port", obj)
        comp["transport"] = self.str_field(rec, "transport", obj, lower=True, choices=("udp", "tcp", "tls")) or "udp"
        comp["snmp"] = self.snmp(rec, obj)
        self._store(comp)

    def _trunks(self, rec, section, name, obj, kinds=TRUNK_KINDS):
        comp = self.component_common(rec, section, name, obj,
                                     ("kind", "a", "b", "carrier", "channels", "interface", "circuit_id", "address",
                                      "sip_port"),
                                     ("kind", "a"))
        comp["kind"] = self.str_field(rec, "kind", obj, lower=True, choices=kinds)
        comp["a"] = self.endpoint(rec, "a", obj)
        comp["b"] = self.endpoint(rec, "b", obj) if rec.get("b") is not None else None
        comp["carrier"] = self.str_field(rec, "carrier", obj)
        comp["interface"] = self.str_field(rec, "interface", obj)
        comp["circuit_id"] = self.str_field(rec, "circuit_id", obj)
        comp["address"] = self.address(rec, "address", obj, comp["site"])
        comp["sip_port"] = self.port(rec, "sip_port", obj)
        channels = rec.get("channels")
        comp["channels"] = None
        if channels is not None:
            try:
                comp["channels"] = int(channels)
                if comp["channels"] < 1:
                    raise ValueError()
            except (TypeError, ValueError):
                self.err("%r is not a positive number of channels" % (channels,), rec, "channels", obj)
        if not comp["maintainer"]:
            comp["maintainer"] = comp["carrier"]
        if not comp["maintainer"]:
            self.err("is required (or give 'carrier')", rec, None, obj, "maintainer")
        self._store(comp)

    def _links(self, rec, section, name, obj):
        self._trunks(rec, section, name, obj, kinds=LINK_KINDS)

    def _handset(self, rec, name, obj, is_csv):
        site = self.str_field(rec, "site", obj)
        comp = {"name": name, "type": "handset", "kind": "handset", "description": "",
                "site": site, "maintainer": self.str_field(rec, "maintainer", obj),
                "vendor": self.str_field(rec, "vendor", obj, required=True, lower=True),
                "model": self.str_field(rec, "model", obj, required=True),
                "user": self.str_field(rec, "user", obj),
                "mac": None, "address": None, "depends_on": [], "tags": [], "source": self.source(rec), "_rec": rec}
        try:
            comp["mac"] = normalize_mac(rec.get("mac") or "")
        except ValueError as exc:
            self.err(str(exc) if rec.get("mac") else "is required", rec, "mac", obj, "mac")
        deps = rec.get("depends_on")
        if is_csv and deps:
            deps = [d for d in re.split(r"[\s|]+", deps) if d]
        elif deps is not None and not _is_list(deps):
            deps = [deps]
        comp["depends_on"] = [str(d).strip() for d in (deps or [])]
        if not site:
            self.err("is required", rec, "site" if "site" in rec else None, obj, "site")
        elif site not in self.estate.sites:
            self.err("unknown site %r (known: %s)" % (site, ", ".join(sorted(self.estate.sites)) or "none"),
                     rec, "site", obj, "site")
        else:
            site_rec = self.estate.sites[site]
            if not comp["maintainer"]:
                comp["maintainer"] = site_rec["handset_maintainer"]
            for dep in site_rec["handset_depends_on"]:
                if dep not in comp["depends_on"]:
                    comp["depends_on"].append(dep)
            if comp["user"] and site_rec["_extensions"] + site_rec["_dids"]:
                if not any(comp["user"] in r for r in site_rec["_extensions"] + site_rec["_dids"]):
                    self.err("user %r is outside the number plan of site '%s' (%s)"
                             % (comp["user"], site, ", ".join(site_rec["extensions"] + site_rec["dids"])),
                             rec, "user", obj, "user")
        if not comp["maintainer"] and site in self.estate.sites:
            self.err("is required (or set handset_maintainer on the site)", rec, None, obj, "maintainer")
        comp["address"] = self.address(rec, "address", obj, site) if rec.get("address") else None
        return comp

    def handsets_yaml(self, data, seen):
        for idx, rec in enumerate(self.list_field(data, "handsets", "estate")):
            if not _is_map(rec):
                self.err("each handset must be a mapping", line=line_of(data["handsets"], idx), obj="handsets")
                continue
            name = self.name_of(rec, "handset", seen, line_of(rec))
            obj = "handset '%s'" % (name or "?")
            self.check_keys(rec, HANDSET_CSV_COLUMNS, ("name",), obj)
            self._store(self._handset(rec, name, obj, False))

    def handsets_csv(self, data, seen):
        rel = data.get("handsets_csv")
        if not rel:
            return
        paths = rel if _is_list(rel) else [rel]
        for rel_path in paths:
            csv_path = str(rel_path)
            if not os.path.isabs(csv_path):
                csv_path = os.path.join(os.path.dirname(os.path.abspath(self.path)), csv_path)
            try:
                rows = load_csv(csv_path, required=("name", "mac", "vendor", "model", "site"))
            except SourceError as exc:
                if exc.line is None and exc.path == csv_path:
                    exc = SourceError(exc.message, path=self.path, line=line_of(data, "handsets_csv"),
                                      field="handsets_csv", obj="handsets_csv %s" % csv_path)
                self.errors.extend([exc])
                continue
            if rows:
                unknown = [c for c in rows[0] if c not in HANDSET_CSV_COLUMNS]
                if unknown:
                    self.errors.add("unknown column(s): %s (allowed: %s)" % (", ".join(unknown), ", ".join(HANDSET_CSV_COLUMNS)),
                                    line=1, path=csv_path)
            for row in rows:
                clean = row.__class__((k, v) for k, v in row.items() if v != "")
                clean.line, clean.path = row.line, row.path
                name = self.name_of(clean, "handset", seen, row.line)
                obj = "handset '%s'" % (name or "?")
                self._store(self._handset(clean, name, obj, True))

    def references(self):
        est = self.estate
        for comp in est.components.values():
            rec = comp.pop("_rec")
            obj = "%s '%s'" % (comp["type"], comp["name"])
            if comp["maintainer"] and comp["maintainer"] not in est.suppliers:
                self.err("unknown supplier %r (known: %s)" % (comp["maintainer"], ", ".join(sorted(est.suppliers)) or "none"),
                         rec, "maintainer" if "maintainer" in rec else ("carrier" if "carrier" in rec else None), obj,
                         "maintainer")
            if comp.get("carrier") and comp["carrier"] not in est.suppliers:
                self.err("unknown supplier %r" % comp["carrier"], rec, "carrier", obj, "carrier")
            for dep in list(comp["depends_on"]):
                if dep not in est.components:
                    self.err("unknown component %r" % dep, rec, "depends_on" if "depends_on" in rec else None, obj, "depends_on")
                elif dep == comp["name"]:
                    self.err("a component cannot depend on itself", rec, "depends_on", obj, "depends_on")
            for key in ("a", "b"):
                end = comp.get(key)
                if end and end["component"]:
                    if end["component"] not in est.components:
                        self.err("unknown component %r" % end["component"], rec, key, obj, key)
                    elif end["component"] == comp["name"]:
                        self.err("a trunk cannot end on itself", rec, key, obj, key)
                    elif end["component"] not in comp["depends_on"]:
                        comp["depends_on"].append(end["component"])  # a trunk needs its own ends
            comp["_line"] = line_of(rec, "depends_on")
        for site in est.sites.values():
            if site["handset_maintainer"] and site["handset_maintainer"] not in est.suppliers:
                self.errors.add("unknown supplier %r" % site["handset_maintainer"], line=site["source"]["line"],
                                obj="site '%s'" % site["name"], field="handset_maintainer", path=site["source"]["file"])
            for dep in site["handset_depends_on"]:
                if dep not in est.components:
                    self.errors.add("unknown component %r" % dep, line=site["source"]["line"],
                                    obj="site '%s'" % site["name"], field="handset_depends_on", path=site["source"]["file"])
        if not self.errors:
            cycle = find_cycle(est.components)
            if cycle:
                first = est.components[cycle[0]]
                self.errors.add("dependency cycle: %s" % " -> ".join(cycle), line=first.get("_line") or first["source"]["line"],
                                obj="%s '%s'" % (first["type"], first["name"]), field="depends_on", path=first["source"]["file"])
        for comp in est.components.values():
            comp.pop("_line", None)

    def firmware(self, data):
        value = data.get("approved_firmware")
        if value is None:
            return
        if not _is_map(value):
            self.err("must be a mapping vendor -> model -> [versions]", data, "approved_firmware", "estate")
            return
        for vendor, models in value.items():
            if not _is_map(models):
                self.err("must be a mapping model -> [versions] ('*' = any model)", value, vendor, "approved_firmware",
                         "approved_firmware.%s" % vendor)
                continue
            result = {}
            for model, versions in models.items():
                if isinstance(versions, (str, int, float)):
                    versions = [versions]
                if not _is_list(versions) or not versions:
                    self.err("must be a non-empty list of versions", models, model, "approved_firmware",
                             "approved_firmware.%s.%s" % (vendor, model))
                    continue
                result[str(model)] = [str(v) for v in versions]
            self.estate.approved_firmware[str(vendor).lower()] = result

    def run(self, data):
        if not _is_map(data):
            self.errors.add("the estate file must be a mapping with sites, suppliers, callservers, ...", line=1)
            self.errors.raise_if_any()
        allowed = ("version", "domain", "sites", "suppliers", "approved_firmware", "handsets_csv") + COMPONENT_SECTIONS
        self.check_keys(data, allowed, ("sites", "suppliers"), "estate")
        version = data.get("version", SCHEMA_VERSION)
        if str(version) != str(SCHEMA_VERSION):
            self.err("unsupported estate version %r (this collection reads version %d)" % (version, SCHEMA_VERSION),
                     data, "version", "estate")
        self.estate.domain = self.str_field(data, "domain", "estate")
        self.sites(data)
        self.suppliers(data)
        self.components(data)
        self.references()
        self.firmware(data)
        for sup in self.estate.suppliers.values():
            if sup["coverage"] == "business_hours":
                pass  # the calendar comes from the site of the component, or the supplier's own override
        self.errors.raise_if_any()
        return self.estate


def overlay_endpoints(components, endpoints):
    """Overlay live addresses/ports onto components by name (pure; mutates ``components``).

    ``endpoints`` has the shape of the embedded lab's ``endpoints.json``: ``callserver`` (or a
    ``callservers`` list) and ``gateways`` entries with ``name``, ``host``, ``sip_port``, ``tls_port``,
    ``rpc_url``, ``db_url`` and ``snmp``.  Returns the names of the components that were updated.
    """
    entries = []
    if isinstance(endpoints.get("callserver"), dict):
        entries.append(endpoints["callserver"])
    entries.extend(e for e in endpoints.get("callservers", []) or [] if isinstance(e, dict))
    entries.extend(e for e in endpoints.get("gateways", []) or [] if isinstance(e, dict))
    applied = []
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
    return _Validator(path).run(data)


def load_estate(path):
    """Load and validate an estate file; returns :class:`Estate` or raises SourceError(s)."""
    _require_netaddr()
    data = load_yaml(path)
    return _Validator(path).run(data)
