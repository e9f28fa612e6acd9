# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
import datetime

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.voipops.voip.plugins.module_utils.sla import (
    Calendar, SlaError, add_duration, calendar_for, deadlines, impact_for_count, overdue, priority_for, to_utc,
)
from ansible_collections.voipops.voip.plugins.module_utils.sla import parse_duration

AMS = "Europe/Amsterdam"
SITE = {"name": "ams", "timezone": AMS, "business_hours": {"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "18:00"},
        "holidays": ["2026-12-25", "2026-12-28"]}


def sup(coverage, **extra):
    rec = {"name": "s", "coverage": coverage, "sla": {
        "P1": {"response": parse_duration("15m"), "resolve": parse_duration("4h")},
        "P2": {"response": parse_duration("30m"), "resolve": parse_duration("4h")},
        "P3": {"response": parse_duration("4h"), "resolve": parse_duration("2d")},
        "P4": {"response": parse_duration("1d"), "resolve": parse_duration("10d")}}}
    rec.update(extra)
    return rec


def local(text, zone=AMS):
    import zoneinfo
    return datetime.datetime.fromisoformat(text).replace(tzinfo=zoneinfo.ZoneInfo(zone))


@pytest.mark.parametrize("severity,impact,expected", [
    ("critical", "estate", "P1"), ("critical", "site", "P1"), ("critical", "group", "P2"), ("critical", "single", "P3"),
    ("major", "estate", "P1"), ("major", "site", "P2"), ("major", "single", "P3"), ("minor", "site", "P3"),
    ("minor", "single", "P4"), ("warning", "estate", "P3"), ("warning", "single", "P4"), ("info", "estate", None),
])
def test_priority_matrix(severity, impact, expected):
    assert priority_for(severity, impact) == expected


def test_priority_rejects_unknown_values():
    with pytest.raises(SlaError, match="unknown severity"):
        priority_for("disaster", "site")
    with pytest.raises(SlaError, match="unknown impact"):
        priority_for("major", "planet")


def test_impact_from_affected_count():
    assert [impact_for_count(n) for n in (0, 1, 2, 49, 50, 499, 500)] == [
        "none", "single", "group", "group", "site", "site", "estate"]


def test_p2_friday_evening_business_hours_lands_monday_morning():
    # 17:30 Friday, 4h business-hours resolve: 30 min on Friday, 3h30 on Monday -> 11:30 local
    due = deadlines(local("2026-11-27T17:30"), "P2", sup("business_hours"), SITE)
    assert due["resolve_due"] == "2026-11-30T11:30:00+01:00"
    assert due["response_due"] == "2026-11-27T18:00:00+01:00"  # 30m fits exactly before closing
    assert due["coverage"] == "business_hours" and due["timezone"] == AMS


def test_same_fault_24x7_counts_wall_clock_and_shows_local_time():
    due = deadlines(local("2026-11-27T17:30"), "P2", sup("24x7"), SITE)
    assert due["response_due"] == "2026-11-27T18:00:00+01:00"
    assert due["resolve_due"] == "2026-11-27T21:30:00+01:00"
    p4 = deadlines(local("2026-11-27T17:30"), "P4", sup("24x7"), SITE)
    assert p4["response_due"] == "2026-11-28T17:30:00+01:00"  # 1d = 24h


def test_report_on_saturday_starts_at_next_opening():
    due = deadlines(local("2026-11-28T10:00"), "P1", sup("business_hours"), SITE)
    assert due["response_due"] == "2026-11-30T08:15:00+01:00"


def test_before_opening_and_business_days():
    # P3: 2d resolve = two business days of 10h; reported 06:00 Tuesday -> Wednesday 18:00
    due = deadlines(local("2026-11-24T06:00"), "P3", sup("business_hours"), SITE)
    assert due["response_due"] == "2026-11-24T12:00:00+01:00"
    assert due["resolve_due"] == "2026-11-25T18:00:00+01:00"


def test_holidays_are_skipped():
    # Thursday 24 Dec 17:00, 4h: 1h Thursday, Fri 25 holiday, weekend, Mon 28 holiday -> Tue 29 11:00
    due = deadlines(local("2026-12-24T17:00"), "P1", sup("business_hours"), SITE)
    assert due["resolve_due"] == "2026-12-29T11:00:00+01:00"


def test_dst_change_business_hours_keeps_local_window():
    # Summer time starts Sunday 29 March 2026 in Amsterdam.  Friday 17:00 CET + 4h -> Monday 11:00 CEST.
    due = deadlines(local("2026-03-27T17:00"), "P2", sup("business_hours"), SITE)
    assert due["resolve_due"] == "2026-03-30T11:00:00+02:00"


def test_dst_change_24x7_is_real_elapsed_time():
    # 4h of wall clock over the night the clocks go forward: 00:30 CET + 4h = 05:30 CEST (local shows +5h)
    due = deadlines(local("2026-03-29T00:30"), "P1", sup("24x7"), SITE)
    assert due["resolve_due"] == "2026-03-29T05:30:00+02:00"


def test_supplier_calendar_overrides_site():
    other = sup("business_hours", timezone="America/New_York",
                business_hours={"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"})
    # 2026-11-27 17:30 Amsterdam = 11:30 New York: 4h -> 15:30 New York same day
    due = deadlines(local("2026-11-27T17:30"), "P2", other, SITE)
    assert due["resolve_due"] == "2026-11-27T15:30:00-05:00"
    assert due["timezone"] == "America/New_York"


def test_no_priority_or_no_supplier_gives_no_deadline():
    assert deadlines(local("2026-11-27T17:30"), None, sup("24x7"), SITE)["resolve_due"] is None
    assert deadlines(local("2026-11-27T17:30"), "P1", None, SITE)["resolve_due"] is None
    with pytest.raises(SlaError):
        deadlines(local("2026-11-27T17:30"), "P7", sup("24x7"), SITE)


def test_calendar_rejects_impossible_setups():
    with pytest.raises(SlaError):
        Calendar(AMS, [0], "18:00", "08:00")
    with pytest.raises(SlaError):
        Calendar("Mars/Olympus")
    cal = Calendar(AMS, [0], "08:00", "09:00", holidays=[])
    assert cal.add(local("2026-11-24T10:00"), 30).isoformat() == "2026-11-30T08:30:00+01:00"


def test_overdue_and_iso_parsing():
    assert overdue("2026-11-27T18:00:00+01:00", "2026-11-27T17:01:00Z")
    assert not overdue("2026-11-27T18:00:00+01:00", "2026-11-27T16:59:00Z")
    assert to_utc("2026-11-27T17:00:00").tzinfo is not None
    with pytest.raises(SlaError):
        to_utc("yesterday")


def test_calendar_for_24x7_is_none():
    assert calendar_for(sup("24x7"), SITE) is None
    assert calendar_for(sup("business_hours"), SITE).day_minutes == 600


CAL = Calendar(AMS, [0, 1, 2, 3, 4], "08:00", "18:00", ["2026-12-25"])


@settings(max_examples=300, deadline=None)
@given(start=st.datetimes(min_value=datetime.datetime(2026, 1, 1), max_value=datetime.datetime(2027, 12, 31)),
       minutes=st.integers(min_value=1, max_value=60 * 60))
def test_business_time_round_trips(start, minutes):
    start = start.replace(tzinfo=datetime.timezone.utc)
    due = CAL.add(start, minutes)
    assert due > start
    # exactly ``minutes`` of business time elapse, and the deadline lies inside (or closes) a business window
    assert CAL.business_minutes_between(start, due) == minutes
    local_due = due.astimezone(CAL.zone)
    assert CAL.is_business_day(local_due.date())
    assert datetime.time(8, 0) < local_due.time() <= datetime.time(18, 0)


@settings(max_examples=200, deadline=None)
@given(start=st.datetimes(min_value=datetime.datetime(2026, 1, 1), max_value=datetime.datetime(2027, 12, 31)),
       a=st.integers(min_value=0, max_value=3000), b=st.integers(min_value=0, max_value=3000))
def test_deadlines_are_monotonic(start, a, b):
    start = start.replace(tzinfo=datetime.timezone.utc)
    lo, hi = sorted((a, b))
    assert add_duration(start, lo, CAL) <= add_duration(start, hi, CAL)
    assert add_duration(start, lo) <= add_duration(start, hi)
