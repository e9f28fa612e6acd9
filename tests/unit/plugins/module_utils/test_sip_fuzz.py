# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hypothesis fuzz: whatever bytes arrive, the parsers raise SipParseError or return a message - nothing else."""

from __future__ import absolute_import, division, print_function

from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.voipops.voip.plugins.module_utils.sip_digest import DigestAuthorization, DigestChallenge
from ansible_collections.voipops.voip.plugins.module_utils.sip_message import (
    NameAddr, SipMessage, SipParseError, SipUri, StreamFramer, parse_message,
)

SEED = (b"OPTIONS sip:gw@127.0.0.1:5080;transport=udp SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKabc;rport\r\n"
        b"v: SIP/2.0/TCP [::1]:5071;branch=z9hG4bKdef\r\n"
        b'From: "Probe, the" <sip:probe@127.0.0.1>;tag=77\r\nt: <sip:gw@127.0.0.1>\r\ni: c1@h\r\n'
        b"CSeq: 1 OPTIONS\r\nAllow: INVITE, ACK\r\nWWW-Authenticate: Digest realm=\"r\", nonce=\"n\"\r\n"
        b"l: 4\r\n\r\nbody")
RESPONSE_SEED = SEED.replace(b"OPTIONS sip:gw@127.0.0.1:5080;transport=udp SIP/2.0", b"SIP/2.0 200 OK")

ALPHABET = list(b" \t\r\n:;,<>\"\\/=@[]0123456789SIPsipvVtTlL-.") + [0, 0xff, 0xc3]


@st.composite
def mutated(draw):
    data = bytearray(draw(st.sampled_from([SEED, RESPONSE_SEED])))
    for _mutation in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[pos] = draw(st.sampled_from(ALPHABET))
        elif op == "insert":
            data[pos:pos] = bytes(draw(st.lists(st.sampled_from(ALPHABET), min_size=1, max_size=4)))
        elif op == "delete" and data:
            del data[pos:pos + draw(st.integers(1, 6))]
        elif op == "truncate":
            del data[pos:]
    return bytes(data)


def _parse_all(data):
    try:
        msg = parse_message(data)
    except SipParseError:
        return None
    assert isinstance(msg, SipMessage)
    # a message that parsed serialises and parses again to the same start line and headers
    again = parse_message(msg.to_bytes())
    assert type(again) is type(msg)

    def without_length(m):
        return [h for h in m.headers.items() if h[0] != "Content-Length"]
    assert without_length(again) == without_length(msg)
    assert again.body == msg.body
    for accessor in ("top_via", "cseq", "from_addr", "to_addr"):
        getattr(msg, accessor)
    for value in msg.headers.get_all("www-authenticate"):
        try:
            DigestChallenge.parse(value)
        except SipParseError:
            pass
    return msg


FUZZ = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(mutated())
def test_mutated_messages_raise_only_the_typed_error(data):
    _parse_all(data)
    try:
        StreamFramer().feed(data)
    except SipParseError:
        pass


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_raise_only_the_typed_error(data):
    _parse_all(data)
    _parse_all(b"SIP/2.0 200 OK\r\n" + data)


@settings(max_examples=800, deadline=None)
@given(st.text(max_size=120))
def test_uri_name_addr_and_digest_parsers_raise_only_the_typed_error(text):
    for parser in (SipUri.parse, NameAddr.parse, DigestChallenge.parse, DigestAuthorization.parse):
        for value in (text, "sip:" + text, "Digest " + text):
            try:
                parser(value)
            except SipParseError:
                pass
