# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The UDP sweep of ``request_many`` (no coroutine per probe) against the per-request path (``sweep=False``).

Responders on loopback answer in many ways - 200 with identity headers, 486, 503, 100 then 200, a To tag that
changes per answer, a Server header that echoes the probe's Call-ID, a wrong CSeq method, a broken Via, a body
shorter than its Content-Length - beside a port that never answers (timeout after retransmissions) and a closed
port (ICMP refused).  Both paths must report the same for every target, but for the round-trip time.
"""

from __future__ import absolute_import, division, print_function

import asyncio
import os
import socket

import pytest

from ansible_collections.voipops.voip.plugins.module_utils import sip
from ansible_collections.voipops.voip.plugins.module_utils.sip_message import SipRequest, SipResponse, parse_message
from tests.support.net import free_udp_port


def _run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def _answer(kind, req):
    """The bytes a responder of ``kind`` sends for ``req``."""
    if kind == "ok":
        return [SipResponse.for_request(req, 200, to_tag=os.urandom(6).hex(), headers=[
            ("Server", "AudioCodes-Sip-Gateway-Mediant 1000"), ("Allow", "INVITE, ACK, BYE"), ("Allow", "options"),
            ("k", "replaces, timer")]).to_bytes()]
    if kind == "busy":
        return [SipResponse.for_request(req, 486, to_tag="b", headers=[("User-Agent", "Snom D785 10.1")]).to_bytes()]
    if kind == "unavailable":
        return [SipResponse.for_request(req, 503, to_tag="u", headers=[("Retry-After", "60")]).to_bytes()]
    if kind == "trying":
        return [SipResponse.for_request(req, 100).to_bytes(),
                SipResponse.for_request(req, 200, to_tag="late", headers=[("Server", "late/1")]).to_bytes()]
    if kind == "echo":  # a field that carries the probe's own Call-ID: its skeleton must not be reused
        return [SipResponse.for_request(req, 200, to_tag="e", headers=[
            ("Server", "echo %s" % req.headers.get("call-id"))]).to_bytes()]
    good = SipResponse.for_request(req, 200, to_tag="x", headers=[("Server", "odd")]).to_bytes()
    if kind == "badcseq":
        return [good.replace(b"CSeq: 1 OPTIONS", b"CSeq: 1 INVITE")]
    if kind == "badvia":
        return [good.replace(b"Via: SIP/2.0/UDP ", b"Via: SIP/2.0/UDP @@")]
    if kind == "short":
        return [good.replace(b"Content-Length: 0", b"Content-Length: 9")]
    raise AssertionError(kind)


class _Responder(asyncio.DatagramProtocol):
    def __init__(self, kind, seen):
        self.kind = kind
        self.seen = seen
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        port = self.transport.get_extra_info("sockname")[1]
        self.seen[port] = self.seen.get(port, 0) + 1
        if self.kind == "silent":
            return
        req = parse_message(data)
        assert isinstance(req, SipRequest)
        for out in _answer(self.kind, req):
            self.transport.sendto(out, addr)


async def _fleet(kinds):
    """One responder per kind (several for a repeated kind); returns (targets, transports, seen)."""
    loop = asyncio.get_running_loop()
    seen, transports, targets = {}, [], []
    for kind in kinds:
        if kind == "dead":
            targets.append("127.0.0.1:%d" % free_udp_port())
            continue
        transport, _p = await loop.create_datagram_endpoint(lambda k=kind: _Responder(k, seen),
                                                            local_addr=("127.0.0.1", 0))
        transports.append(transport)
        targets.append("sip:%s@127.0.0.1:%d" % (kind, transport.get_extra_info("sockname")[1]))
    return targets, transports, seen


def _record_sweeps(monkeypatch):
    made = []

    class Recording(sip._UdpSweep):  # pylint: disable=protected-access
        def __init__(self, *args, **kwargs):
            super(Recording, self).__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(sip, "_UdpSweep", Recording)
    return made


KINDS = ["ok"] * 12 + ["busy", "unavailable", "trying", "echo", "echo", "badcseq", "badvia", "short", "silent",
                       "dead", "ok"]


def test_the_sweep_reports_what_the_request_path_reports(monkeypatch):
    made = _record_sweeps(monkeypatch)
    kw = dict(timeout=0.6, t1=0.05, t2=0.2, bind_host="127.0.0.1")

    async def main():
        targets, transports, seen = await _fleet(KINDS)
        try:
            swept = await sip.probe_many(targets, **kw)
            silent_port = int(targets[KINDS.index("silent")].rsplit(":", 1)[1])
            sent_swept = seen[silent_port]
            plain = await sip.probe_many(targets, sweep=False, **kw)
            return targets, swept, plain, sent_swept, seen[silent_port] - sent_swept
        finally:
            for t in transports:
                t.close()

    targets, swept, plain, sent_swept, sent_plain = _run(main())
    assert len(made) == 1 and len(made[0].jobs) == len(targets)  # every target went through the one sweep
    rtts = [r.pop("rtt_ms") for r in swept]
    for r in plain:
        r.pop("rtt_ms")
    # the echoing responder's Server holds each probe's own Call-ID: one per answer, never a reused one
    for results in (swept, plain):
        echo = [r for k, r in zip(KINDS, results) if k == "echo"]
        assert len(set(r["server"] for r in echo)) == 2 and all(r["server"].startswith("echo ") for r in echo)
        for r in echo:
            r["server"] = "echo (Call-ID)"
    assert swept == plain
    by_kind = dict(zip(KINDS, swept))
    assert [swept[i]["status"] for i in range(12)] == ["ok"] * 12
    assert by_kind["ok"]["server"] == "AudioCodes-Sip-Gateway-Mediant 1000"
    assert by_kind["ok"]["allow"] == ["INVITE", "ACK", "BYE", "OPTIONS"]
    assert by_kind["ok"]["supported"] == ["replaces", "timer"]
    assert all(r is not None and r >= 0 for r in rtts[:12])
    assert (by_kind["busy"]["status"], by_kind["busy"]["code"], by_kind["busy"]["user_agent"]) == \
        ("error", 486, "Snom D785 10.1")
    assert by_kind["busy"]["error"] == "unexpected response 486 Busy Here"
    assert (by_kind["unavailable"]["code"], by_kind["unavailable"]["reason"]) == (503, "Service Unavailable")
    assert (by_kind["trying"]["status"], by_kind["trying"]["server"]) == ("ok", "late/1")
    for kind in ("badcseq", "badvia", "short", "silent"):
        assert (by_kind[kind]["status"], by_kind[kind]["error"]) == ("timeout", "no final response within 0.6s"), kind
    assert by_kind["dead"]["status"] == "refused"
    assert by_kind["dead"]["error"].endswith("Connection refused")
    # Timer E: sent at 0, then after 50, 100, 200 ms ... until the 600 ms deadline - the same schedule both ways
    assert sent_swept >= 3 and sent_plain >= 3
    assert made[0].stats["retransmissions"] >= 2
    # the twelve alike 200s were parsed once per shape, not once per answer
    assert made[0].stats["shape_hits"] >= 10


def test_a_fleet_that_answers_alike_is_parsed_once(monkeypatch):
    made = _record_sweeps(monkeypatch)
    parsed = {"n": 0}
    real = sip.parse_response_lean

    def counting(data):
        parsed["n"] += 1
        return real(data)

    monkeypatch.setattr(sip, "parse_response_lean", counting)

    async def main():
        targets, transports, _seen = await _fleet(["ok"] * 40)
        try:
            return await sip.probe_many(targets, timeout=5, concurrency=7, bind_host="127.0.0.1")
        finally:
            for t in transports:
                t.close()

    results = _run(main())
    assert [r["status"] for r in results] == ["ok"] * 40
    assert [r["target"] for r in results][:2] != [None, None]
    assert parsed["n"] < 5  # To tags differ per answer; they are masked like the probe's own tokens
    assert made[0].stats["shape_hits"] == 40 - parsed["n"]


def test_targets_the_sweep_cannot_take_go_the_request_path_in_order(monkeypatch):
    made = _record_sweeps(monkeypatch)

    async def main():
        gw = await sip.SipEndpoint.create("127.0.0.1", 0, listen_tcp=True)
        try:
            port = gw.local_addr[1]
            targets = ["127.0.0.1:%d" % port, "sip:127.0.0.1:%d;transport=tcp" % port, "nosuchhost.invalid:5060",
                       "sip:bad;transport=sctp", {"uri": "sip:127.0.0.1:%d" % port, "headers": {"X-A": "1"}},
                       {"uri": "sip:127.0.0.1:%d" % port, "dest": "127.0.0.1:%d" % port}]
            swept = await sip.probe_many(targets, timeout=3, bind_host="127.0.0.1")
            plain = await sip.probe_many(targets, timeout=3, bind_host="127.0.0.1", sweep=False)
            return swept, plain
        finally:
            gw.close()

    swept, plain = _run(main())
    assert [len(m.jobs) for m in made] == [2]  # the host:port and the dict with only uri/dest
    for r in swept + plain:
        r.pop("rtt_ms")
    assert swept == plain
    assert [r["status"] for r in swept] == ["ok", "ok", "dns_error", "error", "ok", "ok"]
    assert [r["transport"] for r in swept[:2]] == ["udp", "tcp"]


def test_the_host_port_shortcut_reads_targets_as_the_target_parser():
    for text in ("127.0.0.1:5060", "10.0.0.1:05060", "192.0.2.7:1", "192.0.2.7:65535"):
        found = sip._sweepable(text, "udp")  # pylint: disable=protected-access
        want = sip.SipTarget.parse(text, "udp")
        got = found[1]
        assert (got.text, got.uri, got.transport, got.host, got.port, got.server_name) == \
            (want.text, want.uri, want.transport, want.host, want.port, want.server_name)
    for text in ("192.0.2.7:0", "192.0.2.7:70000", "300.1.1.1:5060", "[::1]:5060", "gw.example.net:5060",
                 "sip:192.0.2.7;transport=tcp"):
        assert sip._sweepable(text, "udp") is None, text  # pylint: disable=protected-access
    assert sip._sweepable("192.0.2.7:5060", "tcp") is None  # pylint: disable=protected-access


def test_a_send_window_of_one_still_probes_everything():
    async def main():
        targets, transports, seen = await _fleet(["ok"] * 5 + ["busy"])
        try:
            return await sip.probe_many(targets, timeout=3, concurrency=1, bind_host="127.0.0.1"), seen
        finally:
            for t in transports:
                t.close()

    results, seen = _run(main())
    assert [r["code"] for r in results] == [200] * 5 + [486]
    assert sorted(seen.values()) == [1] * 6  # one request each, no retransmission needed


def test_no_socket_is_left_behind():
    before = len(_open_udp_fds())

    async def main():
        targets, transports, _seen = await _fleet(["ok", "dead"])
        try:
            return await sip.probe_many(targets, timeout=2, bind_host="127.0.0.1")
        finally:
            for t in transports:
                t.close()

    _run(main())
    assert len(_open_udp_fds()) == before


def _open_udp_fds():
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            s = socket.socket(fileno=int(fd))
        except OSError:
            continue
        try:
            if s.type == socket.SOCK_DGRAM:
                out.append(fd)
        finally:
            s.detach()
    return out


def test_a_failing_callback_ends_the_sweep_with_its_error_instead_of_hanging(monkeypatch):
    def broken(_self, _data):
        raise RuntimeError("bug in the receive path")

    monkeypatch.setattr(sip._UdpSweep, "_on_datagram", broken)  # pylint: disable=protected-access

    async def main():
        targets, transports, _seen = await _fleet(["ok"])
        try:
            return await sip.probe_many(targets, timeout=30, bind_host="127.0.0.1")
        finally:
            for t in transports:
                t.close()

    with pytest.raises(RuntimeError, match="bug in the receive path"):
        asyncio.run(asyncio.wait_for(main(), 10))
