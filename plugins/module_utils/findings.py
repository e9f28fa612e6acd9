# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Findings of a health audit: record, routing, root-cause grouping, handling order, diff.

Pure functions over plain data (docs/health_audit.md has the JSON schema):

1. *Check families* turn the results of the bulk info modules into findings: one function per
   family (``from_sip_probe``, ``from_rpc``, ``from_dispatcher``, ``from_snmp``,
   ``from_registrations``, ``from_certificates``).  Each returns a *check result*
   ``{"check": name, "checked": [component names], "findings": [finding, ...]}`` so that a
   component that was checked and is fine shows up as a passed test in the JUnit report.
2. :func:`build_audit` takes those check results, the :class:`~.estate.Estate`, ``now`` and the
   previous audit (the JSON report of the last run, optional) and returns the audit document:
   every finding routed to its supplier with priority and deadlines, grouped by root cause along
   ``depends_on`` (a dead E1 is one ticket listing the phones behind it), ordered for fault
   handling, and diffed against the previous audit (new / persisting / resolved).

A finding's ``id`` is stable across runs: a hash of ``check``, ``component`` and ``kind``.
The SLA clock of a persisting finding starts at its ``first_seen`` (carried from the previous audit).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib
import re

from ansible_collections.voipops.voip.plugins.module_utils import sla as _sla

AUDIT_SCHEMA_VERSION = 1
SEVERITY_RANK = dict((s, i) for i, s in enumerate(_sla.SEVERITIES))
DEFAULT_IMPACT = {"callserver": "estate", "gateway": "site", "trunk": "site", "link": "site", "handset": "single"}
STATUS_RANK = {"ok": 0, "warning": 1, "critical": 2}
#: when several availability findings hit one component, the most direct observation carries the others
CHECK_PRECEDENCE = {"sip_options": 0, "callserver_rpc": 1, "snmp": 2, "dispatcher": 3, "registrations": 4}

#: thresholds of the callserver-host checks (percent)
DEFAULT_THRESHOLDS = {
    "cpu_warning": 80, "cpu_critical": 95,
    "memory_warning": 85, "memory_critical": 95,
    "disk_warning": 85, "disk_critical": 95,
    "cert_warning_days": 30, "cert_critical_days": 7,
    "stale_registration_seconds": 0,
}


def finding_id(check, component, kind):
    """Stable id: the same problem on the same component has the same id run after run."""
    raw = "%s|%s|%s" % (check, component, kind)
    return hashlib.sha1(raw.encode("utf-8")).hexdigest()[:16]  # nosec - an identifier, not security


def make_finding(check, component, kind, severity, summary, details=None, impact=None, availability=True,
                 supplier=None):
    """A raw finding, before routing.

    ``availability`` findings (down, unreachable, unregistered) are symptoms that a failure of
    something the component depends on explains, so they are grouped under that root cause;
    others (firmware not approved, certificate expiring) stand on their own.
    ``impact`` None = derived from the component type and the number of affected handsets.
    ``supplier`` overrides the component's maintainer (rarely needed).
    """
    if severity not in SEVERITY_RANK:
        raise ValueError("unknown severity %r" % (severity,))
    return {"id": finding_id(check, component, kind), "check": check, "component": component, "kind": kind,
            "severity": severity, "summary": summary, "details": details or {}, "impact": impact,
            "availability": bool(availability), "supplier": supplier}


def check_result(check, checked, findings):
    return {"check": check, "checked": sorted(set(checked)), "findings": list(findings)}


# --------------------------------------------------------------------------------------------
# Versions (firmware compliance; also the voipops.voip.version_compare filter)
# --------------------------------------------------------------------------------------------

def version_key(version):
    """Sort key for firmware versions: numeric parts compare as numbers (``96.86.0.9 < 96.86.0.100``)."""
    parts = re.split(r"[.\-_+ ]", str(version or "").strip())
    key = []
    for part in parts:
        for num, text in re.findall(r"(\d+)|([A-Za-z]+)", part):
            key.append((1, int(num), "") if num else (0, 0, text.lower()))
    return tuple(key)


def compare_versions(a, b):
    """-1, 0 or 1."""
    ka, kb = version_key(a), version_key(b)
    return (ka > kb) - (ka < kb)


# --------------------------------------------------------------------------------------------
# Helpers to find components from what the modules return
# --------------------------------------------------------------------------------------------

_URI_RE = re.compile(r"^(?:sips?:)?(?:[^@;>]*@)?(\[[^\]]+\]|[^:;>]+)(?::(\d+))?")


def _host_port(uri, default_port=5060):
    match = _URI_RE.match(str(uri or "").strip())
    if not match:
        return None, None
    host = match.group(1).strip("[]")
    return host, int(match.group(2)) if match.group(2) else default_port


def component_by_address(estate, uri, types=("gateway", "callserver", "trunk")):
    """The component whose address/sip_port matches a SIP URI, or None."""
    host, port = _host_port(uri)
    if host is None:
        return None
    for comp in estate.components.values():
        if comp["type"] in types and comp.get("address") == host and (comp.get("sip_port") or 5060) == port:
            return comp["name"]
    return None


def _name_of(result, estate, keys=("name", "component", "target", "inventory_hostname")):
    for key in keys:
        value = result.get(key)
        if value and value in estate.components:
            return value
    item = result.get("item")  # a registered loop result: the loop item names the component
    if isinstance(item, str) and item in estate.components:
        return item
    if isinstance(item, dict):
        comp = item.get("voipops_component") if isinstance(item.get("voipops_component"), dict) else item
        if comp.get("name") in estate.components:
            return comp["name"]
    for key in ("uri", "target_uri", "sip_uri"):
        if result.get(key):
            found = component_by_address(estate, result[key])
            if found:
                return found
    return None


def _trunk_index(estate):
    """(gateway name, interface name lower-case) -> trunk name."""
    index = {}
    for trunk in estate.components.values():
        if trunk["type"] not in ("trunk", "link"):
            continue
        for end in (trunk.get("a"), trunk.get("b")):
            if not end or not end.get("component"):
                continue
            iface = trunk.get("interface") or end.get("port")
            if iface:
                index[(end["component"], str(iface).strip().lower())] = trunk["name"]
    return index


# --------------------------------------------------------------------------------------------
# Check families (input shapes documented in docs/health_audit.md, "Check families")
# --------------------------------------------------------------------------------------------

def from_sip_probe(results, estate, check="sip_options"):
    """``voipops.voip.sip_probe`` results -> unreachable / error findings.

    Each result (the module's ``results`` items): ``{target, uri, host, port, status (ok|error|timeout|
    refused|tls_error|dns_error), reachable, code, reason, error}``; a ``name`` key naming the
    component is used when present, else the component is found by address and port.
    """
    checked, found = [], []
    for res in results or []:
        name = _name_of(res, estate)
        if name is None and res.get("host"):
            name = component_by_address(estate, "sip:%s:%s" % (res["host"], res.get("port") or 5060))
        if name is None:
            continue
        checked.append(name)
        status = res.get("status")
        code = res.get("code", res.get("status_code"))
        ok = res.get("ok")
        if ok is None and isinstance(status, str):
            ok = status == "ok"
        reachable = res.get("reachable")
        if reachable is None:
            reachable = bool(ok) or code is not None
        details = {"uri": res.get("uri"), "status": status, "code": code, "error": res.get("error")}
        if not reachable:
            found.append(make_finding(check, name, "sip_unreachable", "critical",
                                      "%s does not answer SIP OPTIONS (%s)" % (name, res.get("error") or status or "no reply"),
                                      details))
        elif ok is False:
            sev = "major" if isinstance(code, int) and code >= 500 else "minor"
            found.append(make_finding(check, name, "sip_error", sev,
                                      "%s answers OPTIONS with %s %s" % (name, code, res.get("reason") or ""), details))
    return check_result(check, checked, found)


def from_rpc(results, estate, check="callserver_rpc"):
    """Callserver management API reachability: ``[{name, ok, error}]``, or the ``results`` of a
    ``voipops.voip.callserver_info`` loop over the callservers (``item`` names the component, ``failed``/``msg``)."""
    checked, found = [], []
    for res in results or []:
        name = _name_of(res, estate)
        if name is None:
            continue
        checked.append(name)
        if not res.get("ok", not res.get("failed", False)):
            found.append(make_finding(check, name, "rpc_unreachable", "critical",
                                      "%s management API (JSON-RPC) does not answer: %s" % (name, res.get("error") or res.get("msg") or "no reply"),
                                      {"error": res.get("error") or res.get("msg")}))
    return check_result(check, checked, found)


def _dispatcher_finding(check, name, state, gw, callserver=None):
    if state == "inactive":
        return make_finding(check, name, "dispatcher_inactive", "critical",
                            "%s is inactive in the callserver's dispatcher (OPTIONS probes fail)" % name,
                            {"uri": gw.get("uri"), "flags": gw.get("flags"), "setid": gw.get("setid")})
    if state == "disabled":
        return make_finding(check, name, "dispatcher_disabled", "minor",
                            "%s is administratively disabled in the dispatcher" % name,
                            {"uri": gw.get("uri"), "flags": gw.get("flags")}, availability=False)
    if state == "absent":
        return make_finding(check, name, "dispatcher_missing", "major",
                            "%s is not in the callserver's dispatcher list: no calls are routed to it" % name,
                            {"callserver": callserver}, availability=False)
    return None


def from_dispatcher(gateways, estate, callserver=None, check="dispatcher"):
    """Dispatcher state as seen by the callserver (``KamailioRPC.dispatcher()`` records, or
    ``voipops.voip.callserver_info``'s ``callserver.gateways``).

    Every estate gateway must be in the list and active; ``inactive`` = the callserver's probes fail.
    """
    checked, found = [], []
    seen = set()
    for gw in gateways or []:
        name = component_by_address(estate, gw.get("uri"), types=("gateway",))
        if name is None:
            continue
        seen.add(name)
        checked.append(name)
        finding = _dispatcher_finding(check, name, gw.get("state"), gw, callserver)
        if finding:
            found.append(finding)
    for comp in estate.of_type("gateway"):
        if comp["name"] not in seen:
            checked.append(comp["name"])
            found.append(_dispatcher_finding(check, comp["name"], "absent", {}, callserver))
    return check_result(check, checked, found)


def from_gateway_info(gateways, estate, callserver=None, thresholds=None):
    """``voipops.voip.gateway_info``'s ``gateways`` records -> the sip_options, dispatcher and snmp check results.

    Each record: ``{name, sip: {status, reachable, code, ...}, dispatcher: {state, flags, uri, ...},
    snmp: {ok, error, system, interfaces, ds1, isdn}}``.  The findings get the same ids as when the
    separate modules are used (same check names and kinds).
    """
    sip, snmp, disp_checked, disp_found = [], [], [], []
    for gw in gateways or []:
        name = gw.get("name")
        if name not in estate.components:
            continue
        if isinstance(gw.get("sip"), dict):
            sip.append(dict(gw["sip"], name=name))
        dispatcher = gw.get("dispatcher")
        if isinstance(dispatcher, dict) and dispatcher.get("state") not in (None, "unknown"):
            disp_checked.append(name)
            finding = _dispatcher_finding("dispatcher", name, dispatcher["state"], dispatcher, callserver)
            if finding:
                disp_found.append(finding)
        if isinstance(gw.get("snmp"), dict):
            facts = dict((k, v) for k, v in gw["snmp"].items() if k in ("system", "interfaces", "ds1", "isdn", "host", "ucd"))
            snmp.append({"name": name, "ok": gw["snmp"].get("ok", True), "error": gw["snmp"].get("error"), "facts": facts})
    out = []
    if sip:
        out.append(from_sip_probe(sip, estate))
    if disp_checked:
        out.append(check_result("dispatcher", disp_checked, disp_found))
    if snmp:
        out.append(from_snmp(snmp, estate, thresholds=thresholds))
    return out


def _host_findings(name, facts, thresholds, check, found):
    # resource pressure is a risk to the service, not an outage: impact "group" (major -> P2, warning -> P4)
    host = facts.get("host") or {}
    ucd = facts.get("ucd") or {}
    cpu = host.get("processor_load_avg")
    if cpu is None and ucd.get("cpu_percent", {}).get("idle") is not None:
        cpu = 100 - ucd["cpu_percent"]["idle"]
    if cpu is not None:
        if cpu >= thresholds["cpu_critical"]:
            found.append(make_finding(check, name, "cpu_high", "major", "%s CPU at %s%%" % (name, cpu), {"cpu_percent": cpu},
                                      impact="group", availability=False))
        elif cpu >= thresholds["cpu_warning"]:
            found.append(make_finding(check, name, "cpu_high", "warning", "%s CPU at %s%%" % (name, cpu), {"cpu_percent": cpu},
                                      impact="group", availability=False))
    mem = (ucd.get("memory") or {}).get("real_used_percent")
    if mem is not None:
        if mem >= thresholds["memory_critical"]:
            found.append(make_finding(check, name, "memory_high", "major", "%s memory %s%% used" % (name, mem),
                                      {"memory_percent": mem}, impact="group", availability=False))
        elif mem >= thresholds["memory_warning"]:
            found.append(make_finding(check, name, "memory_high", "warning", "%s memory %s%% used" % (name, mem),
                                      {"memory_percent": mem}, impact="group", availability=False))
    for disk in ucd.get("disks") or []:
        pct = disk.get("percent_used")
        if pct is None:
            continue
        sev = "major" if pct >= thresholds["disk_critical"] else ("warning" if pct >= thresholds["disk_warning"] else None)
        if sev:
            found.append(make_finding(check, name, "disk_full:%s" % disk.get("path"), sev,
                                      "%s disk %s %s%% used" % (name, disk.get("path"), pct),
                                      {"path": disk.get("path"), "percent_used": pct}, impact="group", availability=False))
    for proc in ucd.get("processes") or []:
        if proc.get("error"):
            problem = proc.get("error_message") or "out of range"
            found.append(make_finding(check, name, "process:%s" % proc.get("name"), "critical",
                                      "%s process %s: %s (count %s)" % (name, proc.get("name"), problem, proc.get("count")),
                                      {"process": proc.get("name"), "count": proc.get("count")}))


def _iface_names(iface):
    """Every name an interface is known by (ifName, ifDescr, ifAlias), lower-case."""
    return set(str(iface.get(k)).strip().lower() for k in ("name", "descr", "alias") if iface.get(k))


def from_snmp(results, estate, thresholds=None, check="snmp"):
    """``voipops.voip.snmp_info`` / gateway_info poll results -> host, interface, E1/ISDN findings.

    Each result: ``{name, ok, error, facts: {system, interfaces, host, ucd, ds1, isdn}}`` (the
    shape of ``module_utils/snmp.py`` ``SnmpPoller.poll``).  Interface and E1 problems land on
    the trunk/link whose ``interface`` (or endpoint ``port``) names that interface on that
    gateway, else on the gateway itself.
    """
    limits = dict(DEFAULT_THRESHOLDS)
    limits.update(thresholds or {})
    trunks = _trunk_index(estate)
    checked, found = [], []
    for res in results or []:
        name = _name_of(res, estate)
        if name is None:
            continue
        checked.append(name)
        if not res.get("ok", True):
            found.append(make_finding(check, name, "snmp_unreachable", "major",
                                      "%s does not answer SNMP: %s" % (name, res.get("error") or "timeout"),
                                      {"error": res.get("error")}))
            continue
        facts = res.get("facts") or {}
        _host_findings(name, facts, limits, check, found)
        # An interface is known by its ifName, ifDescr and ifAlias: the estate may use any of them.
        aliases = {}
        for iface in facts.get("interfaces") or []:
            aliases[iface.get("index", iface.get("if_index"))] = _iface_names(iface)

        def trunk_of(*names, **kw):
            candidates = set(n for n in names if n) | aliases.get(kw.get("if_index"), set())
            for cand in sorted(candidates):
                trunk = trunks.get((name, cand))
                if trunk:
                    return trunk
            return None

        on_trunk = set()
        for line in facts.get("ds1") or []:
            trunk = trunk_of(str(line.get("name") or "").lower(), if_index=line.get("if_index"))
            target = trunk or name
            on_trunk.add(line.get("if_index"))
            on_trunk.add(str(line.get("name") or "").lower())
            if trunk:
                checked.append(trunk)
            if line.get("severity") in ("critical", "warning"):
                sev = "critical" if line["severity"] == "critical" else "minor"
                alarms = ", ".join(line.get("alarms") or []) or "alarm"
                found.append(make_finding(check, target, "e1_alarm" if trunk else "e1_alarm:%s" % line.get("name"), sev,
                                          "%s %s on %s: %s" % (target, line.get("name"), name, alarms),
                                          {"gateway": name, "interface": line.get("name"), "alarms": line.get("alarms"),
                                           "line_status": line.get("line_status")},
                                          availability=sev == "critical"))
        for iface in facts.get("interfaces") or []:
            key = str(iface.get("name") or "").lower()
            trunk = trunk_of(*_iface_names(iface))
            if trunk:
                checked.append(trunk)
            if not iface.get("fault") or key in on_trunk or iface.get("index", iface.get("if_index")) in on_trunk:
                continue  # an E1 with a DS1 alarm is reported once, with the alarm names
            target = trunk or name
            found.append(make_finding(check, target, "interface_down" if trunk else "interface_down:%s" % iface.get("name"),
                                      "critical" if trunk else "major",
                                      "%s interface %s is %s (admin up)" % (name, iface.get("name"), iface.get("oper_status")),
                                      {"gateway": name, "interface": iface.get("name"), "oper_status": iface.get("oper_status")}))
        for dch in (facts.get("isdn") or {}).get("d_channels") or []:
            key = str(dch.get("name") or "").lower()
            trunk = trunk_of(key, if_index=dch.get("if_index"))
            if dch.get("up") is False and key not in on_trunk:
                target = trunk or name
                found.append(make_finding(check, target, "isdn_d_channel_down" if trunk else "isdn_d_channel_down:%s" % dch.get("name"),
                                          "major", "%s ISDN D channel on %s is %s" % (name, dch.get("name"), dch.get("state")),
                                          {"gateway": name, "interface": dch.get("name"), "state": dch.get("state")}))
    return check_result(check, checked, found)


def _ua_parser():
    try:
        from ansible_collections.voipops.voip.plugins.module_utils.handsets.base import parse_user_agent
        return parse_user_agent
    except ImportError:  # pragma: no cover - the handset profiles are part of the collection
        return generic_ua_parse


_GENERIC_UA = re.compile(r"^(?P<vendor>[A-Za-z]+)[ /_-]+(?:SIP[-_ ]?)?(?P<model>[A-Za-z0-9-]+)[ /_-]+(?P<version>\d[\w.\-]*)")


def generic_ua_parse(ua):
    """Fallback User-Agent parse: ``Vendor Model Version`` -> {vendor, model, firmware, mac}."""
    match = _GENERIC_UA.match(str(ua or "").strip())
    if not match:
        return None
    return {"vendor": match.group("vendor").lower(), "model": match.group("model"), "firmware": match.group("version"),
            "mac": None}


def aor_user(aor):
    """``sip:1001@voip.lab`` / ``1001@voip.lab`` / ``1001`` -> ``1001``."""
    text = str(aor or "")
    if text.startswith(("sip:", "sips:")):
        text = text.split(":", 1)[1]
    return text.split("@", 1)[0]


def match_registrations(contacts, estate, parse=None):
    """Pair each registered contact with its estate handset (MAC from the User-Agent first, then user).

    Returns ``(matched, unknown)``: matched = {handset name: [contact + parsed UA]}, unknown = [contact].
    """
    parse = parse or _ua_parser()
    by_mac = estate.handset_by_mac()
    by_user = estate.handsets_by_user()
    matched, unknown = {}, []
    for contact in contacts or []:
        ua = parse(contact.get("user_agent")) or {}
        entry = dict(contact)
        entry["ua"] = ua
        handset = by_mac.get(ua.get("mac")) if ua.get("mac") else None
        if handset is None:
            candidates = by_user.get(aor_user(contact.get("aor")), [])
            if len(candidates) == 1:
                handset = candidates[0]
            elif candidates:
                vendor = ua.get("vendor")
                fitting = [h for h in candidates if h["vendor"] == vendor] if vendor else []
                handset = fitting[0] if len(fitting) == 1 else None
        if handset is None:
            unknown.append(entry)
        else:
            matched.setdefault(handset["name"], []).append(entry)
    return matched, unknown


def _not_registered(check, handset):
    return make_finding(check, handset["name"], "not_registered", "minor",
                        "%s (%s %s, user %s) is not registered" % (handset["name"], handset["vendor"], handset["model"],
                                                                   handset.get("user") or "-"),
                        {"user": handset.get("user"), "mac": handset["mac"]})


def _stale(check, name, contact):
    details = dict((k, contact.get(k)) for k in ("aor", "expires") if contact.get(k) is not None)
    return make_finding(check, name, "stale_registration", "warning",
                        "%s registration is stale (expires %s)" % (name, contact.get("expires")), details, availability=False)


def _device_findings(check, handset, estate, ua, firmware, user_agent, aor):
    """A registered estate handset: another device than the estate says, or a firmware that is not approved."""
    name = handset["name"]
    if _mismatch(ua, handset):
        details = {"user_agent": user_agent}
        if aor:
            details["aor"] = aor
        # its firmware says nothing about the estate's model
        return [make_finding(check, name, "device_mismatch", "warning",
                             "%s is registered by a %s %s, the estate says %s %s" % (
                                 name, ua.get("vendor"), ua.get("model") or "", handset["vendor"], handset["model"]),
                             details, availability=False)]
    approved = estate.approved_versions(handset["vendor"], handset["model"])
    if approved is not None and firmware and not any(compare_versions(firmware, v) == 0 for v in approved):
        return [make_finding(check, name, "firmware_not_approved", "warning",
                             "%s runs firmware %s, approved for %s %s: %s" % (
                                 name, firmware, handset["vendor"], handset["model"], ", ".join(approved)),
                             {"firmware": firmware, "approved": approved, "user_agent": user_agent}, availability=False)]
    return []


def from_registrations(contacts, estate, callserver=None, thresholds=None, check="registrations", parse=None):
    """Handset checks from the callserver's registrations (``KamailioRPC.registrations()`` records).

    - coverage: every estate handset must be registered (``not_registered``, minor, single);
    - unknown devices registered (one finding on the callserver listing them, warning);
    - firmware compliance against ``approved_firmware`` (``firmware_not_approved``, warning);
    - stale registrations: ``expires`` at or below ``stale_registration_seconds`` (warning).
    """
    limits = dict(DEFAULT_THRESHOLDS)
    limits.update(thresholds or {})
    contacts = flatten_contacts(contacts)
    matched, unknown = match_registrations(contacts, estate, parse)
    checked, found = [], []
    for handset in estate.handsets:
        name = handset["name"]
        checked.append(name)
        regs = matched.get(name)
        if not regs:
            found.append(_not_registered(check, handset))
            continue
        if not [r for r in regs if not _is_stale(r, limits)]:
            found.append(_stale(check, name, regs[0]))
        found.extend(_device_findings(check, handset, estate, regs[0]["ua"], regs[0]["ua"].get("firmware"),
                                      regs[0].get("user_agent"), regs[0].get("aor")))
    if callserver and callserver in estate.components:
        checked.append(callserver)
        if unknown:
            items = [dict((k, u.get(k)) for k in ("aor", "user_agent", "received", "contact")
                          if u.get(k) and not str(u.get(k)).startswith("[not set")) for u in unknown]
            found.append(make_finding(check, callserver, "unknown_devices", "warning",
                                      "%d device(s) registered on %s that the estate does not know" % (len(items), callserver),
                                      {"devices": items}, impact="none", availability=False))
    return check_result(check, checked, found)


def _norm_model(model):
    return re.sub(r"[\s_\-]", "", str(model or "")).upper()


def _mismatch(ua, handset):
    """The User-Agent names another vendor or model than the estate (only when the UA says so)."""
    if ua.get("vendor") and ua["vendor"] != handset["vendor"]:
        return True
    return bool(ua.get("model")) and _norm_model(ua["model"]) != _norm_model(handset["model"])


def flatten_contacts(contacts):
    """Registrations as a list of contacts, or as callserver_info's ``by_aor`` {aor: [contacts]}."""
    if isinstance(contacts, dict):
        flat = []
        for aor, items in sorted(contacts.items()):
            for item in items or []:
                entry = dict(item)
                entry.setdefault("aor", aor)
                flat.append(entry)
        return flat
    return list(contacts or [])


def from_handset_info(result, estate, callserver=None, thresholds=None, check="registrations"):
    """``voipops.voip.handset_info``'s result (``handsets``, ``unknown``) -> the registrations check.

    Same kinds and ids as :func:`from_registrations`: ``not_registered``, ``stale_registration``,
    ``device_mismatch``, ``firmware_not_approved`` and one ``unknown_devices`` on the callserver.
    """
    limits = dict(DEFAULT_THRESHOLDS)
    limits.update(thresholds or {})
    parse = _ua_parser()
    checked, found = [], []
    for item in (result or {}).get("handsets") or []:
        name = item.get("name")
        handset = estate.components.get(name)
        if handset is None or handset["type"] != "handset":
            continue
        checked.append(name)
        if not item.get("registered"):
            found.append(_not_registered(check, handset))
            continue
        contacts = item.get("contacts") or []
        if contacts and all(_is_stale(c, limits) for c in contacts):
            found.append(_stale(check, name, contacts[0]))
        ua = parse(item.get("user_agent")) or {}
        found.extend(_device_findings(check, handset, estate, ua, item.get("firmware") or ua.get("firmware"),
                                      item.get("user_agent"), (contacts[0] if contacts else {}).get("aor")))
    if callserver and callserver in estate.components:
        checked.append(callserver)
        unknown = (result or {}).get("unknown") or []
        if unknown:
            found.append(make_finding(check, callserver, "unknown_devices", "warning",
                                      "%d device(s) registered on %s that the estate does not know" % (len(unknown), callserver),
                                      {"devices": unknown}, impact="none", availability=False))
    return check_result(check, checked, found)


def _is_stale(contact, limits):
    expires = contact.get("expires")
    if isinstance(expires, (int, float)) and not isinstance(expires, bool):
        return expires <= limits["stale_registration_seconds"]
    return False


def from_certificates(certs, estate, now, thresholds=None, check="certificates"):
    """TLS certificate expiry: ``[{name, host, port, not_after (ISO 8601), subject, error}]``."""
    limits = dict(DEFAULT_THRESHOLDS)
    limits.update(thresholds or {})
    now = _sla.to_utc(now)
    checked, found = [], []
    for cert in certs or []:
        name = _name_of(cert, estate)
        if name is None:
            continue
        checked.append(name)
        where = "%s:%s" % (cert.get("host"), cert.get("port"))
        if cert.get("error") or not cert.get("not_after"):
            found.append(make_finding(check, name, "tls_error:%s" % cert.get("port"), "major",
                                      "%s TLS on %s: %s" % (name, where, cert.get("error") or "no certificate"),
                                      {"endpoint": where, "error": cert.get("error")}, availability=False))
            continue
        left = (_sla.to_utc(cert["not_after"]) - now).total_seconds() / 86400.0
        details = {"endpoint": where, "not_after": cert["not_after"], "days_left": round(left, 1), "subject": cert.get("subject")}
        if left <= 0:
            found.append(make_finding(check, name, "cert_expired:%s" % cert.get("port"), "critical",
                                      "%s certificate on %s expired %s" % (name, where, cert["not_after"]), details,
                                      availability=False))
        elif left <= limits["cert_critical_days"]:
            found.append(make_finding(check, name, "cert_expiring:%s" % cert.get("port"), "major",
                                      "%s certificate on %s expires in %.1f days" % (name, where, left), details,
                                      # a risk to the whole group behind it, like resource pressure: P2, so that the
                                      # resolve deadline falls before the expiry (impact none would give P4 / 10 days)
                                      impact="group", availability=False))
        elif left <= limits["cert_warning_days"]:
            found.append(make_finding(check, name, "cert_expiring:%s" % cert.get("port"), "warning",
                                      "%s certificate on %s expires in %.0f days" % (name, where, left), details,
                                      impact="none", availability=False))
    return check_result(check, checked, found)


# --------------------------------------------------------------------------------------------
# The audit: routing, grouping, ordering, diff
# --------------------------------------------------------------------------------------------

def _iso(value):
    return _sla.to_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def _merge(findings):
    """Same id twice (two checks of one run) -> one finding, worst severity wins."""
    merged = {}
    for f in findings:
        cur = merged.get(f["id"])
        if cur is None or SEVERITY_RANK[f["severity"]] < SEVERITY_RANK[cur["severity"]]:
            merged[f["id"]] = dict(f)
    return merged


def _choose_root(candidates, estate, findings):
    """Among findings that explain a symptom, the most fundamental one (lowest dependency level)."""
    return min(candidates, key=lambda fid: (estate.level(findings[fid]["component"]),
                                            SEVERITY_RANK[findings[fid]["severity"]], findings[fid]["component"], fid))


def group_root_causes(findings, estate):
    """Set ``root_cause`` on symptoms: an availability finding whose component depends (transitively)
    on a component with an availability finding, or that shares its component with a worse one."""
    avail_by_comp = {}
    for fid, f in findings.items():
        if f["availability"] and f["component"] in estate.components:
            avail_by_comp.setdefault(f["component"], []).append(fid)
    # on one component, the worst availability finding carries the others
    primary = {}
    for comp, fids in avail_by_comp.items():
        fids.sort(key=lambda i: (SEVERITY_RANK[findings[i]["severity"]], CHECK_PRECEDENCE.get(findings[i]["check"], 9),
                                 findings[i]["check"], i))
        primary[comp] = fids[0]
        for other in fids[1:]:
            findings[other]["root_cause"] = fids[0]
    for comp, fid in primary.items():
        causes = [primary[a] for a in estate.ancestors(comp) if a in primary]
        if not causes:
            continue
        # the cause must itself be a root: keep only causes with no cause above them
        roots = [c for c in causes if not any(a in primary for a in estate.ancestors(findings[c]["component"]))]
        root = _choose_root(roots or causes, estate, findings)
        findings[fid]["root_cause"] = root
        for other in avail_by_comp[comp][1:]:
            findings[other]["root_cause"] = root
    for fid, f in findings.items():
        f.setdefault("root_cause", None)
    return findings


def build_audit(check_results, estate, now=None, previous=None, thresholds=None, title=None):
    """The audit document (see docs/health_audit.md for the schema; ``schema_version`` 1)."""
    now = _sla.to_utc(now or datetime.datetime.now(_sla.UTC))
    prev_findings = dict((f["id"], f) for f in (previous or {}).get("findings", []) if f.get("id"))
    # the same audit time again (a re-run/replay): reproduce that audit's view of the changes
    rerun = bool(previous) and previous.get("generated_at") == _iso(now)
    raw = []
    checks, by_name = [], {}
    for res in check_results or []:  # one entry per check name (e.g. sip_options of callservers and of gateways)
        raw.extend(res.get("findings") or [])
        entry = by_name.get(res["check"])
        if entry is None:
            entry = by_name[res["check"]] = {"name": res["check"], "checked": [], "findings": []}
            checks.append(entry)
        entry["checked"] = sorted(set(entry["checked"]) | set(res.get("checked") or []))
        entry["findings"] = sorted(set(entry["findings"]) | set(f["id"] for f in res.get("findings") or []))
    findings = _merge(raw)
    group_root_causes(findings, estate)

    # routing
    for fid, f in findings.items():
        comp = estate.components.get(f["component"]) or {}
        f["component_type"] = comp.get("type", "unknown")
        f["component_kind"] = comp.get("kind")
        f["site"] = comp.get("site")
        f["supplier"] = f.get("supplier") or comp.get("maintainer")
        prev = prev_findings.get(fid)
        f["first_seen"] = prev.get("first_seen") if prev and prev.get("first_seen") else _iso(now)
        f["last_seen"] = _iso(now)
        if rerun:
            f["status"] = prev.get("status", "new") if prev else "new"
        else:
            f["status"] = "persisting" if prev else "new"
        f["children"] = []
        f["affected"] = []
    for fid, f in findings.items():
        if f["root_cause"]:
            findings[f["root_cause"]]["children"].append(fid)

    # impact and priority (roots take the worst of their group), then deadlines
    for fid, f in findings.items():
        comp = f["component"]
        impact = f["impact"] or DEFAULT_IMPACT.get(f["component_type"], "none")
        if f["root_cause"] is None and comp in estate.components and f["availability"]:
            affected = sorted(estate.descendants(comp))
            f["affected"] = affected
            handsets = sum(1 for a in affected if estate.components[a]["type"] == "handset")
            impact = _sla.higher_impact(impact, _sla.impact_for_count(handsets)) if handsets else impact
        f["impact"] = impact
        f["priority"] = _sla.priority_for(f["severity"], impact)
    for fid, f in findings.items():
        if f["root_cause"] is None:
            for child in f["children"]:
                f["priority"] = _sla.higher_priority(f["priority"], findings[child]["priority"])
    for fid, f in findings.items():
        supplier = estate.suppliers.get(f["supplier"]) if f["supplier"] else None
        site = estate.sites.get(f["site"]) if f["site"] else None
        due = _sla.deadlines(f["first_seen"], f["priority"], supplier, site) if f["root_cause"] is None else \
            _sla.deadlines(f["first_seen"], None, None)
        f["coverage"] = due["coverage"]
        f["timezone"] = due["timezone"]
        f["response_due"] = due["response_due"]
        f["resolve_due"] = due["resolve_due"]
        f["overdue"] = bool(f["resolve_due"] and _sla.overdue(f["resolve_due"], now))
        f["children"].sort()

    # fault-handling order: priority, then infrastructure before what depends on it, then deadline
    def order_key(f):
        level = estate.level(f["component"]) if f["component"] in estate.components else 99
        return (_sla.priority_rank(f["priority"]), level,
                _sla.to_utc(f["response_due"]) if f["response_due"] else datetime.datetime.max.replace(tzinfo=_sla.UTC),
                f["component"], f["id"])
    tickets = sorted((f for f in findings.values() if f["root_cause"] is None), key=order_key)
    for n, f in enumerate(tickets, 1):
        f["order"] = n
    for f in findings.values():
        if f["root_cause"]:
            f["order"] = findings[f["root_cause"]]["order"]

    ordered = sorted(findings.values(), key=lambda f: (f["order"], f["root_cause"] is not None, f["component"], f["id"]))
    resolved = []
    if rerun:
        prev_findings = {}
        resolved = [r for r in (previous.get("changes") or {}).get("resolved", []) if r.get("id") not in findings]
        previous = {"generated_at": previous.get("previous_generated_at")}
    for fid, prev in sorted(prev_findings.items()):
        if fid not in findings and not prev.get("root_cause"):  # tickets; their symptoms go with them
            keys = ("id", "check", "component", "kind", "severity", "priority", "summary", "supplier", "site", "first_seen",
                    "root_cause")
            resolved.append(dict((k, prev.get(k)) for k in keys))
            resolved[-1]["resolved_at"] = _iso(now)
    return _summarise(ordered, tickets, resolved, checks, estate, now, previous, title)


def _status_of(priorities):
    if any(p in ("P1", "P2") for p in priorities):
        return "critical"
    if any(p in ("P3", "P4") for p in priorities):
        return "warning"
    return "ok"


def _summarise(ordered, tickets, resolved, checks, estate, now, previous, title):
    by_priority = dict((p, 0) for p in _sla.PRIORITIES)
    for t in tickets:
        if t["priority"] in by_priority:
            by_priority[t["priority"]] += 1
    suppliers = {}
    for name, sup in sorted(estate.suppliers.items()):
        mine = [t for t in tickets if t["supplier"] == name]
        suppliers[name] = {"contact": sup["contact"], "coverage": sup["coverage"],
                           "tickets": [t["id"] for t in mine], "status": _status_of([t["priority"] for t in mine]),
                           "by_priority": dict((p, sum(1 for t in mine if t["priority"] == p)) for p in _sla.PRIORITIES)}
    sites = {}
    for name in sorted(estate.sites):
        mine = [t for t in tickets if t["site"] == name or any(
            estate.components[a].get("site") == name for a in t["affected"])]
        comps = [c for c in estate.components.values() if c.get("site") == name]
        down = set()
        for t in mine:
            if t["availability"]:
                down.add(t["component"])
                down.update(a for a in t["affected"] if estate.components[a].get("site") == name)
        sites[name] = {"status": _status_of([t["priority"] for t in mine]), "tickets": [t["id"] for t in mine],
                       "components": len(comps), "handsets": sum(1 for c in comps if c["type"] == "handset"),
                       "affected_components": len([c for c in down if estate.components.get(c, {}).get("site") == name])}
    new = [f["id"] for f in tickets if f["status"] == "new"]
    persisting = [f["id"] for f in tickets if f["status"] == "persisting"]
    counts = {}
    for comp in estate.components.values():
        counts[comp["type"]] = counts.get(comp["type"], 0) + 1
    return {
        "schema_version": AUDIT_SCHEMA_VERSION,
        "title": title or "VoIP estate health audit",
        "generated_at": _iso(now),
        "previous_generated_at": (previous or {}).get("generated_at"),
        "estate": {"file": estate.path, "domain": estate.domain, "components": counts},
        "status": _status_of([t["priority"] for t in tickets]),
        "summary": {"tickets": len(tickets), "findings": len(ordered), "suppressed": len(ordered) - len(tickets),
                    "by_priority": by_priority, "overdue": sum(1 for t in tickets if t["overdue"]),
                    "new": len(new), "persisting": len(persisting), "resolved": len(resolved)},
        "checks": checks,
        "tickets": [t["id"] for t in tickets],
        "findings": ordered,
        "suppliers": suppliers,
        "sites": sites,
        "changes": {"new": new, "persisting": persisting, "resolved": resolved},
    }


def tickets_at_or_above(audit, priority):
    """Tickets whose priority is ``priority`` or more urgent (for ``fail_on_priority``)."""
    limit = _sla.priority_rank(priority)
    by_id = dict((f["id"], f) for f in audit.get("findings", []))
    return [by_id[i] for i in audit.get("tickets", []) if _sla.priority_rank(by_id[i]["priority"]) <= limit]
