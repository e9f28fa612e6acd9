# -*- coding: utf-8 -*-
"""Triage step 4's test call: the reasoning over a call's outcome (diagnose/steps.py) and the gatherer placing it
through a scripted UAS standing in for the callserver (tests/support/fake_uas.py)."""
import asyncio
import datetime
import os
import threading

import pytest

from ansible_collections.voipops.voip.plugins.module_utils.diagnose import engine, gather, steps
from ansible_collections.voipops.voip.plugins.module_utils.estate import load_estate
from tests.support.fake_uas import FakeUas

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 12, 7, 10, 0, 0, tzinfo=UTC)
HS = {"name": "hs-1001", "vendor": "yealink", "model": "T54W", "mac": "00:15:65:10:01:01", "site": "ams", "user": "1001"}
PHONE_UA = "Yealink SIP-T54W 96.86.0.110"
OPTIONS_OK = {"checked": True, "results": [{"target": "sip:1001@10.31.4.7:5060", "status": "ok", "reachable": True,
                                            "code": 200, "rtt_ms": 3}]}


def ev(call=None, **parts):
    base = {"now": NOW, "target": {"by": "extension", "value": "1001", "extension": "1001", "handset": "hs-1001"},
            "handset": HS, "options": OPTIONS_OK,
            "registrations": {"checked": True, "contacts": [{"handset": "hs-1001", "user_agent": PHONE_UA}]}}
    if call is not None:
        base["test_call"] = {"checked": True, "from": "1099", "via": "127.0.0.1:5060", "ring_timeout": 8.0, "call": call}
    base.update(parts)
    return base


def call(classification, code=None, reason=None, server=None, ringing=False, error=None):
    return {"target": "1001", "classification": classification, "code": code, "reason": reason, "server": server,
            "ringing": ringing, "answered": classification == "answered", "setup_ms": 12.5, "post_dial_delay_ms": 5.0,
            "error": error}


def only(observations, level=None):
    return [(o["kind"], o["level"]) for o in observations if o["kind"].startswith("test_call") and
            (level is None or o["level"] == level)]


@pytest.mark.parametrize("outcome, expected", [
    (call("answered", 200, "OK", PHONE_UA), ("test_call_answered", "ok")),
    (call("no_answer", 487, "Request Terminated", PHONE_UA, ringing=True), ("test_call_rang", "ok")),
    (call("busy", 486, "Busy Here", PHONE_UA), ("test_call_busy", "cause")),
    (call("rejected", 603, "Decline", PHONE_UA), ("test_call_rejected", "cause")),
    (call("busy", 486, "Busy Here - Do Not Disturb", "voipops-lab-callserver"), ("test_call_rejected", "cause")),
    (call("unreachable", error="no answer from 127.0.0.1:5060 within 8s"), ("test_call_unanswered", "cause")),
    (call("auth_failed", 407, "Proxy Authentication Required", "voipops-lab-callserver"),
     ("test_call_refused_account", "info")),
])
def test_each_outcome_of_the_test_call(outcome, expected):
    out = steps.reachability(ev(outcome))
    assert only(out) == [expected]
    assert [o["kind"] for o in out][0] == "options_answered"


def test_who_refused_is_named():
    by_phone = steps.reachability(ev(call("rejected", 603, "Decline", PHONE_UA)))[-1]
    assert "rejected by the phone with 603 Decline" in by_phone["summary"] and by_phone["component"] == "hs-1001"
    by_cs = steps.reachability(ev(call("busy", 486, "Busy Here - Do Not Disturb", "voipops-lab-callserver")))[-1]
    assert "refused as busy by the callserver with 486" in by_cs["summary"] and by_cs["component"] is None
    busy = steps.reachability(ev(call("busy", 486, "Busy Here", PHONE_UA)))[-1]
    assert "the phone itself refuses calls" in busy["summary"] and busy["component"] == "hs-1001"


def test_not_placed_says_why():
    out = steps.reachability(ev(test_call={"checked": False, "reason": "no test-call account configured"}))
    assert only(out) == [("test_call_not_done", "info")] and "no test-call account" in out[-1]["summary"]


class _UasThread(object):
    """The scripted UAS on its own event loop thread (the gatherer runs its calls synchronously)."""

    def __enter__(self):
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def main():
            asyncio.set_event_loop(self.loop)
            self.uas = self.loop.run_until_complete(FakeUas.start(realm="voip.lab"))
            ready.set()
            self.loop.run_forever()
        self.thread = threading.Thread(target=main, daemon=True)
        self.thread.start()
        ready.wait(10)
        return self.uas

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self.uas.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def estate():
    return load_estate(os.path.join(ROOT, "inventories", "lab", "estate.yml"))


def test_gatherer_places_the_call_through_the_proxy_with_the_account(estate):
    with _UasThread() as uas:
        g = gather.Gatherer(estate, None, now=NOW, test_call={
            "proxy": "127.0.0.1:%d" % uas.port, "username": "1099", "password": "secret", "ring_timeout": 2.0, "hold": 0.05})
        e = ev(target={"by": "extension", "value": "auth", "extension": "auth", "handset": None})
        got = g.call(e)
    assert got["checked"] and got["call"]["classification"] == "answered" and got["call"]["authenticated"]
    invites = uas.of("INVITE")
    assert invites[-1].uri == "sip:auth@voip.lab" and invites[-1].headers.get("from").startswith("<sip:1099@voip.lab>")


def test_gatherer_skips_the_call_without_account_or_when_options_failed(estate):
    g = gather.Gatherer(estate, None, now=NOW)
    assert not g.call(ev())["checked"] and "no test-call account" in g.call(ev())["reason"]
    g = gather.Gatherer(estate, None, now=NOW, test_call={"proxy": "127.0.0.1:9", "username": "1099", "password": "x"})
    silent = {"checked": True, "results": [{"reachable": False, "status": "timeout"}]}
    assert g.call(ev(options=silent)) == {"checked": False, "reason": "the registered contact does not answer OPTIONS"}


def test_engine_lists_the_test_call_as_not_done_only_when_it_was_not_placed():
    assert engine._not_done({"test_call": {"checked": False, "reason": "no test-call account configured"}}) == [
        "test call through the callserver: no test-call account configured"]
    assert engine._not_done({"test_call": {"checked": True}}) == [] and engine._not_done({}) == []
