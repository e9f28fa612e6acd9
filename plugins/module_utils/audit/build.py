# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit document: routing, root-cause grouping, fault-handling order and diff (pure).

:func:`build_audit` takes the check results (:mod:`.checks`), the :class:`~.estate.Estate`, ``now`` and the
previous audit (the JSON report of the last run, optional) and returns the audit document: every finding
routed to its supplier with priority and deadlines, grouped by root cause along ``depends_on`` (a dead E1 is
one ticket listing the phones behind it), ordered for fault handling, and diffed against the previous audit
(new / persisting / resolved).  The SLA clock of a persisting finding starts at its ``first_seen``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.voipops.voip.plugins.module_utils import sla as _sla
from ansible_collections.voipops.voip.plugins.module_utils.audit.finding import SEVERITY_RANK

AUDIT_SCHEMA_VERSION = 1
DEFAULT_IMPACT = {"callserver": "estate", "gateway": "site", "trunk": "site", "link": "site", "handset": "single",
                  "application": "group"}
STATUS_RANK = {"ok": 0, "warning": 1, "critical": 2}
#: when several availability findings hit one component, the most direct observation carries the others
CHECK_PRECEDENCE = {"sip_options": 0, "callserver_rpc": 1, "snmp": 2, "dispatcher": 3, "registrations": 4}


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


def _collect(check_results):
    """Raw findings and the checks list: one entry per check name (e.g. sip_options of callservers and of gateways)."""
    raw = []
    checks, by_name = [], {}
    for res in check_results or []:
        raw.extend(res.get("findings") or [])
        entry = by_name.get(res["check"])
        if entry is None:
            entry = by_name[res["check"]] = {"name": res["check"], "checked": [], "findings": []}
            checks.append(entry)
        entry["checked"] = sorted(set(entry["checked"]) | set(res.get("checked") or []))
        entry["findings"] = sorted(set(entry["findings"]) | set(f["id"] for f in res.get("findings") or []))
    return raw, checks


def _route(findings, estate, prev_findings, now, rerun):
    """Component type, site, supplier, first/last seen and new/persisting status of every finding."""
    for fid, f in findings.items():
        comp = estate.components.get(f["component"]) or {}
        f["component_type"] = comp.get("type", "unknown")
        f["component_kind"] = comp.get("kind")
        f["site"] = comp.get("site")
        f["location"] = estate.location_of(f["component"]) if comp else None  # where to go (site, room, rack, ...)
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


def _prioritise(findings, estate, now):
    """Impact and priority (roots take the worst of their group), then deadlines."""
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


def _order(findings, estate):
    """Fault-handling order: priority, then infrastructure before what depends on it, then deadline.

    Returns ``(tickets, ordered)``: the root findings in order, and every finding with symptoms after their ticket.
    """
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
    return tickets, ordered


def build_audit(check_results, estate, now=None, previous=None, thresholds=None, title=None):
    """The audit document (see docs/health_audit.md for the schema; ``schema_version`` 1)."""
    now = _sla.to_utc(now or datetime.datetime.now(_sla.UTC))
    prev_findings = dict((f["id"], f) for f in (previous or {}).get("findings", []) if f.get("id"))
    # the same audit time again (a re-run/replay): reproduce that audit's view of the changes
    rerun = bool(previous) and previous.get("generated_at") == _iso(now)
    raw, checks = _collect(check_results)
    findings = _merge(raw)
    group_root_causes(findings, estate)
    _route(findings, estate, prev_findings, now, rerun)
    _prioritise(findings, estate, now)
    tickets, ordered = _order(findings, estate)
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
