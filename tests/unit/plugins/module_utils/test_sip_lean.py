# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lean response path (``parse_response_lean``) against the strict parser (``parse_message``).

The lean path may decline (``None``: the strict parser then decides), but whenever it answers, the answer must be
the strict parser's: same code, reason, header items, body, top Via, CSeq, From/To.  Checked on a corpus shaped
like what real servers, gateways and phones send, on inputs the lean path must leave to the strict parser, and
with hypothesis on mutations of the corpus.  The engine test runs the same sweep through both paths.
"""

from __future__ import absolute_import, division, print_function

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.voipops.voip.plugins.module_utils import sip
from ansible_collections.voipops.voip.plugins.module_utils.sip_message import (
    SipParseError, SipResponse, parse_message, parse_response_lean,
)


def _msg(*lines, **kw):
    body = kw.get("body", b"")
    head = "\r\n".join(lines).encode(kw.get("encoding", "ascii"))
    return head + b"\r\n\r\n" + body


# shapes real peers send (taken from the vendors' traces in their docs and from the lab: Kamailio sl_send_reply,
# Asterisk res_pjsip, a Cisco IOS gateway, a Yealink phone, a Polycom phone) - the lean path must take all of them
KAMAILIO_200 = _msg(
    "SIP/2.0 200 OK",
    "Via: SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bKa1b2c3;rport=5070;received=10.0.0.5",
    "From: <sip:probe@10.0.0.5>;tag=77f1",
    "To: <sip:10.0.0.1:5060>;tag=8a0c4e1b5f0e3d6e2c9f7a1b3d5e7f90-1d2e",
    "Call-ID: 3f2a9c1e-4b5d",
    "CSeq: 1 OPTIONS",
    "Accept: */*",
    "Accept-Encoding: ",
    "Accept-Language: en",
    "Supported: ",
    "Server: kamailio (5.6.3 (x86_64/linux))",
    "Content-Length: 0")
ASTERISK_200 = _msg(
    "SIP/2.0 200 OK",
    "Via: SIP/2.0/UDP 192.0.2.10:5060;rport=5060;received=192.0.2.10;branch=z9hG4bKPj0f1e2d",
    "Call-ID: 5c9b7e1a-0d2f-4c11-9e0e-1b7f6a2c3d4e",
    'From: "probe" <sip:probe@192.0.2.10>;tag=abc',
    "To: <sip:192.0.2.20>;tag=z9hG4bKPj0f1e2d",
    "CSeq: 102 OPTIONS",
    "Accept: application/sdp, application/simple-message-summary, application/pidf+xml",
    "Allow: OPTIONS, REGISTER, SUBSCRIBE, NOTIFY, PUBLISH, INVITE, ACK, BYE, CANCEL, UPDATE, PRACK, MESSAGE, REFER",
    "Supported: 100rel, timer, replaces, norefersub",
    "Accept-Encoding: text/plain",
    "Accept-Language: en",
    "Server: Asterisk PBX 18.10.0",
    "Content-Length:  0")
SDP = b"v=0\r\no=- 1 1 IN IP4 10.9.9.9\r\ns=-\r\n"
CISCO_200 = _msg(
    "SIP/2.0 200 OK",
    "Via: SIP/2.0/UDP 10.1.1.1:5060;branch=z9hG4bK1,SIP/2.0/UDP 10.2.2.2:5060;branch=z9hG4bK2",
    "Via: SIP/2.0/UDP 10.3.3.3;branch=z9hG4bK3",
    "From: <sip:ping@10.1.1.1>;tag=1",
    "To: <sip:10.9.9.9>;tag=2",
    "Date: Mon, 07 Dec 2026 18:00:00 GMT",
    "Call-ID: abc@10.1.1.1",
    "Server: Cisco-SIPGateway/IOS-15.x",
    "CSeq: 101 OPTIONS",
    "Allow: INVITE, OPTIONS, BYE, CANCEL, ACK, PRACK, UPDATE, REFER, SUBSCRIBE, NOTIFY, INFO, REGISTER",
    "Allow-Events: telephone-event",
    "Accept: application/sdp",
    "Supported: timer,resource-priority,replaces,sdp-anat",
    "Content-Type: application/sdp",
    "Content-Length: %d" % len(SDP), body=SDP)
YEALINK_COMPACT = _msg(
    "SIP/2.0 200 OK",
    "v: SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bKy1;rport=5070",
    "f: <sip:probe@10.0.0.5>;tag=t1",
    "t: <sip:1001@10.0.0.7:5062>;tag=1234567",
    "i: c1@10.0.0.5",
    "CSeq: 1 OPTIONS",
    "Contact: <sip:1001@10.0.0.7:5062>",
    "User-Agent: Yealink SIP-T54W 96.86.0.100",
    "Allow: INVITE, INFO, PRACK, ACK, BYE, CANCEL, OPTIONS, NOTIFY, REGISTER, SUBSCRIBE, REFER, PUBLISH, UPDATE,"
    " MESSAGE",
    "k: replaces, timer",
    "l: 0")
ODD_CASE = _msg(
    "SIP/2.0 200 OK",
    "VIA : SIP/2.0/UDP 10.0.0.5:5070;BRANCH=z9hG4bKodd;Rport",
    "from: Probe <sip:probe@10.0.0.5>;TAG=x",
    "tO: sip:gw@10.0.0.9;tag=y",
    "call-id: odd@case",
    "cSeQ: 7 OPTIONS",
    "SERVER: polycom-ish",
    "content-length: 0")
TRYING_100 = _msg(
    "SIP/2.0 100 Trying",
    "Via: SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bKt;rport=5070",
    "From: <sip:probe@10.0.0.5>;tag=77",
    "To: <sip:10.0.0.1>",
    "Call-ID: trying@10.0.0.5",
    "CSeq: 1 OPTIONS",
    "Content-Length: 0")
CHALLENGE_401 = _msg(
    "SIP/2.0 401 Unauthorized",
    "Via: SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bKc;rport=5070",
    'From: "Probe, the" <sip:probe@10.0.0.5>;tag=77',
    "To: <sip:1001@10.0.0.7>;tag=ph",
    "Call-ID: chal@10.0.0.5",
    "CSeq: 1 NOTIFY",
    'WWW-Authenticate: Digest realm="phone", nonce="a1b2c3", algorithm=MD5, qop="auth"',
    "Content-Length: 0")
IPV6_200 = _msg(
    "SIP/2.0 200 OK",
    "Via: SIP/2.0/UDP [2001:db8::5]:5070;branch=z9hG4bK6;rport",
    "From: <sip:probe@[2001:db8::5]>;tag=6",
    "To: <sip:[2001:db8::1]>;tag=7",
    "Call-ID: v6@host",
    "CSeq: 1 OPTIONS",
    "Content-Length: 0")
NO_REASON_NO_LENGTH = _msg(
    "SIP/2.0 486",
    "Via: SIP/2.0/TCP gw.example.net;branch=z9hG4bKn",
    "From: <sip:probe@h>;tag=1",
    "To: <sip:gw@h>",
    "Call-ID: n@h",
    "CSeq: 3 OPTIONS", body=b"trailing bytes")
# the engine's own UAS answer (the lab's phone simulator answers with it)
OWN_200 = sip.SipResponse.for_request(parse_message(_msg(
    "OPTIONS sip:127.0.0.1:5080 SIP/2.0",
    "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKown;rport",
    "From: <sip:probe@127.0.0.1>;tag=1",
    "To: <sip:127.0.0.1:5080>",
    "Call-ID: own@127.0.0.1",
    "CSeq: 1 OPTIONS")), 200, to_tag="gw", headers=[("Server", "voipops-lab"), ("Allow", "OPTIONS, NOTIFY")]).to_bytes()

LEAN = {
    "kamailio": KAMAILIO_200, "asterisk": ASTERISK_200, "cisco multiple Via, body": CISCO_200,
    "yealink compact forms": YEALINK_COMPACT, "odd case, name-addr without <>": ODD_CASE, "100 Trying": TRYING_100,
    "401 challenge, quoted display with comma": CHALLENGE_401, "IPv6": IPV6_200,
    "no reason, no Content-Length": NO_REASON_NO_LENGTH, "engine's own 200": OWN_200,
}

# valid for the strict parser, but not the plain shape: the lean path declines and the strict parser decides
STRICT_ONLY = {
    "folded header": KAMAILIO_200.replace(b"Server: kamailio", b"Server:\r\n kamailio"),
    "folded Via": KAMAILIO_200.replace(b";branch=z9hG4bKa1b2c3;", b";branch=z9hG4bKa1b2c3\r\n\t;"),
    "bare LF line ends": KAMAILIO_200.replace(b"\r\n", b"\n"),
    "UTF-8 Server": _msg("SIP/2.0 200 OK", "Via: SIP/2.0/UDP h;branch=z9hG4bKu", "From: <sip:a@h>;tag=1",
                         "To: <sip:b@h>", "Call-ID: u@h", "CSeq: 1 OPTIONS", "Server: Téléphone",
                         encoding="utf-8"),
    "quoted Via parameter": KAMAILIO_200.replace(b";rport=5070;", b';x="a b";'),
    "LWS inside Via": KAMAILIO_200.replace(b"SIP/2.0/UDP 10.0.0.5:5070", b"SIP / 2.0 / UDP 10.0.0.5 : 5070"),
    "leading CRLF": b"\r\n" + KAMAILIO_200,
    "escaped display name": CHALLENGE_401.replace(b'"Probe, the"', b'"Probe \\"the\\""'),
}

# malformed: the strict parser rejects them, the lean path must not accept them
MALFORMED = {
    "empty": b"",
    "binary": b"\x00\xff\xfe garbage",
    "status line only": b"SIP/2.0 200 OK\r\n\r\n",
    "code out of range": KAMAILIO_200.replace(b"SIP/2.0 200 OK", b"SIP/2.0 999 Nope"),
    "four-digit code": KAMAILIO_200.replace(b"SIP/2.0 200 OK", b"SIP/2.0 2000 OK"),
    "no Call-ID": KAMAILIO_200.replace(b"Call-ID: 3f2a9c1e-4b5d\r\n", b""),
    "no Via": KAMAILIO_200.replace(
        b"Via: SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bKa1b2c3;rport=5070;received=10.0.0.5\r\n", b""),
    "bad CSeq": KAMAILIO_200.replace(b"CSeq: 1 OPTIONS", b"CSeq: one OPTIONS"),
    "CSeq out of range": KAMAILIO_200.replace(b"CSeq: 1 OPTIONS", b"CSeq: 99999999999 OPTIONS"),
    "bad Via": KAMAILIO_200.replace(b"SIP/2.0/UDP 10.0.0.5:5070", b"SIP/3.0/UDP 10.0.0.5:5070"),
    "Via port out of range": KAMAILIO_200.replace(b"10.0.0.5:5070;", b"10.0.0.5:99999;"),
    "bad From": KAMAILIO_200.replace(b"From: <sip:probe@10.0.0.5>", b"From: <sip:probe@10.0.0.5"),
    "To without URI": KAMAILIO_200.replace(b"To: <sip:10.0.0.1:5060>", b"To: nobody"),
    "Content-Length beyond body": KAMAILIO_200.replace(b"Content-Length: 0", b"Content-Length: 20"),
    "conflicting Content-Length": CISCO_200.replace(b"Content-Type:", b"Content-Length: 3\r\nContent-Type:"),
    "bad header name": KAMAILIO_200.replace(b"Accept: */*", b"Acc ept: */*"),
    "stray CR": KAMAILIO_200.replace(b"Accept: */*", b"Accept: *\r/*"),
    "no blank line": KAMAILIO_200[:-4],
    "a request": _msg("OPTIONS sip:h SIP/2.0", "Via: SIP/2.0/UDP h;branch=z9hG4bKr", "From: <sip:a@h>;tag=1",
                      "To: <sip:b@h>", "Call-ID: r@h", "CSeq: 1 OPTIONS"),
}


def _strict(data):
    try:
        return parse_message(data)
    except SipParseError:
        return None


def assert_same(lean, strict):
    assert isinstance(lean, SipResponse) and isinstance(strict, SipResponse)
    assert (lean.code, lean.reason, lean.headers._items, lean.body) == \
        (strict.code, strict.reason, strict.headers._items, strict.body)
    lv, sv = lean.top_via, strict.top_via
    assert (lv.transport, lv.host, lv.port, lv.params) == (sv.transport, sv.host, sv.port, sv.params)
    assert lean.cseq == strict.cseq and lean.call_id == strict.call_id
    assert str(lean.from_addr) == str(strict.from_addr) and str(lean.to_addr) == str(strict.to_addr)
    assert (lean.rtt_ms, lean.authenticated) == (None, False)


@pytest.mark.parametrize("name", sorted(LEAN))
def test_lean_path_takes_the_common_shapes_and_agrees_with_the_strict_parser(name):
    data = LEAN[name]
    lean = parse_response_lean(data)
    assert lean is not None, "lean path declined %s" % name
    assert_same(lean, parse_message(data))


def test_lean_path_reads_what_a_probe_result_keeps():
    resp = parse_response_lean(YEALINK_COMPACT)
    assert (resp.code, resp.reason, resp.top_via.branch, resp.cseq) == (200, "OK", "z9hG4bKy1", (1, "OPTIONS"))
    assert resp.headers.get("user-agent") == "Yealink SIP-T54W 96.86.0.100"
    assert resp.headers.get_list("supported") == ["replaces", "timer"]
    odd = parse_response_lean(ODD_CASE)
    assert (odd.top_via.branch, "rport" in odd.top_via.params, odd.headers.get("server")) == \
        ("z9hG4bKodd", True, "polycom-ish")
    cisco = parse_response_lean(CISCO_200)
    assert (cisco.top_via.host, cisco.top_via.branch, cisco.body) == ("10.1.1.1", "z9hG4bK1", SDP)
    assert parse_response_lean(TRYING_100).code == 100
    assert parse_response_lean(NO_REASON_NO_LENGTH).reason == ""


@pytest.mark.parametrize("name", sorted(STRICT_ONLY))
def test_lean_path_leaves_unusual_shapes_to_the_strict_parser(name):
    data = STRICT_ONLY[name]
    assert parse_response_lean(data) is None
    assert isinstance(parse_message(data), SipResponse)  # still a valid response, parsed the strict way


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_lean_path_never_accepts_what_the_strict_parser_rejects(name):
    data = MALFORMED[name]
    assert parse_response_lean(data) is None
    if name != "a request":
        with pytest.raises(SipParseError):
            parse_message(data)


ALPHABET = list(b" \t\r\n:;,<>\"\\/=@[]0123456789SIPsipvVtTlLbr-.") + [0, 0xff, 0xc3]
CORPUS = list(LEAN.values()) + list(STRICT_ONLY.values())


@st.composite
def mutated(draw):
    data = bytearray(draw(st.sampled_from(CORPUS)))
    for _mutation in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "splice"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[pos] = draw(st.sampled_from(ALPHABET))
        elif op == "insert":
            data[pos:pos] = bytes(draw(st.lists(st.sampled_from(ALPHABET), min_size=1, max_size=4)))
        elif op == "delete" and data:
            del data[pos:pos + draw(st.integers(1, 6))]
        elif op == "truncate":
            del data[pos:]
        elif op == "splice":  # a line of another message
            other = draw(st.sampled_from(CORPUS)).split(b"\r\n")
            data[pos:pos] = other[draw(st.integers(0, len(other) - 1))] + b"\r\n"
    return bytes(data)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_lean_path_is_the_strict_parser_or_declines(data):
    lean = parse_response_lean(data)  # never raises
    if lean is not None:
        strict = _strict(data)
        assert strict is not None, "lean accepted what the strict parser rejects: %r" % data
        assert_same(lean, strict)


def _run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_a_sweep_reports_the_same_through_the_lean_and_the_strict_path(monkeypatch):
    """Same targets (answering, unexpected code, challenge, dead), once as shipped and once with the lean path
    switched off: every result field but the round-trip time is the same, and the lean path really ran."""
    calls = {"lean": 0}
    real_lean = sip.parse_response_lean

    def counting(data):
        resp = real_lean(data)
        calls["lean"] += resp is not None
        return resp

    def handler(request, _source):
        if request.uri.startswith("sip:busy@"):
            return sip.SipResponse.for_request(request, 486, to_tag="b", headers=[("User-Agent", "Snom D785 10.1")])
        if request.uri.startswith("sip:auth@"):
            return sip.SipResponse.for_request(request, 401, to_tag="a", headers=[
                ("WWW-Authenticate", sip.DigestServer("gw").challenge())])
        return sip.SipResponse.for_request(request, 200, to_tag="g", headers=[
            ("Server", "AudioCodes-Sip-Gateway-Mediant 1000"), ("Allow", "INVITE, ACK, BYE"), ("Allow", "OPTIONS"),
            ("k", "replaces, timer")])

    async def both():
        gw = await sip.SipEndpoint.create("127.0.0.1", 0, handler=handler)
        dead = await sip.SipEndpoint.create("127.0.0.1", 0)
        dead_port = dead.local_addr[1]
        dead.close()
        port = gw.local_addr[1]
        targets = ["127.0.0.1:%d" % port, "sip:busy@127.0.0.1:%d" % port, "sip:auth@127.0.0.1:%d" % port,
                   "127.0.0.1:%d" % dead_port]
        try:
            monkeypatch.setattr(sip, "parse_response_lean", counting)
            lean = await sip.probe_many(targets, timeout=3, bind_host="127.0.0.1")
            monkeypatch.setattr(sip, "parse_response_lean", lambda data: None)
            strict = await sip.probe_many(targets, timeout=3, bind_host="127.0.0.1")
            return lean, strict
        finally:
            gw.close()

    lean_results, strict_results = _run(both())
    assert calls["lean"] == 3
    for res in lean_results + strict_results:
        res.pop("rtt_ms")
    assert lean_results == strict_results
    assert [r["status"] for r in lean_results] == ["ok", "error", "error", "refused"]
    assert lean_results[0]["server"] == "AudioCodes-Sip-Gateway-Mediant 1000"
    assert lean_results[0]["allow"] == ["INVITE", "ACK", "BYE", "OPTIONS"]
    assert lean_results[0]["supported"] == ["replaces", "timer"]
    assert (lean_results[1]["code"], lean_results[1]["user_agent"]) == (486, "Snom D785 10.1")
    assert lean_results[2]["code"] == 401
