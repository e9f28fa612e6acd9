# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test calls: a small RFC 3261 INVITE client (UAC) over UDP, for many short calls in parallel.

One call: INVITE (with an SDP offer) to a target through a proxy (the callserver) or straight to a SIP URI (a
gateway); Digest authentication on 401/407 (ACK the challenge, re-send with a new branch and CSeq + 1);
provisional answers; the final answer; ACK; a short hold; BYE.  A call that rings longer than the ring timeout is
CANCELled.  The transaction layer follows RFC 3261 section 17.1:

- INVITE client transaction (17.1.1): Timer A retransmits from T1 doubling until a provisional answer; Timer B
  (64*T1, bounded by the ring timeout) gives up.  A non-2xx final answer is ACKed in the transaction (same branch,
  To with the answer's tag, only the top Via) and re-ACKed when the answer is retransmitted.  A 2xx ends the
  transaction: the call (the TU) ACKs it in a new transaction through the dialog's route set (12.1.2, 13.2.2.4) and
  re-sends that ACK for each 2xx retransmission.
- non-INVITE client transactions (BYE, CANCEL, 17.1.2): Timer E from T1 doubling to T2, Timer F 64*T1.
- CANCEL (9.1) only after a provisional answer, with the INVITE's branch, Request-URI, Call-ID, From, To, CSeq
  number and Route headers.
- Requests from the far end inside the call: BYE and OPTIONS get 200, anything else 481 (or 501 outside a call).

Each call returns a dict (see :func:`call_many`): target, uri, name, kind, via, classification (``answered``,
``busy``, ``no_answer``, ``rejected``, ``unreachable``, ``auth_failed``), code, reason, answered, ringing,
``post_dial_delay_ms`` (INVITE sent to the first 180/183, or to the final answer when there was none - RFC 6076
SRD), ``setup_ms`` (INVITE sent to the final answer), ``duration_ms`` (ACK to the BYE's answer), hangup
(``local``/``remote``), bye_code, cancelled, authenticated, server, redirect (3xx Contact), error.

The SIP engine (``sip.py``) has only non-INVITE transactions on a socket tuned for bulk probing; calls need dialog
state, so this file has its own small UDP endpoint and reuses the message, URI and Digest code of
``sip_message.py`` / ``sip_digest.py``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import asyncio
import os
import socket
import struct
import time

from ansible_collections.voipops.voip.plugins.module_utils import rtp
from ansible_collections.voipops.voip.plugins.module_utils.sip import icmp_errors, open_udp_socket, route_source, udp_send
from ansible_collections.voipops.voip.plugins.module_utils.sip_digest import DigestChallenge, authorization_value
from ansible_collections.voipops.voip.plugins.module_utils.sip_message import (
    NameAddr, SipParseError, SipRequest, SipResponse, SipUri, format_hostport, parse_message, split_header_list,
    split_hostport,
)

T1 = 0.5
T2 = 4.0
USER_AGENT = "voipops.voip test call"
CLASSIFICATIONS = ("answered", "busy", "no_answer", "rejected", "unreachable", "auth_failed")
BUSY_CODES = (486, 600)
NO_ANSWER_CODES = (408, 480, 487)


class CallError(ValueError):
    """A target or option that cannot be used (the message names the target's index)."""


def _token(nbytes=6):
    return os.urandom(nbytes).hex()


def _ms(start, end):
    return None if start is None or end is None else round((end - start) * 1000.0, 1)


def classify(code, cancelled=False):
    """The classification of a call from its final answer (pure).  ``cancelled``: we CANCELled on ring timeout."""
    if code is None:
        return "no_answer" if cancelled else "unreachable"
    if 200 <= code < 300:
        return "answered"
    if code in BUSY_CODES:
        return "busy"
    if cancelled or code in NO_ANSWER_CODES:
        return "no_answer"
    if code in (401, 407):
        return "auth_failed"
    return "rejected"


class _Tx(object):
    """One client transaction (INVITE or non-INVITE) on the endpoint's socket, keyed by branch."""

    def __init__(self, ep, branch, method, data, addr, timeout):
        self.ep = ep
        self.branch = branch
        self.method = method
        self.data = data
        self.addr = addr
        self.final = ep.loop.create_future()
        self.provisional = []          # (time, response)
        self.on_provisional = None     # callback(response)
        self.refused = None
        self.final_at = None
        self.ack_builder = None        # INVITE: callable(response) -> bytes of the ACK for a non-2xx final answer
        self.ack_data = None           # that ACK, re-sent on retransmissions of the answer
        self.interval = ep.t1
        self.sent_at = time.monotonic()
        self.retrans = ep.loop.call_later(self.interval, self._retransmit)
        self.deadline = ep.loop.call_later(timeout, self._timeout)
        ep.transactions[branch] = self
        ep.send(data, addr)

    def _retransmit(self):
        if self.final.done():
            return
        if self.method == "INVITE":
            if self.provisional:
                return                 # proceeding: Timer A stops
            self.interval *= 2         # Timer A doubles without the T2 cap
        else:
            self.interval = self.ep.t2 if self.provisional else min(self.interval * 2, self.ep.t2)
        self.ep.send(self.data, self.addr)
        self.ep.stats["retransmissions"] += 1
        self.retrans = self.ep.loop.call_later(self.interval, self._retransmit)

    def _timeout(self):
        if not self.final.done():
            self.final.set_result(None)
        self._stop_timers()

    def _stop_timers(self):
        if self.retrans is not None:
            self.retrans.cancel()
        self.deadline.cancel()

    def on_response(self, resp):
        now = time.monotonic()
        if resp.code < 200:
            self.provisional.append((now, resp))
            if self.on_provisional is not None and not self.final.done():
                self.on_provisional(now, resp)
            return
        if self.final.done():
            # a retransmitted final answer: re-ACK a non-2xx (2xx are the call's business)
            if self.ack_data is not None and resp.code >= 300:
                self.ep.send(self.ack_data, self.addr)
            return
        self.final_at = now
        if resp.code >= 300 and self.ack_builder is not None:
            # 17.1.1.3: the transaction ACKs a non-2xx final answer itself (and each retransmission of it)
            self.ack_data = self.ack_builder(resp)
            self.ep.send(self.ack_data, self.addr)
        self.final.set_result(resp)
        self._stop_timers()

    def refuse(self, text):
        """ICMP port unreachable (or another ICMP error) for this transaction's destination."""
        self.refused = text
        if not self.final.done():
            self.final.set_result(None)
        self._stop_timers()

    def forget(self):
        self._stop_timers()
        self.ep.transactions.pop(self.branch, None)


class CallEndpoint(object):
    """One UDP socket carrying every call of a run (its local port is the Via and Contact of every request).

    ICMP port-unreachable on an unconnected UDP socket: Linux queues it on the socket's error queue when
    ``IP_RECVERR`` is set; the entry names the destination, which fails the transactions sent there ("refused")."""

    def __init__(self, loop, t1=T1, t2=T2, user_agent=USER_AGENT):
        self.loop = loop
        self.t1 = t1
        self.t2 = t2
        self.user_agent = user_agent
        self.sock = None
        self.local = None
        self.transactions = {}
        self.cancels = {}              # INVITE branch -> _CancelTx (a CANCEL shares the INVITE's branch)
        self.dialogs = {}              # Call-ID -> _Call (for in-dialog requests and 2xx retransmissions)
        self.stats = {"retransmissions": 0, "icmp_errors": 0, "parse_errors": 0}
        self._prefix = _token(3)
        self._n = 0
        self._route_cache = {}

    @classmethod
    async def create(cls, host="0.0.0.0", port=0, **kwargs):
        loop = asyncio.get_running_loop()
        ep = cls(loop, **kwargs)
        sock = open_udp_socket(socket.AF_INET, host, port)
        ep.sock = sock
        ep.local = sock.getsockname()[:2]
        loop.add_reader(sock.fileno(), ep._readable)
        return ep

    def close(self):
        for tx in list(self.transactions.values()):
            tx.forget()
            if not tx.final.done():
                tx.final.set_result(None)
        for ctx in list(self.cancels.values()):
            ctx.forget()
        if self.sock is not None:
            try:
                self.loop.remove_reader(self.sock.fileno())
            except (ValueError, OSError):
                pass
            self.sock.close()
            self.sock = None

    def _readable(self):
        for _i in range(64):
            try:
                data, addr = self.sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._drain_errqueue()
                continue
            self.on_datagram(data, addr[:2])

    def _drain_errqueue(self):
        if self.sock is None:
            return
        for addr, err in icmp_errors(self.sock):
            self.stats["icmp_errors"] += 1
            for tx in list(self.transactions.values()):
                if tx.addr == tuple(addr):
                    tx.refuse(os.strerror(err) if err else "ICMP error")

    def new_id(self, prefix=""):
        self._n += 1
        return "%s%s%x" % (prefix, self._prefix, self._n)

    def via_host(self, dest_ip):
        return route_source(dest_ip, self.local[0], socket.AF_INET, self._route_cache)

    def send(self, data, addr):
        if self.sock is not None:
            udp_send(self.sock, data, addr, self.stats, self._drain_errqueue)  # a lost datagram: retransmission covers it

    def on_datagram(self, data, addr):
        try:
            msg = parse_message(data)
        except SipParseError:
            self.stats["parse_errors"] += 1
            return
        if isinstance(msg, SipResponse):
            try:
                branch = msg.top_via.branch
                method = msg.cseq[1]
            except SipParseError:
                return
            if method == "CANCEL":
                ctx = self.cancels.get(branch)
                if ctx is not None:
                    ctx.on_response(msg)
                return
            tx = self.transactions.get(branch)
            if tx is not None and tx.method == method:
                tx.on_response(msg)
                return
            call = self.dialogs.get(msg.call_id)
            if call is not None and method == "INVITE" and 200 <= msg.code < 300:
                call.on_2xx_retransmission(msg)
            return
        self.on_request(msg, addr)

    def on_request(self, req, addr):
        if req.method == "ACK":
            return
        call = self.dialogs.get(req.call_id)
        if call is not None and req.method == "BYE":
            code = 200
            call.on_remote_bye()
        elif req.method == "OPTIONS":
            code = 200
        elif call is not None:
            code = 501
        else:
            code = 481
        resp = SipResponse.for_request(req, code, to_tag=self.new_id("t"))
        resp.headers.add("Server", self.user_agent)
        try:
            via = req.top_via
        except SipParseError:
            return
        rport = via.params.get("rport")
        dest = (via.params.get("received") or addr[0], int(rport) if rport else (via.port or 5060))
        if via.host != addr[0] or not rport:
            dest = addr  # answer where it came from (RFC 3581 behaviour, and symmetric on loopback)
        self.send(resp.to_bytes(), dest)


def _sdp(host, session, port=9):
    """The SDP offer (RFC 4566 / RFC 3264): port 9 (discard) when no media is sent, else our RTP port."""
    return ("v=0\r\no=voipops %d %d IN IP4 %s\r\ns=voipops test call\r\nc=IN IP4 %s\r\nt=0 0\r\n"
            "m=audio %d RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n"
            "a=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\na=sendrecv\r\n"
            % (session, session, host, host, port)).encode("ascii")


def parse_sdp_answer(body):
    """``(address, port, payload types)`` of the first audio stream of an SDP answer (RFC 4566: the media-level
    ``c=`` line wins over the session-level one; RFC 3264 6: port 0 = the stream is refused).  Raises ValueError."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    session_addr, media = None, None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("c=") and line[2:].split()[:2] == ["IN", "IP4"] and len(line[2:].split()) >= 3:
            addr = line[2:].split()[2].split("/")[0]
            if media is None:
                session_addr = addr
            elif media.get("addr") is None:
                media["addr"] = addr
        elif line.startswith("m="):
            if media is not None:
                break
            fields = line[2:].split()
            if len(fields) >= 4 and fields[0] == "audio":
                try:
                    media = {"port": int(fields[1].split("/")[0]), "pts": [int(f) for f in fields[3:] if f.isdigit()],
                             "addr": None}
                except ValueError:
                    raise ValueError("the SDP answer's audio line %r is not valid" % line)
    if media is None:
        raise ValueError("the answer carries no SDP audio stream")
    addr = media["addr"] or session_addr
    if not addr:
        raise ValueError("the SDP answer names no IPv4 connection address")
    if media["port"] == 0:
        raise ValueError("the far end refused the audio stream (port 0)")
    if rtp.PT_PCMA not in media["pts"]:
        raise ValueError("the far end does not take PCMA (payload types %s)" % media["pts"])
    return addr, media["port"], media["pts"]


class MediaSession(object):
    """The RTP of one test call (RFC 3550): our stream of PCMA/8000 packets every 20 ms to the address of the SDP
    answer, from the port of our offer; the far end's stream (or its echo of ours) received on the same socket.

    ``start(addr)`` sends until ``stop()``; ``result()`` gives the receiver statistics of the far end's stream (loss,
    jitter: :class:`rtp.ReceiverStats`), the round trip of echoed packets and the E-model R and MOS
    (:func:`rtp.quality`)."""

    def __init__(self, loop, host):
        self.loop = loop
        self.sock = _even_port_socket(host)
        self.local = self.sock.getsockname()[:2]
        self.ssrc = struct.unpack("!I", os.urandom(4))[0]
        self.seq0 = struct.unpack("!H", os.urandom(2))[0]
        self.ts0 = struct.unpack("!I", os.urandom(4))[0]
        self.sent = 0
        self.sent_at = {}              # our seq -> monotonic time sent
        self.rtts = []
        self.stats = None              # ReceiverStats of the far end's stream (its first SSRC)
        self.remote_ssrc = None
        self.other_packets = 0         # not RTP, or another SSRC
        self.last_rx = None
        self.remote = None
        self._task = None
        self._stopped = asyncio.Event()
        loop.add_reader(self.sock.fileno(), self._readable)

    def _readable(self):
        for _i in range(64):
            try:
                data, _addr = self.sock.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            self.on_packet(data, time.monotonic())

    def on_packet(self, data, now):
        pkt = rtp.parse_packet(data)
        if pkt is None:
            self.other_packets += 1
            return
        _pt, _marker, seq, ts, ssrc, payload = pkt
        if self.remote_ssrc is None:
            self.remote_ssrc = ssrc
            self.stats = rtp.ReceiverStats()
        if ssrc != self.remote_ssrc:
            self.other_packets += 1
            return
        self.last_rx = now
        self.stats.add(seq, ts, now)
        echoed = rtp.echo_of(payload)
        if echoed is not None and echoed[1] == self.ssrc and echoed[0] in self.sent_at:
            self.rtts.append(now - self.sent_at.pop(echoed[0]))

    def start(self, addr):
        self.remote = addr
        self._task = self.loop.create_task(self._send())

    async def _send(self):
        start = time.monotonic()
        i = 0
        while not self._stopped.is_set():
            seq = (self.seq0 + i) & 0xFFFF
            pkt = rtp.build_packet(seq, self.ts0 + i * rtp.SAMPLES, self.ssrc, marker=(i == 0),
                                   payload=rtp.probe_payload(seq, self.ssrc))
            self.sent_at[seq] = time.monotonic()
            try:
                self.sock.sendto(pkt, self.remote)
                self.sent += 1
            except OSError:
                pass               # a lost packet: the receiver counts it
            i += 1
            # the 20 ms clock of the first packet: no drift however late one send was
            delay = start + i * rtp.PTIME_MS / 1000.0 - time.monotonic()
            try:
                await asyncio.wait_for(self._stopped.wait(), max(0.0, delay))
            except asyncio.TimeoutError:
                pass

    async def stop(self, drain=0.3):
        """Stop sending; wait for the packets still on their way (until ``drain`` seconds without one)."""
        self._stopped.set()
        if self._task is not None:
            await self._task
        end = time.monotonic() + drain
        while time.monotonic() < end:
            await asyncio.sleep(0.02)
            if self.last_rx is not None and self.sent_at == {} and time.monotonic() - self.last_rx > 0.06:
                break              # every packet came back

    def close(self):
        if self.sock is not None:
            try:
                self.loop.remove_reader(self.sock.fileno())
            except (ValueError, OSError):
                pass
            self.sock.close()
            self.sock = None

    def result(self, plc=True):
        out = {"codec": "PCMA/8000", "ptime_ms": rtp.PTIME_MS, "local": format_hostport(*self.local),
               "remote": format_hostport(*self.remote) if self.remote else None, "sent": self.sent,
               "received": 0, "expected": 0, "lost": 0, "loss_pct": None, "jitter_ms": None, "duplicates": 0,
               "out_of_order": 0, "burst_ratio": None, "echoed": bool(self.rtts), "rtt_ms": None, "one_way_ms": None,
               "r_factor": None, "mos": None, "error": None}
        if self.stats is not None:
            out.update(self.stats.result())
        if self.rtts:
            out["rtt_ms"] = round(1000.0 * sum(self.rtts) / len(self.rtts), 2)
            out["one_way_ms"] = round(out["rtt_ms"] / 2.0, 2)
            if self.sent > out["expected"]:
                # an echo: every packet we sent was expected back (the last ones lost leave no sequence gap)
                lost = self.sent - out["received"]
                out.update(expected=self.sent, lost=lost, loss_pct=round(100.0 * lost / self.sent, 2))
        if out["received"]:
            out.update(rtp.quality(out["loss_pct"], out["one_way_ms"], out["burst_ratio"], plc))
        elif self.sent:
            # nothing came back: one-way audio (or none) - as bad as a call gets (G.107 is not made for no audio at
            # all: its R for 100% loss is still 17; no audio is the floor of the scale instead)
            out.update(expected=self.sent, lost=self.sent, loss_pct=100.0, r_factor=0.0, mos=1.0)
            out["error"] = "no RTP received from %s in %d packets' time" % (out["remote"], self.sent)
        return out


def _even_port_socket(host):
    """A UDP socket on an even port (RFC 3550 section 11: RTP on an even port, RTCP on the next one)."""
    spare = []
    try:
        for _attempt in range(32):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setblocking(False)
            sock.bind((host, 0))
            if sock.getsockname()[1] % 2 == 0:
                return sock
            spare.append(sock)
        return spare.pop()
    finally:
        for s in spare:
            s.close()


class _Call(object):
    """One test call (the transaction user): INVITE, auth, CANCEL on ring timeout, ACK, hold, BYE."""

    def __init__(self, ep, spec, credentials, hold, ring_timeout, from_uri, media=False):
        self.ep = ep
        self.media = bool(spec.get("media", media))
        self.session = None
        self.spec = spec
        self.credentials = credentials
        self.hold = hold
        self.ring_timeout = ring_timeout
        self.from_uri = from_uri
        self.call_id = "%s@voipops" % ep.new_id("c")
        self.from_tag = ep.new_id("f")
        self.cseq = 0
        self.to_tag = None
        self.remote_target = None
        self.route_set = []
        self.ack_2xx = None
        self.ack_2xx_addr = None
        self.remote_bye = asyncio.Event()
        self.remote_bye_at = None
        self.result = {
            "target": spec["target"], "name": spec.get("name"), "kind": spec.get("kind"), "uri": spec["uri"],
            "via": spec["via"], "classification": None, "code": None, "reason": None, "answered": False,
            "ringing": False, "post_dial_delay_ms": None, "setup_ms": None, "duration_ms": None, "hangup": None,
            "bye_code": None, "cancelled": False, "authenticated": False, "server": None, "redirect": None,
            "call_id": self.call_id, "error": None, "media": None,
        }

    # ------------------------------------------------------------------ messages
    def _request(self, method, uri, branch, cseq, dest_ip, headers=(), body=b"", to_tag=None, routes=()):
        host = self.ep.via_host(dest_ip)
        h = [
            ("Via", "SIP/2.0/UDP %s;branch=%s;rport" % (format_hostport(host, self.ep.local[1]), branch)),
            ("Max-Forwards", "70"),
            ("From", "<%s>;tag=%s" % (self.from_uri, self.from_tag)),
            ("To", "<%s>%s" % (self.spec["uri"], ";tag=%s" % to_tag if to_tag else "")),
            ("Call-ID", self.call_id),
            ("CSeq", "%d %s" % (cseq, method)),
        ]
        for r in routes:
            h.append(("Route", r))
        h.extend(headers)
        h.append(("User-Agent", self.ep.user_agent))
        return SipRequest(method, uri, h, body)

    def _contact(self, dest_ip):
        user = SipUri.parse(self.from_uri).user or "voipops"
        return "<sip:%s@%s>" % (user, format_hostport(self.ep.via_host(dest_ip), self.ep.local[1]))

    # ------------------------------------------------------------------ the call
    async def run(self):
        res = self.result
        try:
            await self._run()
        except (OSError, SipParseError, ValueError) as exc:
            res["error"] = "%s: %s" % (type(exc).__name__, exc)
        finally:
            self.ep.dialogs.pop(self.call_id, None)
            if self.session is not None:
                self.session.close()
        res["classification"] = classify(res["code"], res["cancelled"])
        if res["classification"] == "unreachable" and not res["error"]:
            res["error"] = "no answer from %s within %gs" % (self.spec["dest_text"], self.ring_timeout)
        return res

    async def _run(self):
        res = self.result
        loop = self.ep.loop
        dest_ip = await _resolve(loop, self.spec["dest"][0])
        addr = (dest_ip, self.spec["dest"][1])
        uri = self.spec["uri"]
        if self.media:
            self.session = MediaSession(loop, self.ep.via_host(dest_ip))
        sdp = _sdp(self.ep.via_host(dest_ip), int(time.time()), self.session.local[1] if self.session else 9)
        base_headers = [("Contact", self._contact(dest_ip)), ("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS"),
                        ("Content-Type", "application/sdp")]
        auth = None
        started = time.monotonic()
        ring_deadline = started + self.ring_timeout
        tries = 0
        self.ep.dialogs[self.call_id] = self
        while True:
            self.cseq += 1
            branch = "z9hG4bK" + self.ep.new_id("b")
            invite = self._request("INVITE", uri, branch, self.cseq, dest_ip,
                                   base_headers + ([auth] if auth else []), sdp)
            sent = time.monotonic()
            if tries == 0:
                started = sent
                ring_deadline = started + self.ring_timeout
            # Timer B is the ring timeout here: _await_final gives up (or CANCELs) at the ring deadline
            tx = _Tx(self.ep, branch, "INVITE", invite.to_bytes(), addr, max(0.05, ring_deadline - sent) + 1.0)

            def on_prov(at, resp, started=started):
                if resp.code in (180, 183) and res["post_dial_delay_ms"] is None:
                    res["post_dial_delay_ms"] = _ms(started, at)
                    res["ringing"] = True
            tx.on_provisional = on_prov

            def ack_for(resp, branch=branch, invite=invite):
                ack = self._request("ACK", uri, branch, self.cseq, dest_ip, to_tag=resp.to_tag,
                                    routes=invite.headers.get_all("route"))
                return ack.to_bytes()
            tx.ack_builder = ack_for
            final = await self._await_final(tx, invite, addr, ring_deadline)
            if final is None:
                if tx.refused:
                    res["error"] = "%s refused the INVITE (ICMP: %s)" % (self.spec["dest_text"], tx.refused)
                elif res["cancelled"]:
                    res["error"] = "no answer to the CANCEL nor a final answer to the INVITE"
                tx.forget()
                return
            if final.code >= 300:
                # keep absorbing retransmissions of the final answer for a while (Timer D)
                loop.call_later(64 * self.ep.t1, tx.forget)
            else:
                tx.forget()
            if final.code in (401, 407) and self.credentials and tries < 2:
                hname = "WWW-Authenticate" if final.code == 401 else "Proxy-Authenticate"
                value = final.headers.get(hname)
                chal = None
                if value:
                    try:
                        chal = DigestChallenge.parse(value)
                    except SipParseError:
                        chal = None
                if chal is not None and (tries == 0 or chal.stale):
                    user, password = self.credentials
                    auth = ("Authorization" if final.code == 401 else "Proxy-Authorization",
                            authorization_value(chal, user, password, "INVITE", uri))
                    res["authenticated"] = True
                    tries += 1
                    continue
            self._final(final, started, tx.final_at)
            if 200 <= final.code < 300:
                await self._answered(final, uri, dest_ip, addr)
            return

    async def _await_final(self, tx, invite, addr, ring_deadline):
        """The INVITE's final answer; CANCEL at the ring deadline if anything provisional came, else None."""
        res = self.result
        remaining = ring_deadline - time.monotonic()
        try:
            return await asyncio.wait_for(asyncio.shield(tx.final), max(0.0, remaining)) or None
        except asyncio.TimeoutError:
            pass
        if tx.final.done():
            return tx.final.result()
        if not tx.provisional:
            return None            # RFC 3261 9.1: no CANCEL before a provisional answer; the target is unreachable
        # ring timeout: CANCEL (same branch, R-URI, Call-ID, From, To, CSeq number, Route)
        res["cancelled"] = True
        cancel = SipRequest("CANCEL", invite.uri)
        for name in ("Via", "Max-Forwards", "From", "To", "Call-ID"):
            cancel.headers.add(name, invite.headers.get(name))
        cancel.headers.add("CSeq", "%d CANCEL" % self.cseq)
        for r in invite.headers.get_all("route"):
            cancel.headers.add("Route", r)
        cancel.headers.add("User-Agent", self.ep.user_agent)
        cancel_tx = _CancelTx(self.ep, tx, cancel.to_bytes(), addr)
        # the INVITE transaction now waits for its 487 (Timer B's stand-in restarts: 64*T1)
        tx.deadline.cancel()
        tx.deadline = self.ep.loop.call_later(64 * self.ep.t1, tx._timeout)  # pylint: disable=protected-access
        try:
            # the 487 (or a 200 that crossed the CANCEL) ends the INVITE transaction
            final = await asyncio.wait_for(asyncio.shield(tx.final), 64 * self.ep.t1)
        except asyncio.TimeoutError:
            final = None
        cancel_tx.forget()
        if final is None:
            tx.forget()
        return final

    def _final(self, final, started, at):
        res = self.result
        at = at or time.monotonic()
        res.update(code=final.code, reason=final.reason, setup_ms=_ms(started, at),
                   server=final.headers.get("server") or final.headers.get("user-agent"))
        if res["post_dial_delay_ms"] is None:
            res["post_dial_delay_ms"] = _ms(started, at)
        if 300 <= final.code < 400:
            contact = final.headers.get("contact")
            if contact:
                try:
                    res["redirect"] = str(NameAddr.parse(split_header_list(contact)[0]).uri)
                except SipParseError:
                    res["redirect"] = contact

    async def _answered(self, final, uri, dest_ip, addr):
        res = self.result
        res["answered"] = True
        self.to_tag = final.to_tag
        contact = final.headers.get("contact")
        self.remote_target = str(NameAddr.parse(split_header_list(contact)[0]).uri) if contact else uri
        self.route_set = list(reversed(final.headers.get_list("record-route")))
        ruri, routes = self.remote_target, list(self.route_set)
        if routes and ";lr" not in routes[0]:
            # strict routing (12.2.1.1): the first route becomes the Request-URI
            ruri = str(NameAddr.parse(routes[0]).uri)
            routes = routes[1:] + ["<%s>" % self.remote_target]
        next_hop = str(NameAddr.parse(routes[0]).uri) if routes else ruri
        hop = SipUri.parse(next_hop)
        hop_ip = await _resolve(self.ep.loop, hop.host)
        hop_addr = (hop_ip, hop.port or 5060)
        ack = self._request("ACK", ruri, "z9hG4bK" + self.ep.new_id("b"), self.cseq, hop_ip, to_tag=self.to_tag,
                            routes=routes)
        self.ack_2xx = ack.to_bytes()
        self.ack_2xx_addr = hop_addr
        answered_at = time.monotonic()
        self.ep.send(self.ack_2xx, hop_addr)
        media_error = None
        if self.session is not None:
            try:
                addr = parse_sdp_answer(final.body)
                self.session.start((await _resolve(self.ep.loop, addr[0]), addr[1]))
            except (ValueError, OSError) as exc:
                media_error = str(exc)
        try:
            await asyncio.wait_for(self.remote_bye.wait(), self.hold)
        except asyncio.TimeoutError:
            pass
        if self.session is not None:
            if media_error is None:
                await self.session.stop(drain=0 if self.remote_bye.is_set() else 0.3)
            res["media"] = self.session.result()
            if media_error is not None:
                res["media"]["error"] = media_error
        if self.remote_bye.is_set():
            res["hangup"] = "remote"
            res["duration_ms"] = _ms(answered_at, self.remote_bye_at)
            return
        self.cseq += 1
        bye = self._request("BYE", ruri, "z9hG4bK" + self.ep.new_id("b"), self.cseq, hop_ip, to_tag=self.to_tag,
                            routes=routes)
        tx = _Tx(self.ep, bye.branch, "BYE", bye.to_bytes(), hop_addr, 64 * self.ep.t1)
        resp = await tx.final
        tx.forget()
        res["hangup"] = "local"
        res["duration_ms"] = _ms(answered_at, time.monotonic())
        res["bye_code"] = resp.code if resp is not None else None
        if resp is None:
            res["error"] = "BYE got no answer within %gs" % (64 * self.ep.t1)

    def on_2xx_retransmission(self, _resp):
        if self.ack_2xx is not None:
            self.ep.send(self.ack_2xx, self.ack_2xx_addr)

    def on_remote_bye(self):
        if not self.remote_bye.is_set():
            self.remote_bye_at = time.monotonic()
            self.remote_bye.set()


class _CancelTx(object):
    """The CANCEL's non-INVITE transaction: same branch as the INVITE, matched on (branch, CANCEL)."""

    def __init__(self, ep, invite_tx, data, addr):
        self.ep = ep
        self.data = data
        self.addr = addr
        self.interval = ep.t1
        self.done = False
        self.key = invite_tx.branch
        self.invite_tx = invite_tx
        self.handle = ep.loop.call_later(self.interval, self._retransmit)
        ep.cancels[self.key] = self
        ep.send(data, addr)

    def _retransmit(self):
        if self.done:
            return
        self.interval = min(self.interval * 2, self.ep.t2)
        self.ep.send(self.data, self.addr)
        self.ep.stats["retransmissions"] += 1
        self.handle = self.ep.loop.call_later(self.interval, self._retransmit)

    def on_response(self, resp):
        if resp.code >= 200:
            self.done = True
            self.handle.cancel()
        else:
            self.interval = self.ep.t2

    def forget(self):
        self.done = True
        self.handle.cancel()
        self.ep.cancels.pop(self.key, None)


async def _resolve(loop, host):
    try:
        socket.inet_pton(socket.AF_INET, host)
        return host
    except (OSError, ValueError):
        pass
    try:
        infos = await loop.getaddrinfo(host, None, family=socket.AF_INET, type=socket.SOCK_DGRAM)
    except socket.gaierror as exc:
        raise OSError("cannot resolve %r: %s" % (host, exc.strerror or exc))
    return infos[0][4][0]


def normalize_targets(targets, proxy=None, domain=None):
    """Targets -> call specs.  A target is a number/extension (called through ``proxy`` as ``sip:N@domain``), a
    ``sip:`` URI (through ``proxy`` when one is given, else straight to its host) or a dict with ``target`` and
    optional ``name``, ``kind`` and ``direct`` (true: straight to the URI's host even when a proxy is given).
    Raises :class:`CallError` naming the target's index."""
    proxy_addr = None
    if proxy:
        text = str(proxy)
        try:
            if text.lower().startswith("sip:"):
                u = SipUri.parse(text)
                proxy_addr = (u.host, u.port or 5060)
            else:
                proxy_addr = split_hostport(text, 5060)
        except SipParseError as exc:
            raise CallError("proxy %r: %s" % (text, exc))
    specs = []
    for i, item in enumerate(targets or []):
        where = "targets[%d]" % i
        spec = dict(item) if isinstance(item, dict) else {"target": item}
        unknown = set(spec) - set(("target", "name", "kind", "direct", "media"))
        if unknown:
            raise CallError("%s: unknown key(s) %s (use target, name, kind, direct, media)" % (
                where, ", ".join(sorted(unknown))))
        if "media" in spec and not isinstance(spec["media"], bool):
            raise CallError("%s: media %r is not a boolean" % (where, spec["media"]))
        raw = spec.get("target")
        if raw is None or str(raw).strip() == "":
            raise CallError("%s: target is empty" % where)
        raw = str(raw).strip()
        spec["target"] = raw
        if raw.lower().startswith("sip:"):
            try:
                u = SipUri.parse(raw)
            except SipParseError as exc:
                raise CallError("%s: %r is not a SIP URI: %s" % (where, raw, exc))
            if u.params.get("transport", "udp").lower() != "udp":
                raise CallError("%s: %r: test calls use UDP only" % (where, raw))
            uri = str(u)
            direct = bool(spec.get("direct")) or proxy_addr is None
            dest = (u.host, u.port or 5060) if direct else proxy_addr
        elif raw.lower().startswith("sips:"):
            raise CallError("%s: %r: test calls use UDP only (no sips:)" % (where, raw))
        else:
            if "@" in raw or ":" in raw or " " in raw:
                raise CallError("%s: %r is neither a number nor a sip: URI" % (where, raw))
            if proxy_addr is None:
                raise CallError("%s: %r is a number: give a proxy (the callserver) to call it through" % (where, raw))
            if spec.get("direct"):
                raise CallError("%s: %r is a number: direct needs a sip: URI" % (where, raw))
            uri = "sip:%s@%s" % (raw, domain or proxy_addr[0])
            direct = False
            dest = proxy_addr
        spec.update(uri=uri, dest=dest, via="direct" if direct else "proxy", dest_text=format_hostport(*dest))
        specs.append(spec)
    return specs


async def call_many(targets, proxy=None, domain=None, username=None, password=None, from_uri=None, hold=1.0,
                    ring_timeout=15.0, concurrency=10, t1=T1, t2=T2, bind_host="0.0.0.0", user_agent=USER_AGENT,
                    media=False):
    """Place one test call per target, at most ``concurrency`` at a time; one result dict per target, in order.

    ``media``: answered calls carry RTP for their ``hold`` time (a target's own ``media`` key wins); each result's
    ``media`` then holds the figures of :meth:`MediaSession.result`."""
    if hold < 0:
        raise CallError("hold: %r is negative" % hold)
    if ring_timeout <= 0:
        raise CallError("ring_timeout: %r must be more than 0" % ring_timeout)
    if int(concurrency) < 1:
        raise CallError("concurrency: %r must be at least 1" % concurrency)
    specs = normalize_targets(targets, proxy, domain)
    credentials = (username, password) if username and password is not None else None
    if from_uri is None:
        if username:
            from_uri = "sip:%s@%s" % (username, domain or (specs[0]["dest"][0] if specs else "invalid"))
        else:
            from_uri = "sip:voipops@%s" % (domain or "invalid")
    ep = await CallEndpoint.create(bind_host, 0, t1=t1, t2=t2, user_agent=user_agent)
    results = [None] * len(specs)
    work = iter(enumerate(specs))

    async def worker():
        for i, spec in work:
            results[i] = await _Call(ep, spec, credentials, hold, ring_timeout, from_uri, media).run()

    try:
        n = max(1, min(int(concurrency), len(specs) or 1))
        await asyncio.gather(*(worker() for _unused in range(n)))
    finally:
        ep.close()
    return results


def summarize(results):
    """Totals: total, answered, failed, by classification, post-dial delay min/avg/max (ms)."""
    by = dict((c, 0) for c in CLASSIFICATIONS)
    pdd = []
    for r in results:
        by[r["classification"]] = by.get(r["classification"], 0) + 1
        if r.get("post_dial_delay_ms") is not None:
            pdd.append(r["post_dial_delay_ms"])
    stats = {"min": None, "avg": None, "max": None}
    if pdd:
        stats = {"min": min(pdd), "avg": round(sum(pdd) / len(pdd), 1), "max": max(pdd)}
    return {"total": len(results), "answered": by["answered"], "failed": len(results) - by["answered"],
            "by_classification": by, "post_dial_delay_ms": stats}


def run_calls(**kwargs):
    """Synchronous wrapper for modules: ``call_many(**kwargs)`` and its summary."""
    results = asyncio.run(call_many(**kwargs))
    return {"calls": results, "summary": summarize(results)}
