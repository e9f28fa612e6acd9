# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who fixes the cause, by when: the audit's own routing (``audit/build.py`` with ``sla.py``), not a second copy.

The cause becomes one finding of a one-check audit (check ``triage``) built over the estate, so its supplier,
impact, priority and response/resolve deadlines are exactly what the health audit would give the same fault.
A cause on the user's profile has no estate component: it is the administration's own job (no supplier SLA).
A cause that IS an open audit ticket keeps that ticket's routing and deadlines.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.voipops.voip.plugins.module_utils.audit.build import build_audit
from ansible_collections.voipops.voip.plugins.module_utils.audit.finding import check_result, make_finding

ADMINISTRATION = "administration"


def _contact(estate, supplier):
    sup = estate.suppliers.get(supplier) if supplier else None
    return sup.get("contact") if sup else None


def responsible(cause, estate, now):
    """``{supplier, contact, coverage, priority, impact, response_due, resolve_due, ticket}`` for a cause (pure)."""
    if cause is None:
        return None
    ticket = (cause.get("evidence") or {}).get("ticket")
    if ticket:
        return {"supplier": ticket.get("supplier"), "contact": _contact(estate, ticket.get("supplier")),
                "coverage": (estate.suppliers.get(ticket.get("supplier")) or {}).get("coverage"),
                "priority": ticket.get("priority"), "impact": None, "response_due": ticket.get("response_due"),
                "resolve_due": ticket.get("resolve_due"), "ticket": ticket.get("id"), "location": ticket.get("location")}
    comp = cause.get("component")
    if not comp or comp not in estate.components or cause["level"] != "cause":
        return {"supplier": ADMINISTRATION, "contact": None, "coverage": None, "priority": None, "impact": None,
                "response_due": None, "resolve_due": None, "ticket": None}
    finding = make_finding("triage", comp, cause["kind"], cause.get("severity") or "minor", cause["summary"],
                           impact="single" if estate.components[comp]["type"] == "handset" else None)
    audit = build_audit([check_result("triage", [comp], [finding])], estate, now=now)
    f = [x for x in audit["findings"] if x["id"] == finding["id"]][0]
    return {"supplier": f["supplier"], "contact": _contact(estate, f["supplier"]), "coverage": f["coverage"],
            "priority": f["priority"], "impact": f["impact"], "response_due": f["response_due"],
            "resolve_due": f["resolve_due"], "ticket": None, "finding_id": f["id"], "location": f.get("location")}
