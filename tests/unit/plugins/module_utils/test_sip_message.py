# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SIP message parser/serialiser: vectors modelled on RFC 4475 (SIP torture tests), round trips, rejects."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.voipops.voip.plugins.module_utils.sip_message import (
    Headers, NameAddr, SipParseError, SipRequest, SipResponse, SipUri, StreamFramer, Via, host_port, parse_message,
    split_header_list,
)

SDP = (b"v=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.3\r\ns=-\r\nc=IN IP4 192.0.2.4\r\nt=0 0\r\n"
       b"m=audio 49217 RTP/AVP 0 12\r\nm=video 3227 RTP/AVP 31\r\na=rtpmap:31 LPC\r\n")


def _msg(head, body=b""):
    """Join header lines with CRLF, add the blank line and body (Content-Length is the caller's)."""
    return ("\r\n".join(head) + "\r\n\r\n").encode("utf-8") + body


# RFC 4475 3.1.1.1 "wsinv": short tortuous INVITE (folding, odd case, LWS around colons/slashes, compact forms)
WSINV_HEAD = [
    "INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0",
    "TO :",
    " sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n",
    'from   : "J Rosenberg \\\\\\""       <sip:jdrosen@example.com>',
    "  ;",
    "  tag = 98asjd8",
    "MaX-fOrWaRdS: 0068",
    "Call-ID: wsinv.ndaksdj@192.0.2.1",
    "Content-Length   : %d" % len(SDP),
    "cseq: 0009",
    "  INVITE",
    "Via  : SIP  /   2.0",
    " /UDP",
    "    192.0.2.2;branch=390skdjuw",
    "s :",
    "NewFangledHeader:   newfangled value",
    " continued newfangled value",
    "UnknownHeaderWithUnusualValue: ;;,,;;,;",
    "Content-Type: application/sdp",
    "Route:",
    " <sip:services.example.com;lr;unknownwith=value;unknown-no-value>",
    "v:  SIP  / 2.0  / TCP     spindle.example.com   ;",
    "  branch  =   z9hG4bK9ikj8  ,",
    " SIP  /    2.0   / UDP  192.168.255.111   ; branch=",
    " z9hG4bK30239",
    'm:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =',
    "      newvalue ;",
    "  secondparam ; q = 0.33",
]


def test_wsinv_torture_invite_is_understood():
    msg = parse_message(_msg(WSINV_HEAD, SDP))
    assert isinstance(msg, SipRequest)
    assert msg.method == "INVITE"
    assert msg.ruri.params == {"unknownparam": None}
    assert msg.to_tag == "1918181833n"
    assert msg.from_tag == "98asjd8"
    assert msg.from_addr.display == 'J Rosenberg \\"'
    assert msg.headers.get("max-forwards") == "0068"
    assert msg.cseq == (9, "INVITE")
    assert msg.top_via.transport == "UDP"
    assert msg.top_via.host == "192.0.2.2"
    assert msg.branch == "390skdjuw"
    vias = msg.vias
    assert [(v.transport, v.host, v.branch) for v in vias] == [
        ("UDP", "192.0.2.2", "390skdjuw"), ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239")]
    assert msg.headers.get("subject") == ""
    assert msg.headers.get("NEWFANGLEDHEADER") == "newfangled value continued newfangled value"
    contact = NameAddr.parse(msg.headers.get("contact"))
    assert contact.display == 'Quoted string ""'
    assert contact.params == {"newparam": "newvalue", "secondparam": None, "q": "0.33"}
    assert msg.body == SDP


def test_intmeth_unusual_method_and_unknown_scheme():
    # RFC 4475 3.1.1.3 (method made of all token characters) and 3.1.1.12 (unknown Request-URI scheme)
    method = "!interesting-Method0123456789_*+`.%indeed'~"
    raw = _msg([
        "%s nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0" % method,
        "Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~",
        "To: \"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f\" <sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com>",
        "From: <sip:mundane@example.com>;tag=da39a3ee5e6b4b0d3255bfef95601890afd80709",
        "Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{",
        "CSeq: 139122385 %s" % method,
        "Max-Forwards: 255",
        "extensionHeader-!.%*+_`'~: \xef\xbb\xbf\xe5\xa4\xa7\xe5\x81\x9c\xe9\x9b\xbb",
        "Content-Length: 0",
    ])
    msg = parse_message(raw)
    assert msg.method == method
    assert msg.uri == "nobodyKnowsThisScheme:totallyopaquecontent"
    assert msg.cseq == (139122385, method)
    assert msg.branch == "z9hG4bK-.!%66*_+`'~"
    with pytest.raises(SipParseError):
        msg.ruri  # pylint: disable=pointless-statement


def test_noreason_and_utf8_reason_responses():
    base = ["Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe", "Call-ID: noreason.asndj203insdf99223ndf",
            "CSeq: 35 INVITE", "From: <sip:user@example.com>;tag=39ansfi3", "To: <sip:user@example.edu>;tag=902jndnke3",
            "Content-Length: 0"]
    msg = parse_message(_msg(["SIP/2.0 100 "] + base))
    assert (msg.code, msg.reason) == (100, "")
    msg = parse_message(_msg(["SIP/2.0 200 \u6c38\u7d9a\u3059\u308b\u3082\u306e"] + base))
    assert msg.code == 200 and msg.reason == "\u6c38\u7d9a\u3059\u308b\u3082\u306e"


def test_lf_only_line_endings_and_leading_crlf_are_tolerated():
    raw = (b"\r\n\r\nOPTIONS sip:h SIP/2.0\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKa\nFrom: <sip:a@h>;tag=1\n"
           b"To: <sip:h>\nCall-ID: x\nCSeq: 1 OPTIONS\n\n")
    msg = parse_message(raw)
    assert msg.method == "OPTIONS" and msg.call_id == "x"


VALID_HEAD = [
    "OPTIONS sip:gw1.example.net:5060 SIP/2.0",
    "Via: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKabc;rport",
    "From: <sip:probe@192.0.2.1>;tag=77",
    "To: <sip:gw1.example.net:5060>",
    "Call-ID: c1@192.0.2.1",
    "CSeq: 1 OPTIONS",
    "Max-Forwards: 70",
    "Content-Length: 0",
]


def _replace(head, prefix, line):
    out = [line if h.startswith(prefix) else h for h in head]
    if line is None:
        out = [h for h in out if h is not None]
    return out


@pytest.mark.parametrize("raw, why", [
    (b"", "empty"),
    (b"\r\n\r\n", "only CRLF"),
    (_msg(VALID_HEAD)[:-4], "no blank line"),
    (_msg(_replace(VALID_HEAD, "Content-Length", "Content-Length: 150")), "clerr: Content-Length larger than body"),
    (_msg(_replace(VALID_HEAD, "Content-Length", "Content-Length: -999")), "ncl: negative Content-Length"),
    (_msg(_replace(VALID_HEAD, "CSeq", "CSeq: 36893488147419103232 OPTIONS")), "scalar02: CSeq too large"),
    (_msg(_replace(VALID_HEAD, "CSeq", "CSeq: 1 INVITE")), "mismatch01: CSeq method differs"),
    (_msg(_replace(VALID_HEAD, "OPTIONS sip", "OPTIONS sip:gw1.example.net:5060 SIP/7.0")), "badvers"),
    (_msg(_replace(VALID_HEAD, "OPTIONS sip", "OPTIONS <sip:gw1.example.net> SIP/2.0")), "ltgtruri"),
    (_msg(_replace(VALID_HEAD, "OPTIONS sip", "OPTIONS sip:gw1.example.net; lr SIP/2.0")), "lwsruri"),
    (_msg(_replace(VALID_HEAD, "OPTIONS sip", "OPTIONS  sip:gw1.example.net  SIP/2.0")), "lwsstart"),
    (_msg(_replace(VALID_HEAD, "OPTIONS sip", "OPTIONS sip:gw1.example.net SIP/2.0 ")), "trws"),
    (_msg(_replace(VALID_HEAD, "To:", 'To: "Mr. J. User <sip:j.user@example.com>')), "quotbal"),
    (_msg(_replace(VALID_HEAD, "Call-ID", None)), "insuf: no Call-ID"),
    (_msg(_replace(VALID_HEAD, "Via", None)), "no Via"),
    (_msg(_replace(VALID_HEAD, "Via", "Via: SIP/2.0/UDP ;branch=x")), "Via without host"),
    (_msg(_replace(VALID_HEAD, "Via", "Via: SIP/2.0/UDP host:99999;branch=x")), "Via port out of range"),
    (_msg(["SIP/2.0 4294967301 better not break the receiver"] + VALID_HEAD[1:]), "bigcode"),
    (_msg(["SIP/2.0 099 Too small"] + VALID_HEAD[1:]), "status code < 100"),
    (_msg(VALID_HEAD + ["Content-Length: 5"]), "conflicting Content-Length"),
    (_msg([VALID_HEAD[0], " folded-first-line: x"] + VALID_HEAD[1:]), "continuation before any header"),
    (_msg(VALID_HEAD[:3] + ["no colon here"] + VALID_HEAD[3:]), "header without colon"),
    (b"OPTIONS sip:h SIP/2.0\rVia: SIP/2.0/UDP h;branch=1\r\n\r\n", "bare CR"),
])
def test_malformed_messages_raise_the_typed_error(raw, why):
    with pytest.raises(SipParseError):
        parse_message(raw)


def test_parse_error_is_a_value_error_and_non_bytes_are_rejected():
    assert issubclass(SipParseError, ValueError)
    with pytest.raises(SipParseError):
        parse_message("OPTIONS sip:h SIP/2.0\r\n\r\n")


def test_datagram_body_is_cut_to_content_length():
    raw = _msg(_replace(VALID_HEAD, "Content-Length", "Content-Length: 4"), b"abcdEXTRA")
    assert parse_message(raw).body == b"abcd"
    with pytest.raises(SipParseError):
        parse_message(raw, stream=True)


def test_repeated_and_multivalued_headers_case_insensitive():
    head = VALID_HEAD[:-1] + ["Allow: INVITE, ACK,CANCEL", "ALLOW: OPTIONS", "k: timer, 100rel",
                              "Supported: path", 'Contact: "Doe, John" <sip:j@h>;q=1, <sip:k@h>', "Content-Length: 0"]
    msg = parse_message(_msg(head))
    assert msg.headers.get_list("allow") == ["INVITE", "ACK", "CANCEL", "OPTIONS"]
    assert msg.headers.get_all("Allow") == ["INVITE, ACK,CANCEL", "OPTIONS"]
    assert msg.headers.get_list("supported") == ["timer", "100rel", "path"]
    assert msg.headers.get_list("m") == ['"Doe, John" <sip:j@h>;q=1', "<sip:k@h>"]
    assert msg.headers.get("CALL-id") == msg.headers.get("i") == "c1@192.0.2.1"
    assert "l" in msg.headers and "x-nothing" not in msg.headers


@pytest.mark.parametrize("compact, full", [
    ("i", "Call-ID"), ("m", "Contact"), ("f", "From"), ("t", "To"), ("v", "Via"), ("l", "Content-Length"),
    ("c", "Content-Type"), ("k", "Supported"), ("s", "Subject"), ("o", "Event"), ("u", "Allow-Events"),
])
def test_compact_forms_are_serialised_long(compact, full):
    h = Headers()
    h.add(compact, "x")
    assert h.items() == [(full, "x")]
    assert h.get(full.upper()) == "x"


def test_request_round_trip_keeps_everything():
    req = SipRequest("NOTIFY", "sip:1001@127.0.0.1:5070", [
        ("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1;rport"), ("Via", "SIP/2.0/TCP 10.0.0.1;branch=z9hG4bK0"),
        ("From", "<sip:prov@voip.lab>;tag=9"), ("To", "<sip:1001@voip.lab>"), ("Call-ID", "n1"),
        ("CSeq", "3 NOTIFY"), ("Event", "check-sync;reboot=false"), ("Subscription-State", "terminated"),
        ("Content-Type", "text/plain")], body="hello\r\nworld")
    raw = req.to_bytes()
    assert b"Content-Length: 12\r\n" in raw
    back = parse_message(raw)
    assert back.method == "NOTIFY" and back.uri == req.uri
    assert back.headers.items()[:-1] == req.headers.items()
    assert back.body == b"hello\r\nworld"
    assert back.to_bytes() == raw
    framed = parse_message(raw, stream=True)
    assert framed.body == b"hello\r\nworld"


def test_response_for_request_copies_dialog_headers_and_adds_to_tag():
    req = parse_message(_msg(VALID_HEAD))
    resp = SipResponse.for_request(req, 200, to_tag="abc", headers={"Server": "gw/1.0", "Allow": "OPTIONS"})
    back = parse_message(resp.to_bytes())
    assert (back.code, back.reason) == (200, "OK")
    assert back.branch == "z9hG4bKabc" and back.call_id == req.call_id and back.cseq == (1, "OPTIONS")
    assert back.to_tag == "abc" and back.from_tag == "77"
    assert back.headers.get("server") == "gw/1.0"


def test_stream_framer_splits_coalesced_and_partial_messages():
    one = SipRequest("OPTIONS", "sip:h", [("Via", "SIP/2.0/TCP h;branch=z9hG4bK1"), ("From", "<sip:a@h>;tag=1"),
                                          ("To", "<sip:h>"), ("Call-ID", "a"), ("CSeq", "1 OPTIONS")],
                     body=b"xyz").to_bytes()
    two = one.replace(b"Call-ID: a", b"Call-ID: b")
    stream = b"\r\n\r\n" + one + b"\r\n" + two
    framer = StreamFramer()
    got = []
    for i in range(0, len(stream), 7):
        got.extend(framer.feed(stream[i:i + 7]))
    assert [m.call_id for m in got] == ["a", "b"]
    assert all(m.body == b"xyz" for m in got)
    assert framer.pending == 0
    with pytest.raises(SipParseError):
        StreamFramer().feed(one.replace(b"Content-Length: 3\r\n", b""))


@pytest.mark.parametrize("text, scheme, user, host, port, transport", [
    ("sip:127.0.0.1:5080", "sip", None, "127.0.0.1", 5080, "udp"),
    ("sips:gw.example.net", "sips", None, "gw.example.net", None, "tls"),
    ("sip:1001@voip.lab;transport=TCP", "sip", "1001", "voip.lab", None, "tcp"),
    ("sip:alice:secret@[2001:db8::1]:5062;lr", "sip", "alice", "2001:db8::1", 5062, "udp"),
    ("<sip:%61lice@example.com>", "sip", "%61lice", "example.com", None, "udp"),
])
def test_sip_uri_parse_and_format(text, scheme, user, host, port, transport):
    uri = SipUri.parse(text)
    assert (uri.scheme, uri.user, uri.host, uri.port, uri.transport) == (scheme, user, host, port, transport)
    assert SipUri.parse(str(uri)) == uri


@pytest.mark.parametrize("text", ["http://x", "sip:", "sip:@host", "sip:host:0", "sip:host:70000", "sip:ho st",
                                  "sip:[::1", "tel:+123"])
def test_bad_sip_uris(text):
    with pytest.raises(SipParseError):
        SipUri.parse(text)


def test_via_and_split_helpers():
    via = Via.parse("SIP/2.0/UDP [2001:db8::9]:5070;branch=z9hG4bKx;rport;received=192.0.2.1")
    assert (via.host, via.port, via.branch, via.params["rport"]) == ("2001:db8::9", 5070, "z9hG4bKx", None)
    assert str(via) == "SIP/2.0/UDP [2001:db8::9]:5070;branch=z9hG4bKx;rport;received=192.0.2.1"
    assert split_header_list('a, "b,c" <sip:x>, <sip:y,z>') == ['a', '"b,c" <sip:x>', '<sip:y,z>']
    with pytest.raises(SipParseError):
        split_header_list('"unterminated, x')


def test_headers_set_remove_and_prepend():
    h = Headers([("Via", "a"), ("To", "t"), ("v", "b")])
    h.set("via", "c")
    assert h.items() == [("Via", "c"), ("To", "t")]
    h.prepend("Via", "z")
    assert h.get_all("VIA") == ["z", "c"]
    h.remove("v")
    assert h.items() == [("To", "t")] and len(h) == 1


def test_host_port_of_what_registrations_and_dispatchers_print():
    """The lenient (host, port) the audit and the registrations inventory read addresses with."""
    assert host_port("sip:1001@10.31.5.21:5062;ob") == ("10.31.5.21", 5062)
    assert host_port("sip:192.0.2.7:40123") == ("192.0.2.7", 40123)
    assert host_port("10.0.0.9") == ("10.0.0.9", 5060) and host_port("sips:a@h", 5061) == ("h", 5061)
    assert host_port("sip:[2001:db8::1]:5080") == ("2001:db8::1", 5080)
    assert host_port("") == (None, None) and host_port(None) == (None, None)
