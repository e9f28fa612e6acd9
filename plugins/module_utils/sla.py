# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SLA arithmetic: priority from severity and impact, response/resolve deadlines.

Pure functions, no I/O.  Times are timezone-aware :class:`datetime.datetime`; naive inputs are
taken as UTC.  Rules (docs/health_audit.md, "Priorities and deadlines"):

- **Priority** comes from a severity x impact matrix (:data:`PRIORITY_MATRIX`, ITIL style).
  Severity ``info`` gives no priority (no ticket, no deadline).
- **Coverage** ``24x7``: a duration is wall-clock time (``1d`` = 24 h).
  **Coverage** ``business_hours``: the clock only runs inside the business window of the calendar
  (the site's days/start/end/holidays in the site's IANA time zone, or the supplier's own calendar
  when the supplier defines one); ``1d`` is one business day = the length of that window, so
  ``1d`` at 08:00-18:00 is 10 business hours.  A fault reported outside business hours starts
  at the next business opening.  DST transitions are handled by doing the arithmetic in UTC
  between window edges computed in local time.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

try:
    import zoneinfo
    HAS_ZONEINFO = True
except ImportError:  # pragma: no cover - Python < 3.9
    zoneinfo = None
    HAS_ZONEINFO = False

UTC = datetime.timezone.utc
SEVERITIES = ("critical", "major", "minor", "warning", "info")
IMPACTS = ("estate", "site", "group", "single", "none")
PRIORITIES = ("P1", "P2", "P3", "P4")

#: severity -> impact -> priority.  ``estate``: the whole service (e.g. the callserver is down);
#: ``site``: a whole site or a trunk group; ``group``: several users; ``single``: one device/user;
#: ``none``: nobody is affected yet (e.g. a certificate that expires in 20 days).
PRIORITY_MATRIX = {
    "critical": {"estate": "P1", "site": "P1", "group": "P2", "single": "P3", "none": "P4"},
    "major": {"estate": "P1", "site": "P2", "group": "P2", "single": "P3", "none": "P4"},
    "minor": {"estate": "P2", "site": "P3", "group": "P3", "single": "P4", "none": "P4"},
    "warning": {"estate": "P3", "site": "P4", "group": "P4", "single": "P4", "none": "P4"},
    "info": dict((i, None) for i in IMPACTS),
}

#: affected handsets -> impact, when a check cannot say better (thresholds, inclusive lower bounds)
IMPACT_THRESHOLDS = (("estate", 500), ("site", 50), ("group", 2), ("single", 1))

DEFAULT_BUSINESS_HOURS = {"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "18:00"}
_MAX_DAYS = 3 * 366
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DURATION_RE = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*$")
_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class SlaError(ValueError):
    """Bad SLA input (unknown priority, a calendar without business days, ...)."""


def priority_for(severity, impact):
    """``priority_for('major', 'site') -> 'P2'``; ``None`` for ``info``."""
    sev = str(severity).lower()
    imp = str(impact).lower()
    if sev not in PRIORITY_MATRIX:
        raise SlaError("unknown severity %r (known: %s)" % (severity, ", ".join(SEVERITIES)))
    if imp not in IMPACTS:
        raise SlaError("unknown impact %r (known: %s)" % (impact, ", ".join(IMPACTS)))
    return PRIORITY_MATRIX[sev][imp]


def impact_for_count(affected, thresholds=IMPACT_THRESHOLDS):
    """Number of affected users/handsets -> impact level."""
    for level, minimum in thresholds:
        if affected >= minimum:
            return level
    return "none"


def higher_impact(a, b):
    """The wider of two impact levels."""
    return a if IMPACTS.index(a) <= IMPACTS.index(b) else b


def priority_rank(priority):
    """Sort key: P1 -> 1 ... P4 -> 4, None -> 9."""
    return int(priority[1]) if priority in PRIORITIES else 9


def higher_priority(a, b):
    return a if priority_rank(a) <= priority_rank(b) else b


def to_utc(value):
    """datetime/ISO-8601 string -> aware UTC datetime (naive = UTC)."""
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise SlaError("%r is not an ISO 8601 date/time" % (value,))
    if not isinstance(value, datetime.datetime):
        raise SlaError("%r is not a date/time" % (value,))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def get_zone(name):
    if not HAS_ZONEINFO:  # pragma: no cover
        raise SlaError("the zoneinfo module (Python >= 3.9) is required")
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except Exception:
        raise SlaError("%r is not an IANA time zone" % (name,))


def _hm(text):
    hour, minute = str(text).split(":")
    return datetime.time(int(hour), int(minute))


class Calendar(object):
    """Business hours of one place: weekdays (0 = Monday), a daily window, holidays, a time zone."""

    def __init__(self, timezone="UTC", days=None, start="08:00", end="18:00", holidays=()):
        self.zone = get_zone(timezone)
        self.timezone = timezone or "UTC"
        self.days = frozenset(days if days is not None else DEFAULT_BUSINESS_HOURS["days"])
        self.start = _hm(start)
        self.end = _hm(end)
        self.holidays = frozenset(str(h) for h in holidays)
        if self.end <= self.start:
            raise SlaError("business hours end %s is not after start %s" % (end, start))
        if not self.days:
            raise SlaError("a business-hours calendar needs at least one business day")

    @property
    def day_minutes(self):
        """Length of one business day in minutes (``1d`` of business time)."""
        return (self.end.hour * 60 + self.end.minute) - (self.start.hour * 60 + self.start.minute)

    def is_business_day(self, day):
        return day.weekday() in self.days and day.isoformat() not in self.holidays

    def window(self, day):
        """(open, close) of ``day`` as aware UTC datetimes (correct across DST changes)."""
        opens = datetime.datetime.combine(day, self.start, tzinfo=self.zone).astimezone(UTC)
        closes = datetime.datetime.combine(day, self.end, tzinfo=self.zone).astimezone(UTC)
        return opens, closes

    def is_open(self, when):
        when = to_utc(when)
        day = when.astimezone(self.zone).date()
        if not self.is_business_day(day):
            return False
        opens, closes = self.window(day)
        return opens <= when < closes

    def add(self, start, minutes):
        """``start`` + ``minutes`` of business time, as an aware datetime in the calendar's zone."""
        start = to_utc(start)
        remaining = datetime.timedelta(minutes=minutes)
        if remaining <= datetime.timedelta(0):
            return start.astimezone(self.zone)
        day = start.astimezone(self.zone).date()
        for _day in range(_MAX_DAYS):
            if self.is_business_day(day):
                opens, closes = self.window(day)
                current = max(start, opens)
                if current < closes:
                    available = closes - current
                    if remaining <= available:
                        return (current + remaining).astimezone(self.zone)
                    remaining -= available
            day += datetime.timedelta(days=1)
        raise SlaError("no business time found within %d days (holidays cover everything?)" % _MAX_DAYS)

    def business_minutes_between(self, start, end):
        """Business minutes elapsed from ``start`` to ``end`` (0 when end <= start)."""
        start, end = to_utc(start), to_utc(end)
        total = datetime.timedelta(0)
        day = start.astimezone(self.zone).date()
        last = end.astimezone(self.zone).date()
        while day <= last:
            if self.is_business_day(day):
                opens, closes = self.window(day)
                lo, hi = max(start, opens), min(end, closes)
                if hi > lo:
                    total += hi - lo
            day += datetime.timedelta(days=1)
        return int(total.total_seconds() // 60)

    def as_dict(self):
        return {"timezone": self.timezone, "days": sorted(self.days), "start": self.start.strftime("%H:%M"),
                "end": self.end.strftime("%H:%M"), "holidays": sorted(self.holidays)}


def calendar_for(supplier, site=None):
    """The calendar a supplier's clock runs on for a component at ``site`` (None for 24x7).

    Supplier records and site records are the dicts of :mod:`estate`.  The supplier's own
    ``business_hours``/``timezone``/``holidays`` win over the site's when given.
    """
    if not supplier or supplier.get("coverage", "24x7") == "24x7":
        return None
    site = site or {}
    hours = supplier.get("business_hours") or site.get("business_hours") or DEFAULT_BUSINESS_HOURS
    timezone = supplier.get("timezone") or site.get("timezone") or "UTC"
    holidays = set(site.get("holidays") or []) | set(supplier.get("holidays") or [])
    return Calendar(timezone, hours["days"], hours["start"], hours["end"], sorted(holidays))


def duration_minutes(duration, calendar=None):
    """``{"days": D, "minutes": M}`` -> minutes of clock time (24x7) or of business time."""
    if isinstance(duration, (int, float)):
        return int(duration)
    days, minutes = int(duration.get("days", 0)), int(duration.get("minutes", 0))
    per_day = calendar.day_minutes if calendar is not None else 1440
    return days * per_day + minutes


def add_duration(start, duration, calendar=None, display_zone=None):
    """``start`` + ``duration`` honouring the calendar (None = 24x7 wall clock)."""
    minutes = duration_minutes(duration, calendar)
    if calendar is not None:
        return calendar.add(start, minutes)
    result = to_utc(start) + datetime.timedelta(minutes=minutes)
    return result.astimezone(get_zone(display_zone)) if display_zone else result


def deadlines(detected_at, priority, supplier, site=None):
    """Response and resolve deadlines for a finding of ``priority`` routed to ``supplier``.

    Returns a dict ``{priority, coverage, timezone, response, resolve, response_due, resolve_due}``
    with ISO-8601 strings in the local time of the calendar (site zone for 24x7 too, which is
    what the person reading the report expects); None values when there is no priority/supplier SLA.
    """
    result = {"priority": priority, "coverage": None, "timezone": None, "response": None, "resolve": None,
              "response_due": None, "resolve_due": None}
    if priority is None or not supplier:
        return result
    if priority not in PRIORITIES:
        raise SlaError("unknown priority %r (known: P1..P4)" % (priority,))
    sla = (supplier.get("sla") or {}).get(priority)
    if not sla:
        return result
    calendar = calendar_for(supplier, site)
    zone = calendar.timezone if calendar else ((site or {}).get("timezone") or supplier.get("timezone") or "UTC")
    result["coverage"] = supplier.get("coverage", "24x7")
    result["timezone"] = zone
    for key in ("response", "resolve"):
        result[key] = sla[key]
        due = add_duration(detected_at, sla[key], calendar, display_zone=zone)
        result[key + "_due"] = due.isoformat()
    return result


def overdue(due, now):
    """True when the ISO deadline ``due`` is before ``now``."""
    return due is not None and to_utc(due) < to_utc(now)


def parse_days_or_list(value):
    """Weekday numbers from ``"mon-fri"``/``["mon", "tue"]``/``[0, 1]``."""
    if isinstance(value, (list, tuple)) and all(isinstance(v, int) for v in value):
        return list(value)
    try:
        return parse_days(value)
    except ValueError as exc:
        raise SlaError(str(exc))


# --------------------------------------------------------------------------------------------
# SLA vocabulary: durations, days and times of day (the estate's suppliers and sites use them)
# --------------------------------------------------------------------------------------------

def parse_duration(value):
    """Parse ``"30m"``, ``"4h"``, ``"2d"``, ``"1d4h"``, ``"1h30m"`` (or an int of minutes).

    Returns ``{"days": D, "minutes": M}``: days are kept apart because with business-hours
    coverage one day means one business day of the site (see docs/estate.md).
    Raises ValueError with a readable message.
    """
    if isinstance(value, bool):
        raise ValueError("%r is not a duration like '30m', '4h', '2d'" % (value,))
    if isinstance(value, int):
        if value < 0:
            raise ValueError("duration must not be negative")
        return {"days": 0, "minutes": value}
    text = str(value).strip().lower()
    match = _DURATION_RE.match(text)
    if not text or not match or not any(match.groups()):
        raise ValueError("%r is not a duration like '30m', '4h', '2d', '1h30m'" % (value,))
    days, hours, minutes = (int(g) if g else 0 for g in match.groups())
    return {"days": days, "minutes": hours * 60 + minutes}


def format_duration(duration):
    """Inverse of :func:`parse_duration` (for reports)."""
    days, minutes = duration.get("days", 0), duration.get("minutes", 0)
    parts = []
    if days:
        parts.append("%dd" % days)
    if minutes // 60:
        parts.append("%dh" % (minutes // 60))
    if minutes % 60 or not parts:
        parts.append("%dm" % (minutes % 60))
    return "".join(parts)


def parse_days(value):
    """``"mon-fri"``, ``"mon,wed,fri"``, ``["mon", "tue"]``, ``"mon-fri,sun"`` -> sorted weekday numbers."""
    items = value if isinstance(value, list) else str(value).split(",")
    days = set()
    for item in items:
        item = str(item).strip().lower()
        if "-" in item:
            first, last = (p.strip()[:3] for p in item.split("-", 1))
            if first not in DAY_NAMES or last not in DAY_NAMES:
                raise ValueError("%r is not a day range like 'mon-fri'" % (item,))
            i, j = DAY_NAMES.index(first), DAY_NAMES.index(last)
            if j < i:
                j += 7
            days.update(k % 7 for k in range(i, j + 1))
        elif item[:3] in DAY_NAMES:
            days.add(DAY_NAMES.index(item[:3]))
        else:
            raise ValueError("%r is not a day name (mon..sun)" % (item,))
    if not days:
        raise ValueError("no days given")
    return sorted(days)


def parse_time(value):
    """``"8:00"`` -> ``"08:00"``; ValueError if not a time of day."""
    match = _TIME_RE.match(str(value).strip())
    if not match:
        raise ValueError("%r is not a time like '08:00'" % (value,))
    return "%02d:%02d" % (int(match.group(1)), int(match.group(2)))
