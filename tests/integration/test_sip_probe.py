# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SIP engine and sip_probe against the real lab: Kamailio, the sipp gateways, dead and silent ports,
digest REGISTER at Kamailio and a digest-challenged NOTIFY check-sync to the registered contact."""
from __future__ import absolute_import, division, print_function

import asyncio
import socket

import pytest

from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio import KamailioRPC
from ansible_collections.voipops.voip.plugins.module_utils.sip import (
    DigestServer, SipEndpoint, SipResponse, SipTarget, notify_many, parse_message, parse_response_lean, probe_many,
    summarize,
)
from tests.support.net import free_udp_port as _dead_udp_port

pytestmark = pytest.mark.lab


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_probe_callserver_and_gateways(lab):
    targets = [lab["callserver"]["sip_uri"]] + [gw["sip_uri"] for gw in lab["gateways"]]
    results = run(probe_many(targets, timeout=5))
    assert [r["status"] for r in results] == ["ok"] * len(targets), results
    cs = results[0]
    assert cs["code"] == 200 and cs["server"]  # Kamailio answers OPTIONS itself, with its Server header
    for gw in results[1:]:
        assert gw["server"].startswith("Mediant 1000 (simulated)/v.")  # the lab gateway says what it runs
        assert "OPTIONS" in gw["allow"] and "INVITE" in gw["allow"]
    assert summarize(results)["ok"] == len(targets)


def _raw_options_answer(target):
    """Send one OPTIONS from a plain UDP socket and return the final response's bytes as the peer sent them."""
    t = SipTarget.parse(target)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5)
        port = sock.getsockname()[1]
        sock.sendto((
            "OPTIONS %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKlean%d;rport\r\nMax-Forwards: 70\r\n"
            "From: <sip:probe@127.0.0.1>;tag=lean\r\nTo: <%s>\r\nCall-ID: lean-%d@127.0.0.1\r\nCSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n" % (t.uri, port, port, t.uri, port)).encode(), (t.host, t.port))
        while True:
            data, _addr = sock.recvfrom(65535)
            if not data.startswith(b"SIP/2.0 1"):
                return data
    finally:
        sock.close()


def test_real_answers_take_the_lean_path_and_read_as_the_strict_parser_reads_them(lab):
    """Kamailio's and the lab gateway's own bytes: the sweep's lean parser takes them (so a probe of these
    peers does not pay for the strict parse) and reads exactly what the strict parser reads."""
    for target in (lab["callserver"]["sip_uri"], lab["gateways"][0]["sip_uri"]):
        data = _raw_options_answer(target)
        lean, strict = parse_response_lean(data), parse_message(data)
        assert lean is not None, data
        assert (lean.code, lean.reason, lean.headers.items(), lean.body) == \
            (strict.code, strict.reason, strict.headers.items(), strict.body)
        assert (lean.top_via.branch, lean.top_via.params, lean.cseq) == \
            (strict.top_via.branch, strict.top_via.params, strict.cseq)
        assert lean.code == 200 and lean.headers.get("server")


def test_the_sweep_reads_the_lab_as_the_request_path_does(lab, monkeypatch):
    """Kamailio, both gateways and a dead port, each several times: the UDP sweep (no coroutine per probe) and the
    per-request path report the same but for the round-trip times, and the sweep parsed Kamailio's and the
    gateways' answers once per shape, though every answer carries its own branch, Call-ID, tags and To URI."""
    from ansible_collections.voipops.voip.plugins.module_utils import sip  # pylint: disable=import-outside-toplevel
    made = []

    class Recording(sip._UdpSweep):  # pylint: disable=protected-access
        def __init__(self, *args, **kwargs):
            super(Recording, self).__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(sip, "_UdpSweep", Recording)
    targets = ([lab["callserver"]["sip_uri"]] + [gw["sip_uri"] for gw in lab["gateways"]]) * 4
    targets.append("127.0.0.1:%d" % _dead_udp_port())
    swept = run(probe_many(targets, timeout=3))
    plain = run(probe_many(targets, timeout=3, sweep=False))
    assert len(made) == 1 and len(made[0].jobs) == len(targets)
    for res in swept + plain:
        assert res.pop("rtt_ms") is not None or res["status"] == "refused"
    assert swept == plain
    assert [r["status"] for r in swept] == ["ok"] * (len(targets) - 1) + ["refused"]
    assert made[0].stats["shape_hits"] >= len(targets) - 1 - 2 * (1 + len(lab["gateways"]))


def test_kamailio_over_tcp(lab):
    cs = lab["callserver"]
    (res,) = run(probe_many(["sip:%s:%d;transport=tcp" % (cs["host"], cs["sip_port"])], timeout=5))
    if res["status"] == "refused":
        pytest.skip("the lab's Kamailio does not listen on TCP")
    assert res["status"] == "ok" and res["transport"] == "tcp" and res["code"] == 200


def test_dead_and_silent_ports_are_refused_and_timeout(lab):
    gw_snmp = lab["gateways"][0]["snmp"]   # a UDP port where a real agent listens but never answers SIP
    targets = ["127.0.0.1:%d" % _dead_udp_port(), "%s:%d" % (gw_snmp["host"], gw_snmp["port"]),
               lab["gateways"][0]["sip_uri"]]
    results = run(probe_many(targets, timeout=2))
    assert [r["status"] for r in results] == ["refused", "timeout", "ok"]
    assert "ICMP" in results[0]["error"]
    assert results[1]["error"] == "no final response within 2s"


def test_crashed_gateway_is_refused(lab, lab_component):
    lab_component.stop("mgw1-sip")
    results = run(probe_many([gw["sip_uri"] for gw in lab["gateways"]], timeout=2))
    assert [r["status"] for r in results] == ["refused", "ok"]


def test_module_ad_hoc_against_the_lab(lab, ansible):
    targets = [lab["callserver"]["sip_uri"], lab["gateways"][1]["sip_uri"], "127.0.0.1:%d" % _dead_udp_port()]
    out = ansible.module("sip_probe", {"targets": targets, "timeout": 2})
    assert out["_rc"] == 0 and not out["failed"] and out["changed"] is False
    assert [r["status"] for r in out["results"]] == ["ok", "ok", "refused"]
    assert out["summary"]["ok"] == 2 and out["summary"]["by_status"]["refused"] == 1
    out = ansible.module("sip_probe", {"targets": targets, "timeout": 2, "fail_on_unreachable": True})
    assert out["failed"] and out["_rc"] != 0 and "1 of 3" in out["msg"]


def test_register_at_kamailio_then_digest_notify_to_the_registered_contact(lab):
    """A phone (our endpoint) registers with digest at the real Kamailio; Kamailio's location table gives its
    contact; a check-sync NOTIFY to that contact is challenged by the phone and answered with credentials."""
    sub = lab["subscribers"][0]
    cs = lab["callserver"]
    rpc = KamailioRPC(cs["rpc_url"])
    phone_auth = DigestServer("phone-%s" % sub["username"], algorithm="MD5")
    notified = []

    def phone(request, _source):
        if request.method == "NOTIFY":
            auth = request.headers.get("authorization")
            if not auth or not phone_auth.verify(auth, "NOTIFY", password="phone-admin-pw"):
                return SipResponse.for_request(request, 401, to_tag="ph",
                                               headers={"WWW-Authenticate": phone_auth.challenge()})
            notified.append(request.headers.get("event"))
            return SipResponse.for_request(request, 200, to_tag="ph")
        return SipResponse.for_request(request, 200, to_tag="ph")

    async def main():
        ep = await SipEndpoint.create("127.0.0.1", 0, handler=phone, user_agent="Yealink SIP-T54W 96.86.0.100")
        try:
            reg = await ep.register(cs["sip_uri"], sub["username"], sub["domain"], sub["password"], expires=120)
            assert reg.code == 200 and reg.authenticated, (reg.code, reg.reason)
            contacts = [c for c in rpc.registrations() if c["user_agent"] == "Yealink SIP-T54W 96.86.0.100"]
            assert len(contacts) == 1, rpc.registrations()
            contact_uri = contacts[0]["contact"]
            anon, authed = await notify_many([contact_uri], event="check-sync;reboot=false", timeout=5), \
                await notify_many([contact_uri], event="check-sync;reboot=false", timeout=5,
                                  credentials={"username": "admin", "password": "phone-admin-pw"})
            bad_reg = await ep.register(cs["sip_uri"], sub["username"], sub["domain"], "wrong-password", expires=120)
            return contact_uri, anon, authed, bad_reg
        finally:
            try:
                await ep.register(cs["sip_uri"], sub["username"], sub["domain"], sub["password"], expires=0)
            finally:
                ep.close()

    contact_uri, anon, authed, bad_reg = run(main())
    assert contact_uri.startswith("sip:%s@127.0.0.1:" % sub["username"])
    assert anon[0]["status"] == "error" and anon[0]["code"] == 401
    assert authed[0]["status"] == "ok" and authed[0]["authenticated"] and authed[0]["code"] == 200
    assert authed[0]["server"] == "Yealink SIP-T54W 96.86.0.100"
    assert notified == ["check-sync;reboot=false"]
    assert bad_reg.code in (401, 403)
    assert not [c for c in rpc.registrations() if c["user_agent"] == "Yealink SIP-T54W 96.86.0.100"]
