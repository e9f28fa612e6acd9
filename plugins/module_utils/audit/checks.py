# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check adapters of the health audit: what the bulk info modules return -> findings (pure).

One function per check family (input shapes in docs/health_audit.md, "Check families"); each returns a
check result (:func:`.finding.check_result`).  The adapters judge nothing themselves where a domain does:

- gateways, SIP OPTIONS, the dispatcher and SNMP lines/interfaces: the problems of the gateway family
  (``gateways/generic.py``, the one severity model), filed on the estate component (an E1 line on the
  estate trunk it carries);
- handsets: the registration domain (``handsets/registrations.py``: the one matcher, User-Agent, versions).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import json

from ansible_collections.voipops.voip.plugins.module_utils import sla
from ansible_collections.voipops.voip.plugins.module_utils.apps import parse_endpoint
from ansible_collections.voipops.voip.plugins.module_utils.audit.finding import (
    check_result, make_finding, thresholds_with,
)
from ansible_collections.voipops.voip.plugins.module_utils.audit import kpi as _kpi
from ansible_collections.voipops.voip.plugins.module_utils.gateways import generic as gateways
from ansible_collections.voipops.voip.plugins.module_utils.handsets import registrations as hreg
from ansible_collections.voipops.voip.plugins.module_utils.sip_message import host_port


# --------------------------------------------------------------------------------------------
# Finding components from what the modules return
# --------------------------------------------------------------------------------------------

def component_by_address(estate, uri, types=("gateway", "callserver", "trunk")):
    """The component whose address/sip_port matches a SIP URI, or None."""
    host, port = host_port(uri)
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


def _each_named(results, estate, checked, by_sip_address=False):
    """The results that name an estate component, with its name (appended to ``checked``).

    ``by_sip_address``: a result without a name may be found by its ``host``/``port`` as a SIP address.
    """
    for res in results or []:
        name = _name_of(res, estate)
        if name is None and by_sip_address and res.get("host"):
            name = component_by_address(estate, "sip:%s:%s" % (res["host"], res.get("port") or 5060))
        if name is not None:
            checked.append(name)
            yield res, name


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


def _file(problems, name, trunks, check, callserver=None):
    """The gateway family's problems of component ``name`` -> findings, a line problem on its estate trunk."""
    found = []
    for prob in problems:
        if prob["severity"] is None:  # shapes the gateway's status only
            continue
        target, kind, severity, summary = name, prob["kind"], prob["severity"], prob["summary"]
        line = prob.get("line")
        trunk = None
        for cand in (line or {}).get("names") or []:
            trunk = trunks.get((name, cand))
            if trunk:
                break
        if trunk:
            target, kind, severity = trunk, line["kind"], line["severity"]
            if line.get("about"):
                summary = "%s %s" % (trunk, line["about"])
        details = dict(prob["details"])
        if "callserver" in details and details["callserver"] is None:
            details["callserver"] = callserver
        found.append(make_finding(check, target, kind, severity, summary, details, availability=prob["availability"]))
    return found


def _trunks_seen(name, facts, trunks):
    """Estate trunks whose interface or E1/T1 line the SNMP facts of gateway ``name`` show."""
    aliases = gateways.interface_aliases(facts)
    seen = []
    candidates = [gateways.line_names(ln, aliases) for ln in facts.get("ds1") or []]
    candidates.extend(gateways.iface_names(iface) for iface in facts.get("interfaces") or [])
    for names in candidates:
        for cand in sorted(names):
            if trunks.get((name, cand)):
                seen.append(trunks[(name, cand)])
                break
    return seen


# --------------------------------------------------------------------------------------------
# Check families
# --------------------------------------------------------------------------------------------

def from_sip_probe(results, estate, check="sip_options"):
    """``voipops.voip.sip_probe`` results -> unreachable / error findings.

    Each result (the module's ``results`` items): ``{target, uri, host, port, status (ok|error|timeout|
    refused|tls_error|dns_error), reachable, code, reason, error}``; a ``name`` key naming the
    component is used when present, else the component is found by address and port.
    """
    checked, found = [], []
    for res, name in _each_named(results, estate, checked, by_sip_address=True):
        found.extend(_file(gateways.sip_problems(res, name), name, {}, check))
    return check_result(check, checked, found)


def from_rpc(results, estate, check="callserver_rpc"):
    """Callserver management API reachability: ``[{name, ok, error}]``, or the ``results`` of a
    ``voipops.voip.callserver_info`` loop over the callservers (``item`` names the component, ``failed``/``msg``)."""
    checked, found = [], []
    for res, name in _each_named(results, estate, checked):
        if not res.get("ok", not res.get("failed", False)):
            found.append(make_finding(check, name, "rpc_unreachable", "critical",
                                      "%s management API (JSON-RPC) does not answer: %s" % (name, res.get("error") or res.get("msg") or "no reply"),
                                      {"error": res.get("error") or res.get("msg")}))
    return check_result(check, checked, found)


def counters_of(rpc_results, estate, callserver):
    """The callserver's KPI counters from the management API check's results (``callserver_info`` gathering
    ``statistics``: ``callserver.counters``); None when that check did not read them."""
    checked = []
    for res, name in _each_named(rpc_results if isinstance(rpc_results, list) else [], estate, checked):
        facts = res.get("callserver") if isinstance(res.get("callserver"), dict) else res
        if (callserver is None or name == callserver) and isinstance(facts.get("counters"), dict):
            return name, facts["counters"]
    return None, None


def from_kpis(results, estate, now, previous=None, callserver=None, thresholds=None, check="kpi"):
    """Service KPIs (``audit/kpi.py``) on the change of the callserver's counters since the ``previous`` audit
    (its JSON report, which keeps the counters under ``kpis``) -> ``(kpi section of the audit, [check result])``;
    ``(None, [])`` when the audit did not read the counters.  Below-threshold KPIs with enough samples are
    ``<kpi>_low`` findings on the callserver (the gateway group is in the kind and the details)."""
    name, counters = counters_of((results or {}).get("rpc"), estate, _callserver(estate, callserver))
    if counters is None:
        return None, []
    prev = previous or {}
    if prev.get("kpis") and prev.get("generated_at") == sla.to_utc(now).strftime("%Y-%m-%dT%H:%M:%SZ"):
        doc = prev["kpis"]  # a re-run of the same audit: that audit's KPIs
    else:
        before = prev.get("kpis") or {}
        doc = _kpi.compute(counters, before.get("counters"), prev.get("generated_at") if before else None)
        _kpi.add_trends(doc, before)
    doc["callserver"] = name
    limits = thresholds_with(thresholds)
    found = []
    doc["table"] = _kpi_rows_with_status(doc, limits)
    for row in doc["table"]:
        if row["status"] != "low":
            continue
        group = row["scope"].split()[-1] if row["scope"].startswith("gateway group") else None
        label, severity = _kpi.KPI_LIMITS[row["kpi"]][1:]
        found.append(make_finding(
            check, name, "%s_low%s" % (row["kpi"], "_group%s" % group if group else ""), severity,
            "%s of %s is %.1f%% (threshold %s%%) over %d attempts since %s%s" % (
                label, row["scope"] if group else name, row["value"], row["threshold"], row["samples"],
                doc.get("baseline_at") or "the previous audit",
                ("; failures: %s" % ", ".join("%s x%d" % kv for kv in sorted(row.get("failure_codes", {}).items())))
                if row.get("failure_codes") else ""),
            {"kpi": row["kpi"], "scope": row["scope"], "gateway_group": group, "value_pct": row["value"],
             "threshold_pct": row["threshold"], "samples": row["samples"], "failure_codes": row.get("failure_codes", {}),
             "since": doc.get("baseline_at")}, availability=False))
    return doc, [check_result(check, [name], found)]


def _kpi_rows_with_status(doc, limits):
    out = []
    for row in _kpi.rows(doc):
        threshold, below = _kpi.evaluate(row, limits)
        judged = row["value"] is not None and row["samples"] >= limits.get("kpi_min_samples", 0)
        row.update(threshold=threshold, status="low" if below else ("ok" if judged else "not_judged"))
        out.append(row)
    return out


def from_dispatcher(entries, estate, callserver=None, check="dispatcher"):
    """Dispatcher state as seen by the callserver (``KamailioRPC.dispatcher()`` records, or
    ``voipops.voip.callserver_info``'s ``callserver.gateways``).

    Every estate gateway must be in the list and active; ``inactive`` = the callserver's probes fail.
    """
    checked, found = [], []
    seen = set()
    for entry in entries or []:
        name = component_by_address(estate, entry.get("uri"), types=("gateway",))
        if name is None:
            continue
        seen.add(name)
        checked.append(name)
        found.extend(_file(gateways.dispatcher_problems(entry.get("state"), entry, name, callserver), name, {}, check,
                           callserver))
    for comp in estate.of_type("gateway"):
        if comp["name"] not in seen:
            checked.append(comp["name"])
            found.extend(_file(gateways.dispatcher_problems("absent", {}, comp["name"], callserver), comp["name"], {},
                               check, callserver))
    return check_result(check, checked, found)


def from_gateway_info(records, estate, callserver=None, thresholds=None):
    """``voipops.voip.gateway_info``'s ``gateways`` records -> the sip_options, dispatcher and snmp check results.

    The audit takes the gateway's own verdict: each record's ``problems`` (``gateways/base.py``) become the
    findings, with the same ids as when the separate modules are used (same check names and kinds).  The
    record's evidence only says what was checked (the SIP view, a known dispatcher state, the SNMP facts).
    """
    limits = thresholds_with(thresholds)
    trunks = _trunk_index(estate)
    checked = {"sip_options": [], "dispatcher": [], "snmp": []}
    found = {"sip_options": [], "dispatcher": [], "snmp": []}
    for rec in records or []:
        name = rec.get("name")
        if name not in estate.components:
            continue
        if not isinstance(rec.get("problems"), list):
            raise ValueError("gateway_info record %s has no problems list (from an older gateway_info?)" % name)
        if isinstance(rec.get("sip"), dict):
            checked["sip_options"].append(name)
        dispatcher = rec.get("dispatcher")
        if isinstance(dispatcher, dict) and dispatcher.get("state") not in (None, "unknown"):
            checked["dispatcher"].append(name)
        snmp = rec.get("snmp")
        if isinstance(snmp, dict):
            checked["snmp"].append(name)
            if snmp.get("ok", True):
                _host_findings(name, snmp, limits, "snmp", found["snmp"])
                checked["snmp"].extend(_trunks_seen(name, snmp, trunks))
        for check in found:
            mine = [p for p in rec["problems"] if p["check"] == check]
            found[check].extend(_file(mine, name, trunks, check, callserver))
    order = ("sip_options", "dispatcher", "snmp")
    return [check_result(check, checked[check], found[check]) for check in order if checked[check]]


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


def from_snmp(results, estate, thresholds=None, check="snmp"):
    """``voipops.voip.snmp_info`` / gateway_info poll results -> host, interface, E1/ISDN findings.

    Each result: ``{name, ok, error, facts: {system, interfaces, host, ucd, ds1, isdn}}`` (the
    shape of ``module_utils/snmp.py`` ``SnmpPoller.poll``).  Interface and E1 problems land on
    the trunk/link whose ``interface`` (or endpoint ``port``) names that interface on that
    gateway, else on the gateway itself.
    """
    limits = thresholds_with(thresholds)
    trunks = _trunk_index(estate)
    checked, found = [], []
    for res, name in _each_named(results, estate, checked):
        facts = res.get("facts") or {}
        if res.get("ok", True):
            _host_findings(name, facts, limits, check, found)
            checked.extend(_trunks_seen(name, facts, trunks))
        found.extend(_file(gateways.snmp_problems(res, name), name, trunks, check))
    return check_result(check, checked, found)


# --------------------------------------------------------------------------------------------
# Handsets: the registration domain decides who is who
# --------------------------------------------------------------------------------------------

def _not_registered(check, handset):
    users = hreg.handset_users(handset)
    details = {"user": users[0] if users else None, "mac": handset["mac"]}
    if len(users) > 1:
        details["users"] = users
    return make_finding(check, handset["name"], "not_registered", "minor",
                        "%s (%s %s, user %s) is not registered" % (handset["name"], handset["vendor"], handset["model"],
                                                                   ", ".join(users) or "-"),
                        details)


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
    if approved is not None and firmware and not any(hreg.compare_versions(firmware, v) == 0 for v in approved):
        return [make_finding(check, name, "firmware_not_approved", "warning",
                             "%s runs firmware %s, approved for %s %s: %s" % (
                                 name, firmware, handset["vendor"], handset["model"], ", ".join(approved)),
                             {"firmware": firmware, "approved": approved, "user_agent": user_agent}, availability=False)]
    return []


def _mismatch(ua, handset):
    """The User-Agent names another vendor or model than the estate (only when the UA says so)."""
    found = hreg.differences(hreg.normalise_handsets([handset])[0], ua)
    return "vendor" in found or "model" in found


def _unrecognised(check, handset, regs):
    """Registered, but no vendor profile reads the User-Agent: not an outage, no supplier ticket (info)."""
    first = regs[0]
    details = dict((k, first.get(k)) for k in ("user_agent", "aor") if first.get(k))
    details["user_agents"] = sorted(set(r.get("user_agent") or "" for r in regs))
    return make_finding(check, handset["name"], "user_agent_not_recognised", "info",
                        "%s is registered (user %s), User-Agent not recognised: %r -- for the estate's admin and "
                        "the collection's maintainers (a form the vendor profile does not read)" % (
                            handset["name"], first.get("user") or hreg.aor_user(first.get("aor")),
                            first.get("user_agent") or ""),
                        details, impact="none", availability=False)


def _lines_missing(check, handset, regs):
    """A multi-line device (DECT base, ATA) registered on some of its lines only."""
    users = hreg.handset_users(handset)
    seen = set(r.get("user") or hreg.aor_user(r.get("aor")) for r in regs)
    missing = [u for u in users if u not in seen]
    if len(users) < 2 or not missing:
        return []
    return [make_finding(check, handset["name"], "line_not_registered", "minor",
                         "%s (%s %s) is registered, but not on line(s) %s" % (
                             handset["name"], handset["vendor"], handset["model"],
                             ", ".join("%d (user %s)" % (users.index(u) + 1, u) for u in missing)),
                         {"users": missing, "lines": [users.index(u) + 1 for u in missing]})]


def _handset_findings(check, handset, estate, regs, limits):
    """One estate handset and its contacts (each with ``status``, ``ua``, ``user_agent``, ``aor``, ``expires``).

    The same findings whichever way the contacts came (the callserver's registrations or handset_info's result).
    """
    name = handset["name"]
    if not regs:
        return [_not_registered(check, handset)]
    found = []
    if not [r for r in regs if not _is_stale(r, limits)]:
        found.append(_stale(check, name, regs[0]))
    found.extend(_lines_missing(check, handset, regs))
    mismatched = [r for r in regs if r["status"] == hreg.DEVICE_MISMATCH]
    recognised = [r for r in regs if r["status"] in (hreg.MATCHED, hreg.USER_MISMATCH)]
    unrecognised = [r for r in regs if r["status"] == hreg.UA_UNRECOGNISED]
    for reg in (mismatched or recognised)[:1]:
        found.extend(_device_findings(check, handset, estate, reg["ua"], reg["ua"].get("firmware"),
                                      reg.get("user_agent"), reg.get("aor")))
    if unrecognised:
        found.append(_unrecognised(check, handset, unrecognised))
    return found


def _unknown_devices(check, callserver, items):
    return make_finding(check, callserver, "unknown_devices", "warning",
                        "%d device(s) registered on %s that the estate does not know" % (len(items), callserver),
                        {"devices": items}, impact="none", availability=False)


def from_registrations(contacts, estate, callserver=None, thresholds=None, check="registrations", parse=None):
    """Handset checks from the callserver's registrations (``KamailioRPC.registrations()`` records).

    Contacts are paired with estate handsets by :func:`.registrations.match` (its pairing status decides):

    - coverage: every estate handset must be registered (``not_registered``, minor, single); a multi-line device
      (DECT base, ATA) on every line (``line_not_registered``, minor);
    - a registered handset whose User-Agent no profile reads (``user_agent_not_recognised``, info: never
      "not registered");
    - unknown devices registered (one finding on the callserver listing them, warning);
    - another vendor/model than the estate says (``device_mismatch``, warning);
    - firmware compliance against ``approved_firmware`` (``firmware_not_approved``, warning);
    - stale registrations: ``expires`` at or below ``stale_registration_seconds`` (warning).
    """
    limits = thresholds_with(thresholds)
    matched, unknown = hreg.match_by_handset(estate.handsets, flatten_contacts(contacts), parse)
    checked, found = [], []
    for handset in estate.handsets:
        checked.append(handset["name"])
        regs = [dict(r, user=hreg.aor_user(r.get("aor"))) for r in matched.get(handset["name"], [])]
        found.extend(_handset_findings(check, handset, estate, regs, limits))
    if callserver and callserver in estate.components:
        checked.append(callserver)
        if unknown:
            items = [dict((k, u.get(k)) for k in ("aor", "user_agent", "received", "contact", "reason")
                          if u.get(k) and not str(u.get(k)).startswith("[not set")) for u in unknown]
            found.append(_unknown_devices(check, callserver, items))
    return check_result(check, checked, found)


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

    Same kinds and ids as :func:`from_registrations`: ``not_registered``, ``line_not_registered``,
    ``user_agent_not_recognised``, ``stale_registration``, ``device_mismatch``, ``firmware_not_approved`` and one
    ``unknown_devices`` on the callserver.  The pairing status of each contact is handset_info's (the one matcher);
    a result without it (an older release) is read as that matcher would have.
    """
    limits = thresholds_with(thresholds)
    checked, found = [], []
    for item in (result or {}).get("handsets") or []:
        name = item.get("name")
        handset = estate.components.get(name)
        if handset is None or handset["type"] != "handset":
            continue
        checked.append(name)
        regs = [_info_contact(c, item, handset) for c in (item.get("contacts") or [])] if item.get("registered") else []
        if item.get("registered") and not regs:
            regs = [_info_contact({}, item, handset)]
        found.extend(_handset_findings(check, handset, estate, regs, limits))
    if callserver and callserver in estate.components:
        checked.append(callserver)
        unknown = (result or {}).get("unknown") or []
        if unknown:
            found.append(_unknown_devices(check, callserver, unknown))
    return check_result(check, checked, found)


def _info_contact(contact, item, handset):
    """A contact of handset_info's result in the shape :func:`_handset_findings` reads."""
    if contact.get("vendor") or contact.get("user_agent"):
        ua = dict((k, contact.get(k)) for k in ("vendor", "model", "firmware", "mac") if contact.get(k))
        user_agent = contact.get("user_agent")
    else:
        user_agent = item.get("user_agent")
        ua = hreg.parse_user_agent(user_agent) or {}
        if item.get("firmware") and ua:
            ua["firmware"] = item["firmware"]
    status = contact.get("status")
    if not status:
        diffs = hreg.differences(hreg.normalise_handsets([handset])[0], ua)
        status = ("device_mismatch" if ("vendor" in diffs or "model" in diffs)
                  else hreg.UA_UNRECOGNISED if "unidentified" in diffs else hreg.MATCHED)
    user = contact.get("user") or (hreg.aor_user(contact["aor"]) if contact.get("aor") else
                                   (hreg.handset_users(handset) or [None])[0])
    return dict(contact, ua=ua, user_agent=user_agent, status=status, user=user)


def _is_stale(contact, limits):
    expires = contact.get("expires")
    if isinstance(expires, (int, float)) and not isinstance(expires, bool):
        return expires <= limits["stale_registration_seconds"]
    return False


# --------------------------------------------------------------------------------------------
# Certificates
# --------------------------------------------------------------------------------------------

def from_certificates(certs, estate, now, thresholds=None, check="certificates"):
    """TLS certificate expiry: ``[{name, host, port, not_after (ISO 8601), subject, error}]``."""
    limits = thresholds_with(thresholds)
    now = sla.to_utc(now)
    checked, found = [], []
    for cert, name in _each_named(certs, estate, checked):
        where = "%s:%s" % (cert.get("host"), cert.get("port"))
        if cert.get("error") or not cert.get("not_after"):
            found.append(make_finding(check, name, "tls_error:%s" % cert.get("port"), "major",
                                      "%s TLS on %s: %s" % (name, where, cert.get("error") or "no certificate"),
                                      {"endpoint": where, "error": cert.get("error")}, availability=False))
            continue
        left = (sla.to_utc(cert["not_after"]) - now).total_seconds() / 86400.0
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
# Application links (CTI, contact centre, voicemail, directory, paging, alarm, recording, carrier SBC)
# --------------------------------------------------------------------------------------------

def from_applications(results, estate, now, thresholds=None, check="applications"):
    """``voipops.voip.app_probe`` results (``{name, kind, endpoint, scheme, status (ok|down|error), error, details}``)
    -> findings on the application components, routed to each link's supplier.

    ``down`` (nothing answers: refused, timeout) is critical, ``error`` (an answer, but the wrong one: HTTP status,
    body, LDAP bind or search) is major; both are availability findings, so a link whose ``depends_on`` component is
    down is grouped under that component's finding as a symptom.  A TLS or HTTPS link's certificate is judged like
    the ``certificates`` check (same kinds and thresholds, filed under that check).
    """
    checked, found, certs = [], [], []
    for res, name in _each_named(results, estate, checked, by_sip_address=False):
        comp = estate.components[name]
        if comp["type"] != "application":
            continue
        status = res.get("status")
        where = res.get("endpoint") or comp.get("endpoint")
        details = {"endpoint": where, "error": res.get("error"), "link_kind": comp.get("kind")}
        details.update(dict((k, v) for k, v in (res.get("details") or {}).items() if k != "certificate"))
        if status == "down":
            found.append(make_finding(check, name, "link_down", "critical", "%s link %s (%s) is down: %s" % (
                comp.get("kind"), name, where, res.get("error") or "no answer"), details))
        elif status not in (None, "ok"):
            found.append(make_finding(check, name, "link_error", "major", "%s link %s (%s) answers wrongly: %s" % (
                comp.get("kind"), name, where, res.get("error") or status), details))
        cert = (res.get("details") or {}).get("certificate")
        if isinstance(cert, dict) and cert.get("not_after"):
            try:
                ep = parse_endpoint(where)
            except ValueError:
                ep = {"host": where, "port": None}
            certs.append({"name": name, "host": ep["host"], "port": ep["port"], "not_after": cert["not_after"],
                          "subject": cert.get("subject")})
    out = [check_result(check, checked, found)]
    if certs:
        out.append(from_certificates(certs, estate, now, thresholds=thresholds))
    return out


# --------------------------------------------------------------------------------------------
# Every family at once (audit_report's ``results`` and ``findings`` options)
# --------------------------------------------------------------------------------------------

FAMILIES = ("sip_probe", "rpc", "dispatcher", "snmp", "registrations", "certificates", "gateway_info", "handset_info",
            "test_calls", "applications")


# --------------------------------------------------------------------------------------------
# Test calls (voipops.voip.sip_call)
# --------------------------------------------------------------------------------------------

#: a phone that rang (a 180/183, then cancelled on the ring timeout) or said busy is there: only the call's
#: answering is left to a person, which an audit cannot ask of it
_PHONE_OK = ("answered", "busy")
_CALL_KEYS = ("target", "uri", "via", "classification", "code", "reason", "post_dial_delay_ms", "setup_ms", "call_id",
              "error")


def _call_text(call):
    if call.get("code"):
        return "%s %s" % (call["code"], call.get("reason") or "")
    return call.get("error") or call.get("classification") or "no answer"


def _options_ok(results):
    """Estate gateways whose SIP OPTIONS were answered, from gateway_info records or sip_probe results."""
    ok = set()
    for rec in results.get("gateway_info") or []:
        sip = rec.get("sip") if isinstance(rec, dict) else None
        if isinstance(sip, dict) and (sip.get("reachable") or sip.get("status") == "ok"):
            ok.add(rec.get("name"))
    return ok


def _calls_of(result):
    return (result.get("calls") if isinstance(result, dict) else result) or []


def from_test_calls(result, estate, callserver=None, thresholds=None, options_ok=(), check="test_calls"):
    """``voipops.voip.sip_call``'s result (or its ``calls`` list) -> test-call findings.

    Each call's ``kind`` says what it tested and ``name`` what it is filed on:

    - ``gateway`` (a call straight to the gateway's SIP address; ``name`` = the estate gateway): not answered ->
      ``call_failed`` (major) on the gateway, saying so when the gateway answers OPTIONS (``options_ok``: a gateway
      that answers OPTIONS but fails calls is the fault a probe cannot see);
    - ``group`` (a number routed through the callserver to a gateway group; ``name`` = the group): not answered ->
      ``group_call_failed_<group>`` (critical: no call leaves through that group) on the callserver;
    - ``phone`` (a registered phone called through the callserver; ``name`` = the estate handset): not answered,
      not busy and not ringing -> ``call_failed`` (minor) on the handset;
    - any call: ``auth_failed`` -> ``test_call_auth_failed`` on the callserver (the audit's test-call account is
      refused: the other test calls prove nothing); a post-dial delay above ``post_dial_delay_warning_ms`` ->
      ``slow_call_setup`` (warning);
    - an answered call with media (its ``media`` figures): loss above ``media_loss_warning_pct``, jitter above
      ``media_jitter_warning_ms`` or a MOS below ``media_mos_warning`` -> ``media_degraded`` (``_<group>`` for a
      group) with the figures in its details: warning, minor when the MOS is below ``media_mos_minor`` or no RTP
      came back at all (one-way audio).
    """
    limits = thresholds_with(thresholds)
    calls = _calls_of(result)
    cs = _callserver(estate, callserver)
    checked, found = [], []
    auth_failed = []
    for call in calls or []:
        kind, name = call.get("kind"), call.get("name")
        cls = call.get("classification")
        if cls == "auth_failed":
            auth_failed.append(call)
            continue
        if kind == "group":
            target = cs
        elif name in estate.components:
            target = name
        else:
            continue
        if target is None:
            continue
        checked.append(target)
        what = "%s (%s)" % (call.get("target"), name) if name and name != call.get("target") else call.get("target")
        details = dict((k, call.get(k)) for k in _CALL_KEYS)
        ok = call.get("answered") or (kind == "phone" and (cls in _PHONE_OK or call.get("ringing")))
        if not ok:
            if kind == "gateway":
                opt = name in options_ok
                found.append(make_finding(
                    check, target, "call_failed", "major",
                    "%s %s a test call straight to it: %s, %s" % (
                        name, "answers SIP OPTIONS but fails" if opt else "fails", cls, _call_text(call)),
                    dict(details, options_answered=opt)))
            elif kind == "group":
                found.append(make_finding(
                    check, target, "group_call_failed_%s" % name, "critical",
                    "a test call to %s through %s to gateway group %s fails: %s, %s (no call leaves through it)" % (
                        call.get("target"), target, name, cls, _call_text(call)), dict(details, group=name)))
            else:
                found.append(make_finding(
                    check, target, "call_failed", "minor",
                    "a test call to %s through the callserver fails: %s, %s" % (what, cls, _call_text(call)), details))
            continue
        pdd = call.get("post_dial_delay_ms")
        limit = limits["post_dial_delay_warning_ms"]
        if pdd is not None and limit and pdd > limit:
            found.append(make_finding(
                check, target, "slow_call_setup" if kind != "group" else "slow_call_setup_%s" % name, "warning",
                "a test call to %s took %d ms to ring or answer (post-dial delay above %d ms)" % (what, pdd, limit),
                dict(details, threshold_ms=limit), availability=False))
        media = _media_finding(check, target, kind, name, what, call, details, limits)
        if media is not None:
            found.append(media)
    if auth_failed and cs is not None:
        checked.append(cs)
        first = auth_failed[0]
        found.append(make_finding(
            check, cs, "test_call_auth_failed", "minor",
            "%s refuses the audit's test-call account (%s on %d call(s)): the test calls prove nothing until the "
            "account and password are right" % (cs, _call_text(first), len(auth_failed)),
            {"calls": len(auth_failed), "code": first.get("code")}, availability=False))
    return check_result(check, checked, found)


_MEDIA_KEYS = ("sent", "received", "expected", "lost", "loss_pct", "jitter_ms", "rtt_ms", "one_way_ms", "burst_ratio",
               "r_factor", "mos", "remote", "echoed", "error")


def _media_finding(check, target, kind, name, what, call, details, limits):
    """``media_degraded`` for an answered call whose RTP figures pass a limit (None when they are fine)."""
    media = call.get("media")
    if not isinstance(media, dict):
        return None
    loss, jitter, mos = media.get("loss_pct"), media.get("jitter_ms"), media.get("mos")
    beyond = []
    if loss is not None and limits["media_loss_warning_pct"] is not None and loss > limits["media_loss_warning_pct"]:
        beyond.append("loss %g%% (above %g%%)" % (loss, limits["media_loss_warning_pct"]))
    if jitter is not None and limits["media_jitter_warning_ms"] and jitter > limits["media_jitter_warning_ms"]:
        beyond.append("jitter %g ms (above %g ms)" % (jitter, limits["media_jitter_warning_ms"]))
    if mos is not None and limits["media_mos_warning"] and mos < limits["media_mos_warning"]:
        beyond.append("MOS %.2f (below %g)" % (mos, limits["media_mos_warning"]))
    if media.get("error") and not media.get("received"):
        beyond.insert(0, media["error"])
    if not beyond:
        return None
    minor = not media.get("received") or (mos is not None and limits["media_mos_minor"] and mos < limits["media_mos_minor"])
    limit_keys = ("media_loss_warning_pct", "media_jitter_warning_ms", "media_mos_warning", "media_mos_minor")
    return make_finding(
        check, target, "media_degraded" if kind != "group" else "media_degraded_%s" % name,
        "minor" if minor else "warning",
        "the media of a test call to %s is degraded: %s" % (what, ", ".join(beyond)),
        dict(details, media=dict((k, media.get(k)) for k in _MEDIA_KEYS),
             thresholds=dict((k, limits[k]) for k in limit_keys)), availability=False)


def _callserver(estate, callserver):
    if callserver is None:
        servers = estate.of_type("callserver")
        return servers[0]["name"] if len(servers) == 1 else None
    if callserver not in estate.components:
        raise ValueError("callserver %r is not in the estate %s" % (callserver, estate.path))
    return callserver


def custom_findings(items, estate):
    """Findings of custom checks (``{check, component, kind, severity, summary[, details, impact, availability]}``)."""
    extra = {}
    for item in items or []:
        missing = [k for k in ("check", "component", "kind", "severity", "summary") if not item.get(k)]
        if missing:
            raise ValueError("findings: an item lacks %s: %r" % (", ".join(missing), item))
        try:
            f = make_finding(item["check"], item["component"], item["kind"], item["severity"], item["summary"],
                             item.get("details"), item.get("impact"), item.get("availability", True))
        except ValueError as exc:
            raise ValueError("findings: %s in %r" % (exc, item))
        extra.setdefault(item["check"], []).append(f)
    return [check_result(check, [f["component"] for f in items if f["component"] in estate.components], items)
            for check, items in sorted(extra.items())]


#: the check a family's failure is filed under, and whether it makes the callserver's state unknown (then it is an
#: availability symptom of that callserver, grouped under a callserver that is down)
FAILED_CHECK = {"sip_probe": ("sip_options", False), "rpc": ("callserver_rpc", True), "dispatcher": ("dispatcher", True),
                "snmp": ("snmp", False), "registrations": ("registrations", True), "certificates": ("certificates", False),
                "gateway_info": ("dispatcher", True), "handset_info": ("registrations", True),
                "test_calls": ("test_calls", False),
                "applications": ("applications", False)}


def _failed(result):
    return isinstance(result, dict) and bool(result.get("failed"))


def from_failed_check(family, result, estate, callserver):
    """A whole check that failed (its module failed, timed out or could not reach the callserver) is a finding
    about the callserver it ran against: the audit still reports, and says what it could not see."""
    check, availability = FAILED_CHECK[family]
    target = callserver or (estate.of_type("callserver") or [{}])[0].get("name")
    if target is None:
        raise ValueError("results: the %s check failed and the estate has no callserver to file it under" % family)
    message = str(result.get("msg") or "no result").strip().splitlines()[0][:300]
    finding = make_finding(check, target, "check_failed", "major" if availability else "minor",
                           "the %s check could not run against %s: %s" % (family, target, message),
                           {"family": family, "error": message}, availability=availability)
    return check_result(check, [target], [finding])


def read_results_files(files, results=None):
    """``results`` with each family of ``files`` (``{family: path}``) read from its JSON file (a large result - the
    handset fleet - travels by file, not through module arguments).

    ValueError naming the family and the file (and the line for bad JSON) for an unknown family, a family also given
    in ``results``, or a file that cannot be read.
    """
    out = dict(results or {})
    for family, path in sorted((files or {}).items()):
        if family not in FAMILIES:
            raise ValueError("results_files: unknown check family %s (%s; known: %s)" % (family, path, ", ".join(FAMILIES)))
        if family in out:
            raise ValueError("results_files: %s is also given in results; give each check family once" % family)
        try:
            with io.open(path, "r", encoding="utf-8") as handle:
                out[family] = json.load(handle)
        except ValueError as exc:
            raise ValueError("results_files: %s: %s is not JSON (line %s): %s"
                             % (family, path, getattr(exc, "lineno", "?"), getattr(exc, "msg", exc)))
        except (IOError, OSError) as exc:
            raise ValueError("results_files: %s: cannot read %s: %s" % (family, path, exc))
    return out


def from_results(results, estate, now, callserver=None, thresholds=None, findings=None):
    """Every check family's results (``{family: results}``) and custom findings -> check results.

    ``callserver`` None = the estate's only callserver.  ValueError for an unknown family or a bad item.
    """
    unknown = sorted(set(results) - set(FAMILIES))
    if unknown:
        plural = "y" if len(unknown) == 1 else "ies"
        raise ValueError("results: unknown check famil%s %s (known: %s)" % (plural, ", ".join(unknown), ", ".join(FAMILIES)))
    callserver = _callserver(estate, callserver)
    out = []
    for family in FAMILIES:
        if family in results and _failed(results[family]):
            out.append(from_failed_check(family, results[family], estate, callserver))
    results = dict((k, v) for k, v in results.items() if not _failed(v))
    adapters = (
        ("sip_probe", lambda r: [from_sip_probe(r, estate)]),
        ("rpc", lambda r: [from_rpc(r, estate)]),
        ("dispatcher", lambda r: [from_dispatcher(r, estate, callserver=callserver)]),
        ("snmp", lambda r: [from_snmp(r, estate, thresholds=thresholds)]),
        ("registrations", lambda r: [from_registrations(r, estate, callserver=callserver, thresholds=thresholds)]),
        ("certificates", lambda r: [from_certificates(r, estate, now, thresholds=thresholds)]),
        ("gateway_info", lambda r: from_gateway_info(r, estate, callserver=callserver, thresholds=thresholds)),
        ("handset_info", lambda r: [from_handset_info(r, estate, callserver=callserver, thresholds=thresholds)]),
        # no calls (the audit's test-call task was skipped: no test-call account): no test_calls check at all
        ("test_calls", lambda r: [from_test_calls(r, estate, callserver=callserver, thresholds=thresholds,
                                                  options_ok=_options_ok(results))] if _calls_of(r) else []),
        ("applications", lambda r: from_applications(r, estate, now, thresholds=thresholds)),
    )
    for family, adapter in adapters:
        if family in results:
            out.extend(adapter(results[family]))
    return out + custom_findings(findings, estate)
