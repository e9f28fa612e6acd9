# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit history (audit/history.py) and the supplier SLA scorecard (audit/scorecard.py).

A month of audits with a fixed clock is fed through the real build_audit into a real SQLite history; the
scorecard of December 2026 is compared with figures worked out by hand below.  The lab estate's suppliers:
acme (24x7, P1 resolve 4h), telco (24x7, P1 resolve 6h), phonecare (business hours of the site: ams
08:00-18:00 Europe/Amsterdam Mon-Fri, holidays 25 and 26 December; P2 resolve 1d = 10 business hours,
P4 resolve 10d).
"""
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from ansible_collections.voipops.voip.plugins.module_utils.estate import load_estate
from ansible_collections.voipops.voip.plugins.module_utils.audit import build as B
from ansible_collections.voipops.voip.plugins.module_utils.audit import history as H
from ansible_collections.voipops.voip.plugins.module_utils.audit import scorecard as S
from ansible_collections.voipops.voip.plugins.module_utils.audit.finding import check_result, finding_id, make_finding

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_kamailio_db_postgres import pg_url  # noqa: E402,F401 pylint: disable=unused-import  # PostgreSQL fixture

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
ESTATE = os.path.join(ROOT, "inventories", "lab", "estate.yml")

CHECKED = {"sip_options": ["cs1", "mgw1", "mgw2"], "snmp": ["e1-mgw1-0", "e1-mgw1-1", "lan-ams", "pri-mgw2-0"],
           "registrations": ["hs-1001", "hs-1002"]}
FAULTS = {  # name -> (check, component, kind, severity)
    "mgw2": ("sip_options", "mgw2", "sip_unreachable", "critical"),       # acme gateway, site impact: P1
    "pri": ("snmp", "pri-mgw2-0", "e1_alarm", "critical"),                # telco trunk: P1
    "lan": ("snmp", "lan-ams", "interface_down", "major"),                # phonecare LAN, site impact: P2
    "hs": ("registrations", "hs-1002", "not_registered", "minor"),        # phonecare handset, single: P4
}
ID = dict((name, finding_id(*spec[:3])) for name, spec in FAULTS.items())
ALL = ("sip_options", "snmp", "registrations")

# (audit time UTC, faults present, checks that ran)
DECEMBER = [
    ("2026-12-01T08:00:00Z", [], ALL),
    ("2026-12-01T10:00:00Z", ["mgw2"], ALL),         # mgw2 down (due 14:00Z)
    ("2026-12-01T12:00:00Z", ["mgw2"], ALL),
    ("2026-12-01T13:00:00Z", [], ALL),               # mgw2 resolved: 180 min, within SLA
    ("2026-12-03T08:00:00Z", ["mgw2"], ALL),         # mgw2 reopened (due 12:00Z)
    ("2026-12-03T12:00:00Z", ["mgw2"], ALL),
    ("2026-12-03T13:00:00Z", [], ALL),               # resolved: 300 min, 1 h late
    ("2026-12-10T20:00:00Z", ["pri"], ALL),          # the PRI loses signal (due 11 Dec 02:00Z)
    ("2026-12-11T08:00:00Z", [], ("sip_options",)),  # SNMP did not run: absence proves nothing, pri stays open
    ("2026-12-14T09:00:00Z", ["pri", "hs"], ALL),    # Monday 10:00 local: hs-1002 off
    ("2026-12-14T15:00:00Z", ["pri"], ALL),          # hs-1002 back: 360 min (business = wall, inside 08-18)
    ("2026-12-24T16:00:00Z", ["pri", "lan"], ALL),   # Thursday 17:00 local, before Christmas: the LAN
    ("2026-12-28T10:00:00Z", ["pri"], ALL),          # Monday 11:00 local: LAN back
    ("2026-12-31T12:00:00Z", ["pri"], ALL),          # last audit of the month: the PRI still down
]
JANUARY = [("2027-01-02T09:00:00Z", [], ALL)]        # the PRI back (after the period)


@pytest.fixture(scope="module")
def estate():
    return load_estate(ESTATE)


def audits(estate, runs, previous=None):
    out = []
    for when, faults, checks in runs:
        results = []
        for check in checks:
            found = [make_finding(*FAULTS[f], summary="%s %s" % (FAULTS[f][1], FAULTS[f][2]))
                     for f in faults if FAULTS[f][0] == check]
            results.append(check_result(check, CHECKED[check], found))
        previous = B.build_audit(results, estate, when, previous=previous)
        out.append(previous)
    return out


@pytest.fixture(scope="module")
def december(estate):
    return audits(estate, DECEMBER)


@pytest.fixture()
def store(tmp_path, estate, december):
    hist = H.History(str(tmp_path / "history.sqlite"))
    for audit in december:
        assert hist.append(audit)["appended"]
    yield hist
    hist.close()


def card(store, estate, period="2026-12"):
    label, lo, hi = S.period_bounds(period)
    return S.build_scorecard(store.tickets(estate.domain), store.runs(estate.domain), estate, label, lo, hi)


def test_the_audits_give_the_deadlines_worked_out_by_hand(december):
    by_time = dict((a["generated_at"], dict((f["id"], f) for f in a["findings"])) for a in december)
    assert by_time["2026-12-01T10:00:00Z"][ID["mgw2"]]["priority"] == "P1"
    assert by_time["2026-12-01T10:00:00Z"][ID["mgw2"]]["resolve_due"] == "2026-12-01T15:00:00+01:00"  # 10:00Z + 4h
    # the LAN at Thursday 24 December 17:00 local, P2 = 1 business day = 10 h: Thursday 17-18 (1 h), Friday 25 and
    # Saturday 26 holidays, Sunday closed, Monday 28 08:00 + 9 h = 17:00 local
    lan = by_time["2026-12-24T16:00:00Z"][ID["lan"]]
    assert (lan["priority"], lan["supplier"], lan["coverage"]) == ("P2", "phonecare", "business_hours")
    assert lan["resolve_due"] == "2026-12-28T17:00:00+01:00"
    assert by_time["2026-12-10T20:00:00Z"][ID["pri"]]["supplier"] == "telco"


def test_a_tickets_life_is_followed_across_runs(store, estate):
    lives = dict(((t["id"], t["episode"]), t) for t in store.tickets(estate.domain))
    # mgw2: opened, resolved, reopened, resolved again
    one, two = lives[(ID["mgw2"], 1)], lives[(ID["mgw2"], 2)]
    assert (one["opened_at"], one["last_seen"], one["resolved_at"], one["runs"]) == (
        "2026-12-01T10:00:00Z", "2026-12-01T12:00:00Z", "2026-12-01T13:00:00Z", 2)
    assert (two["opened_at"], two["resolved_at"], two["state"]) == (
        "2026-12-03T08:00:00Z", "2026-12-03T13:00:00Z", "resolved")
    assert (ID["mgw2"], 3) not in lives
    # the PRI: the run without SNMP (11 Dec) did not resolve it; it keeps its first deadline (10 Dec 20:00Z + 6 h)
    # although the audit after that gap saw it as new
    pri = lives[(ID["pri"], 1)]
    assert (pri["state"], pri["opened_at"], pri["last_seen"], pri["resolved_at"]) == (
        "open", "2026-12-10T20:00:00Z", "2026-12-31T12:00:00Z", None)
    assert S._sla.to_utc(pri["resolve_due"]) == S._sla.to_utc("2026-12-11T02:00:00Z")
    assert (ID["pri"], 2) not in lives


def test_appending_a_run_twice_changes_nothing(store, estate, december, tmp_path):
    before = (store.runs(estate.domain), store.tickets(estate.domain))
    again = store.append(december[-1])
    assert again["appended"] is False and again["open"] == [ID["pri"]]
    assert (store.runs(estate.domain), store.tickets(estate.domain)) == before
    conn = sqlite3.connect(str(tmp_path / "history.sqlite"))
    assert conn.execute("SELECT COUNT(*) FROM voipops_audit_runs").fetchone()[0] == len(DECEMBER)
    conn.close()


def test_the_december_scorecard_matches_the_hand_calculation(store, estate):
    sc = card(store, estate)
    assert sc["period"] == {"label": "2026-12", "start": "2026-12-01T00:00:00Z", "end": "2027-01-01T00:00:00Z",
                            "timezone": "UTC"}
    # as of the last audit of the month: 1 Dec 00:00Z .. 31 Dec 12:00Z = 30.5 days = 43,920 minutes
    assert (sc["as_of"], sc["runs"]) == ("2026-12-31T12:00:00Z", 14)

    acme = sc["suppliers"]["acme"]
    # mgw2 twice, both P1; resolved in 180 min (by 14:00Z: yes) and 300 min (due 12:00Z, resolved 13:00Z: no)
    assert acme["tickets"] == {"opened": 2, "by_priority": {"P1": 2, "P2": 0, "P3": 0, "P4": 0}}
    assert (acme["resolved"], acme["within_sla"], acme["within_sla_share"]) == (2, 1, 0.5)
    ttr = acme["time_to_resolve"]
    assert (ttr["clock"], ttr["mean_minutes"], ttr["worst_minutes"], ttr["worst_ticket"]) == (
        "24x7", 240.0, 300.0, ID["mgw2"])
    assert acme["open_overdue"] == []
    # mgw2 down 180 + 300 = 480 min: 1 - 480 / 43920 = 0.989071
    assert acme["availability"]["mgw2"] == {"availability": 0.989071, "down_minutes": 480.0}
    assert acme["availability"]["cs1"] == {"availability": 1.0, "down_minutes": 0.0}
    assert [t["reopened"] for t in acme["ticket_list"]] == [False, True]

    telco = sc["suppliers"]["telco"]
    # the PRI: opened 10 Dec, still open at the end (resolved only on 2 January), overdue since 11 Dec 02:00Z
    assert telco["tickets"]["by_priority"]["P1"] == 1 and telco["resolved"] == 0
    assert telco["within_sla_share"] is None and telco["time_to_resolve"]["mean_minutes"] is None
    assert telco["open_overdue"] == [ID["pri"]]
    # down from 10 Dec 20:00Z to 31 Dec 12:00Z = 20 d 16 h = 29,760 min: 1 - 29760 / 43920 = 0.322404
    assert telco["availability"]["pri-mgw2-0"] == {"availability": 0.322404, "down_minutes": 29760.0}

    care = sc["suppliers"]["phonecare"]
    assert care["tickets"] == {"opened": 2, "by_priority": {"P1": 0, "P2": 1, "P3": 0, "P4": 1}}
    assert (care["resolved"], care["within_sla"], care["within_sla_share"]) == (2, 2, 1.0)
    # on the business clock: hs-1002 Mon 10:00-16:00 local = 360; the LAN Thu 17:00-18:00 (60) + Mon 08:00-11:00
    # (180) = 240 -> mean 300, worst 360 (hs-1002); wall clock: 360 and 24 Dec 16:00Z .. 28 Dec 10:00Z = 5,400
    ttr = care["time_to_resolve"]
    assert (ttr["clock"], ttr["mean_minutes"], ttr["worst_minutes"], ttr["worst_ticket"]) == (
        "business_hours", 300.0, 360, ID["hs"])
    assert (ttr["mean_wall_minutes"], ttr["worst_wall_minutes"]) == (2880.0, 5400.0)
    # availability counts P1/P2 only: the LAN (P2) down 5,400 min: 1 - 5400 / 43920 = 0.877049; the handset's P4 not
    assert care["availability"]["lan-ams"] == {"availability": 0.877049, "down_minutes": 5400.0}
    assert care["availability"]["hs-1002"]["availability"] == 1.0


def test_the_series_has_a_point_per_day(store, estate):
    series = dict((p["day"], p["suppliers"]) for p in card(store, estate)["series"])
    assert sorted(series)[0] == "2026-12-01" and sorted(series)[-1] == "2026-12-31"
    # 1 Dec: mgw2 down 180 of 1440 min -> 0.875; nothing open at the end of the day
    assert series["2026-12-01"]["acme"] == {"open": 0, "opened": 1, "availability": 0.875}
    # 3 Dec: 300 min -> 1 - 300/1440 = 0.791667
    assert series["2026-12-03"]["acme"]["availability"] == 0.791667
    # 11 Dec: the PRI down all day
    assert series["2026-12-11"]["telco"] == {"open": 1, "opened": 0, "availability": 0.0}


def test_a_later_run_resolves_the_ticket_in_the_next_period(store, estate, december):
    (jan,) = audits(estate, JANUARY, previous=december[-1])
    events = store.append(jan)
    assert events["resolved"] == [ID["pri"]] and events["opened"] == []
    assert card(store, estate)["suppliers"]["telco"]["open_overdue"] == [ID["pri"]]  # December unchanged
    telco = card(store, estate, "2027-01")["suppliers"]["telco"]
    # resolved 2 Jan 09:00Z, opened 10 Dec 20:00Z: 22 d 13 h = 32,460 min, past its deadline
    assert (telco["resolved"], telco["within_sla"], telco["time_to_resolve"]["worst_minutes"]) == (1, 0, 32460.0)
    # January: down from 1 Jan 00:00Z to the resolving audit 2 Jan 09:00Z = 1,980 min of 1,980: 0 %
    assert telco["availability"]["pri-mgw2-0"] == {"availability": 0.0, "down_minutes": 1980.0}


def test_periods():
    assert S.period_bounds("2026-Q4")[1:] == (S._sla.to_utc("2026-10-01T00:00:00Z"), S._sla.to_utc("2027-01-01T00:00:00Z"))
    label, lo, hi = S.period_bounds(start="2026-12-01", end="2026-12-31", timezone="Europe/Amsterdam")
    assert (lo, hi) == (S._sla.to_utc("2026-11-30T23:00:00Z"), S._sla.to_utc("2026-12-31T23:00:00Z"))
    for bad in ({"period": "2026-13"}, {"period": "Q4"}, {"start": "2026-12-01"}, {"start": "2026-12-02", "end": "2026-12-01T00:00"}):
        with pytest.raises(ValueError):
            S.period_bounds(**bad)


def test_the_page_is_html_with_an_svg_plot_and_no_script(store, estate):
    page = S.render_html(card(store, estate))
    assert "<script" not in page and "<svg" in page and 'class="availability"' in page
    assert 'data-supplier="telco"' in page and "pri-mgw2-0" in page
    assert page.count('<rect class="open"') == 3 * 31  # a bar per supplier per day


def test_a_run_killed_before_its_commit_leaves_the_store_as_it_was(tmp_path, estate, december):
    path = str(tmp_path / "h.sqlite")
    first = H.History(path)
    for audit in december[:-1]:
        first.append(audit)
    before = first.tickets(estate.domain)
    first.close()
    marker = tmp_path / "pid"
    audit_file = tmp_path / "last.json"
    audit_file.write_text(S.render_json(december[-1]))
    code = ("import json,sys;from ansible_collections.voipops.voip.plugins.module_utils.audit import history as H;"
            "H.History(sys.argv[1]).append(json.load(open(sys.argv[2])))")
    env = dict(os.environ, VOIPOPS_TEST_PAUSE_HISTORY_COMMIT="60", VOIPOPS_TEST_PAUSE_MARKER=str(marker),
               PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.Popen([sys.executable, "-c", code, path, str(audit_file)], env=env)
    try:
        while not marker.exists() or not marker.read_text():
            assert proc.poll() is None, "the appending process ended before its commit"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    again = H.History(path)
    assert again.tickets(estate.domain) == before and len(again.runs(estate.domain)) == len(DECEMBER) - 1
    assert again.append(december[-1])["appended"] is True
    assert len(again.runs(estate.domain)) == len(DECEMBER)
    again.close()


def test_store_locations(tmp_path):
    assert H.store_target("history.sqlite", str(tmp_path)) == ("sqlite", str(tmp_path / "history.sqlite"))
    assert H.store_target("sqlite:////var/lib/h.db") == ("sqlite", "/var/lib/h.db")
    assert H.store_target("postgres://u:pw@db/h")[0] == "postgres"
    with pytest.raises(H.HistoryError) as err:
        H.store_target("mysql://u:secret@db/h")
    assert "secret" not in str(err.value)
    with pytest.raises(H.HistoryError):
        H.History(str(tmp_path / "missing.sqlite"), write=False)


def test_a_postgresql_store_follows_the_same_lives(store, estate, december, pg_url):  # noqa: F811
    """The same month into a real PostgreSQL (the server the Kamailio driver's tests start): the same lives."""
    pg = H.History(pg_url)
    try:
        for audit in december:
            pg.append(audit)
        assert pg.append(december[-1])["appended"] is False
        assert pg.tickets(estate.domain) == store.tickets(estate.domain)
        assert card(pg, estate) == card(store, estate)
    finally:
        pg.close()
