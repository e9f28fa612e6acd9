# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A lean asyncio SIP engine (RFC 3261 / 3581 / 2617 / 7616) for probing and driving a VoIP estate.

No maintained SIP library fits Python 3.11 + asyncio + bulk operation, so this is a small one,
built for thousands of concurrent transactions in one process on one socket per transport.

Messages (``sip_message.py``, re-exported here)
    ``SipRequest(method, uri, headers, body)``, ``SipResponse(code, reason, headers, body)``,
    ``SipResponse.for_request(req, code)``, ``parse_message(bytes) -> msg``, ``parse_response_lean(bytes)``
    (the fast path for responses in the common shape; ``None`` = use ``parse_message``), ``StreamFramer``,
    ``Headers`` (case-insensitive, compact forms, repeated + comma lists), ``SipUri``, ``NameAddr``,
    ``Via``, and ``SipParseError`` - the one error every malformed input raises.

Digest (``sip_digest.py``, re-exported here)
    Client: ``DigestChallenge.parse(value)``, ``digest_response(...)``, ``authorization_value(...)``.
    Server: ``DigestServer(realm).challenge()`` / ``.check(authorization, method, password=|ha1=)``.

Endpoint
    ``ep = await SipEndpoint.create(host="0.0.0.0", port=0, handler=None, user_agent=..., listen_tcp=False)``
    One UDP socket (per address family) carries every client and server transaction; responses are
    matched on the Via branch.  TCP/TLS connections are pooled per destination and framed on
    Content-Length; incoming requests on them are answered on the same connection.

    - ``resp = await ep.request("OPTIONS", "sip:127.0.0.1:5060", timeout=5, credentials=(user, pw))``
      runs a non-INVITE client transaction (UDP retransmission on Timer E: T1 doubling up to T2,
      overall ``timeout`` instead of Timer F; both on the endpoint's 10 ms timer wheel), answers one
      401/407 Digest challenge (two if ``stale``), and returns the final :class:`SipResponse`
      (``resp.rtt_ms`` is set).  Failures raise
      :class:`SipTransportError` whose ``status`` is ``timeout``, ``refused`` (ICMP port unreachable
      on UDP, RST on TCP), ``tls_error``, ``dns_error`` or ``error``.
    - ``handler(request, source)`` receives incoming requests (plain function or coroutine).  Return a
      :class:`SipResponse` (or ``None`` and call ``source.reply(resp)`` later).  Retransmitted requests
      are absorbed and the cached final response is re-sent.  Without a handler, OPTIONS gets 200 and
      everything else 501.  ``source`` has ``transport``, ``addr`` (ip, port) and ``reply(resp)``.
    - ``await ep.register(registrar_uri, user, domain, password, expires=3600)`` - digest REGISTER.
    - ``ep.close()``.

    ICMP port-unreachable on one shared unconnected UDP socket: Linux queues it on the socket error
    queue when ``IP_RECVERR`` is set; the queue entry names the original destination, which maps back
    to the pending transactions.  The kernel rate-limits ICMP (``net.ipv4.icmp_msgs_per_sec``, 1000/s),
    so beyond that rate some dead ports are reported on a retransmission, or as ``timeout``.

Bulk
    ``results = await probe_many(targets, concurrency=1000, timeout=5.0, transport="udp", ...)``
    ``results = await notify_many(targets, event="check-sync", credentials=..., ...)``
    ``results = await request_many(targets, method, ...)``
    A target is ``sip:host:port;transport=tcp``, ``sips:host``, ``host:port``, ``[v6]:port`` or a dict
    ``{"uri": ..., "transport":, "credentials": {"username":, "password":} , "event":, "headers": {...},
    "dest": "host:port"}`` (``dest`` sends to another address than the URI's, e.g. a received address).
    Each result is a dict: target, uri, host, port, transport, status (``ok`` = final code in
    ``expect_codes``; ``error`` = other response or local failure; ``timeout``, ``refused``,
    ``tls_error``, ``dns_error``), reachable (any response), code, reason, rtt_ms, server, user_agent,
    allow, supported, authenticated, error.  ``summarize(results)`` gives totals and rtt min/avg/max.
    ``run_sync(coro)`` runs one of these from synchronous code (Ansible modules).

Hosts are resolved with A/AAAA lookups (no NAPTR/SRV).  Only non-INVITE client transactions exist.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import asyncio
import errno
import inspect
import os
import re
import socket
import ssl
import struct
import time

from ansible_collections.voipops.voip.plugins.module_utils.sip_message import (
    MAX_HEADER_BYTES, COMPACT_FORMS, Headers, NameAddr, SipMessage, SipParseError, SipRequest, SipResponse, SipUri,
    StreamFramer, Via, canonical_name, format_hostport, header_key, parse_message, parse_params,
    parse_response_lean, split_header_list, split_hostport,
)
from ansible_collections.voipops.voip.plugins.module_utils.sip_digest import (
    DigestAuthorization, DigestChallenge, DigestServer, authorization_value, compute_ha1, digest_response,
    format_authorization,
)

# Public API: the engine defined here plus the message and digest API re-exported from sip_message / sip_digest,
# so callers need a single import.
__all__ = [
    # engine
    "DEFAULT_PORTS", "DEFAULT_USER_AGENT", "STATUSES", "T1", "T2", "TRANSPORTS",
    "SipEndpoint", "SipTarget", "SipTransportError",
    "notify_many", "probe_many", "request_many", "run_sync", "summarize",
    # sip_message
    "COMPACT_FORMS", "Headers", "NameAddr", "SipMessage", "SipParseError", "SipRequest", "SipResponse", "SipUri",
    "StreamFramer", "Via", "canonical_name", "format_hostport", "header_key", "parse_message", "parse_params",
    "parse_response_lean", "split_header_list", "split_hostport",
    # sip_digest
    "DigestAuthorization", "DigestChallenge", "DigestServer", "authorization_value", "compute_ha1", "digest_response",
    "format_authorization",
]

DEFAULT_USER_AGENT = "voipops.voip"
T1 = 0.5
T2 = 4.0
STATUSES = ("ok", "error", "timeout", "refused", "tls_error", "dns_error")
TRANSPORTS = ("udp", "tcp", "tls")
DEFAULT_PORTS = {"udp": 5060, "tcp": 5060, "tls": 5061}

_IP_RECVERR = getattr(socket, "IP_RECVERR", 11)
_IPV6_RECVERR = getattr(socket, "IPV6_RECVERR", 25)


def open_udp_socket(family, host, port, bufsize=None):
    """A non-blocking UDP socket bound to ``(host, port)`` that reports ICMP errors (a closed port is "refused" at once,
    IP_RECVERR); with ``bufsize`` its send and receive buffers are that large (thousands of answers may arrive in a
    burst; the *FORCE options, for root, pass net.core.rmem_max).  The one socket set-up of the engine and of the
    INVITE client (sip_call.py)."""
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        if bufsize:
            for force, opt in ((getattr(socket, "SO_RCVBUFFORCE", 33), socket.SO_RCVBUF),
                               (getattr(socket, "SO_SNDBUFFORCE", 32), socket.SO_SNDBUF)):
                try:
                    sock.setsockopt(socket.SOL_SOCKET, force, bufsize)
                except OSError:
                    try:
                        sock.setsockopt(socket.SOL_SOCKET, opt, bufsize)
                    except OSError:
                        pass
        try:
            if family == socket.AF_INET:
                sock.setsockopt(socket.IPPROTO_IP, _IP_RECVERR, 1)
            else:
                sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_RECVERR, 1)
        except OSError:
            pass
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def route_source(dest_ip, bound_host, family=socket.AF_INET, cache=None):
    """The local address a Via/Contact names for ``dest_ip``: the bound address, or - for a wildcard bind - the one
    the kernel routes to ``dest_ip`` from (a connected UDP socket's name; nothing is sent).  ``cache``: a dict the
    caller keeps per socket.  The one rule of the engine, the UDP sweep and the INVITE client (sip_call.py)."""
    if bound_host not in ("0.0.0.0", "::"):
        return bound_host
    cached = cache.get(dest_ip) if cache is not None else None
    if cached is None:
        s = socket.socket(family, socket.SOCK_DGRAM)
        try:
            s.connect((dest_ip, 9))
            cached = s.getsockname()[0]
        except OSError:
            cached = "127.0.0.1" if family == socket.AF_INET else "::1"
        finally:
            s.close()
        if cache is not None:
            cache[dest_ip] = cached
    return cached


def udp_send(sock, data, addr, stats, drain_errqueue):
    """``sendto`` on a non-blocking UDP socket: None, or an error status string when the send failed for good.  A full
    socket buffer drops the datagram (counted in ``stats["udp_send_dropped"]``; retransmission covers it); an ICMP
    error queued by an earlier datagram is drained (``drain_errqueue()``) and the send tried once more.  The one send
    rule of the engine's UDP transport, the UDP sweep and the INVITE client (sip_call.py)."""
    for _attempt in (1, 2):
        try:
            sock.sendto(data, addr)
            return None
        except BlockingIOError:
            stats["udp_send_dropped"] = stats.get("udp_send_dropped", 0) + 1
            return None
        except OSError as exc:
            if exc.errno in _ICMP_ERRNOS:
                drain_errqueue()
                continue
            return "error: send to %s: %s" % (format_hostport(addr[0], addr[1]), exc.strerror or exc)
    return None


def icmp_errors(sock):
    """The ICMP errors queued on ``sock`` (IP_RECVERR), as ``(addr, errno)`` pairs, until the queue is empty."""
    while True:
        try:
            _data, ancdata, _flags, addr = sock.recvmsg(512, 512, socket.MSG_ERRQUEUE)
        except OSError:  # BlockingIOError / InterruptedError: the queue is empty
            return
        err = 0
        for _level, _type, cdata in ancdata:
            if len(cdata) >= 4:
                err = struct.unpack("=I", cdata[:4])[0]
        if addr:
            yield addr[:2], err


_MAX_DATAGRAM = 65535
_RECV_BATCH = 256
_ICMP_ERRNOS = {errno.ECONNREFUSED: "refused", errno.EHOSTUNREACH: "error", errno.ENETUNREACH: "error"}
# client transaction timers (retransmission and deadline) share one timer wheel per endpoint: a slot per
# _WHEEL_TICK seconds, one loop timer per occupied slot instead of two per transaction; a timer fires at most
# one tick late, never early
_WHEEL_TICK = 0.01
_EARLY = 1e-6


class SipTransportError(Exception):
    """A request that got no final response.  ``status``: timeout, refused, tls_error, dns_error, error."""

    def __init__(self, status, message):
        super(SipTransportError, self).__init__(message)
        self.status = status
        self.message = message


class SipTarget(object):
    """Where a request goes: Request-URI (str), transport, destination host/port, TLS server name."""

    __slots__ = ("text", "uri", "transport", "host", "port", "server_name")

    def __init__(self, text, uri, transport, host, port, server_name=None):
        self.text = text
        self.uri = uri
        self.transport = transport
        self.host = host
        self.port = port
        self.server_name = server_name

    @classmethod
    def parse(cls, text, transport=None, dest=None):
        """Parse ``sip:``/``sips:`` URIs or ``host[:port]``; raises :class:`SipParseError`."""
        raw = str(text).strip()
        if not raw:
            raise SipParseError("empty target")
        low = raw.lower()
        if low.startswith("sip:") or low.startswith("sips:"):
            uri = SipUri.parse(raw)
        else:
            if "@" in raw or ";" in raw:
                raise SipParseError("target %r: use a sip: URI for user parts or parameters" % raw[:80])
            host, port = split_hostport(raw)
            uri = SipUri(host, port)
        t = uri.params.get("transport")
        if t:
            t = t.lower()
        elif uri.scheme == "sips":
            t = "tls"
        else:
            t = (transport or "udp").lower()
        if t not in TRANSPORTS:
            raise SipParseError("target %r: unsupported transport %r" % (raw[:80], t))
        if uri.scheme == "sips" and t != "tls":
            raise SipParseError("target %r: sips: needs TLS" % raw[:80])
        if transport and t == "tls" and uri.scheme == "sip" and "transport" not in uri.params:
            uri.params["transport"] = "tls"
        elif transport and transport.lower() != "udp" and "transport" not in uri.params and uri.scheme == "sip":
            uri.params["transport"] = transport.lower()
        host, port = uri.host, uri.port or DEFAULT_PORTS[t]
        if dest:
            host, port = split_hostport(str(dest), port)
        return cls(raw, str(uri), t, host, port, None if _is_ip(uri.host) else uri.host)


def _is_ip(host):
    for fam in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(fam, host)
            return True
        except (OSError, ValueError):
            pass
    return False


def _random_token(nbytes=6):
    return os.urandom(nbytes).hex()


class _Source(object):
    """Where an incoming request came from; ``reply(response)`` answers it."""

    __slots__ = ("endpoint", "transport", "addr", "conn", "key")

    def __init__(self, endpoint, transport, addr, conn, key=None):
        self.endpoint = endpoint
        self.transport = transport
        self.addr = addr
        self.conn = conn
        self.key = key

    def reply(self, response):
        self.endpoint._send_response(self, response)


class _UdpTransport(object):
    """Non-blocking UDP socket driven by loop.add_reader (batch receive, ICMP error queue)."""

    def __init__(self, endpoint, sock):
        self.endpoint = endpoint
        self.sock = sock
        self.family = sock.family
        self.local_addr = sock.getsockname()[:2]
        self.loop = endpoint.loop
        self._route_cache = {}
        self.closed = False
        self.loop.add_reader(sock.fileno(), self._on_readable)

    def via_host(self, dest_ip):
        """The local address that routes to ``dest_ip`` (the bound address unless it is a wildcard)."""
        return route_source(dest_ip, self.local_addr[0], self.family, self._route_cache)

    def send(self, data, addr):
        """Returns None, or an error status string when the send failed for good."""
        return udp_send(self.sock, data, addr, self.endpoint.stats, self._drain_errqueue)

    def _on_readable(self):
        sock = self.sock
        handle = self.endpoint._on_datagram
        for _i in range(_RECV_BATCH):
            try:
                data, addr = sock.recvfrom(_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._drain_errqueue()
                continue
            handle(data, addr, self)
        # more may be pending: the reader fires again

    def _drain_errqueue(self):
        for addr, err in icmp_errors(self.sock):
            self.endpoint._on_icmp_error(addr, err)

    def close(self):
        if not self.closed:
            self.closed = True
            try:
                self.loop.remove_reader(self.sock.fileno())
            except (ValueError, OSError):
                pass
            self.sock.close()


class _StreamConnection(asyncio.Protocol):
    """One TCP or TLS connection; Content-Length framing; requests and responses both ways."""

    def __init__(self, endpoint, transport_name, key=None):
        self.endpoint = endpoint
        self.name = transport_name
        self.key = key
        self.framer = StreamFramer()
        self.transport = None
        self.local_addr = None
        self.peer = None
        self.closed = False
        self.pending = set()

    def connection_made(self, transport):
        self.transport = transport
        if self.key is None:
            self.endpoint._accepted.add(self)
        sock = transport.get_extra_info("socket")
        self.local_addr = transport.get_extra_info("sockname")[:2]
        self.peer = transport.get_extra_info("peername")[:2]
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass

    def via_host(self, _dest_ip):
        return self.local_addr[0]

    def data_received(self, data):
        try:
            messages = self.framer.feed(data)
        except SipParseError:
            self.endpoint.stats["parse_errors"] += 1
            self.transport.close()
            return
        for msg in messages:
            self.endpoint._on_message(msg, self.peer, self)

    def send(self, data, _addr=None):
        if self.closed or self.transport is None or self.transport.is_closing():
            return "error: connection to %s closed" % (format_hostport(*self.peer) if self.peer else "peer")
        self.transport.write(data)
        return None

    def connection_lost(self, exc):
        self.closed = True
        self.endpoint._on_connection_lost(self, exc)

    def close(self):
        if self.transport is not None:
            self.transport.close()


class _ClientTransaction(object):
    """Non-INVITE client transaction (RFC 3261 17.1.2) with an overall deadline instead of Timer F.

    Timer E (retransmission, UDP only) and the deadline are one entry on the endpoint's timer wheel, armed for
    whichever comes first."""

    __slots__ = ("endpoint", "branch", "method", "data", "addr", "conn", "future", "sent_at", "interval",
                 "next_at", "deadline_at", "label", "slot", "reliable", "provisional")

    def __init__(self, endpoint, branch, method, data, addr, conn, timeout, reliable, label=None):
        self.endpoint = endpoint
        self.branch = branch
        self.method = method
        self.data = data
        self.addr = addr
        self.conn = conn
        self.future = endpoint.loop.create_future()
        self.reliable = reliable
        self.provisional = None
        self.interval = endpoint.t1
        self.sent_at = time.monotonic()
        now = endpoint.loop.time()
        self.label = label or timeout
        self.deadline_at = now + timeout
        self.next_at = None if reliable else now + self.interval
        self.slot = None
        self._arm()

    def _arm(self):
        when = self.deadline_at
        if self.next_at is not None and self.next_at < when:
            when = self.next_at
        self.endpoint._arm(self, when)

    def on_timer(self, now):
        """Called by the timer wheel: time out, or retransmit (Timer E: T1 doubling up to T2; T2 after a
        provisional response) and re-arm."""
        if self.future.done():
            return
        if now >= self.deadline_at - _EARLY:
            self._timeout(self.label)
            return
        if self.next_at is not None and now >= self.next_at - _EARLY:
            self.conn.send(self.data, self.addr)
            self.endpoint.stats["retransmissions"] += 1
            self.interval = self.endpoint.t2 if self.provisional else min(self.interval * 2, self.endpoint.t2)
            self.next_at += self.interval
            if self.next_at < now:
                self.next_at = now + self.interval
        self._arm()

    def _timeout(self, timeout):
        self.fail("timeout", "no final response within %gs" % timeout)

    def on_response(self, msg):
        if msg.code < 200:
            self.provisional = msg
            return
        if not self.future.done():
            msg.rtt_ms = round((time.monotonic() - self.sent_at) * 1000.0, 3)
            self.future.set_result(msg)
        self._finish()

    def fail(self, status, message):
        if not self.future.done():
            self.future.set_exception(SipTransportError(status, message))
        self._finish()

    def _finish(self):
        self.slot = None  # the wheel skips it
        self.endpoint._forget(self)


def _make_ssl_context(validate_certs=True, ca_path=None):
    ctx = ssl.create_default_context(cafile=ca_path) if ca_path else ssl.create_default_context()
    if not validate_certs:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _tls_error_text(exc):
    return getattr(exc, "verify_message", None) and "%s (%s)" % (exc.verify_message, exc.reason) or str(exc)


class SipEndpoint(object):
    """UAC + UAS on one UDP socket per address family (plus pooled TCP/TLS connections)."""

    def __init__(self, loop, host, port, handler, user_agent, t1, t2):
        self.loop = loop
        self.host = host
        self.port = port
        self.handler = handler
        self.user_agent = user_agent
        self.t1 = t1
        self.t2 = t2
        self._udp = {}
        self._streams = {}
        self._connecting = {}
        self._tcp_server = None
        self._tls_server = None
        self.tls_port = None
        self._accepted = set()
        self._transactions = {}
        self._by_addr = {}
        self._server_tx = {}
        self._wheel = {}
        self._dns = {}
        self._tag_prefix = _random_token(4)
        self._counter = 0
        self.stats = {"retransmissions": 0, "parse_errors": 0, "udp_send_dropped": 0, "icmp_errors": 0,
                      "requests_received": 0}
        self.closed = False

    @classmethod
    async def create(cls, host="0.0.0.0", port=0, handler=None, user_agent=DEFAULT_USER_AGENT, t1=T1, t2=T2,
                     listen_tcp=False, listen_tls=None, tls_port=0, rcvbuf=4 * 1024 * 1024):
        """Bind UDP ``host:port`` (0 = any free port); ``listen_tcp`` also accepts TCP on the same port;
        ``listen_tls`` (an ``ssl.SSLContext`` with a certificate) accepts TLS on ``tls_port`` (see ``.tls_port``)."""
        loop = asyncio.get_running_loop()
        ep = cls(loop, host, port, handler, user_agent, t1, t2)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        ep._open_udp(family, host, port, rcvbuf)
        ep.port = ep._udp[family].local_addr[1]
        try:
            if listen_tcp:
                ep._tcp_server = await loop.create_server(lambda: _StreamConnection(ep, "tcp"), host, ep.port)
            if listen_tls is not None:
                ep._tls_server = await loop.create_server(lambda: _StreamConnection(ep, "tls"), host, tls_port,
                                                          ssl=listen_tls)
                ep.tls_port = ep._tls_server.sockets[0].getsockname()[1]
        except BaseException:
            ep.close()
            raise
        return ep

    def _open_udp(self, family, host, port, rcvbuf=4 * 1024 * 1024):
        sock = open_udp_socket(family, host, port, bufsize=rcvbuf)
        self._udp[family] = _UdpTransport(self, sock)
        return self._udp[family]

    @property
    def local_addr(self):
        """(host, port) of the primary UDP socket."""
        for t in self._udp.values():
            return t.local_addr
        return (self.host, self.port)

    def contact_uri(self, user=None, transport="udp"):
        host, port = self.local_addr
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1" if host == "0.0.0.0" else "::1"
        uri = SipUri(host, port, user)
        if transport != "udp":
            uri.params["transport"] = transport
        return str(uri)

    def close(self):
        if self.closed:
            return
        self.closed = True
        for tx in list(self._transactions.values()):
            tx.fail("error", "endpoint closed")
        for t in self._udp.values():
            t.close()
        for conn in list(self._streams.values()):
            conn.close()
        for fut in self._connecting.values():
            fut.cancel()
        for server in (self._tcp_server, self._tls_server):
            if server is not None:
                server.close()
        for conn in list(self._accepted):
            conn.close()
        for handle in self._server_tx.values():
            if handle is not None and handle[1] is not None:
                handle[1].cancel()
        self._server_tx.clear()
        for handle, _bucket in self._wheel.values():
            handle.cancel()
        self._wheel.clear()

    # ------------------------------------------------------------------ timer wheel
    def _arm(self, tx, when):
        """Fire ``tx.on_timer(now)`` at the first wheel tick at or after ``when`` (loop time)."""
        slot = int(when / _WHEEL_TICK) + 1
        entry = self._wheel.get(slot)
        if entry is None:
            entry = self._wheel[slot] = (self.loop.call_at(slot * _WHEEL_TICK, self._tick, slot), [])
        entry[1].append(tx)
        tx.slot = slot

    def _tick(self, slot):
        entry = self._wheel.pop(slot, None)
        if entry is None:
            return
        now = self.loop.time()
        for tx in entry[1]:
            if tx.slot == slot:  # not finished nor re-armed since
                tx.on_timer(now)

    # ------------------------------------------------------------------ identifiers
    def new_branch(self):
        self._counter += 1
        return "z9hG4bK%s%x" % (self._tag_prefix, self._counter)

    def new_tag(self):
        self._counter += 1
        return "%s%x" % (self._tag_prefix, self._counter)

    def new_call_id(self):
        self._counter += 1
        return "%s%x-%s" % (self._tag_prefix, self._counter, _random_token(4))

    # ------------------------------------------------------------------ resolution / transports
    async def _resolve(self, host, port):
        if _is_ip(host):
            return (socket.AF_INET6 if ":" in host else socket.AF_INET), host
        cached = self._dns.get(host)
        if cached is None:
            try:
                infos = await self.loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
            except socket.gaierror as exc:
                raise SipTransportError("dns_error", "cannot resolve %r: %s" % (host, exc.strerror or exc))
            if not infos:
                raise SipTransportError("dns_error", "cannot resolve %r: no address" % host)
            infos.sort(key=lambda i: 0 if i[0] == socket.AF_INET else 1)
            cached = (infos[0][0], infos[0][4][0])
            self._dns[host] = cached
        return cached

    def _udp_for(self, family):
        t = self._udp.get(family)
        if t is None:
            t = self._open_udp(family, "::" if family == socket.AF_INET6 else "0.0.0.0", 0)
        return t

    async def _stream_for(self, transport, ip, port, server_name, timeout, ssl_context):
        key = (transport, ip, port, server_name)
        conn = self._streams.get(key)
        if conn is not None and not conn.closed:
            return conn
        fut = self._connecting.get(key)
        if fut is None:
            fut = self.loop.create_task(self._connect(key, transport, ip, port, server_name, timeout, ssl_context))
            self._connecting[key] = fut
            fut.add_done_callback(lambda _f, k=key: self._connecting.pop(k, None))
        return await asyncio.shield(fut)

    async def _connect(self, key, transport, ip, port, server_name, timeout, ssl_context):
        kwargs = {}
        if transport == "tls":
            kwargs["ssl"] = ssl_context
            kwargs["server_hostname"] = server_name or ip
        where = format_hostport(ip, port)
        try:
            _t, conn = await asyncio.wait_for(
                self.loop.create_connection(lambda: _StreamConnection(self, transport, key), ip, port, **kwargs),
                timeout)
        except asyncio.TimeoutError:
            raise SipTransportError("timeout", "%s connect to %s: no answer within %gs" % (transport.upper(), where, timeout))
        except ConnectionRefusedError:
            raise SipTransportError("refused", "%s connect to %s: connection refused" % (transport.upper(), where))
        except ssl.SSLError as exc:
            raise SipTransportError("tls_error", "TLS handshake with %s: %s" % (where, _tls_error_text(exc)))
        except (ConnectionResetError, ConnectionAbortedError) as exc:
            status = "tls_error" if transport == "tls" else "error"
            raise SipTransportError(status, "%s connect to %s: %s" % (transport.upper(), where, exc))
        except OSError as exc:
            raise SipTransportError("error", "%s connect to %s: %s" % (transport.upper(), where, exc.strerror or exc))
        self._streams[key] = conn
        return conn

    # ------------------------------------------------------------------ client side
    async def request(self, method, uri, transport=None, dest=None, headers=None, body=b"", credentials=None,
                      timeout=5.0, from_uri=None, to_uri=None, call_id=None, cseq=1, validate_certs=True,
                      ca_path=None, ssl_context=None, content_type=None):
        """Send a non-INVITE request and return the final :class:`SipResponse` (``.rtt_ms``, ``.authenticated``).

        ``credentials``: ``(username, password)``, ``{"username":, "password": | "ha1":}`` or None.
        Raises :class:`SipTransportError` on timeout / refused / TLS / DNS failures.
        """
        target = uri if isinstance(uri, SipTarget) else SipTarget.parse(uri, transport, dest)
        deadline = time.monotonic() + timeout
        if _is_ip(target.host):  # no lookup to wait for
            family, ip = (socket.AF_INET6 if ":" in target.host else socket.AF_INET), target.host
        else:
            family, ip = await self._resolve(target.host, target.port)
        if target.transport == "udp":
            conn = self._udp_for(family)
        else:
            if ssl_context is None and target.transport == "tls":
                ssl_context = _make_ssl_context(validate_certs, ca_path)
            conn = await self._stream_for(target.transport, ip, target.port, target.server_name,
                                          max(0.001, deadline - time.monotonic()), ssl_context)
        addr = (ip, target.port)
        tag = self.new_tag()
        call_id = call_id or self.new_call_id()
        from_uri = from_uri or "sip:%s@%s" % ("probe", format_hostport(conn.via_host(ip)))
        to_uri = to_uri or target.uri
        extra = []
        if headers:
            for name, value in (headers.items() if isinstance(headers, dict) else headers):
                extra.append("%s: %s\r\n" % (canonical_name(name), value))
        if isinstance(body, str):
            body = body.encode("utf-8")
        if body and content_type:
            extra.append("Content-Type: %s\r\n" % content_type)
        auth_header = ""
        authenticated = False
        tries = 0
        while True:
            branch = self.new_branch()
            head = (
                "%s %s SIP/2.0\r\nVia: SIP/2.0/%s %s;branch=%s;rport\r\nMax-Forwards: 70\r\n"
                "From: <%s>;tag=%s\r\nTo: <%s>\r\nCall-ID: %s\r\nCSeq: %d %s\r\n%s%sUser-Agent: %s\r\n"
                "Content-Length: %d\r\n\r\n" % (
                    method, target.uri, target.transport.upper(),
                    format_hostport(conn.via_host(ip), conn.local_addr[1]), branch,
                    from_uri, tag, to_uri, call_id, cseq, method, "".join(extra), auth_header,
                    self.user_agent, len(body)))
            data = head.encode("utf-8") + body
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SipTransportError("timeout", "no final response within %gs" % timeout)
            resp = await self._transact(branch, method, data, addr, conn, remaining, target.transport != "udp", timeout)
            if resp.code in (401, 407) and credentials and tries < 2:
                hname = "WWW-Authenticate" if resp.code == 401 else "Proxy-Authenticate"
                chal_value = resp.headers.get(hname)
                if chal_value is None:
                    break
                try:
                    chal = DigestChallenge.parse(chal_value)
                except SipParseError:
                    break
                if tries == 1 and not chal.stale:
                    break  # credentials rejected
                user, password, ha1 = _credentials(credentials)
                auth = authorization_value(chal, user, password, method, target.uri, body=body, ha1=ha1)
                auth_header = "%s: %s\r\n" % ("Authorization" if resp.code == 401 else "Proxy-Authorization", auth)
                authenticated = True
                tries += 1
                cseq += 1
                continue
            break
        resp.authenticated = authenticated
        return resp

    def _transact(self, branch, method, data, addr, conn, timeout, reliable, label=None):
        """Start a client transaction; returns the future (awaitable) of its final response."""
        tx = _ClientTransaction(self, branch, method, data, addr, conn, timeout, reliable, label)
        self._transactions[branch] = tx
        if reliable:
            conn.pending.add(tx)
        else:
            self._by_addr.setdefault(addr, set()).add(tx)
        err = conn.send(data, addr)
        if err:
            tx.fail("error", err)
        return tx.future

    def _forget(self, tx):
        self._transactions.pop(tx.branch, None)
        if tx.reliable:
            tx.conn.pending.discard(tx)
        else:
            pending = self._by_addr.get(tx.addr)
            if pending is not None:
                pending.discard(tx)
                if not pending:
                    del self._by_addr[tx.addr]

    def _on_icmp_error(self, addr, err):
        self.stats["icmp_errors"] += 1
        pending = self._by_addr.get(addr)
        if not pending:
            return
        status = _ICMP_ERRNOS.get(err, "error")
        text = os.strerror(err) if err else "ICMP error"
        for tx in list(pending):
            tx.fail(status, "ICMP from %s: %s" % (format_hostport(addr[0], addr[1]), text))

    def _on_connection_lost(self, conn, exc):
        self._accepted.discard(conn)
        if conn.key is not None and self._streams.get(conn.key) is conn:
            del self._streams[conn.key]
        for tx in list(conn.pending):
            tx.fail("error", "connection to %s closed%s" % (
                format_hostport(*conn.peer) if conn.peer else "peer", ": %s" % exc if exc else ""))

    async def register(self, registrar, user, domain, password=None, expires=3600, ha1=None, contact=None,
                       timeout=5.0, transport=None):
        """Digest REGISTER ``user@domain`` at ``registrar`` with this endpoint's contact."""
        aor = "sip:%s@%s" % (user, domain)
        contact = contact or self.contact_uri(user)
        creds = {"username": user, "password": password, "ha1": ha1}
        return await self.request("REGISTER", "sip:%s" % domain, transport=transport,
                                  dest=_dest_of(registrar), from_uri=aor, to_uri=aor, credentials=creds,
                                  headers=[("Contact", "<%s>" % contact), ("Expires", str(expires))],
                                  timeout=timeout)

    # ------------------------------------------------------------------ incoming
    def _on_datagram(self, data, addr, conn):
        # responses in the common shape take the lean parser (same result, a fraction of the work); the
        # strict parser handles everything else and tells what is wrong
        msg = parse_response_lean(data)
        if msg is None:
            try:
                msg = parse_message(data)
            except SipParseError:
                self.stats["parse_errors"] += 1
                return
        self._on_message(msg, addr, conn)

    def _on_message(self, msg, addr, conn):
        if isinstance(msg, SipResponse):
            branch = msg.top_via.branch
            tx = self._transactions.get(branch)
            if tx is None:
                return
            try:
                if msg.cseq[1] != tx.method:
                    return
            except SipParseError:
                return
            tx.on_response(msg)
        else:
            self._on_request(msg, addr, conn)

    def _on_request(self, req, addr, conn):
        self.stats["requests_received"] += 1
        is_udp = isinstance(conn, _UdpTransport)
        via = req.top_via
        if is_udp:
            # RFC 3261 18.2.1 received + RFC 3581 rport
            changed = False
            if via.host != addr[0]:
                via.params["received"] = addr[0]
                changed = True
            if "rport" in via.params and not via.params["rport"]:
                via.params["rport"] = str(addr[1])
                via.params.setdefault("received", addr[0])
                changed = True
            if changed:
                values = req.headers.get_all("via")
                rest = split_header_list(values[0])[1:]
                items = req.headers._items
                for i, item in enumerate(items):
                    if item[2] == "via":
                        items[i] = (item[0], ", ".join([str(via)] + rest), item[2])
                        break
        key = (via.branch, req.method, addr) if via.branch else None
        if is_udp and key is not None:
            if key in self._server_tx:
                cached = self._server_tx[key]
                if cached is not None and cached[0] is not None:
                    conn.send(cached[0], self._reply_addr(via, addr))
                return
            self._server_tx[key] = (None, None)
        source = _Source(self, "udp" if is_udp else conn.name, addr, conn, key if is_udp else None)
        handler = self.handler or _default_handler
        try:
            result = handler(req, source)
        except Exception as exc:  # pylint: disable=broad-except
            result = SipResponse.for_request(req, 500, "Server Internal Error: %s" % type(exc).__name__)
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            task.add_done_callback(lambda t, r=req, s=source: self._handler_done(t, r, s))
        elif result is not None and req.method != "ACK":
            self._send_response(source, result)

    def _handler_done(self, task, req, source):
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            result = SipResponse.for_request(req, 500, "Server Internal Error: %s" % type(exc).__name__)
        else:
            result = task.result()
        if result is not None and req.method != "ACK":
            self._send_response(source, result)

    @staticmethod
    def _reply_addr(via, addr):
        rport = via.params.get("rport")
        if rport:
            return (via.params.get("received", addr[0]), int(rport))
        return (via.params.get("received", addr[0]), via.port or 5060)

    def _send_response(self, source, response):
        if not response.headers.get("server") and self.user_agent:
            response.headers.add("Server", self.user_agent)
        data = response.to_bytes()
        if source.transport == "udp":
            try:
                via = response.top_via
            except SipParseError:
                return
            source.conn.send(data, self._reply_addr(via, source.addr))
            if source.key is not None and response.code >= 200:
                old = self._server_tx.get(source.key)
                if old is not None and old[1] is not None:
                    old[1].cancel()
                handle = self.loop.call_later(64 * self.t1, self._server_tx.pop, source.key, None)
                self._server_tx[source.key] = (data, handle)
        else:
            source.conn.send(data)


def _default_handler(request, _source):
    if request.method == "OPTIONS":
        return SipResponse.for_request(request, 200, "OK", to_tag=_random_token(4), headers=[
            ("Allow", "OPTIONS, NOTIFY"), ("Accept", "application/sdp")])
    if request.method == "ACK":
        return None
    return SipResponse.for_request(request, 501, "Not Implemented", to_tag=_random_token(4))


def _dest_of(uri_or_hostport):
    if uri_or_hostport is None:
        return None
    text = str(uri_or_hostport)
    if text.lower().startswith(("sip:", "sips:")):
        u = SipUri.parse(text)
        return format_hostport(u.host, u.port)
    return text


def _credentials(credentials):
    if isinstance(credentials, (tuple, list)):
        return credentials[0], credentials[1], None
    return credentials.get("username"), credentials.get("password"), credentials.get("ha1")


# ---------------------------------------------------------------------- bulk helpers
def _result_base(target_text, target):
    return {"target": target_text, "uri": target.uri if target else None, "host": target.host if target else None,
            "port": target.port if target else None, "transport": target.transport if target else None,
            "status": "error", "reachable": False, "code": None, "reason": None, "rtt_ms": None, "server": None,
            "user_agent": None, "allow": [], "supported": [], "authenticated": False, "error": None}


def _identity(headers):
    """(Server, User-Agent, Allow upper-cased, Supported) of a response in one pass over its headers: the first
    Server and User-Agent, every element of every Allow and Supported header (as ``get``/``get_list`` give)."""
    server = user_agent = None
    allow, supported = [], []
    for _name, value, key in headers._items:
        if key == "server":
            if server is None:
                server = value
        elif key == "user-agent":
            if user_agent is None:
                user_agent = value
        elif key == "allow":
            allow.extend(a.upper() for a in split_header_list(value))
        elif key == "supported":
            supported.extend(split_header_list(value))
    return server, user_agent, allow, supported


# ---------------------------------------------------------------------- the UDP sweep
# Many OPTIONS (or other credential-less requests) to IP-literal UDP targets without a coroutine, a future or a
# transaction object per probe: one socket, a send loop that keeps ``concurrency`` probes in flight, every readable
# datagram drained in one callback, the endpoint's timer-wheel design for Timer E and the deadline, results built
# at the end.  A response is matched by a bytes search for the sweep's branch prefix; its *skeleton* (the head
# with the probe's own branch, tag, Call-ID and Request-URI and the responder's To tag masked) is looked up in a
# per-sweep table filled by the lean/strict parsers, so a fleet that answers alike is parsed once per shape.
_SWEEP_URI_RE = re.compile(r"sips?:[A-Za-z0-9.:@\-_\[\]]+\Z")
_SWEEP_TAG_RE = re.compile(b";tag=([A-Za-z0-9.!%*_+`'~\\-]+)")
_SWEEP_SHAPES_MAX = 1024
_SWEEP_SPEC_KEYS = frozenset(("uri", "target", "dest", "transport"))
_SWEEP_HOSTPORT_RE = re.compile(r"([0-9]{1,3}(?:\.[0-9]{1,3}){3}):([0-9]{1,5})\Z")
_SWEEP_FIELD_NAMES = frozenset((b"server", b"user-agent", b"allow", b"supported", b"k"))


def _mask_to_tag(match):
    return b";tag=\x00%d" % len(match.group(1))


class _UdpSweep(object):
    """One sweep of credential-less requests over IPv4-literal UDP targets (see above); ``await run()``."""

    def __init__(self, loop, jobs, method, timeout, t1, t2, concurrency, user_agent, from_uri, extra, body,
                 bind_host):
        self.loop = loop
        self.jobs = jobs  # [(result index, target text, SipTarget)]
        self.method = method
        self.timeout = timeout
        self.t1 = t1
        self.t2 = t2
        self.window = max(1, int(concurrency))
        self.from_uri = from_uri
        n = len(jobs)
        prefix = _random_token(4).encode("ascii")
        self._br = b"z9hG4bK" + prefix + b"b"
        self._tg = prefix + b"t"
        self._ci = prefix + b"c"
        self._cr = b"-" + _random_token(4).encode("ascii")
        self._template = (
            "%s %%s SIP/2.0\r\nVia: SIP/2.0/UDP %%s;branch=%%s;rport\r\nMax-Forwards: 70\r\n"
            "From: <%%s>;tag=%%s\r\nTo: <%%s>\r\nCall-ID: %%s\r\nCSeq: 1 %s\r\n%sUser-Agent: %s\r\n"
            "Content-Length: %d\r\n\r\n" % (method, method, "".join(extra).replace("%", "%%"),
                                            user_agent.replace("%", "%%"), len(body))).encode("utf-8")
        self._body = body
        self.uris = [job[2].uri.encode("ascii") for job in jobs]
        self.addrs = [(job[2].host, job[2].port) for job in jobs]
        self.sent_at = [0.0] * n
        self.deadline = [0.0] * n
        self.next_at = [0.0] * n
        self.interval = [t1] * n
        self.slot = [None] * n
        self.provisional = [False] * n
        self.done = [False] * n
        self.data = [None] * n
        self.outcome = [None] * n
        self.by_addr = {}
        self.next_k = 0
        self.inflight = 0
        self.finished = 0
        self.shapes = {}
        self.stats = {"retransmissions": 0, "parse_errors": 0, "udp_send_dropped": 0, "icmp_errors": 0,
                      "shape_hits": 0, "shape_misses": 0}
        self._wheel = {}
        self._route = {}
        self._local_parts = {}
        self.closed = False
        self.sock = open_udp_socket(socket.AF_INET, bind_host, 0, bufsize=4 * 1024 * 1024)
        self.local = self.sock.getsockname()[:2]
        self.future = loop.create_future()

    # ------------------------------------------------------------------ run
    async def run(self):
        if not self.jobs:
            self.close()
            return
        self.loop.add_reader(self.sock.fileno(), self._on_readable)
        try:
            self._fill()
            await self.future
        finally:
            self.close()

    def close(self):
        if self.closed:
            return
        self.closed = True
        try:
            self.loop.remove_reader(self.sock.fileno())
        except (ValueError, OSError):
            pass
        self.sock.close()
        for handle, _bucket in self._wheel.values():
            handle.cancel()
        self._wheel.clear()

    def _via_host(self, ip):
        return route_source(ip, self.local[0], socket.AF_INET, self._route)

    # ------------------------------------------------------------------ sending
    def _fill(self):
        n = len(self.jobs)
        while self.inflight < self.window and self.next_k < n:
            k = self.next_k
            self.next_k += 1
            self.inflight += 1
            self._first_send(k)
        if self.finished == n and not self.future.done():
            self.future.set_result(None)

    def _first_send(self, k):
        addr = self.addrs[k]
        x = b"%08x" % k
        local = self._local_parts.get(addr[0])
        if local is None:
            via_host = self._via_host(addr[0])
            local = self._local_parts[addr[0]] = (
                format_hostport(via_host, self.local[1]).encode("ascii"),
                (self.from_uri or "sip:probe@%s" % via_host).encode("utf-8"))
        uri = self.uris[k]
        data = self._template % (uri, local[0], self._br + x, local[1], self._tg + x, uri,
                                 self._ci + x + self._cr) + self._body
        self.data[k] = data
        self.by_addr.setdefault(addr, []).append(k)
        self.sent_at[k] = time.monotonic()
        now = self.loop.time()
        self.deadline[k] = now + self.timeout
        self.next_at[k] = now + self.t1
        self._arm(k, min(self.deadline[k], self.next_at[k]))
        err = self._send(data, addr)
        if err:
            self._fail(k, "error", err)

    def _send(self, data, addr):
        return udp_send(self.sock, data, addr, self.stats, self._drain_errqueue)

    # ------------------------------------------------------------------ timers (Timer E, deadline)
    def _arm(self, k, when):
        slot = int(when / _WHEEL_TICK) + 1
        entry = self._wheel.get(slot)
        if entry is None:
            entry = self._wheel[slot] = (self.loop.call_at(slot * _WHEEL_TICK, self._tick, slot), [])
        entry[1].append(k)
        self.slot[k] = slot

    def _tick(self, slot):
        entry = self._wheel.pop(slot, None)
        if entry is None:
            return
        try:
            now = self.loop.time()
            for k in entry[1]:
                if self.slot[k] == slot and not self.done[k]:
                    self._on_timer(k, now)
            self._fill()
        except Exception as exc:  # pylint: disable=broad-except
            self._abort(exc)

    def _abort(self, exc):
        """A bug in a loop callback ends the sweep with that error instead of leaving ``run()`` waiting."""
        if not self.future.done():
            self.future.set_exception(exc)

    def _on_timer(self, k, now):
        if now >= self.deadline[k] - _EARLY:
            self._fail(k, "timeout", "no final response within %gs" % self.timeout)
            return
        if now >= self.next_at[k] - _EARLY:
            self._send(self.data[k], self.addrs[k])
            self.stats["retransmissions"] += 1
            interval = self.t2 if self.provisional[k] else min(self.interval[k] * 2, self.t2)
            self.interval[k] = interval
            nxt = self.next_at[k] + interval
            if nxt < now:
                nxt = now + interval
            self.next_at[k] = nxt
        self._arm(k, min(self.deadline[k], self.next_at[k]))

    # ------------------------------------------------------------------ outcomes
    def _finish(self, k, outcome):
        self.done[k] = True
        self.slot[k] = None
        self.outcome[k] = outcome
        self.data[k] = None
        self.inflight -= 1
        self.finished += 1

    def _fail(self, k, status, message):
        if not self.done[k]:
            self._finish(k, (status, message))

    def _answer(self, k, entry):
        if entry[0] < 200:
            self.provisional[k] = True
            return
        self._finish(k, (entry, round((time.monotonic() - self.sent_at[k]) * 1000.0, 3)))

    # ------------------------------------------------------------------ receiving
    def _on_readable(self):
        recv = self.sock.recvfrom
        handle = self._on_datagram
        try:
            for _i in range(_RECV_BATCH):
                try:
                    data, _addr = recv(_MAX_DATAGRAM)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    self._drain_errqueue()
                    continue
                handle(data)
            self._fill()
        except Exception as exc:  # pylint: disable=broad-except
            self._abort(exc)

    def _drain_errqueue(self):
        for addr, err in icmp_errors(self.sock):
            self.stats["icmp_errors"] += 1
            status = _ICMP_ERRNOS.get(err, "error")
            text = "ICMP from %s: %s" % (format_hostport(addr[0], addr[1]), os.strerror(err) if err else "ICMP error")
            for k in self.by_addr.get(addr, ()):
                self._fail(k, status, text)

    def _on_datagram(self, data):
        i = data.find(self._br)
        if i < 0:
            return  # no branch of this sweep anywhere: no transaction of ours can match (the endpoint drops it too)
        j = i + len(self._br)
        x = data[j:j + 8]
        try:
            k = int(x, 16)
        except ValueError:
            k = -1
        if not 0 <= k < self.next_k or x != b"%08x" % k:
            self._slow(data, None, None)
            return
        if self.done[k]:
            return  # an answer to a retransmission
        end = data.find(b"\r\n\r\n")
        if end < 0 or end > MAX_HEADER_BYTES:
            self._slow(data, None, None)
            return
        head = data[:end].replace(self._br + x, b"\x00B").replace(self._tg + x, b"\x00T").replace(
            self._ci + x + self._cr, b"\x00C").replace(self.uris[k], b"\x00U")
        if b";tag=" in head:
            head = _SWEEP_TAG_RE.sub(_mask_to_tag, head)
        key = head + data[end:]
        entry = self.shapes.get(key)
        if entry is None:
            self._slow(data, k, key)
            return
        self.stats["shape_hits"] += 1
        if entry[0] < 200:
            self.provisional[k] = True
            return
        # _finish, inline (the per-answer path)
        self.done[k] = True
        self.slot[k] = None
        self.outcome[k] = (entry, round((time.monotonic() - self.sent_at[k]) * 1000.0, 3))
        self.data[k] = None
        self.inflight -= 1
        self.finished += 1

    def _index_of(self, branch):
        br = self._br.decode("ascii")
        if branch is None or len(branch) != len(br) + 8 or not branch.startswith(br):
            return None
        x = branch[len(br):]
        try:
            k = int(x, 16)
        except ValueError:
            return None
        if not 0 <= k < self.next_k or x != "%08x" % k:
            return None
        return k

    def _slow(self, data, k_hint, key):
        """The parsers decide (lean first, then strict); a lean-parsed answer to the probe whose branch was found
        teaches the shape table its skeleton."""
        self.stats["shape_misses"] += 1
        msg = parse_response_lean(data)
        lean = msg is not None
        if msg is None:
            try:
                msg = parse_message(data)
            except SipParseError:
                self.stats["parse_errors"] += 1
                return
        if not isinstance(msg, SipResponse):
            return  # a request to the sweep's socket: a prober serves nobody
        try:
            k = self._index_of(msg.top_via.branch)
            if k is None or self.done[k] or msg.cseq[1] != self.method:
                return
        except SipParseError:
            return
        entry = (msg.code, msg.reason) + _identity(msg.headers)
        if lean and k == k_hint and len(self.shapes) < _SWEEP_SHAPES_MAX and not self._uses_masked(data, key):
            self.shapes[key] = entry
        self._answer(k, entry)

    @staticmethod
    def _uses_masked(data, key):
        """True when a reported field (the reason, Server, User-Agent, Allow, Supported) or a header name lies in
        a masked span of the skeleton ``key``, or the datagram holds NUL itself: then the shape is not reused."""
        if b"\x00" in data:
            return True
        lines = key[:key.find(b"\r\n\r\n")].split(b"\r\n")
        if b"\x00" in lines[0]:
            return True
        for line in lines[1:]:
            if b"\x00" in line:
                name = line.split(b":", 1)[0]
                if b"\x00" in name or name.strip().lower() in _SWEEP_FIELD_NAMES:
                    return True
        return False

    def results(self, results, expect):
        for k, (index, text, target) in enumerate(self.jobs):
            res = _result_base(text, target)
            outcome = self.outcome[k]
            if outcome is None:
                res["status"], res["error"] = "error", "not sent"
            elif isinstance(outcome[0], str):
                res["status"], res["error"] = outcome
            else:
                (code, reason, server, user_agent, allow, supported), rtt = outcome
                res.update(reachable=True, code=code, reason=reason, rtt_ms=rtt, server=server,
                           user_agent=user_agent, allow=list(allow), supported=list(supported))
                if code in expect:
                    res["status"] = "ok"
                else:
                    res["error"] = "unexpected response %d %s" % (code, reason)
            results[index] = res


def _sweepable(item, transport):
    """The SipTarget of a target the UDP sweep can take (IPv4 literal, UDP, a plain URI, no per-target extras)."""
    if isinstance(item, dict):
        if not _SWEEP_SPEC_KEYS.issuperset(item):
            return None
        text = item.get("uri") or item.get("target")
        try:
            target = SipTarget.parse(text, item.get("transport") or transport, item.get("dest"))
        except (SipParseError, ValueError, TypeError):
            return None
    else:
        text = item
        m = _SWEEP_HOSTPORT_RE.match(item) if isinstance(item, str) else None
        if m is not None and (transport or "udp").lower() == "udp" and 0 < int(m.group(2)) < 65536:
            # the common "a.b.c.d:port" fleet entry, as SipTarget.parse reads it, without the URI parser (its URI is
            # digits, dots and a colon: no need for the URI character check below)
            try:
                socket.inet_pton(socket.AF_INET, m.group(1))
            except OSError:
                return None
            port = int(m.group(2))
            return item, SipTarget(item, "sip:%s:%d" % (m.group(1), port), "udp", m.group(1), port, None)
        else:
            try:
                target = SipTarget.parse(item, transport)
            except (SipParseError, ValueError, TypeError):
                return None
    if target.transport != "udp" or not _SWEEP_URI_RE.match(target.uri):
        return None
    try:
        socket.inet_pton(socket.AF_INET, target.host)
    except (OSError, ValueError):
        return None
    return text, target


async def request_many(targets, method="OPTIONS", transport="udp", concurrency=1000, timeout=5.0, from_uri=None,
                       validate_certs=True, ca_path=None, expect_codes=(200,), endpoint=None, credentials=None,
                       headers=None, body=b"", content_type=None, user_agent=DEFAULT_USER_AGENT, t1=T1, t2=T2,
                       bind_host="0.0.0.0", sweep=True):
    """Send ``method`` to every target with at most ``concurrency`` in flight; one result dict per target,
    in input order (see the module docstring for the keys).

    Without an ``endpoint`` and ``credentials``, IPv4-literal UDP targets (plain URIs or host:port) go through
    the UDP sweep (no coroutine per probe, same results); the rest, or everything with ``sweep=False``, through
    :meth:`SipEndpoint.request`.  Both run at once and share ``concurrency``."""
    targets = list(targets)
    results = [None] * len(targets)
    expect = frozenset(int(c) for c in expect_codes)
    jobs = []
    rest = list(range(len(targets)))
    if sweep and endpoint is None and not credentials and ":" not in bind_host:
        rest = []
        for i, item in enumerate(targets):
            found = _sweepable(item, transport)
            if found is None:
                rest.append(i)
            else:
                jobs.append((i, found[0], found[1]))
    window = max(1, int(concurrency))
    sweeper = None
    if jobs:
        hdrs = list((headers.items() if isinstance(headers, dict) else headers) or [])
        extra = ["%s: %s\r\n" % (canonical_name(name), value) for name, value in hdrs]
        sweep_body = body.encode("utf-8") if isinstance(body, str) else (body or b"")
        if sweep_body and content_type:
            extra.append("Content-Type: %s\r\n" % content_type)
        share = window if not rest else max(1, window * len(jobs) // len(targets))
        window = max(1, window - share) if rest else window
        sweeper = _UdpSweep(asyncio.get_running_loop(), jobs, method, timeout, t1, t2, share, user_agent, from_uri,
                            extra, sweep_body, bind_host)
    own = endpoint is None
    if own and rest:
        try:
            endpoint = await SipEndpoint.create(bind_host, 0, user_agent=user_agent, t1=t1, t2=t2)
        except BaseException:
            if sweeper is not None:
                sweeper.close()
            raise
    ssl_contexts = {}
    work = iter([(i, targets[i]) for i in rest])

    async def one(item):
        spec = item if isinstance(item, dict) else {"uri": item}
        text = spec.get("uri") or spec.get("target")
        try:
            target = SipTarget.parse(text, spec.get("transport") or transport, spec.get("dest"))
        except SipParseError as exc:
            res = _result_base(text, None)
            res["error"] = "invalid target: %s" % exc
            return res
        res = _result_base(text, target)
        hdrs = list((headers.items() if isinstance(headers, dict) else headers) or [])
        extra = spec.get("headers")
        if extra:
            hdrs.extend(extra.items() if isinstance(extra, dict) else extra)
        if spec.get("event"):
            hdrs = [h for h in hdrs if header_key(h[0]) != "event"] + [("Event", spec["event"])]
        vc = spec.get("validate_certs", validate_certs)
        ctx = None
        if target.transport == "tls":
            ctx = ssl_contexts.get(vc)
            if ctx is None:
                ctx = ssl_contexts[vc] = _make_ssl_context(vc, ca_path)
        try:
            resp = await endpoint.request(method, target, headers=hdrs, body=spec.get("body", body),
                                          content_type=spec.get("content_type", content_type),
                                          credentials=spec.get("credentials", credentials), timeout=timeout,
                                          from_uri=from_uri, ssl_context=ctx)
        except SipTransportError as exc:
            res["status"] = exc.status
            res["error"] = exc.message
            return res
        except (OSError, ValueError) as exc:
            res["error"] = "%s: %s" % (type(exc).__name__, exc)
            return res
        server, user_agent, allow, supported = _identity(resp.headers)
        res.update(reachable=True, code=resp.code, reason=resp.reason, rtt_ms=resp.rtt_ms, server=server,
                   user_agent=user_agent, allow=allow, supported=supported, authenticated=resp.authenticated)
        if resp.code in expect:
            res["status"] = "ok"
        else:
            res["error"] = "unexpected response %d %s" % (resp.code, resp.reason)
        return res

    async def worker():
        for i, item in work:
            results[i] = await one(item)

    try:
        running = [worker() for _unused in range(min(window, len(rest)))]
        if sweeper is not None:
            running.append(sweeper.run())
        await asyncio.gather(*running)
    finally:
        if sweeper is not None:
            sweeper.close()
        if own and endpoint is not None:
            endpoint.close()
    if sweeper is not None:
        sweeper.results(results, expect)
    return results


async def probe_many(targets, **kwargs):
    """OPTIONS every target (see :func:`request_many`)."""
    kwargs.setdefault("method", "OPTIONS")
    return await request_many(targets, **kwargs)


async def notify_many(targets, event="check-sync", subscription_state="terminated", expect_codes=(200, 202),
                      **kwargs):
    """Unsolicited NOTIFY (``Event: check-sync`` and friends) to every target, answering digest challenges
    with ``credentials`` (global or per target)."""
    headers = list(kwargs.pop("headers", None) or [])
    headers.append(("Event", event))
    if subscription_state:
        headers.append(("Subscription-State", subscription_state))
    return await request_many(targets, method="NOTIFY", headers=headers, expect_codes=expect_codes, **kwargs)


def summarize(results):
    """Totals over result dicts: total, ok, failed, reachable, by_status, rtt_ms {min, avg, max}."""
    by_status = dict((s, 0) for s in STATUSES)
    rtts = []
    reachable = 0
    for r in results:
        by_status[r["status"]] = by_status.get(r["status"], 0) + 1
        if r["reachable"]:
            reachable += 1
            if r["rtt_ms"] is not None:
                rtts.append(r["rtt_ms"])
    rtt = {"min": None, "avg": None, "max": None}
    if rtts:
        rtt = {"min": min(rtts), "avg": round(sum(rtts) / len(rtts), 3), "max": max(rtts)}
    return {"total": len(results), "ok": by_status["ok"], "failed": len(results) - by_status["ok"],
            "reachable": reachable, "by_status": by_status, "rtt_ms": rtt}


def run_sync(coro):
    """Run a coroutine to completion from synchronous code (an Ansible module)."""
    return asyncio.run(coro)
