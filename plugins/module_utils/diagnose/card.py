# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The readable card of a triage result (pure): a list of lines, printed by ``playbooks/triage.yml`` at ``-v``."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

MARK = {"cause": "CAUSE", "warning": "warn", "ok": "ok", "info": "info", "suspect": "change"}


def render(result):
    t = result["target"]
    h = result.get("handset") or {}
    head = "Triage of %s %s" % (t["by"].replace("_", " "), t["value"])
    if t.get("extension") and t["by"] != "extension":
        head += " (extension %s)" % t["extension"]
    lines = [head + " at " + result["checked_at"]]
    if h:
        lines.append("Handset: %s, %s %s, MAC %s, site %s" % (
            h.get("name"), h.get("vendor"), h.get("model"), h.get("mac"), h.get("site")))
    cause = result.get("cause")
    if cause:
        label = "Cause" if cause["level"] == "cause" else "Most likely (a recent change; nothing else found)"
        lines.append("%s: [%s] %s" % (label, cause["kind"], cause["summary"]))
        r = result.get("responsible") or {}
        if r.get("supplier"):
            who = r["supplier"]
            contact = r.get("contact") or {}
            reach = ", ".join(x for x in (contact.get("email"), contact.get("phone")) if x)
            line = "Responsible: %s%s" % (who, " (%s)" % reach if reach else "")
            if r.get("priority"):
                line += ", %s, respond by %s, resolve by %s" % (r["priority"], r.get("response_due"), r.get("resolve_due"))
            if r.get("ticket"):
                line += ", audit ticket %s" % r["ticket"]
            lines.append(line)
        if (r.get("location") or {}).get("text"):
            lines.append("Where: %s" % r["location"]["text"])
        if cause.get("action"):
            lines.append("Do: %s" % cause["action"])
    else:
        lines.append("Cause: none found - every step passed (%s)" % ", ".join(s["name"] for s in result["steps"]))
    lines.append("Steps:")
    for n, step in enumerate(result["steps"], 1):
        if step["status"] == "not_run":
            lines.append("  %d %-12s not run (stopped at the first proven cause)" % (n, step["name"]))
            continue
        lines.append("  %d %-12s %s" % (n, step["name"], step["status"]))
        for o in step["observations"]:
            lines.append("      %-6s %s" % (MARK.get(o["level"], o["level"]), o["summary"]))
    if result.get("not_done"):
        lines.append("Not done: %s" % "; ".join(result["not_done"]))
    return lines
