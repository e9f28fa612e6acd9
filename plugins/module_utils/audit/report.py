# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Audit reports: JSON (stable schema), HTML (self-contained morning page), JUnit XML, webhook.

Input is the audit document of :func:`.build.build_audit` (schema: docs/health_audit.md).
Rendering is pure (string in, string out); :func:`write_reports` writes files atomically and only
when their content changes; :func:`post_webhook` sends the NEW tickets to a URL.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import importlib.util
import io
import json
import os
import traceback
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

try:
    import jinja2
    HAS_JINJA2 = True
    JINJA2_IMPORT_ERROR = None
except ImportError:
    HAS_JINJA2 = False
    JINJA2_IMPORT_ERROR = traceback.format_exc()

# requests is imported where the webhook is sent (an audit without a webhook does not pay its import time);
# whether it is installed is known up front, for the module's missing_required_lib message.
HAS_REQUESTS = importlib.util.find_spec("requests") is not None
REQUESTS_IMPORT_ERROR = None if HAS_REQUESTS else "No module named 'requests'"

from ansible_collections.voipops.voip.plugins.module_utils import sla as _sla
from ansible_collections.voipops.voip.plugins.module_utils.fileio import atomic_write, mask_url

FORMATS = ("json", "html", "junit")
EXTENSIONS = {"json": ".json", "html": ".html", "junit": ".junit.xml"}
WEBHOOK_SCHEMA_VERSION = 1


class ReportError(Exception):
    pass


def render_json(audit):
    """Stable JSON: sorted keys, 2-space indent, UTF-8, trailing newline."""
    return json.dumps(audit, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def local_time(iso, zone=None, fmt="%a %d %b %H:%M"):
    """``2026-11-30T11:30:00+01:00`` -> ``Mon 30 Nov 11:30`` (in ``zone`` when given)."""
    if not iso:
        return ""
    when = _sla.to_utc(iso)
    if zone:
        when = when.astimezone(_sla.get_zone(zone))
    else:
        when = datetime.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return when.strftime(fmt)


def _by_id(audit):
    return dict((f["id"], f) for f in audit.get("findings", []))


def _view(audit):
    """What the HTML template needs, precomputed (the template stays dumb)."""
    by_id = _by_id(audit)
    tickets = [by_id[i] for i in audit.get("tickets", [])]
    suppliers = []
    for name, sup in sorted(audit.get("suppliers", {}).items()):
        suppliers.append({"name": name, "contact": sup.get("contact") or {}, "coverage": sup.get("coverage"),
                          "status": sup.get("status"), "tickets": [by_id[i] for i in sup.get("tickets", [])]})
    # suppliers with open tickets first, the most urgent first
    suppliers.sort(key=lambda s: (0 if s["tickets"] else 1,
                                  min([_sla.priority_rank(t["priority"]) for t in s["tickets"]] or [9]), s["name"]))
    sites = [dict(v, name=k) for k, v in sorted(audit.get("sites", {}).items())]
    return {"a": audit, "tickets": tickets, "by_id": by_id, "suppliers": suppliers, "sites": sites,
            "rooms": _rooms(tickets),
            "resolved": audit.get("changes", {}).get("resolved", []),
            "new": set(audit.get("changes", {}).get("new", []))}


def _rooms(tickets):
    """Tickets per room (where someone has to go): ``[{site, room, tickets}]``, rooms by site and name, then the
    tickets of a site without a room, then those without a place."""
    rooms = {}
    for t in tickets:
        loc = t.get("location") or {}
        rooms.setdefault((loc.get("site") or t.get("site") or "", loc.get("room") or ""), []).append(t)

    def order(item):
        site, room = item[0]
        return (not site, site, not room, room)
    return [{"site": site or None, "room": room or None, "tickets": items}
            for (site, room), items in sorted(rooms.items(), key=order)]


HTML_TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="voipops.voip audit_report">
<title>{{ a.title }} - {{ a.status | upper }} - {{ a.generated_at }}</title>
<style>
 body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 0; color: #1d2430; background: #f4f6f9; }
 header { padding: 18px 28px; color: #fff; }
 header.ok { background: #1f7a3d; } header.warning { background: #b26a00; } header.critical { background: #b3261e; }
 header h1 { margin: 0 0 4px 0; font-size: 24px; }
 header .meta { opacity: .9; font-size: 14px; }
 main { padding: 10px 28px 40px 28px; max-width: 1400px; }
 section { background: #fff; border-radius: 6px; box-shadow: 0 1px 3px rgba(0,0,0,.12); margin: 16px 0; padding: 12px 18px; }
 h2 { font-size: 18px; margin: 4px 0 10px 0; }
 h3 { font-size: 16px; margin: 12px 0 6px 0; }
 table { border-collapse: collapse; width: 100%; font-size: 14px; }
 th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #e3e7ee; vertical-align: top; }
 th { background: #eef1f6; font-weight: 600; }
 .prio { display: inline-block; min-width: 26px; text-align: center; border-radius: 4px; color: #fff; font-weight: 700; padding: 1px 5px; }
 .P1 { background: #b3261e; } .P2 { background: #e4572e; } .P3 { background: #d89b00; } .P4 { background: #5b7083; } .none { background: #9aa5b1; }
 .badge { display: inline-block; border-radius: 10px; padding: 1px 8px; font-size: 12px; font-weight: 600; }
 .st-ok { background: #d6f0dd; color: #1f7a3d; } .st-warning { background: #fbe8c8; color: #8a5200; } .st-critical { background: #f8d3d0; color: #b3261e; }
 .new { background: #dbe8ff; color: #1b4fa0; } .persisting { background: #eceff3; color: #46505c; }
 .overdue { color: #b3261e; font-weight: 700; }
 .counts span { margin-right: 14px; }
 details { font-size: 13px; color: #46505c; } summary { cursor: pointer; }
 .muted { color: #6b7685; font-size: 13px; }
 .empty { color: #1f7a3d; font-weight: 600; }
</style>
</head>
<body>
<header class="{{ a.status }}" id="overall" data-status="{{ a.status }}">
 <h1>{{ a.title }}: <span id="overall-status">{{ {"ok": "All systems OK", "warning": "Warnings", "critical": "Action required"}[a.status] }}</span></h1>
 <div class="meta">Generated {{ a.generated_at }} &middot; estate {{ a.estate.domain or a.estate.file or "" }}
  &middot; {% for t, n in a.estate.components | dictsort %}{{ n }} {{ t }}{{ "s" if n != 1 }}{{ ", " if not loop.last }}{% endfor %}</div>
</header>
<main>
<section id="summary">
 <h2>Summary</h2>
 <div class="counts">
  <span id="ticket-count" data-count="{{ a.summary.tickets }}"><b>{{ a.summary.tickets }}</b> ticket{{ "s" if a.summary.tickets != 1 }}</span>
  {% for p in ["P1", "P2", "P3", "P4"] %}<span class="count-{{ p }}"><span class="prio {{ p }}">{{ p }}</span> {{ a.summary.by_priority[p] }}</span>{% endfor %}
  <span>{{ a.summary.suppressed }} symptom{{ "s" if a.summary.suppressed != 1 }} grouped under root causes</span>
  {% if a.summary.overdue %}<span class="overdue">{{ a.summary.overdue }} overdue</span>{% endif %}
 </div>
 <p id="changes" data-new="{{ a.summary.new }}" data-resolved="{{ a.summary.resolved }}" data-persisting="{{ a.summary.persisting }}">
  Change since {% if a.previous_generated_at %}the previous audit ({{ a.previous_generated_at }}){% else %}the previous audit (none on record){% endif %}:
  <b>{{ a.summary.new }}</b> new, <b>{{ a.summary.persisting }}</b> persisting, <b>{{ a.summary.resolved }}</b> resolved.
 </p>
</section>

<section id="order">
 <h2>Fault handling order</h2>
 {% if not tickets %}<p class="empty">No findings. Every checked component is healthy.</p>{% else %}
 <table>
  <thead><tr><th>#</th><th>Priority</th><th>Component</th><th>Site</th><th>Where</th><th>Finding</th><th>Supplier</th>
   <th>Respond by</th><th>Resolve by</th><th>Since</th><th>Change</th></tr></thead>
  <tbody>
  {% for t in tickets %}
  <tr class="ticket" id="t-{{ t.id }}" data-id="{{ t.id }}" data-priority="{{ t.priority or 'none' }}"
      data-component="{{ t.component }}" data-supplier="{{ t.supplier or '' }}">
   <td>{{ t.order }}</td>
   <td><span class="prio {{ t.priority or 'none' }}">{{ t.priority or "-" }}</span></td>
   <td>{{ t.component }}<div class="muted">{{ t.component_type }}
    {%- if t.component_kind and t.component_kind != t.component_type %} {{ t.component_kind }}{% endif %}</div></td>
   <td>{{ t.site or "-" }}</td>
   <td class="where">{{ (t.location or {}).get("text") or "-" }}</td>
   <td>{{ t.summary }}
    {% if t.affected %}<details><summary>{{ t.affected | length }}
     {{- " components depend" if t.affected | length != 1 else " component depends" }} on it</summary>
     {{- t.affected[:40] | join(", ") }}{% if t.affected | length > 40 %} and {{ t.affected | length - 40 }} more{% endif %}</details>
    {% endif %}
    {% if t.children %}<details class="symptoms"><summary>{{ t.children | length }} symptom{{ "s" if t.children | length != 1 }}
     grouped here</summary><ul>{% for c in t.children[:40] %}<li>{{ by_id[c].summary }}</li>{% endfor %}</ul>
     {%- if t.children | length > 40 %}and {{ t.children | length - 40 }} more{% endif %}</details>
    {% endif %}
   </td>
   <td>{{ t.supplier or "-" }}</td>
   <td class="due{{ ' overdue' if t.overdue }}">{{ t.response_due | local(t.timezone) }}</td>
   <td class="due{{ ' overdue' if t.overdue }}">{{ t.resolve_due | local(t.timezone) }}{% if t.overdue %} (overdue){% endif %}
    {%- if t.timezone %}<div class="muted">{{ t.timezone }}, {{ t.coverage }}</div>{% endif %}</td>
   <td>{{ t.first_seen }}</td>
   <td><span class="badge {{ t.status }}">{{ t.status }}</span></td>
  </tr>
  {% endfor %}
  </tbody>
 </table>
 {% endif %}
</section>

<section id="suppliers">
 <h2>Per supplier</h2>
 {% for s in suppliers %}
 <div class="supplier" id="supplier-{{ s.name }}" data-supplier="{{ s.name }}" data-tickets="{{ s.tickets | length }}">
  <h3>{{ s.name }} <span class="badge st-{{ s.status }}">{{ s.status }}</span> <span class="muted">{{ s.coverage }}
   {%- set contact = s.get('contact') or {} %}
   {%- if contact.get('name') %} &middot; {{ contact.name }}{% endif %}
   {%- if contact.get('email') %} &middot; <a href="mailto:{{ contact.email }}">{{ contact.email }}</a>{% endif %}
   {%- if contact.get('phone') %} &middot; {{ contact.phone }}{% endif %}</span></h3>
  {% if s.tickets %}
  <table><thead><tr><th>Priority</th><th>Component</th><th>Where</th><th>Finding</th><th>Respond by</th><th>Resolve by</th></tr></thead>
  <tbody>
  {% for t in s.tickets %}<tr class="supplier-ticket" data-id="{{ t.id }}">
   <td><span class="prio {{ t.priority or 'none' }}">{{ t.priority or "-" }}</span></td><td>{{ t.component }}</td>
   <td class="where">{{ (t.location or {}).get("text") or "-" }}</td><td>{{ t.summary }}</td>
   <td class="{{ 'overdue' if t.overdue }}">{{ t.response_due | local(t.timezone) }}</td>
   <td class="{{ 'overdue' if t.overdue }}">{{ t.resolve_due | local(t.timezone) }}</td></tr>{% endfor %}
  </tbody></table>
  {% else %}<p class="muted">Nothing open.</p>{% endif %}
 </div>
 {% endfor %}
</section>

<section id="sites">
 <h2>Per site</h2>
 <table><thead><tr><th>Site</th><th>Status</th><th>Components</th><th>Handsets</th><th>Affected</th><th>Tickets</th></tr></thead>
 <tbody>
 {% for s in sites %}<tr class="site" id="site-{{ s.name }}" data-site="{{ s.name }}" data-status="{{ s.status }}">
  <td>{{ s.name }}</td><td><span class="badge st-{{ s.status }}">{{ s.status }}</span></td>
  <td>{{ s.components }}</td><td>{{ s.handsets }}</td><td>{{ s.affected_components }}</td><td>{{ s.tickets | length }}</td></tr>{% endfor %}
 </tbody></table>
</section>

<section id="rooms">
 <h2>Per room</h2>
 {% if not rooms %}<p class="muted">No open tickets.</p>{% endif %}
 {% for r in rooms %}
 <div class="room" data-site="{{ r.site or '' }}" data-room="{{ r.room or '' }}" data-tickets="{{ r.tickets | length }}">
  <h3>{{ r.room or "No room recorded" }} <span class="muted">{{ ("site " ~ r.site) if r.site else "no site" }}</span></h3>
  <ul>{% for t in r.tickets %}<li class="room-ticket" data-id="{{ t.id }}"><span class="prio {{ t.priority or 'none' }}">{{ t.priority or "-" }}</span>
   {{ t.summary }} <span class="muted">({{ (t.location or {}).get("text") or t.component }}; {{ t.supplier or "-" }})</span></li>{% endfor %}</ul>
 </div>
 {% endfor %}
</section>

<section id="resolved">
 <h2>Resolved since the previous audit</h2>
 {% if resolved %}<ul>{% for r in resolved %}<li class="resolved-item" data-id="{{ r.id }}">
  <span class="prio {{ r.priority or 'none' }}">{{ r.priority or "-" }}</span> {{ r.summary }}
  <span class="muted">({{ r.supplier or "-" }}, open since {{ r.first_seen }})</span></li>{% endfor %}</ul>
 {% else %}<p class="muted">Nothing resolved since the previous audit.</p>{% endif %}
</section>

{% if a.get("kpis") %}
<section id="kpis">
 <h2>Service KPIs{% if a.kpis.get("callserver") %} of {{ a.kpis.callserver }}{% endif %}</h2>
 {% if a.kpis.note %}<p class="muted kpi-note">{{ a.kpis.note }}</p>{% endif %}
 {% if a.kpis.get("table") %}
 <p class="muted">From the callserver's own counters since {{ a.kpis.baseline_at }}; trend against the previous audit.</p>
 <table><thead><tr><th>KPI</th><th>Scope</th><th>Value</th><th>Threshold</th><th>Attempts</th><th>Trend</th><th>Status</th>
  <th>Failure codes</th></tr></thead><tbody>
 {% for r in a.kpis.table %}<tr class="kpi kpi-{{ r.status }}" data-kpi="{{ r.kpi }}" data-scope="{{ r.scope }}">
  <td>{{ r.kpi }}</td><td>{{ r.scope }}</td><td>{{ "%.1f%%" % r.value if r.value is not none else "-" }}</td>
  <td>{{ "%s%%" % r.threshold if r.threshold is not none else "-" }}</td><td>{{ r.samples }}</td>
  <td>{{ {"up": "&#8593; up", "down": "&#8595; down", "same": "= same"}[r.trend] | safe if r.trend else "-" }}</td>
  <td>{{ r.status }}</td>
  <td>{% for code, n in (r.failure_codes or {}) | dictsort %}{{ code }} &times;{{ n }}{{ ", " if not loop.last }}{% endfor %}</td></tr>
 {% endfor %}</tbody></table>
 {% endif %}
</section>
{% endif %}

<section id="checks">
 <h2>Checks run</h2>
 <table><thead><tr><th>Check</th><th>Components checked</th><th>Findings</th></tr></thead><tbody>
 {% for c in a.checks %}<tr><td>{{ c.name }}</td><td>{{ c.checked | length }}</td><td>{{ c.findings | length }}</td></tr>{% endfor %}
 </tbody></table>
 <p class="muted">Schema version {{ a.schema_version }}. Priorities: severity x impact; deadlines follow each supplier's SLA
  and coverage (business hours in the site's time zone, holidays excluded).</p>
</section>
</main>
</body>
</html>
"""


def render_html(audit):
    """The morning page: self-contained HTML (inline CSS, no scripts, no external assets)."""
    if not HAS_JINJA2:
        raise ReportError("the Jinja2 Python library is required to render the HTML report")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["local"] = lambda iso, zone=None: local_time(iso, zone)
    return env.from_string(HTML_TEMPLATE).render(**_view(audit))


def render_junit(audit):
    """JUnit XML: one testsuite per check, one testcase per checked component.

    A ticket is a ``<failure>`` (type = priority); a symptom grouped under a root cause is
    ``<skipped>`` naming the root cause, so one dead E1 fails one test, not ten.
    """
    by_id = _by_id(audit)
    root = ET.Element("testsuites", name=audit.get("title") or "health audit", timestamp=audit.get("generated_at") or "")
    total = fails = skips = 0
    for chk in audit.get("checks", []):
        per_comp = {}
        for fid in chk.get("findings", []):
            f = by_id.get(fid)
            if f:
                per_comp.setdefault(f["component"], []).append(f)
        if chk["name"] == "kpi" and (audit.get("kpis") or {}).get("table") is not None:
            t, f_, k = _kpi_suite(root, audit, chk, by_id)
            total, fails, skips = total + t, fails + f_, skips + k
            continue
        comps = sorted(set(chk.get("checked", [])) | set(per_comp))
        suite = ET.SubElement(root, "testsuite", name=chk["name"], tests=str(len(comps)), timestamp=audit.get("generated_at") or "")
        s_fail = s_skip = 0
        for comp in comps:
            case = ET.SubElement(suite, "testcase", classname="%s.%s" % (chk["name"], comp), name=comp)
            items = per_comp.get(comp, [])
            tickets = [f for f in items if not f.get("root_cause")]
            symptoms = [f for f in items if f.get("root_cause")]
            if tickets:
                s_fail += 1
                worst = min(tickets, key=lambda f: _sla.priority_rank(f.get("priority")))
                fail = ET.SubElement(case, "failure", type=worst.get("priority") or "info",
                                     message="; ".join(f["summary"] for f in tickets))
                fail.text = "\n".join(
                    "%s %s [%s] supplier=%s respond_by=%s resolve_by=%s id=%s" % (
                        f.get("priority"), f["kind"], f["severity"], f.get("supplier"), f.get("response_due"),
                        f.get("resolve_due"), f["id"]) for f in tickets)
            elif symptoms:
                s_skip += 1
                roots = sorted(set(by_id[f["root_cause"]]["summary"] for f in symptoms if f["root_cause"] in by_id))
                ET.SubElement(case, "skipped", message="symptom of: %s" % "; ".join(roots))
        suite.set("failures", str(s_fail))
        suite.set("errors", "0")
        suite.set("skipped", str(s_skip))
        total += len(comps)
        fails += s_fail
        skips += s_skip
    root.set("tests", str(total))
    root.set("failures", str(fails))
    root.set("errors", "0")
    root.set("skipped", str(skips))
    if hasattr(ET, "indent"):
        ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _kpi_suite(root, audit, chk, by_id):
    """The KPI check's testsuite: one testcase per KPI measured (a KPI below its threshold fails)."""
    rows = audit["kpis"]["table"]
    suite = ET.SubElement(root, "testsuite", name=chk["name"], tests=str(len(rows)), timestamp=audit.get("generated_at") or "")
    findings = [by_id[i] for i in chk.get("findings", []) if i in by_id]
    fails = skips = 0
    for row in rows:
        case = ET.SubElement(suite, "testcase", classname="%s.%s" % (chk["name"], row["scope"].replace(" ", "_")),
                             name="%s %s" % (row["kpi"], row["scope"]))
        mine = [f for f in findings if f["details"].get("kpi") == row["kpi"] and f["details"].get("scope") == row["scope"]]
        if mine:
            fails += 1
            fail = ET.SubElement(case, "failure", type=mine[0].get("priority") or "info", message=mine[0]["summary"])
            fail.text = "%s [%s] id=%s" % (mine[0]["kind"], mine[0]["severity"], mine[0]["id"])
        elif row["status"] == "not_judged":
            skips += 1
            ET.SubElement(case, "skipped", message="%s attempts: too few to judge" % row["samples"])
    suite.set("failures", str(fails))
    suite.set("errors", "0")
    suite.set("skipped", str(skips))
    return len(rows), fails, skips


RENDERERS = {"json": render_json, "html": render_html, "junit": render_junit}


def report_paths(dest, basename="health_audit", formats=FORMATS):
    return dict((fmt, os.path.join(dest, basename + EXTENSIONS[fmt])) for fmt in formats)


def read_previous(path):
    """The previous audit JSON, or None when there is none; a corrupt file is an error, not a silent reset."""
    if not path or not os.path.exists(path):
        return None
    try:
        with io.open(path, "r", encoding="utf-8") as handle:
            data = json.load(handle)
    except (IOError, OSError, ValueError) as exc:
        raise ReportError("cannot read the previous audit %s: %s (move it away to start afresh)" % (path, exc))
    if not isinstance(data, dict) or data.get("schema_version") != 1:
        raise ReportError("%s is not a voipops.voip audit of schema_version 1" % path)
    return data


def render_all(audit, formats=FORMATS):
    unknown = [f for f in formats if f not in RENDERERS]
    if unknown:
        raise ReportError("unknown report format(s): %s (known: %s)" % (", ".join(unknown), ", ".join(FORMATS)))
    return dict((fmt, RENDERERS[fmt](audit)) for fmt in formats)


def write_reports(audit, dest, basename="health_audit", formats=FORMATS, check_mode=False):
    """Render and write the reports; returns {format: {"path", "changed"}}. Writes nothing in check mode."""
    rendered = render_all(audit, formats)
    paths = report_paths(dest, basename, formats)
    result = {}
    if not check_mode and not os.path.isdir(dest):
        os.makedirs(dest)
    for fmt, text in rendered.items():
        path = paths[fmt]
        old = None
        if os.path.exists(path):
            with io.open(path, "r", encoding="utf-8") as handle:
                old = handle.read()
        changed = old != text
        if changed and not check_mode:
            atomic_write(path, text, mode=0o644)
        result[fmt] = {"path": path, "changed": changed}
    return result


def webhook_payload(audit, only_new=True):
    """The webhook body: the NEW tickets (or all tickets) with deadlines and supplier contact."""
    by_id = _by_id(audit)
    ids = audit.get("changes", {}).get("new", []) if only_new else audit.get("tickets", [])
    keys = ("id", "order", "priority", "severity", "component", "component_type", "site", "check", "kind", "summary",
            "supplier", "response_due", "resolve_due", "timezone", "coverage", "first_seen", "affected", "children",
            "location")
    tickets = []
    for fid in ids:
        f = by_id[fid]
        item = dict((k, f.get(k)) for k in keys)
        item["supplier_contact"] = audit.get("suppliers", {}).get(f.get("supplier"), {}).get("contact")
        tickets.append(item)
    return {"schema_version": WEBHOOK_SCHEMA_VERSION, "event": "new_findings" if only_new else "open_findings",
            "generated_at": audit.get("generated_at"), "status": audit.get("status"), "summary": audit.get("summary"),
            "tickets": tickets}


def _scrub(text, url):
    """``text`` (an error of the HTTP library, a server's answer) without the URL's secret parts."""
    parts = urlsplit(url)
    for secret in (url, parts.path + ("?" + parts.query if parts.query else ""), parts.path):
        if secret and secret != "/":
            text = text.replace(secret, mask_url(url) if secret == url else "/********")
    return text


def post_webhook(url, audit, only_new=True, headers=None, timeout=10.0, validate_certs=True, session=None):
    """POST :func:`webhook_payload` as JSON; skipped when there is nothing new.

    Returns ``{"sent": bool, "count": n, "status_code": int|None, "url": url}``; raises ReportError
    (with the URL) on a transport error or a non-2xx answer.
    """
    payload = webhook_payload(audit, only_new)
    result = {"sent": False, "count": len(payload["tickets"]), "status_code": None, "url": mask_url(url)}
    if not payload["tickets"]:
        return result
    if not HAS_REQUESTS and session is None:
        raise ReportError("the requests Python library is required for the webhook")
    if session is None:
        import requests  # pylint: disable=import-outside-toplevel
    sender = session or requests
    hdrs = {"Content-Type": "application/json", "User-Agent": "voipops.voip-audit_report"}
    hdrs.update(headers or {})
    try:
        resp = sender.post(url, data=json.dumps(payload, sort_keys=True).encode("utf-8"), headers=hdrs, timeout=timeout,
                           verify=validate_certs)
    except Exception as exc:  # requests.RequestException and socket errors
        raise ReportError("webhook POST to %s failed: %s" % (mask_url(url), _scrub(str(exc), url)))
    result["status_code"] = resp.status_code
    if not 200 <= resp.status_code < 300:
        raise ReportError("webhook POST to %s answered HTTP %s: %s" % (mask_url(url), resp.status_code,
                                                                       _scrub((resp.text or "")[:200], url)))
    result["sent"] = True
    return result
