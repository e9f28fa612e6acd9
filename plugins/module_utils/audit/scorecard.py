# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The supplier SLA scorecard of a period (pure): figures from the tickets' lives of the audit history.

Input: the episodes of :meth:`.history.History.tickets` (one per opened ... resolved life of a ticket), the audit
runs, the estate (suppliers, sites, components) and a period.  Per supplier (docs/health_audit.md, "SLA scorecard"):

- ``tickets``: tickets opened in the period, by priority;
- ``resolved``, ``within_sla``, ``within_sla_share``: tickets resolved in the period, and those resolved by their
  SLA resolve deadline (the deadline the audit gave the ticket: the supplier's coverage calendar, ``sla.py``);
- ``time_to_resolve``: mean and worst, on the supplier's SLA clock (business minutes for a ``business_hours``
  supplier, wall-clock minutes for ``24x7``) and in wall-clock minutes;
- ``open_overdue``: tickets still open at the end of the period (or the last audit in it) past their deadline;
- ``availability`` per component the supplier maintains: the share of the period (up to the last audit) without
  an open P1 or P2 ticket on that component itself (a symptom of another supplier's fault is not counted).

A ticket counts as resolved at the audit that no longer found it (the audit cannot know better); the period ends
for the figures at the last audit run in it ("as of").  All pure but :func:`write_reports`.  :func:`render_html` draws the page, with an SVG plot per
supplier of the open tickets per day and that day's worst component availability (no JavaScript).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import io
import json
import os
import re
import traceback

try:
    import jinja2
    HAS_JINJA2 = True
    JINJA2_IMPORT_ERROR = None
except ImportError:
    HAS_JINJA2 = False
    JINJA2_IMPORT_ERROR = traceback.format_exc()

from ansible_collections.voipops.voip.plugins.module_utils import sla as _sla
from ansible_collections.voipops.voip.plugins.module_utils.fileio import atomic_write

SCORECARD_SCHEMA_VERSION = 1
OUTAGE_PRIORITIES = ("P1", "P2")
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER_RE = re.compile(r"^(\d{4})-[Qq]([1-4])$")


def _iso(value):
    return _sla.to_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def _date_or_time(text, zone, what):
    text = str(text).strip()
    try:
        if len(text) == 10:
            return datetime.datetime.combine(datetime.date.fromisoformat(text), datetime.time(0), tzinfo=zone), True
        value = datetime.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise ValueError("%s %r is not a date (YYYY-MM-DD) or an ISO 8601 time" % (what, text))
    return (value if value.tzinfo else value.replace(tzinfo=zone)), False


def period_bounds(period=None, start=None, end=None, timezone="UTC"):
    """``2026-12`` (month), ``2026-Q4`` (quarter), or ``start``/``end`` (dates: ``end`` inclusive; or ISO times)
    -> ``(label, start_utc, end_utc)``; month and day boundaries are midnights in ``timezone``."""
    zone = _sla.get_zone(timezone)
    if period:
        if start or end:
            raise ValueError("give either period or start/end, not both")
        text = str(period).strip()
        month, quarter = _MONTH_RE.match(text), _QUARTER_RE.match(text)
        if month and 1 <= int(month.group(2)) <= 12:
            year, first, count = int(month.group(1)), int(month.group(2)), 1
            label = "%04d-%02d" % (year, first)
        elif quarter:
            year, first, count = int(quarter.group(1)), (int(quarter.group(2)) - 1) * 3 + 1, 3
            label = "%04d-Q%s" % (year, quarter.group(2))
        else:
            raise ValueError("period %r is not a month (2026-12) or a quarter (2026-Q4)" % (period,))
        nxt = first + count
        lo = datetime.datetime(year, first, 1, tzinfo=zone)
        hi = datetime.datetime(year + (nxt - 1) // 12, (nxt - 1) % 12 + 1, 1, tzinfo=zone)
        return label, lo.astimezone(_sla.UTC), hi.astimezone(_sla.UTC)
    if not start or not end:
        raise ValueError("give a period (2026-12, 2026-Q4) or both start and end")
    lo, _is_date = _date_or_time(start, zone, "start")
    hi, is_date = _date_or_time(end, zone, "end")
    if is_date:  # an end date is inclusive: up to the next midnight
        hi = datetime.datetime.combine(hi.date() + datetime.timedelta(days=1), datetime.time(0), tzinfo=zone)
    if hi <= lo:
        raise ValueError("end %s is not after start %s" % (end, start))
    return "%s..%s" % (start, end), lo.astimezone(_sla.UTC), hi.astimezone(_sla.UTC)


def _minutes(delta):
    return round(delta.total_seconds() / 60.0, 1)


def _down_intervals(episodes, lo, hi):
    """Union of the [opened, resolved or hi) intervals of ``episodes``, clipped to [lo, hi)."""
    spans = []
    for e in episodes:
        a = max(_sla.to_utc(e["opened_at"]), lo)
        b = min(_sla.to_utc(e["resolved_at"]) if e["resolved_at"] else hi, hi)
        if b > a:
            spans.append((a, b))
    spans.sort()
    merged = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _availability(outages, lo, hi):
    """Share of [lo, hi) outside the outage intervals (None for an empty window) and the minutes down."""
    if hi <= lo:
        return None, 0.0
    down = sum(((b - a) for a, b in _down_intervals(outages, lo, hi)), datetime.timedelta(0))
    return round(1.0 - down.total_seconds() / (hi - lo).total_seconds(), 6), _minutes(down)


def _open_at(episode, when):
    opened = _sla.to_utc(episode["opened_at"])
    resolved = _sla.to_utc(episode["resolved_at"]) if episode["resolved_at"] else None
    return opened <= when and (resolved is None or resolved > when)


def _clock(estate, supplier, episode):
    """The supplier's SLA clock for the episode's component: a sla.Calendar (business hours) or None (24x7)."""
    site = estate.sites.get(episode["site"]) if episode.get("site") else None
    return _sla.calendar_for(supplier, site)


def build_scorecard(episodes, runs, estate, label, start, end, timezone="UTC"):
    """The scorecard document (``schema_version`` 1, see docs/health_audit.md)."""
    start, end = _sla.to_utc(start), _sla.to_utc(end)
    times = [_sla.to_utc(r["run_at"]) for r in runs]
    in_period = [t for t in times if start <= t < end]
    as_of = max(in_period) if in_period else start
    suppliers = {}
    for name, supplier in sorted(estate.suppliers.items()):
        mine = [e for e in episodes if e.get("supplier") == name]
        opened = [e for e in mine if start <= _sla.to_utc(e["opened_at"]) < end]
        resolved = [e for e in mine if e["resolved_at"] and start <= _sla.to_utc(e["resolved_at"]) < end]
        with_due = [e for e in resolved if e["resolve_due"]]
        within = [e for e in with_due if _sla.to_utc(e["resolved_at"]) <= _sla.to_utc(e["resolve_due"])]
        rows, sla_minutes, wall_minutes = [], [], []
        for e in sorted(mine, key=lambda x: (x["opened_at"], x["id"], x["episode"])):
            if not (_sla.to_utc(e["opened_at"]) < end and (not e["resolved_at"] or _sla.to_utc(e["resolved_at"]) >= start)):
                continue
            if _sla.to_utc(e["opened_at"]) > as_of and in_period:
                continue
            row = {"id": e["id"], "episode": e["episode"], "reopened": e["episode"] > 1, "component": e["component"],
                   "kind": e["kind"], "priority": e["priority"], "summary": e["summary"], "opened_at": e["opened_at"],
                   "resolved_at": e["resolved_at"] if e in resolved else None, "resolve_due": e["resolve_due"],
                   "within_sla": None, "time_to_resolve_minutes": None, "time_to_resolve_wall_minutes": None,
                   "overdue": False}
            if e in resolved:
                wall = _sla.to_utc(e["resolved_at"]) - _sla.to_utc(e["opened_at"])
                cal = _clock(estate, supplier, e)
                on_clock = cal.business_minutes_between(e["opened_at"], e["resolved_at"]) if cal else _minutes(wall)
                row["time_to_resolve_minutes"] = on_clock
                row["time_to_resolve_wall_minutes"] = _minutes(wall)
                row["within_sla"] = (e in within) if e["resolve_due"] else None
                sla_minutes.append((on_clock, e["id"]))
                wall_minutes.append(_minutes(wall))
            elif _open_at(e, as_of) and e["resolve_due"] and _sla.to_utc(e["resolve_due"]) < as_of:
                row["overdue"] = True
            rows.append(row)
        components = {}
        for comp in sorted(c["name"] for c in estate.components.values() if c.get("maintainer") == name):
            outages = [e for e in mine if e["component"] == comp and e["priority"] in OUTAGE_PRIORITIES]
            share, down = _availability(outages, start, as_of)
            components[comp] = {"availability": share, "down_minutes": down}
        by_priority = dict((p, sum(1 for e in opened if e["priority"] == p)) for p in _sla.PRIORITIES)
        worst = max(sla_minutes) if sla_minutes else None
        suppliers[name] = {
            "coverage": supplier.get("coverage", "24x7"),
            "tickets": {"opened": len(opened), "by_priority": by_priority},
            "resolved": len(resolved), "resolved_with_deadline": len(with_due), "within_sla": len(within),
            "within_sla_share": round(float(len(within)) / len(with_due), 4) if with_due else None,
            "time_to_resolve": {
                "clock": "business_hours" if supplier.get("coverage") == "business_hours" else "24x7",
                "mean_minutes": round(sum(m for m, _i in sla_minutes) / len(sla_minutes), 1) if sla_minutes else None,
                "worst_minutes": worst[0] if worst else None, "worst_ticket": worst[1] if worst else None,
                "mean_wall_minutes": round(sum(wall_minutes) / len(wall_minutes), 1) if wall_minutes else None,
                "worst_wall_minutes": max(wall_minutes) if wall_minutes else None},
            "open_overdue": [r["id"] for r in rows if r["overdue"]],
            "availability": components,
            "ticket_list": rows,
        }
    return {"schema_version": SCORECARD_SCHEMA_VERSION, "estate": estate.domain,
            "period": {"label": label, "start": _iso(start), "end": _iso(end), "timezone": timezone},
            "as_of": _iso(as_of) if in_period else None, "runs": len(in_period), "suppliers": suppliers,
            "series": _series(episodes, estate, start, end, as_of if in_period else start, timezone)}


def _series(episodes, estate, start, end, as_of, timezone):
    """One point per day of the period (local days) up to ``as_of``: per supplier, the tickets open at the end of
    the day, those opened that day, and the day's worst availability among its components."""
    zone = _sla.get_zone(timezone)
    day = start.astimezone(zone).date()
    out = []
    while True:
        lo = datetime.datetime.combine(day, datetime.time(0), tzinfo=zone).astimezone(_sla.UTC)
        hi = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time(0), tzinfo=zone).astimezone(_sla.UTC)
        lo, hi_clip = max(lo, start), min(hi, end, as_of)
        if lo >= end or lo >= as_of:
            break
        point = {"day": day.isoformat(), "suppliers": {}}
        for name in sorted(estate.suppliers):
            mine = [e for e in episodes if e.get("supplier") == name]
            comps = set(c["name"] for c in estate.components.values() if c.get("maintainer") == name)
            worst = 1.0
            for comp in comps:
                share, _down = _availability([e for e in mine if e["component"] == comp
                                              and e["priority"] in OUTAGE_PRIORITIES], lo, hi_clip)
                if share is not None:
                    worst = min(worst, share)
            point["suppliers"][name] = {
                "open": sum(1 for e in mine if _open_at(e, hi_clip - datetime.timedelta(seconds=1))),
                "opened": sum(1 for e in mine if lo <= _sla.to_utc(e["opened_at"]) < hi_clip),
                "availability": round(worst, 6)}
        out.append(point)
        day += datetime.timedelta(days=1)
    return out


def render_json(card):
    return json.dumps(card, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def plot(card, supplier, width=640, height=180):
    """The SVG of one supplier: bars = tickets open at the end of each day (left scale), line = the day's worst
    component availability (right scale, 0-100 %).  Plain SVG elements: no script, no external asset."""
    points = card["series"]
    pad_l, pad_r, pad_t, pad_b = 36, 44, 12, 24
    inner_w, inner_h = width - pad_l - pad_r, height - pad_t - pad_b
    n = max(len(points), 1)
    step = float(inner_w) / n
    top = max([p["suppliers"][supplier]["open"] for p in points] + [1])
    bars, line = [], []
    for i, p in enumerate(points):
        s = p["suppliers"][supplier]
        h = inner_h * s["open"] / float(top)
        bars.append({"x": round(pad_l + i * step + step * 0.15, 1), "y": round(pad_t + inner_h - h, 1),
                     "w": round(step * 0.7, 1), "h": round(h, 1), "day": p["day"], "open": s["open"]})
        line.append("%.1f,%.1f" % (pad_l + i * step + step / 2, pad_t + inner_h * (1 - s["availability"])))
    labels = [{"x": round(pad_l + i * step + step / 2, 1), "text": p["day"][5:]}
              for i, p in enumerate(points) if i % max(1, n // 8) == 0]
    return {"width": width, "height": height, "bars": bars, "line": " ".join(line), "labels": labels, "top": top,
            "pad_l": pad_l, "pad_t": pad_t, "inner_w": inner_w, "inner_h": inner_h, "base": pad_t + inner_h,
            "right": pad_l + inner_w}


_PAGE = u"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>SLA scorecard {{ card.period.label }}</title>
<style>
body{font-family:sans-serif;margin:1.5em;color:#222} table{border-collapse:collapse;margin:.5em 0 1em}
td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left} th{background:#f2f2f2}
.bad{color:#b00020;font-weight:bold} svg{border:1px solid #ddd;background:#fff}
</style></head><body>
<h1>SLA scorecard {{ card.period.label }}</h1>
<p id="period" data-start="{{ card.period.start }}" data-end="{{ card.period.end }}">Period {{ card.period.start }}
to {{ card.period.end }} ({{ card.period.timezone }}); {{ card.runs }} audit run(s){% if card.as_of %}, figures as of
the last one, {{ card.as_of }}{% endif %}.</p>
{% for name, s in card.suppliers.items() %}
<section class="supplier" id="supplier-{{ name }}" data-supplier="{{ name }}">
<h2>{{ name }} ({{ s.coverage }})</h2>
<table class="figures">
<tr><th>tickets opened</th><td data-figure="opened">{{ s.tickets.opened }}</td>
{% for p, c in s.tickets.by_priority.items() %}<th>{{ p }}</th><td data-figure="{{ p }}">{{ c }}</td>{% endfor %}</tr>
<tr><th>resolved within SLA</th><td data-figure="within_sla" colspan="9">{{ s.within_sla }} of {{ s.resolved_with_deadline }}
{% if s.within_sla_share is not none %}({{ '%.1f' % (100 * s.within_sla_share) }} %){% endif %}</td></tr>
<tr><th>time to resolve ({{ s.time_to_resolve.clock }} clock)</th><td data-figure="time_to_resolve" colspan="9">
{% if s.time_to_resolve.mean_minutes is not none %}mean {{ s.time_to_resolve.mean_minutes | hm }},
worst {{ s.time_to_resolve.worst_minutes | hm }} (wall clock: mean {{ s.time_to_resolve.mean_wall_minutes | hm }},
worst {{ s.time_to_resolve.worst_wall_minutes | hm }}){% else %}nothing resolved{% endif %}</td></tr>
<tr><th>open and overdue</th><td data-figure="open_overdue" colspan="9"
{% if s.open_overdue %} class="bad"{% endif %}>{{ s.open_overdue | length }}</td></tr>
</table>
{% set g = plots[name] %}
<svg xmlns="http://www.w3.org/2000/svg" width="{{ g.width }}" height="{{ g.height }}" role="img"
 aria-label="{{ name }}: open tickets per day (bars) and worst component availability (line)">
<line x1="{{ g.pad_l }}" y1="{{ g.base }}" x2="{{ g.right }}" y2="{{ g.base }}" stroke="#888"/>
<text x="4" y="{{ g.pad_t + 8 }}" font-size="10">{{ g.top }}</text><text x="4" y="{{ g.base }}" font-size="10">0</text>
<text x="{{ g.right + 4 }}" y="{{ g.pad_t + 8 }}" font-size="10">100 %</text>
<text x="{{ g.right + 4 }}" y="{{ g.base }}" font-size="10">0 %</text>
{% for b in g.bars %}<rect class="open" x="{{ b.x }}" y="{{ b.y }}" width="{{ b.w }}" height="{{ b.h }}" fill="#f0a040"
 data-day="{{ b.day }}" data-open="{{ b.open }}"><title>{{ b.day }}: {{ b.open }} open</title></rect>
{% endfor %}{% if g.line %}<polyline class="availability" points="{{ g.line }}" fill="none" stroke="#2060c0" stroke-width="2"/>{% endif %}
{% for l in g.labels %}<text x="{{ l.x }}" y="{{ g.base + 14 }}" font-size="9" text-anchor="middle">{{ l.text }}</text>{% endfor %}
</svg>
<h3>Availability (time without an open P1/P2 on the component)</h3>
<table class="availability"><tr><th>component</th><th>availability</th><th>down</th></tr>
{% for comp, a in s.availability.items() if a.down_minutes > 0 %}
<tr data-component="{{ comp }}"><td>{{ comp }}</td><td>{{ '%.3f' % (100 * a.availability) }} %</td>
<td>{{ a.down_minutes | hm }}</td></tr>
{% endfor %}
<tr><td colspan="3">{{ s.availability | length }} component(s); those not listed: 100 %</td></tr></table>
{% if s.ticket_list %}<h3>Tickets</h3>
<table class="tickets"><tr><th>priority</th><th>component</th><th>what</th><th>opened</th><th>resolved</th>
<th>resolve by</th><th>within SLA</th></tr>
{% for t in s.ticket_list %}<tr class="ticket" data-id="{{ t.id }}" data-component="{{ t.component }}"
 data-within-sla="{{ t.within_sla }}"><td>{{ t.priority }}</td><td>{{ t.component }}</td>
<td>{{ t.summary }}{% if t.reopened %} (reopened){% endif %}</td><td>{{ t.opened_at }}</td>
<td>{{ t.resolved_at or 'open' }}</td><td>{{ t.resolve_due or '-' }}</td>
<td{% if t.overdue or t.within_sla == false %} class="bad"{% endif %}>
{% if t.within_sla is none %}{{ 'overdue' if t.overdue else '-' }}{% else %}{{ 'yes' if t.within_sla else 'no' }}{% endif %}
</td></tr>
{% endfor %}</table>{% endif %}
</section>
{% endfor %}
</body></html>
"""


def _hm(minutes):
    if minutes is None:
        return "-"
    minutes = int(round(minutes))
    return "%dh%02dm" % (minutes // 60, minutes % 60) if minutes >= 60 else "%dm" % minutes


def render_html(card):
    """The scorecard page: self-contained HTML (inline CSS, inline SVG, no script)."""
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["hm"] = _hm
    plots = dict((name, plot(card, name)) for name in card["suppliers"])
    return env.from_string(_PAGE).render(card=card, plots=plots)


RENDERERS = {"html": render_html, "json": render_json}


def write_reports(card, dest, basename="sla_report", formats=("html", "json"), check_mode=False):
    """The one I/O of this file: write the page and the JSON when their content changes (atomically; nothing in
    check mode).  Returns ``{format: {"path", "changed"}}``."""
    result = {}
    for fmt in formats:
        text = RENDERERS[fmt](card)
        path = os.path.join(dest, "%s.%s" % (basename, fmt))
        old = None
        if os.path.exists(path):
            with io.open(path, "r", encoding="utf-8") as handle:
                old = handle.read()
        if old != text and not check_mode:
            atomic_write(path, text, mode=0o644)
        result[fmt] = {"path": path, "changed": old != text}
    return result
