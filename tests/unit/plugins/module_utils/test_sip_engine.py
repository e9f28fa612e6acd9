# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The asyncio SIP endpoint over real loopback sockets: transactions, failures, digest, TCP/TLS, UAS side."""

from __future__ import absolute_import, division, print_function

import asyncio
import datetime
import ipaddress
import socket
import ssl

import pytest

from ansible_collections.voipops.voip.plugins.module_utils import sip
from ansible_collections.voipops.voip.plugins.module_utils.sip import (
    DigestServer, SipEndpoint, SipParseError, SipResponse, SipTarget, SipTransportError, notify_many,
    parse_message, probe_many, summarize,
)
from tests.support.net import free_udp_port as _free_udp_port


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def _gateway_handler(request, _source):
    if request.method == "OPTIONS":
        return SipResponse.for_request(request, 200, to_tag="gw", headers=[
            ("Server", "AudioCodes-Sip-Gateway-Mediant 1000/v.7.20A.258.459"), ("Allow", "INVITE, ACK, BYE"),
            ("Allow", "OPTIONS"), ("k", "replaces, timer")])
    return SipResponse.for_request(request, 405, to_tag="gw")


@pytest.mark.parametrize("text, transport, uri, host, port, proto", [
    ("127.0.0.1:5080", None, "sip:127.0.0.1:5080", "127.0.0.1", 5080, "udp"),
    ("gw1.example.net", None, "sip:gw1.example.net", "gw1.example.net", 5060, "udp"),
    ("sips:gw1.example.net", None, "sips:gw1.example.net", "gw1.example.net", 5061, "tls"),
    ("sip:10.0.0.1;transport=tcp", "udp", "sip:10.0.0.1;transport=tcp", "10.0.0.1", 5060, "tcp"),
    ("10.0.0.1:5070", "tcp", "sip:10.0.0.1:5070;transport=tcp", "10.0.0.1", 5070, "tcp"),
    ("[::1]:5062", None, "sip:[::1]:5062", "::1", 5062, "udp"),
    ("sip:1001@voip.lab", None, "sip:1001@voip.lab", "voip.lab", 5060, "udp"),
])
def test_target_parsing(text, transport, uri, host, port, proto):
    t = SipTarget.parse(text, transport)
    assert (t.uri, t.host, t.port, t.transport) == (uri, host, port, proto)


@pytest.mark.parametrize("text", ["", "sip:h;transport=sctp", "sips:h;transport=udp", "1001@h:5060", "h:99999"])
def test_bad_targets(text):
    with pytest.raises(SipParseError):
        SipTarget.parse(text)


def test_probe_reports_code_rtt_and_identity_headers():
    async def main():
        gw = await SipEndpoint.create("127.0.0.1", 0, handler=_gateway_handler)
        try:
            return await probe_many(["127.0.0.1:%d" % gw.port], timeout=3)
        finally:
            gw.close()
    (res,) = run(main())
    assert res["status"] == "ok" and res["reachable"] and res["code"] == 200 and res["reason"] == "OK"
    assert res["server"] == "AudioCodes-Sip-Gateway-Mediant 1000/v.7.20A.258.459"
    assert res["allow"] == ["INVITE", "ACK", "BYE", "OPTIONS"]
    assert res["supported"] == ["replaces", "timer"]
    assert res["rtt_ms"] > 0 and res["error"] is None


def test_dead_silent_unresolvable_and_unexpected_code_are_told_apart():
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))

    async def main():
        gw = await SipEndpoint.create("127.0.0.1", 0, handler=_gateway_handler)
        try:
            targets = ["127.0.0.1:%d" % gw.port, "127.0.0.1:%d" % silent.getsockname()[1],
                       "127.0.0.1:%d" % _free_udp_port(), "sip:no-such-host.invalid", "sip:127.0.0.1:%d;transport=tcp"
                       % _free_udp_port(), "not a target"]
            ok = await probe_many(targets, timeout=1.5)
            notify = await notify_many(["127.0.0.1:%d" % gw.port], timeout=1.5)
            return ok, notify
        finally:
            gw.close()
    try:
        results, notify = run(main())
    finally:
        silent.close()
    assert [r["status"] for r in results] == ["ok", "timeout", "refused", "dns_error", "refused", "error"]
    assert "ICMP" in results[2]["error"] and "refused" in results[2]["error"].lower()
    assert results[5]["error"].startswith("invalid target")
    assert notify[0]["status"] == "error" and notify[0]["code"] == 405 and notify[0]["reachable"]
    summary = summarize(results)
    assert summary["total"] == 6 and summary["ok"] == 1 and summary["failed"] == 5 and summary["reachable"] == 1
    assert summary["by_status"]["refused"] == 2 and summary["rtt_ms"]["min"] == results[0]["rtt_ms"]


def test_udp_retransmission_recovers_from_lost_requests():
    async def lossy_gateway(sock, received):
        # a raw UDP gateway that "loses" the first two copies of the request and answers the third
        loop = asyncio.get_running_loop()
        while True:
            data, addr = await loop.sock_recvfrom(sock, 65535)
            req = parse_message(data)
            received.append(req.branch)
            if len(received) == 3:
                sock.sendto(SipResponse.for_request(req, 200, to_tag="x").to_bytes(), addr)

    async def main():
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        received = []
        gw = asyncio.ensure_future(lossy_gateway(sock, received))
        client = await SipEndpoint.create("127.0.0.1", 0, t1=0.05)
        try:
            resp = await client.request("OPTIONS", "sip:127.0.0.1:%d" % sock.getsockname()[1], timeout=5)
            return resp, received, client.stats["retransmissions"]
        finally:
            client.close()
            gw.cancel()
            sock.close()
    resp, received, retrans = run(main())
    assert resp.code == 200
    assert len(received) == 3 and len(set(received)) == 1  # same transaction, retransmitted twice
    assert retrans == 2


def test_server_transaction_resends_cached_response_to_retransmission():
    calls = []

    def handler(request, _source):
        calls.append(request.method)
        return SipResponse.for_request(request, 200, to_tag="t")

    async def main():
        ep = await SipEndpoint.create("127.0.0.1", 0, handler=handler)
        loop = asyncio.get_running_loop()
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.setblocking(False)
        port = s.getsockname()[1]
        raw = ("OPTIONS sip:127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKr1;rport\r\n"
               "From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: r1\r\nCSeq: 1 OPTIONS\r\n"
               "Content-Length: 0\r\n\r\n" % (ep.port, port)).encode()
        try:
            answers = []
            for _attempt in range(2):
                s.sendto(raw, ("127.0.0.1", ep.port))
                answers.append(await asyncio.wait_for(loop.sock_recv(s, 65535), 5))
            return answers, port
        finally:
            s.close()
            ep.close()
    answers, port = run(main())
    assert calls == ["OPTIONS"]
    assert answers[0] == answers[1]
    resp = parse_message(answers[0])
    # RFC 3581: the server filled in rport (and received) on the top Via
    assert resp.top_via.params["rport"] == str(port)
    assert resp.top_via.params["received"] == "127.0.0.1"


def test_digest_challenged_notify_is_answered():
    server = DigestServer("phone-1001", algorithm="SHA-256")
    got = []

    def phone(request, _source):
        auth = request.headers.get("authorization")
        if auth is None or server.check(auth, request.method, password="adminpw") != "ok":
            return SipResponse.for_request(request, 401, to_tag="p", headers={"WWW-Authenticate": server.challenge()})
        got.append((request.method, request.headers.get("event"), request.cseq[0]))
        return SipResponse.for_request(request, 200, to_tag="p")

    async def main():
        ep = await SipEndpoint.create("127.0.0.1", 0, handler=phone, user_agent="Yealink SIP-T46S 66.86.0.15")
        uri = "sip:1001@127.0.0.1:%d" % ep.port
        try:
            good = await notify_many([uri], event="check-sync;reboot=true", credentials=("admin", "adminpw"), timeout=3)
            bad = await notify_many([{"uri": uri, "credentials": {"username": "admin", "password": "nope"}}], timeout=3)
            anon = await notify_many([uri], timeout=3)
            return good, bad, anon
        finally:
            ep.close()
    good, bad, anon = run(main())
    assert good[0]["status"] == "ok" and good[0]["authenticated"] and good[0]["server"] == "Yealink SIP-T46S 66.86.0.15"
    assert got == [("NOTIFY", "check-sync;reboot=true", 2)]
    assert bad[0]["status"] == "error" and bad[0]["code"] == 401
    assert anon[0]["status"] == "error" and anon[0]["code"] == 401 and not anon[0]["authenticated"]


def test_tcp_probe_and_async_handler():
    async def slow_handler(request, _source):
        await asyncio.sleep(0.01)
        return SipResponse.for_request(request, 200, to_tag="tcp", headers={"User-Agent": "tcp-uas/1"})

    async def main():
        ep = await SipEndpoint.create("127.0.0.1", 0, handler=slow_handler, listen_tcp=True)
        try:
            return await probe_many(["127.0.0.1:%d" % ep.port] * 3, transport="tcp", timeout=3)
        finally:
            ep.close()
    results = run(main())
    assert [r["status"] for r in results] == ["ok"] * 3
    assert all(r["transport"] == "tcp" and r["user_agent"] == "tcp-uas/1" for r in results)


@pytest.fixture(scope="module")
def tls_cert(tmp_path_factory):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    d = tmp_path_factory.mktemp("tls")
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    return str(d / "cert.pem"), str(d / "key.pem")


def test_tls_verification_on_by_default_with_opt_out(tls_cert):
    cert, key = tls_cert
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)

    async def main():
        ep = await SipEndpoint.create("127.0.0.1", 0, handler=_gateway_handler, listen_tls=ctx)
        target = "sips:127.0.0.1:%d" % ep.tls_port
        try:
            strict = await probe_many([target], timeout=3)
            relaxed = await probe_many([target], timeout=3, validate_certs=False)
            trusted = await probe_many([target], timeout=3, ca_path=cert)
            return strict, relaxed, trusted
        finally:
            ep.close()
    strict, relaxed, trusted = run(main())
    assert strict[0]["status"] == "tls_error" and "certificate" in strict[0]["error"]
    assert relaxed[0]["status"] == "ok" and relaxed[0]["transport"] == "tls"
    assert trusted[0]["status"] == "ok"


def test_register_with_digest_against_a_registrar_endpoint():
    server = DigestServer("voip.lab")
    bindings = {}

    def registrar(request, _source):
        auth = request.headers.get("authorization")
        if not auth or not server.verify(auth, "REGISTER", password="pw1001"):
            return SipResponse.for_request(request, 401, to_tag="r", headers={"WWW-Authenticate": server.challenge()})
        bindings[request.to_addr.uri] = request.headers.get("contact")
        return SipResponse.for_request(request, 200, to_tag="r", headers={"Contact": request.headers.get("contact")})

    async def main():
        reg = await SipEndpoint.create("127.0.0.1", 0, handler=registrar)
        phone = await SipEndpoint.create("127.0.0.1", 0)
        try:
            resp = await phone.register("sip:127.0.0.1:%d" % reg.port, "1001", "voip.lab", "pw1001", expires=60)
            return resp, phone.contact_uri("1001")
        finally:
            phone.close()
            reg.close()
    resp, contact = run(main())
    assert resp.code == 200 and resp.authenticated
    assert bindings == {"sip:1001@voip.lab": "<%s>" % contact}


def test_request_raises_typed_transport_error():
    async def main():
        ep = await SipEndpoint.create("127.0.0.1", 0)
        try:
            await ep.request("OPTIONS", "127.0.0.1:%d" % _free_udp_port(), timeout=2)
        finally:
            ep.close()
    with pytest.raises(SipTransportError) as info:
        run(main())
    assert info.value.status == "refused"
    assert sip.STATUSES == ("ok", "error", "timeout", "refused", "tls_error", "dns_error")


def test_the_via_host_is_the_bound_address_or_the_one_routed_to_the_target():
    # one rule for the engine, the sweep and the INVITE client: a wildcard bind names the address the kernel routes from
    from ansible_collections.voipops.voip.plugins.module_utils.sip import route_source
    cache = {}
    assert route_source("127.0.0.5", "0.0.0.0", cache=cache) == "127.0.0.1"
    assert cache == {"127.0.0.5": "127.0.0.1"}
    cache["127.0.0.5"] = "127.0.0.9"  # a cached route is not looked up again
    assert route_source("127.0.0.5", "0.0.0.0", cache=cache) == "127.0.0.9"
    assert route_source("127.0.0.5", "127.0.0.2") == "127.0.0.2"  # a bound address is named as it is
