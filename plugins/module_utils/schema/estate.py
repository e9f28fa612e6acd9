# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The estate schema (version 1) as field tables, walked by ``source.Validator``.

One table per record kind: the estate file itself, a site, a supplier (with its contact and SLA
entries), each component section (callservers, gateways, trunks, links, handsets from YAML or CSV),
a trunk end, SNMP settings and business hours.  A table lists each field with its kind, whether it is
required, its choices, its default and its check (normaliser).  What spans records (duplicate names,
unknown sites/suppliers/components, dependency cycles, overlapping number ranges, the handset's site
defaults) are the small check and rule functions below, which every table calls the same way.

The checks and rules see ``ctx.state``: the estate loader (``estate.py``), which has ``path``,
``estate`` (the model being filled), ``names`` (name -> where first defined, per record group) and
``ranges`` (every number range read so far).  The schema is documented in ``docs/estate.md``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import difflib
import os
import re
import traceback

from ansible_collections.voipops.voip.plugins.module_utils.apps import REFERENCE_KINDS, parse_endpoint
from ansible_collections.voipops.voip.plugins.module_utils.audit.finding import DEFAULT_THRESHOLDS
from ansible_collections.voipops.voip.plugins.module_utils.handsets.registrations import normalize_mac  # one MAC rule for every caller
from ansible_collections.voipops.voip.plugins.module_utils.schema.values import EMAIL_RE, parse_number_range
from ansible_collections.voipops.voip.plugins.module_utils.sla import parse_days, parse_duration, parse_time
from ansible_collections.voipops.voip.plugins.module_utils.source import (
    Field, SourceError, Table, line_of, load_csv, unknown_columns,
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

COMPONENT_SECTIONS = ("callservers", "gateways", "trunks", "links", "handsets", "applications")
SECTION_TYPE = {"callservers": "callserver", "gateways": "gateway", "trunks": "trunk", "links": "link",
                "handsets": "handset", "applications": "application"}
APPLICATION_KINDS = ("cti", "contact_centre", "voicemail", "directory", "paging", "alarm", "recording", "carrier_sbc")

GATEWAY_KINDS = ("sbc", "mgw")
TRUNK_KINDS = ("sip", "isdn_pri", "e1")
LINK_KINDS = ("lan", "wan")
TRANSPORTS = ("udp", "tcp", "tls")
PRIORITIES = ("P1", "P2", "P3", "P4")
COVERAGES = ("24x7", "business_hours")
SNMP_VERSIONS = ("1", "2c", "3")
HANDSET_CSV_REQUIRED = ("name", "mac", "vendor", "model", "site")

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_HOSTNAME_RE = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
_PHONE_RE = re.compile(r"^\+?[0-9 ()./-]{3,}$")
_URL_RE = re.compile(r"^https?://\S+$")


# --------------------------------------------------------------------------------------------
# Checks (normalisers): value -> normalised value, or ValueError reported at the field
# --------------------------------------------------------------------------------------------

def _text(value, ctx):
    return str(value or "")


def _or_empty(value, ctx):
    return value or ""


def _stripped(value, ctx):
    return str(value).strip()


def _string(value, ctx):
    return str(value)


def _subnet(value, ctx):
    try:
        net = netaddr.IPNetwork(str(value).strip())
        if "/" not in str(value):
            raise ValueError("no prefix length")
        return net
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise ValueError("%r is not a subnet like '10.1.0.0/16'" % (value,))


def _number_range(e164):
    """A site's extension (or E.164 DID) range; overlapping any range read before is an error."""
    def check(value, ctx):
        rng = parse_number_range(value, e164=e164)
        for other, other_site in ctx.state.ranges:
            if rng.overlaps(other):
                ctx.error("%s overlaps %s of site '%s'" % (rng, other, other_site))
        ctx.state.ranges.append((rng, ctx.out["name"]))
        return rng
    return check


def _timezone(value, ctx):
    try:
        if not HAS_ZONEINFO:
            raise ValueError("zoneinfo unavailable")
        zoneinfo.ZoneInfo(value)
        return value
    except Exception:  # ZoneInfoNotFoundError, ValueError for bad keys
        raise ValueError("%r is not an IANA time zone like 'Europe/Amsterdam'" % value)


def _days(value, ctx):
    return parse_days(value if "days" in ctx.rec else "mon-fri")


def _time(value, ctx):
    return parse_time(value)


def _window(value, ctx):
    """Business hours are complete (days, start, end) and end after they start; else None."""
    if None in (value["days"], value["start"], value["end"]):
        return None
    if value["end"] <= value["start"]:
        ctx.error("end %s is not after start %s (windows across midnight are not supported)"
                  % (value["end"], value["start"]), ctx.rec.get(ctx.key), "end", ctx.key + ".end")
        return None
    return value


def _date(value, ctx):
    try:
        return datetime.date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise ValueError("%r is not a date like '2026-12-25'" % (value,))


def _matching(regex, what):
    def check(value, ctx):
        if not regex.match(str(value)):
            raise ValueError("%r is not %s" % (value, what))
        return str(value)
    return check


def _contact(value, ctx):
    value = value or {}
    if not isinstance(value, dict):
        ctx.error("must be a mapping {email, phone, webhook}")
        value = {}
    out, _ok = ctx.validator.walk(value, CONTACT, ctx.obj, "contact.", line=ctx.line)
    return dict((k, v) for k, v in out.items() if v is not None)


def _sla(value, ctx):
    """P1..P4, each {response, resolve} durations; an unknown priority is an error."""
    if not isinstance(value, dict):
        raise ValueError("must be a mapping P1..P4 -> {response, resolve}")
    result = {}
    if not value:
        return result
    for prio in value:
        if str(prio).upper() not in PRIORITIES:
            ctx.error("unknown priority (allowed: P1, P2, P3, P4)", value, prio, "sla.%s" % prio)
    for prio in PRIORITIES:
        entry = value.get(prio, value.get(prio.lower()))
        if entry is None:
            ctx.error("is required", value, None, "sla.%s" % prio)
            continue
        if not isinstance(entry, dict):
            ctx.error("must be a mapping {response: 30m, resolve: 4h}", value, prio, "sla.%s" % prio)
            continue
        parsed, _ok = ctx.validator.walk(entry, SLA_ENTRY, ctx.obj, "sla.%s." % prio)
        if None not in parsed.values():
            result[prio] = parsed
    return result


def _duration(value, ctx):
    return parse_duration(value)


def _port(value, ctx):
    try:
        port = int(str(value).strip())
        if not 1 <= port <= 65535:
            raise ValueError()
        return port
    except ValueError:
        raise ValueError("%r is not a port number (1-65535)" % (value,))


def _address(value, ctx):
    """An IP address (inside the subnets of the record's site, when it has some) or a host name."""
    if value == "":
        return None
    text = str(value).strip()
    try:
        ip = netaddr.IPAddress(text)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        ip = None
    if ip is None:
        if "." in text and all(p.isdigit() for p in text.split(".")):
            raise ValueError("%r is not an IP address" % text)
        if not _HOSTNAME_RE.match(text):
            raise ValueError("%r is neither an IP address nor a host name" % text)
        return text
    if "." in text and text.count(".") != 3:  # netaddr accepts '10.1' as inet_aton would
        raise ValueError("%r is not a dotted-quad IPv4 address" % text)
    site_name = ctx.out.get("site")
    site = ctx.state.estate.sites.get(site_name) if site_name else None
    if site and site["_networks"] and not any(ip in net for net in site["_networks"]):
        raise ValueError("%s is not inside the subnets of site '%s' (%s)" % (ip, site_name, ", ".join(site["subnets"])))
    return str(ip)


def _known_site(value, ctx):
    sites = ctx.state.estate.sites
    if value not in sites:
        ctx.error("unknown site %r (known: %s)" % (value, ", ".join(sorted(sites)) or "none"))
    return value


def _snmp(value, ctx):
    if not isinstance(value, dict):
        raise ValueError("must be a mapping {port, version, community}")
    out, _ok = ctx.validator.walk(value, SNMP, ctx.obj, "snmp.", line=ctx.line)
    return dict((k, v) for k, v in out.items() if v is not None)


def _snmp_version(value, ctx):
    version = str(ctx.rec.get("version", "2c")).lower()
    if version not in SNMP_VERSIONS:
        ctx.error("%r is not one of: 1, 2c, 3" % version)
    return version


def _snmp_auth(out, ctx):
    if out["version"] == "3":
        if not ctx.rec.get("username"):
            ctx.error("is required for SNMPv3", ctx.rec, None, "snmp.username")
    elif not ctx.rec.get("community"):
        ctx.error("is required for SNMP v1/v2c", ctx.rec, None, "snmp.community")


def _endpoint(value, ctx):
    """A trunk/link end: a component name, or {component|external, port}."""
    if value is None:
        ctx.error("is required", ctx.rec, None, ctx.key)
        return None
    if isinstance(value, str):
        return {"component": value.strip(), "port": None, "external": None}
    if isinstance(value, dict):
        ctx.validator.walk(value, ENDPOINT, ctx.obj, ctx.key + ".", line=ctx.line)
        if bool(value.get("component")) == bool(value.get("external")):
            ctx.error("give exactly one of 'component' (a name in the estate) or 'external' (a label)",
                      value, None, ctx.key)
            return None
        return {"component": str(value["component"]).strip() if value.get("component") else None,
                "port": str(value["port"]) if value.get("port") is not None else None,
                "external": str(value["external"]) if value.get("external") else None}
    raise ValueError("must be a component name or a mapping {component|external, port}")


def _channels(value, ctx):
    try:
        channels = int(value)
        if channels < 1:
            raise ValueError()
        return channels
    except (TypeError, ValueError):
        raise ValueError("%r is not a positive number of channels" % (value,))


def _mac(value, ctx):
    try:
        mac = normalize_mac(value or "")
    except ValueError as exc:
        raise ValueError(str(exc) if value else "is required")
    # one device, one record: the same MAC in another notation is the same MAC
    seen = ctx.state.__dict__.setdefault("macs", {})
    where = (os.path.basename(getattr(ctx.rec, "path", None) or ctx.state.path or "?"), line_of(ctx.rec, "mac"), ctx.obj)
    if mac in seen and seen[mac][:2] != where[:2]:
        raise ValueError("MAC %s is already used by %s (%s line %s)" % (mac, seen[mac][2], seen[mac][0], seen[mac][1]))
    seen.setdefault(mac, where)
    return mac


def _as_list(value, ctx):
    return [str(d).strip() for d in (value if isinstance(value, list) else [value])]


def _split_list(value, ctx):
    return [d for d in re.split(r"[\s|]+", value) if d]


def _version(value, ctx):
    version = ctx.rec.get("version", SCHEMA_VERSION)
    if str(version) != str(SCHEMA_VERSION):
        raise ValueError("unsupported estate version %r (this collection reads version %d)" % (version, SCHEMA_VERSION))
    return SCHEMA_VERSION


# --------------------------------------------------------------------------------------------
# Record rules: run once per record after its fields
# --------------------------------------------------------------------------------------------

def _maintainer_or_carrier(out, ctx):
    if not out["maintainer"]:
        out["maintainer"] = out["carrier"]
    if not out["maintainer"]:
        ctx.error("is required (or give 'carrier')", ctx.rec, None, "maintainer")


def _vendor_and_model(out, ctx):
    """A handset names its vendor and model (a list or mapping there is reported as not a string)."""
    for key in ("vendor", "model"):
        if ctx.rec.get(key) in (None, ""):
            ctx.error("is required", ctx.rec, key if key in ctx.rec else None, key)


_LINE = Table("line", [Field("user", required=True), Field("label")])


def _lines(value, ctx):
    """A multi-line device's lines, in order (a DECT base's handsets, an ATA's ports): each ``{user, label}`` or just
    the user; in CSV ``1201|1202``.  Errors name the line's item (``lines[2].user``) and its line in the file."""
    if value in (None, "", []):
        return []
    items = _split_list(value, ctx) if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ValueError("must be a list of lines ({user, label} or the user)")
    out, seen = [], {}
    for idx, item in enumerate(items):
        where = "lines[%d]" % (idx + 1)
        line = line_of(value, idx) if not isinstance(value, str) else line_of(ctx.rec, "lines")
        if isinstance(item, (str, int)) and not isinstance(item, bool):
            item = {"user": item}
        if not isinstance(item, dict):
            ctx.error("must be a mapping {user, label} or the line's user", field=where, line=line)
            continue
        rec, _ok = ctx.validator.walk(item, _LINE, ctx.obj, prefix=where + ".", line=line)
        user = rec.get("user")
        if user is None:
            continue
        if user in seen:
            # a line written as a mapping knows its line; else (a bare user, a CSV cell) the record's 'lines' does
            node, key = (item, "user") if hasattr(item, "line_of") else (ctx.rec, "lines")
            ctx.error("user %r is already line %d of this device" % (user, seen[user]), node, key, where + ".user",
                      line=line_of(node, key) if node is item else line)
            continue
        seen[user] = idx + 1
        out.append({"line": idx + 1, "user": user, "label": rec.get("label")})
    return out


def _one_user_or_lines(out, ctx):
    """A desk phone has a ``user``; a DECT base or an ATA has ``lines`` (one user per handset or port), not both."""
    if out.get("user") and out.get("lines"):
        ctx.error("give either 'user' (one line) or 'lines' (a DECT base's handsets, an ATA's ports), not both",
                  ctx.rec, "lines", "lines")


def _handset_site(out, ctx):
    """A handset's site must exist; it gives the default maintainer and dependencies and the number plan."""
    rec, site, sites = ctx.rec, out["site"], ctx.state.estate.sites
    if not site:
        ctx.error("is required", rec, "site" if "site" in rec else None, "site")
    elif site not in sites:
        ctx.error("unknown site %r (known: %s)" % (site, ", ".join(sorted(sites)) or "none"), rec, "site", "site")
    else:
        site_rec = sites[site]
        if not out["maintainer"]:
            out["maintainer"] = site_rec["handset_maintainer"]
        for dep in site_rec["handset_depends_on"]:
            if dep not in out["depends_on"]:
                out["depends_on"].append(dep)
        ranges = site_rec["_extensions"] + site_rec["_dids"]
        plan = ", ".join(site_rec["extensions"] + site_rec["dids"])
        if out["user"] and ranges and not any(out["user"] in r for r in ranges):
            ctx.error("user %r is outside the number plan of site '%s' (%s)" % (out["user"], site, plan),
                      rec, "user", "user")
        for item in out.get("lines") or []:
            if ranges and not any(item["user"] in r for r in ranges):
                ctx.error("user %r is outside the number plan of site '%s' (%s)" % (item["user"], site, plan),
                          rec, "lines", "lines[%d].user" % item["line"])
    if not out["maintainer"] and site in sites:
        ctx.error("is required (or set handset_maintainer on the site)", rec, None, "maintainer")


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------

BUSINESS_HOURS = Table("business hours", [
    Field("days", "any", required=True, always=True, check=_days),
    Field("start", "any", required=True, always=True, check=_time),
    Field("end", "any", required=True, always=True, check=_time),
])


def _business_hours_field():
    return Field("business_hours", "map", table=BUSINESS_HOURS, check=_window,
                 messages={"type": "must be a mapping like {days: mon-fri, start: '08:00', end: '18:00'}"})


SITE = Table("site", [
    Field("name", "skip", required=True),
    Field("description", "any", default="", check=_or_empty),
    Field("subnets", "list", default=[], check=_subnet),
    Field("extensions", "list", default=[], check=_number_range(e164=False)),
    Field("dids", "list", default=[], check=_number_range(e164=True)),
    Field("timezone", required=True, check=_timezone),
    _business_hours_field(),
    Field("holidays", "list", default=[], check=_date),
    Field("handset_maintainer"),
    Field("handset_depends_on", "list", default=[], check=_string),
])

CONTACT = Table("contact", [
    Field("email", "any", check=_matching(EMAIL_RE, "an e-mail address")),
    Field("phone", "any", check=_matching(_PHONE_RE, "a phone number")),
    Field("webhook", "any", check=_matching(_URL_RE, "an http(s) URL")),
    Field("name", "any", check=_matching(re.compile(r"."), "a name")),
])

SLA_ENTRY = Table("sla entry", [
    Field("response", "any", required=True, check=_duration),
    Field("resolve", "any", required=True, check=_duration),
])

SUPPLIER = Table("supplier", [
    Field("name", "skip", required=True),
    Field("description", "any", default="", check=_or_empty),
    Field("coverage", required=True, choices=COVERAGES),
    Field("contact", "any", default={}, check=_contact),
    Field("sla", "any", required=True, default={}, check=_sla),
    Field("timezone", check=_timezone),
    _business_hours_field(),
    Field("holidays", "list", default=[], check=_date),
])

SNMP = Table("snmp", [
    Field("version", "any", always=True, check=_snmp_version),
    Field("port", "any", default=161, check=_port),
    Field("host", "any"), Field("community", "any"), Field("username", "any"), Field("auth_protocol", "any"),
    Field("auth_password", "any"), Field("priv_protocol", "any"), Field("priv_password", "any"),
    Field("security_level", "any"), Field("timeout", "any"), Field("retries", "any"),
], rules=[_snmp_auth])

ENDPOINT = Table("trunk end", [Field("component", "skip"), Field("port", "skip"), Field("external", "skip")])


# --------------------------------------------------------------------------------------------
# Physical places: rooms (in a site), racks (in a room, with units), patch panels (in a rack, with ports),
# and where a component stands (its ``location``).  Cross-record rules: _places.
# --------------------------------------------------------------------------------------------

def _positive(what):
    def check(value, ctx):
        try:
            number = int(str(value).strip())
            if number < 1:
                raise ValueError()
            return number
        except ValueError:
            raise ValueError("%r is not a positive number of %s" % (value, what))
    return check


def _patch_ref(value, ctx):
    """``<panel>:<port>`` (or ``{panel, port}``) -> ``{"panel", "port"}``."""
    if isinstance(value, dict):
        panel, port = value.get("panel"), value.get("port")
    else:
        panel, _sep, port = str(value).strip().rpartition(":")
    try:
        port = int(str(port).strip())
        if not panel or port < 1:
            raise ValueError()
    except (TypeError, ValueError):
        raise ValueError("%r is not a patch port like 'ams-pp01:12' (panel:port)" % (value,))
    return {"panel": str(panel).strip(), "port": port}


def _known_place(group, what):
    def check(value, ctx):
        known = getattr(ctx.state.estate, group)
        if value not in known:
            ctx.error("unknown %s %r (known: %s)" % (what, value, ", ".join(sorted(known)) or "none"))
        return value
    return check


LOCATION = Table("location", [
    Field("room"),
    Field("rack"),
    Field("unit", "any", check=_positive("rack unit")),
    Field("height", "any", default=1, check=_positive("rack units")),
    Field("patch", "any", check=_patch_ref),
    Field("switch_port"),
])

ROOM = Table("room", [
    Field("name", "skip", required=True),
    Field("description", "any", default="", check=_text),
    Field("site", required=True, check=_known_site),
    Field("floor"),
])

RACK = Table("rack", [
    Field("name", "skip", required=True),
    Field("description", "any", default="", check=_text),
    Field("room", required=True, check=_known_place("rooms", "room")),
    Field("site", check=_known_site),
    Field("units", "any", default=42, check=_positive("rack units")),
])

PATCH_PANEL = Table("patch panel", [
    Field("name", "skip", required=True),
    Field("description", "any", default="", check=_text),
    Field("rack", required=True, check=_known_place("racks", "rack")),
    Field("unit", "any", check=_positive("rack unit")),
    Field("ports", "any", default=24, check=_positive("ports")),
])


def _room(name, out, rec, ctx):
    ctx.state.estate.rooms[name] = {"name": name, "description": out["description"], "site": out["site"],
                                    "floor": out["floor"], "source": _source(rec, ctx)}


def _rack(name, out, rec, ctx):
    room = ctx.state.estate.rooms.get(out["room"])
    site = room["site"] if room else out["site"]
    if room and out["site"] and out["site"] in ctx.state.estate.sites and out["site"] != room["site"]:
        ctx.validator.error("rack is in room '%s' of site '%s', not in site '%s'" % (room["name"], room["site"],
                                                                                     out["site"]),
                            rec, "site", "rack '%s'" % name, "site")
    ctx.state.estate.racks[name] = {"name": name, "description": out["description"], "room": out["room"],
                                    "site": site, "units": out["units"], "source": _source(rec, ctx)}
    ctx.state.__dict__.setdefault("rack_units", {})


def _patch_panel(name, out, rec, ctx):
    rack = ctx.state.estate.racks.get(out["rack"])
    ctx.state.estate.patch_panels[name] = {"name": name, "description": out["description"], "rack": out["rack"],
                                           "unit": out["unit"], "ports": out["ports"],
                                           "room": rack["room"] if rack else None, "site": rack["site"] if rack else None,
                                           "source": _source(rec, ctx)}
    if rack and out["unit"]:
        _occupy(ctx.state, ctx.validator.error, rack, out["unit"], 1, "patch panel '%s'" % name, rec, rec, "unit",
                "unit", "patch panel '%s'" % name)


def _occupy(state, error, rack, unit, height, who, where_rec, node, key, field, obj):
    """Mark ``rack``'s units ``unit..unit+height-1`` taken by ``who``: outside the rack or taken twice is an error."""
    last = unit + height - 1
    span = "U%d" % unit if height == 1 else "U%d-U%d" % (unit, last)
    if last > rack["units"]:
        error("%s is outside rack '%s' (U1-U%d)" % (span, rack["name"], rack["units"]), node, key, obj, field)
        return
    taken = state.__dict__.setdefault("rack_units", {}).setdefault(rack["name"], {})
    for number in range(unit, last + 1):
        if number in taken:
            other, other_path, other_line = taken[number]
            error("U%d of rack '%s' is already taken by %s (%s line %s)" % (
                number, rack["name"], other, os.path.basename(other_path or "?"), other_line), node, key, obj, field)
            return
    for number in range(unit, last + 1):
        taken[number] = (who, getattr(where_rec, "path", None) or state.path, line_of(node, key))


def _place_component(comp, rec, ctx):
    """A component's ``location``: its rack and room exist and agree with its site, its units fit and are free, its
    patch and switch ports are used once.  Fills ``room``/``site`` from the rack."""
    loc, est, error, state = comp.get("location"), ctx.state.estate, ctx.validator.error, ctx.state
    if not loc:
        return
    node = rec.get("location")
    obj = "%s '%s'" % (comp["type"], comp["name"])
    rack = est.racks.get(loc["rack"]) if loc["rack"] else None
    if loc["rack"] and rack is None:
        error("unknown rack %r (known: %s)" % (loc["rack"], ", ".join(sorted(est.racks)) or "none"), node, "rack", obj,
              "location.rack")
    if loc["room"] and loc["room"] not in est.rooms:
        error("unknown room %r (known: %s)" % (loc["room"], ", ".join(sorted(est.rooms)) or "none"), node, "room", obj,
              "location.room")
    if rack:
        if loc["room"] and loc["room"] in est.rooms and loc["room"] != rack["room"]:
            error("rack '%s' stands in room '%s', not in '%s'" % (rack["name"], rack["room"], loc["room"]), node, "room",
                  obj, "location.room")
        loc["room"] = rack["room"]
    room = est.rooms.get(loc["room"]) if loc["room"] else None
    if room:
        if comp.get("site") and comp["site"] in est.sites and comp["site"] != room["site"]:
            message = "room '%s' is in site '%s', not in the %s's site '%s'" % (
                room["name"], room["site"], comp["type"], comp["site"])
            error(message, node, "rack" if rack else "room", obj, "location.rack" if rack else "location.room")
        elif not comp.get("site"):
            comp["site"] = room["site"]
    if loc["unit"] and not loc["rack"]:
        error("a unit needs its rack (location.rack)", node, "unit", obj, "location.unit")
    elif loc["unit"] and rack:
        _occupy(state, error, rack, loc["unit"], loc["height"] or 1, obj, rec, node, "unit", "location.unit", obj)
    if loc["patch"]:
        panel = est.patch_panels.get(loc["patch"]["panel"])
        where = "%s:%d" % (loc["patch"]["panel"], loc["patch"]["port"])
        if panel is None:
            error("unknown patch panel %r (known: %s)" % (loc["patch"]["panel"], ", ".join(sorted(est.patch_panels))
                                                          or "none"), node, "patch", obj, "location.patch")
        elif loc["patch"]["port"] > panel["ports"]:
            error("port %d is outside patch panel '%s' (1-%d)" % (loc["patch"]["port"], panel["name"], panel["ports"]),
                  node, "patch", obj, "location.patch")
        else:
            _used_once(state, error, "patch", where, "patch port", obj, rec, node)
        loc["patch"] = where
    if loc["switch_port"]:
        _used_once(state, error, "switch_port", loc["switch_port"].lower(), "switch port", obj, rec, node,
                   label=loc["switch_port"])


def _used_once(state, error, key, value, what, obj, rec, node, label=None):
    seen = state.__dict__.setdefault("ports_used", {}).setdefault(key, {})
    if value in seen:
        other, other_path, other_line = seen[value]
        message = "%s %s is already used by %s (%s line %s)" % (
            what, label or value, other, os.path.basename(other_path or "?"), other_line)
        error(message, node, key, obj, "location." + key)
        return
    seen[value] = (obj, getattr(rec, "path", None) or state.path, line_of(node, key))


def _places(out, ctx):
    """Every component's location against the rooms, racks and patch panels (before the references rule)."""
    for comp in ctx.state.estate.components.values():
        if comp.get("location") and "_rec" in comp:
            _place_component(comp, comp["_rec"], ctx)


# --------------------------------------------------------------------------------------------
# Application links: kind, endpoint, the supplier responsible, what they depend on, kind-specific probe settings
# --------------------------------------------------------------------------------------------

def _app_endpoint(value, ctx):
    return parse_endpoint(value)["url"]


def _status_codes(value, ctx):
    items = value if isinstance(value, list) else [value]
    try:
        codes = [int(str(v).strip()) for v in items]
    except ValueError:
        raise ValueError("%r is not a status code or a list of them" % (value,))
    if not codes or any(not 100 <= c <= 699 for c in codes):
        raise ValueError("%r: status codes are 100-699" % (value,))
    return codes


def _regex(value, ctx):
    try:
        re.compile(str(value))
    except re.error as exc:
        raise ValueError("%r is not a regular expression: %s" % (value, exc))
    return str(value)


def _password_ref(value, ctx):
    if not isinstance(value, dict) or len(value) != 1 or list(value)[0] not in REFERENCE_KINDS or \
            not str(list(value.values())[0] or "").strip():
        # the value is not echoed: it may be the password itself
        raise ValueError("must be a reference {env: NAME}, {file: PATH} or {var: NAME}; a password is never written "
                         "into the estate")
    kind, name = list(value.items())[0]
    return {str(kind): str(name).strip()}


def _timeout(value, ctx):
    try:
        seconds = float(value)
        if seconds <= 0:
            raise ValueError()
        return seconds
    except (TypeError, ValueError):
        raise ValueError("%r is not a positive number of seconds" % (value,))


EXPECT = Table("expect", [
    Field("status", "any", check=_status_codes),
    Field("body", "any", check=_regex),
])

LDAP = Table("ldap", [
    Field("bind_dn"),
    Field("password", "any", check=_password_ref),
    Field("search_base"),
    Field("filter"),
    Field("min_entries", "any", default=1, check=_positive("entries")),
])


def _application_rules(out, ctx):
    """The supplier responsible (``supplier`` or ``maintainer``); settings that fit the endpoint's scheme."""
    if out["supplier"] and out["maintainer"] and out["supplier"] != out["maintainer"]:
        ctx.error("give 'supplier' or 'maintainer', not two different ones", ctx.rec, "maintainer", "maintainer")
    out["maintainer"] = out["maintainer"] or out["supplier"]
    if not out["maintainer"]:
        ctx.error("is required (the supplier responsible for the link)", ctx.rec, None, "supplier")
    scheme = out["endpoint"].split(":", 1)[0].lower() if out["endpoint"] else None
    if scheme is None:
        return
    if out["ldap"] is not None and scheme not in ("ldap", "ldaps"):
        ctx.error("only for an ldap:// or ldaps:// endpoint", ctx.rec, "ldap", "ldap")
    if out["expect"] is not None:
        if scheme not in ("http", "https", "sip", "sips"):
            ctx.error("only for an http(s):// or sip: endpoint", ctx.rec, "expect", "expect")
        elif scheme.startswith("sip") and out["expect"].get("body"):
            ctx.error("a SIP probe has no body to match", ctx.rec.get("expect"), "body", "expect.body")
    ldap = out["ldap"] or {}
    if ldap.get("bind_dn") and not ldap.get("password") and "password" not in (ctx.rec.get("ldap") or {}):
        ctx.error("is required with bind_dn (a reference {env: NAME}, {file: PATH} or {var: NAME})",
                  ctx.rec.get("ldap"), None, "ldap.password")


APPLICATION = Table("application", [
    Field("name", "skip", required=True),
    Field("description", "any", default="", check=_text),
    Field("kind", lower=True, choices=APPLICATION_KINDS),
    Field("endpoint", "any", check=_app_endpoint),
    Field("site", check=_known_site),
    Field("supplier"),
    Field("maintainer"),
    Field("vendor", lower=True),
    Field("model"),
    Field("tags", "list", default=[], check=_string),
    Field("depends_on", "list", default=[], check=_stripped),
    Field("expect", "map", table=EXPECT),
    Field("ldap", "map", table=LDAP),
    Field("timeout", "any", check=_timeout),
    Field("location", "map", table=LOCATION),
], required=("name", "kind", "endpoint"), rules=[_application_rules])


def _component_fields():
    """What every component other than a handset has (``name`` is read first, by the section)."""
    return [
        Field("name", "skip", required=True),
        Field("description", "any", default="", check=_text),
        Field("site", check=_known_site),
        Field("maintainer"),
        Field("vendor", lower=True),
        Field("model"),
        Field("tags", "list", default=[], check=_string),
        Field("depends_on", "list", default=[], check=_stripped),
        Field("location", "map", table=LOCATION),
    ]


def _connection_fields():
    return [
        Field("address", "any", check=_address),
        Field("sip_port", "any", default=5060, check=_port),
        Field("tls_port", "any", check=_port),
        Field("transport", lower=True, choices=TRANSPORTS, default="udp"),
    ]


CALLSERVER = Table("callserver", _component_fields() + [Field("kind", lower=True)] + _connection_fields() + [
    Field("rpc_url"),
    Field("db_url"),
    Field("snmp", "any", check=_snmp),
], required=("name", "site", "maintainer", "address"))

GATEWAY = Table("gateway", _component_fields() + [Field("kind", lower=True, choices=GATEWAY_KINDS)]
                + _connection_fields() + [
    Field("snmp", "any", check=_snmp),
    Field("interfaces", "skip"),
], required=("name", "kind", "site", "maintainer", "address"))


def _line_table(kind, kinds):
    """A trunk or a link: two ends (``b`` optional), a carrier that may stand in for the maintainer."""
    return Table(kind, _component_fields() + [
        Field("kind", lower=True, choices=kinds),
        Field("a", "any", always=True, check=_endpoint),
        Field("b", "any", check=_endpoint),
        Field("carrier"),
        Field("interface"),
        Field("circuit_id"),
        Field("address", "any", check=_address),
        Field("sip_port", "any", check=_port),
        Field("channels", "any", check=_channels),
    ], required=("name", "kind", "a"), rules=[_maintainer_or_carrier])


TRUNK = _line_table("trunk", TRUNK_KINDS)
LINK = _line_table("link", LINK_KINDS)


def _firmware_pin(value, ctx):
    """A handset's firmware pin: a version as the vendor writes it (a YAML number such as 11.3 is read as its text)."""
    text = str(value).strip()
    if not text or any(c.isspace() or ord(c) < 32 for c in text):
        raise ValueError("must be a firmware version without spaces, e.g. 96.86.0.120")
    return text


def _handset_fields(depends_on_check):
    return [
        Field("name", "skip", required=True),
        Field("site"),
        Field("maintainer"),
        Field("vendor", lower=True),
        Field("model"),
        Field("user"),
        Field("lines", "any", default=[], check=_lines),
        Field("mac", "any", always=True, check=_mac),
        Field("depends_on", "any", default=[], check=depends_on_check),
        Field("address", "any", check=_address),
        # release groups (a release's scope.groups) and a firmware pin (the version handset_provision serves it)
        Field("tags", "any", default=[], check=depends_on_check),
        Field("firmware", "any", check=_firmware_pin),
    ]


HANDSET = Table("handset", _handset_fields(_as_list), rules=[_vendor_and_model, _one_user_or_lines, _handset_site])
# a CSV row: its columns are checked once per file, its name by the section; depends_on is "a|b" or "a b"
HANDSET_CSV_ROW = Table("handset", _handset_fields(_split_list), rules=[_vendor_and_model, _one_user_or_lines, _handset_site],
                        closed=False, required=())
# the columns a handsets CSV may have: the handset's fields, in the order a spreadsheet usually has them
_FIRST_COLUMNS = ("name", "mac", "vendor", "model", "site", "user")
HANDSET_CSV_COLUMNS = _FIRST_COLUMNS + tuple(n for n in HANDSET_CSV_ROW.names if n not in _FIRST_COLUMNS)


# --------------------------------------------------------------------------------------------
# Sections: a list of named records of one table, and what each record becomes in the model
# --------------------------------------------------------------------------------------------

def record_name(rec, what, group, ctx):
    """The record's name: required, well-formed and unique within its group (sites, suppliers, components)."""
    seen = ctx.state.names.setdefault(group, {})
    error = ctx.validator.error
    name = rec.get("name")
    if name is None or name == "":
        error("is required", rec, None, "%s #%s" % (what, line_of(rec) or "?"), "name")
        return None
    name = str(name).strip()
    if not _NAME_RE.match(name):
        error("%r is not a valid name (letters, digits, '_', '.', '-'; max 63)" % name, rec, "name",
              "%s '%s'" % (what, name), "name")
        return None
    if name in seen:
        where = seen[name]
        error("duplicate name (already defined at %s line %s)" % (os.path.basename(where[0] or "?"), where[1]),
              rec, "name", "%s '%s'" % (what, name), "name")
        return None
    seen[name] = (getattr(rec, "path", None) or ctx.state.path, line_of(rec, "name"))
    return name


def _source(rec, ctx):
    return {"file": getattr(rec, "path", None) or ctx.state.path, "line": line_of(rec)}


def _site(name, out, rec, ctx):
    nets = out["subnets"]
    bh = out["business_hours"] if rec.get("business_hours") is not None else {
        "days": [0, 1, 2, 3, 4], "start": "08:00", "end": "18:00"}
    ctx.state.estate.sites[name] = {
        "name": name, "description": out["description"], "subnets": [str(n.cidr) for n in nets],
        "extensions": [str(r) for r in out["extensions"]], "dids": [str(r) for r in out["dids"]],
        "timezone": out["timezone"], "business_hours": bh, "holidays": sorted(set(out["holidays"])),
        "handset_maintainer": out["handset_maintainer"], "handset_depends_on": out["handset_depends_on"],
        "source": _source(rec, ctx), "_networks": nets, "_extensions": out["extensions"], "_dids": out["dids"]}


def _supplier(name, out, rec, ctx):
    ctx.state.estate.suppliers[name] = {
        "name": name, "description": out["description"], "contact": out["contact"], "coverage": out["coverage"],
        "sla": out["sla"], "timezone": out["timezone"], "business_hours": out["business_hours"],
        "holidays": sorted(set(out["holidays"])), "source": _source(rec, ctx)}


_COMMON_KEYS = ("description", "site", "maintainer", "vendor", "model", "depends_on", "tags")
_EXTRA_KEYS = {
    "callserver": ("address", "sip_port", "tls_port", "transport", "rpc_url", "db_url", "snmp"),
    "gateway": ("address", "sip_port", "tls_port", "transport", "snmp"),
    "trunk": ("a", "b", "carrier", "interface", "circuit_id", "address", "sip_port", "channels"),
    "handset": ("user", "lines", "mac", "address", "firmware"),
}
_EXTRA_KEYS["link"] = _EXTRA_KEYS["trunk"]
_EXTRA_KEYS["application"] = ("endpoint", "expect", "ldap", "timeout")
for _ctype in ("callserver", "gateway", "trunk", "link", "application"):
    _EXTRA_KEYS[_ctype] += ("location",)


def _component(ctype):
    def build(name, out, rec, ctx):
        comp = {"name": name, "type": ctype, "kind": "handset" if ctype == "handset" else out["kind"]}
        if ctype == "callserver":
            comp["kind"] = out["kind"] or out["vendor"] or "callserver"
        for key in _COMMON_KEYS:
            comp[key] = out.get(key, [] if key == "tags" else "")
        comp["source"] = _source(rec, ctx)
        comp["_rec"] = rec
        for key in _EXTRA_KEYS[ctype]:
            comp[key] = out[key]
        ctx.state.estate.components[name] = comp
    return build


def _records(what, group, table, build, item_field=None, not_a_mapping=None):
    """The check of a section: a list of mappings, each named, walked with ``table`` and built."""
    not_a_mapping = not_a_mapping or "each %s must be a mapping" % what

    def check(value, ctx):
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list):
            raise ValueError("must be a list")
        for idx, rec in enumerate(items):
            if not isinstance(rec, dict):
                ctx.validator.error(not_a_mapping, obj=ctx.key, field=item_field,
                                    line=line_of(value, idx))
                continue
            walk_one(rec, what, group, table, build, ctx)
        return None
    return check


def walk_one(rec, what, group, table, build, ctx):
    name = record_name(rec, what, group, ctx)
    out, _ok = ctx.validator.walk(rec, table, "%s '%s'" % (what, name or "?"), out={"name": name})
    if name:
        build(name, out, rec, ctx)


def _handsets_csv(value, ctx):
    """Handsets from CSV file(s) named relative to the estate; errors name the CSV file and line."""
    if not value:
        return None
    state, build = ctx.state, _component("handset")
    for rel_path in (value if isinstance(value, list) else [value]):
        csv_path = str(rel_path)
        if not os.path.isabs(csv_path):
            csv_path = os.path.join(os.path.dirname(os.path.abspath(state.path)), csv_path)
        try:
            rows = load_csv(csv_path, required=HANDSET_CSV_REQUIRED)
        except SourceError as exc:
            if exc.line is None and exc.path == csv_path:
                exc = SourceError(exc.message, path=state.path, line=line_of(ctx.rec, "handsets_csv"),
                                  field="handsets_csv", obj="handsets_csv %s" % csv_path)
            state.errors.extend([exc])
            continue
        state.errors.extend(unknown_columns(rows, HANDSET_CSV_COLUMNS, csv_path))
        for row in rows:
            clean = row.__class__((k, v) for k, v in row.items() if v != "")
            clean.line, clean.path = row.line, row.path
            walk_one(clean, "handset", "components", HANDSET_CSV_ROW, build, ctx)
    return None


# --------------------------------------------------------------------------------------------
# Estate rules: references between records, dependency cycles, the firmware policy
# --------------------------------------------------------------------------------------------

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


def _references(out, ctx):
    """Suppliers, components and trunk ends named by records exist; no component depends on itself."""
    est, error = ctx.state.estate, ctx.validator.error
    for comp in est.components.values():
        rec = comp.pop("_rec")
        obj = "%s '%s'" % (comp["type"], comp["name"])
        if comp["maintainer"] and comp["maintainer"] not in est.suppliers:
            key = ([k for k in ("maintainer", "carrier", "supplier") if k in rec] or [None])[0]
            error("unknown supplier %r (known: %s)" % (comp["maintainer"], ", ".join(sorted(est.suppliers)) or "none"),
                  rec, key, obj, "supplier" if key == "supplier" else "maintainer")
        if comp.get("carrier") and comp["carrier"] not in est.suppliers:
            error("unknown supplier %r" % comp["carrier"], rec, "carrier", obj, "carrier")
        for dep in list(comp["depends_on"]):
            if dep not in est.components:
                error("unknown component %r" % dep, rec, "depends_on" if "depends_on" in rec else None, obj, "depends_on")
            elif dep == comp["name"]:
                error("a component cannot depend on itself", rec, "depends_on", obj, "depends_on")
        for key in ("a", "b"):
            end = comp.get(key)
            if end and end["component"]:
                if end["component"] not in est.components:
                    error("unknown component %r" % end["component"], rec, key, obj, key)
                elif end["component"] == comp["name"]:
                    error("a trunk cannot end on itself", rec, key, obj, key)
                elif end["component"] not in comp["depends_on"]:
                    comp["depends_on"].append(end["component"])  # a trunk needs its own ends
        comp["_line"] = line_of(rec, "depends_on")
    for site in est.sites.values():
        where = dict(line=site["source"]["line"], obj="site '%s'" % site["name"], path=site["source"]["file"])
        if site["handset_maintainer"] and site["handset_maintainer"] not in est.suppliers:
            ctx.state.errors.add("unknown supplier %r" % site["handset_maintainer"], field="handset_maintainer", **where)
        for dep in site["handset_depends_on"]:
            if dep not in est.components:
                ctx.state.errors.add("unknown component %r" % dep, field="handset_depends_on", **where)
    if not ctx.state.errors:
        cycle = find_cycle(est.components)
        if cycle:
            first = est.components[cycle[0]]
            ctx.state.errors.add("dependency cycle: %s" % " -> ".join(cycle), line=first.get("_line") or first["source"]["line"],
                                 obj="%s '%s'" % (first["type"], first["name"]), field="depends_on",
                                 path=first["source"]["file"])
    for comp in est.components.values():
        comp.pop("_line", None)


def _thresholds(out, ctx):
    """The estate's own audit thresholds (name -> number >= 0), over the defaults of ``audit/finding.py``; an unknown
    name is refused with the closest known one."""
    data, error = ctx.rec, ctx.validator.error
    value = data.get("thresholds")
    if value is None:
        return
    if not isinstance(value, dict):
        error("must be a mapping threshold name -> number", data, "thresholds", "estate")
        return
    for name, number in value.items():
        if name not in DEFAULT_THRESHOLDS:
            close = difflib.get_close_matches(str(name), list(DEFAULT_THRESHOLDS), n=1)
            error("unknown threshold%s (known: %s)" % (" - did you mean %s?" % close[0] if close else "",
                                                       ", ".join(sorted(DEFAULT_THRESHOLDS))),
                  value, name, "thresholds", "thresholds.%s" % name)
            continue
        if isinstance(number, bool) or not isinstance(number, (int, float)) or number < 0:
            error("must be a number >= 0", value, name, "thresholds", "thresholds.%s" % name)
            continue
        ctx.state.estate.thresholds[str(name)] = number


def _approved_firmware(out, ctx):
    """vendor -> model ('*' = any other model) -> non-empty list of versions."""
    data, error = ctx.rec, ctx.validator.error
    value = data.get("approved_firmware")
    if value is None:
        return
    if not isinstance(value, dict):
        error("must be a mapping vendor -> model -> [versions]", data, "approved_firmware", "estate")
        return
    for vendor, models in value.items():
        if not isinstance(models, dict):
            error("must be a mapping model -> [versions] ('*' = any model)", value, vendor, "approved_firmware",
                  "approved_firmware.%s" % vendor)
            continue
        result = {}
        for model, versions in models.items():
            if isinstance(versions, (str, int, float)):
                versions = [versions]
            if not isinstance(versions, list) or not versions:
                error("must be a non-empty list of versions", models, model, "approved_firmware",
                      "approved_firmware.%s.%s" % (vendor, model))
                continue
            result[str(model)] = [str(v) for v in versions]
        ctx.state.estate.approved_firmware[str(vendor).lower()] = result


ESTATE = Table("estate", [
    Field("version", "any", always=True, check=_version),
    Field("domain"),
    Field("sites", "any", required=True, check=_records("site", "sites", SITE, _site, item_field="sites")),
    Field("suppliers", "any", required=True, check=_records("supplier", "suppliers", SUPPLIER, _supplier)),
    Field("rooms", "any", check=_records("room", "places", ROOM, _room)),
    Field("racks", "any", check=_records("rack", "places", RACK, _rack)),
    Field("patch_panels", "any", check=_records("patch panel", "places", PATCH_PANEL, _patch_panel)),
] + [Field(section, "any", check=_records(SECTION_TYPE[section], "components", table, _component(SECTION_TYPE[section]),
                                          item_field=section, not_a_mapping="each entry must be a mapping"))
     for section, table in (("callservers", CALLSERVER), ("gateways", GATEWAY), ("trunks", TRUNK), ("links", LINK))] + [
    Field("handsets", "any", check=_records("handset", "components", HANDSET, _component("handset"))),
    Field("handsets_csv", "any", check=_handsets_csv),
    Field("applications", "any", check=_records("application", "components", APPLICATION, _component("application"),
                                                item_field="applications", not_a_mapping="each entry must be a mapping")),
    Field("approved_firmware", "skip"),
    Field("thresholds", "skip"),
], rules=[_places, _references, _approved_firmware, _thresholds])
