# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Simulated media gateway management plane: the REST API of an AudioCodes Mediant device.

    python roles/lab/files/gwsim/gwsim.py --port P|0 [--port-file F] [--version 7.40A.100.001] [--password-file F]
        [--sip-port P [--media-port P] [--answer-ms N]] [--snmprec-template T --snmprec F]

Follows AudioCodes' "REST API for Mediant Devices" version 7.40
(https://techdocs.audiocodes.com/session-border-controller-sbc/rest-api/version-740/), the pages Status, Software
Load and Reset Device:

- ``GET /api/v1/status``: ``versionID``, ``operationalState`` (UNLOCKED), ``highAvailability`` ("Not Operational"),
  ``systemUpTime``, ``saveNeeded``, ``resetNeeded``, ``upgradeStatus`` ("None" / "In Progress"), ``productType``...
- ``PUT /api/v1/files/software`` (multipart/form-data, part ``file``): 200 ``{"description": "Device will reset now to
  activate new software load"}`` and a reset; 400 when the load is incorrect; 409 while the device is busy
  ("Device is currently performing HA synchronization");
- ``POST /api/v1/actions/reset`` ``{"saveConfiguration": bool, "gracefulTimeout": 0 | 1 | <sec>}``: 200
  ``{"description": "Device will reset now"}``; 0 resets now, 1 when all calls have ended, N after at most N seconds
  (or earlier when the calls end); 400 for bad attributes; 409 while busy;
- HTTP Basic authentication (401 otherwise).

A dual-partition device: the new load goes to the inactive partition; a load that does not boot leaves the device on
its previous load after the reset.  While it resets the device does not answer at all (connections are closed).

What a real .cmp is, is AudioCodes' secret; the simulator's loads are text files: ``AUDIOCODES-CMP <version>`` on the
first line is a good load; a file without it is refused (400); a second line ``NOBOOT`` is accepted but fails to boot.

The SIP side (``--sip-port``: one gateway is one process, management plane and SIP together) is a SIP user agent
server over UDP following RFC 3261 (the SIP a Mediant speaks): OPTIONS keep-alives are answered 200 (RFC 3261 11.2:
Allow, Accept, Supported); an INVITE gets 100 Trying, then (after ``--answer-ms``, 180 Ringing meanwhile) 200 OK with
an SDP answer (G.711 A-law) - a retransmitted INVITE gets the same answer again; ACK confirms; BYE ends the call with
200 (481 for an unknown dialog); CANCEL of a call not yet answered gets 200 and the INVITE 487 (RFC 3261 9.2; a
CANCEL after the answer gets 200 and changes nothing). A call lasts until the caller's BYE or, with a hold time
(``--hold-ms``, or per call the INVITE's ``X-Hold-Ms`` header - the simulator's own), until the gateway hangs up: a
BYE within the dialog along the Record-Route set (RFC 3261 12.2.1.1).

The device **counts its active calls from these dialogs** (from the INVITE to its BYE or CANCEL): ``/sim/state``
shows them and a graceful reset waits for them (REST API 7.40, Reset Device: ``gracefulTimeout`` 1 resets "when all
calls have ended"). While a graceful reset waits (as the Mediant User's Manual describes its graceful lock: calls in
progress go on, new calls are refused) a new INVITE is answered 503 with Retry-After; while the device resets it
does not answer SIP at all (datagrams are dropped), and a reset ends every call left.

The media side (``--media-port``, the port of the SDP answer; 0 = a free one) is an RTP echo, as a gateway's test
or loopback number is: each RTP packet (RFC 3550) that arrives is sent back to its source, with the gateway's own
SSRC and its sequence numbers and timestamps offset from the caller's (a gap in what arrived stays a gap in what goes
back, so the caller sees the loss of both directions in its sequence numbers).  Loss, delay and jitter of the network
are simulated knobs (below): ``rtp_loss`` drops that share of the packets of each stream, evenly spread (a
deterministic error-diffusion pattern: 0.2 drops exactly every fifth packet), ``rtp_delay_ms`` holds each echo that
long, ``rtp_jitter_ms`` adds to that a delay alternating between 0 and the value (the interarrival jitter RFC 3550
6.4.1 measures then comes near that value).

Versions: the status ``versionID`` is the running load; with ``--snmprec-template`` the device writes its SNMP
record file (``--snmprec``, served by snmpsim, which re-indexes a data file whose modification time changed) on every
boot with ``sysDescr`` (1.3.6.1.2.1.1.1.0) ending in ``SW Version: <running version>``, as a Mediant's sysDescr does.

Simulator control (not part of the vendor API; the tests and the lab use it), under ``/sim/``:
``GET /sim/state``; ``POST /sim/control`` ``{"active_calls": n, "busy": k, "reset_seconds": s, "version": v}`` -
calls in progress besides the SIP ones (a graceful reset waits for them too), how many next upload/reset requests
answer 409, how long a reset takes, a version to run now (a lab reset between tests; the SNMP record follows),
``rtp_loss`` (0..1), ``rtp_delay_ms`` and ``rtp_jitter_ms`` of the RTP echo, and ``"clear": true`` to forget the
history (resets, uploads, call counters, RTP counters).  ``/sim/state`` shows the knobs and ``rtp`` counters
(``received``, ``echoed``, ``dropped``).
"""
import argparse
import base64
import heapq
import struct
import email.parser
import email.policy
import json
import os
import re
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAGIC = "AUDIOCODES-CMP"


SYSDESCR = "1.3.6.1.2.1.1.1.0"


class Device(object):
    def __init__(self, version, reset_seconds=0.5, snmprec=None, snmprec_template=None):
        self.lock = threading.Condition()
        self.version = version
        self.previous = None
        self.booted = time.time()
        self.resetting = False
        self.upgrade = "None"
        self.extra_calls = 0  # calls set through /sim/control, besides the SIP dialogs
        self.dialogs = {}  # Call-ID -> the SIP call in progress (see SipSide)
        self.calls_answered = 0
        self.calls_dropped = 0  # SIP calls a reset ended
        self.graceful_waits = []  # calls in progress when each graceful reset was asked for
        self.busy = 0
        self.snmprec = snmprec
        self.snmprec_template = snmprec_template
        self.reset_seconds = reset_seconds
        self.resets = 0
        self.uploads = []
        self.pending_reset = None  # description of a graceful reset waiting for calls
        self.rtp_loss = 0.0  # RTP echo knobs (see the module docstring)
        self.rtp_delay_ms = 0
        self.rtp_jitter_ms = 0
        self.rtp = {"received": 0, "echoed": 0, "dropped": 0}
        self.write_snmprec()

    @property
    def active_calls(self):
        return self.extra_calls + len(self.dialogs)

    def write_snmprec(self):
        """The SNMP record of the running load: the template with sysDescr ending in ``SW Version: <version>``.

        Written atomically with a modification time later than the previous file's (snmpsim re-indexes a data file
        when its whole-second mtime changes)."""
        if not (self.snmprec and self.snmprec_template):
            return
        with open(self.snmprec_template) as handle:
            lines = handle.read().splitlines()
        out = []
        for line in lines:
            oid, _sep, rest = line.partition("|")
            if oid == SYSDESCR:
                tag, _sep, value = rest.partition("|")
                line = "%s|%s|%s, SW Version: %s" % (oid, tag, value, self.version)
            out.append(line)
        try:
            previous = os.stat(self.snmprec).st_mtime
        except OSError:
            previous = 0
        tmp = self.snmprec + ".tmp"
        with open(tmp, "w") as handle:
            handle.write("\n".join(out) + "\n")
        stamp = max(time.time(), int(previous) + 1)
        os.utime(tmp, (stamp, stamp))
        os.replace(tmp, self.snmprec)

    def status(self, host):
        with self.lock:
            return {
                "localTimeStamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "ipAddress": host, "subnetMask": "255.0.0.0", "defaultGateway": host,
                "productType": "Mediant 1000 (simulated)", "versionID": self.version, "protocolType": "SIP",
                "operationalState": "UNLOCKED", "highAvailability": "Not Operational",
                "serialNumber": "SIM%08d" % (os.getpid() % 100000000), "macAddress": "00908f000001",
                "systemUpTime": int(time.time() - self.booted), "saveNeeded": "false",
                "resetNeeded": "false", "upgradeStatus": self.upgrade,
            }

    def take_busy(self):
        with self.lock:
            if self.busy > 0:
                self.busy -= 1
                return True
            return False

    def _reset(self, new_version=None, boots=True):
        with self.lock:
            self.resetting = True
            self.extra_calls = 0  # a reset drops whatever is left
            self.calls_dropped += len(self.dialogs)
            self.dialogs.clear()
            self.pending_reset = None
        time.sleep(self.reset_seconds)
        with self.lock:
            if new_version is not None and boots:
                self.previous, self.version = self.version, new_version
            self.upgrade = "None"
            self.booted = time.time()
            self.resets += 1
            self.write_snmprec()
            self.resetting = False
            self.lock.notify_all()

    def reset_later(self, graceful, new_version=None, boots=True):
        def run():
            if graceful:
                deadline = None if graceful == 1 else time.time() + graceful
                with self.lock:
                    self.graceful_waits.append(self.active_calls)
                    self.pending_reset = "waiting for %d call(s)" % self.active_calls
                    while self.active_calls > 0 and (deadline is None or time.time() < deadline):
                        self.lock.wait(0.05 if deadline is None else max(0.0, min(0.05, deadline - time.time())))
            self._reset(new_version, boots)
        thread = threading.Thread(target=run)
        thread.daemon = True
        thread.start()


COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length",
           "c": "content-type", "k": "supported"}
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS"


def parse_sip(data):
    """(start line, [(lower-case name, value)], body) of a SIP message, or None when it is not one."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    head, _sep, body = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    if not lines or not lines[0].strip():
        return None
    headers = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:  # folded continuation line
            headers[-1] = (headers[-1][0], headers[-1][1] + " " + line.strip())
            continue
        name, sep, value = line.partition(":")
        if not sep:
            continue
        name = name.strip().lower()
        headers.append((COMPACT.get(name, name), value.strip()))
    return lines[0], headers, body


def header(headers, name):
    return next((v for n, v in headers if n == name), None)


def tag_of(value):
    for param in (value or "").split(";")[1:]:
        key, _sep, val = param.strip().partition("=")
        if key.lower() == "tag":
            return val
    return None


class SipSide(object):
    """The gateway's SIP user agent server on one UDP socket (see the module docstring)."""

    def __init__(self, device, host, port, media_port=0, answer_ms=0, verbose=False, hold_ms=0):
        self.device = device
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.host, self.port = self.sock.getsockname()
        self.media_port = media_port or 40000
        self.answer_ms = answer_ms
        self.hold_ms = hold_ms
        self.verbose = verbose
        self.sent = {}  # (Call-ID, CSeq) of an INVITE -> the responses sent (a retransmission gets them again)

    def serve(self):
        while True:
            try:
                data, addr = self.sock.recvfrom(65535)
            except OSError:
                return
            try:
                self.handle(data, addr)
            except Exception as exc:  # noqa: BLE001 - one bad datagram must not stop the gateway
                sys.stderr.write("gwsim sip: %r from %s: %s\n" % (data[:60], addr, exc))

    def send(self, text, addr):
        self.sock.sendto(text.encode("utf-8"), addr)

    def response(self, code, reason, headers, to_tag=None, extra=(), body=""):
        out = ["SIP/2.0 %d %s" % (code, reason)]
        out += ["Via: %s" % v for n, v in headers if n == "via"]
        to = header(headers, "to") or ""
        if to_tag and code > 100 and tag_of(to) is None:
            to += ";tag=" + to_tag
        out += ["From: %s" % header(headers, "from"), "To: %s" % to, "Call-ID: %s" % header(headers, "call-id"),
                "CSeq: %s" % header(headers, "cseq")]
        out += list(extra)
        out += ["Server: Mediant 1000 (simulated)/v.%s" % self.device.version, "Content-Length: %d" % len(body.encode()),
                "", body]
        return "\r\n".join(out)

    def sdp(self):
        session = int(time.time())
        return "\r\n".join(["v=0", "o=mgw %d %d IN IP4 %s" % (session, session, self.host), "s=-",
                            "c=IN IP4 %s" % self.host, "t=0 0", "m=audio %d RTP/AVP 8" % self.media_port,
                            "a=rtpmap:8 PCMA/8000", "a=sendrecv", ""])

    def handle(self, data, addr):
        msg = parse_sip(data)
        if msg is None:
            return
        start, headers, _body = msg
        with self.device.lock:
            if self.device.resetting:  # a resetting device answers nothing
                return
        if start.startswith("SIP/2.0"):
            return  # a response (to a BYE we never send): nothing to do
        method = start.split(" ", 1)[0].upper()
        call_id = header(headers, "call-id")
        if not call_id or not header(headers, "cseq") or not header(headers, "via"):
            return  # not a request we can answer
        if self.verbose:
            sys.stderr.write("gwsim sip: %s %s from %s\n" % (method, call_id, addr))
        if method == "OPTIONS":
            self.send(self.response(200, "OK", headers, uuid.uuid4().hex[:10], (
                "Allow: %s" % ALLOW, "Accept: application/sdp", "Supported: ")), addr)
        elif method == "INVITE":
            self.invite(headers, call_id, addr)
        elif method == "ACK":
            with self.device.lock:
                call = self.device.dialogs.get(call_id)
                if call and call["state"] == "answered":
                    call["state"] = "confirmed"
        elif method == "BYE":
            with self.device.lock:
                call = self.device.dialogs.pop(call_id, None)
                self.device.lock.notify_all()
            if call:
                self.send(self.response(200, "OK", headers), addr)
            else:
                self.send(self.response(481, "Call/Transaction Does Not Exist", headers), addr)
        elif method == "CANCEL":
            self.cancel(headers, call_id, addr)
        else:
            self.send(self.response(405, "Method Not Allowed", headers, uuid.uuid4().hex[:10],
                                    ("Allow: %s" % ALLOW,)), addr)

    def invite(self, headers, call_id, addr):
        key = (call_id, header(headers, "cseq"))
        with self.device.lock:
            sent = self.sent.get(key)
            call = self.device.dialogs.get(call_id)
            graceful = self.device.pending_reset is not None
        if sent is not None:  # a retransmission: the same answer again
            for text in sent:
                self.send(text, addr)
            return
        if tag_of(header(headers, "to")):  # a re-INVITE: within a call we know, the same media again
            if call is None:
                self.send(self.response(481, "Call/Transaction Does Not Exist", headers), addr)
            else:
                self.send(self.response(200, "OK", headers, call["tag"], self.answer_headers(headers), self.sdp()),
                          addr)
            return
        if graceful:  # graceful lock: the calls in progress go on, new ones are refused
            self.send(self.response(503, "Service Unavailable", headers, uuid.uuid4().hex[:10],
                                    ("Retry-After: 60",)), addr)
            return
        call = {"tag": uuid.uuid4().hex[:12], "state": "early", "started": time.time(), "headers": headers,
                "addr": addr, "key": key}
        trying = self.response(100, "Trying", headers)
        with self.device.lock:
            self.device.dialogs[call_id] = call
            self.sent[key] = [trying]
            self.prune()
        self.send(trying, addr)
        if self.answer_ms > 0:
            ringing = self.response(180, "Ringing", headers, call["tag"], self.answer_headers(headers))
            with self.device.lock:
                self.sent[key].append(ringing)
            self.send(ringing, addr)
            timer = threading.Timer(self.answer_ms / 1000.0, self.answer, (call_id, call))
            timer.daemon = True
            timer.start()
        else:
            self.answer(call_id, call)

    def answer_headers(self, headers):
        extra = ["Record-Route: %s" % v for n, v in headers if n == "record-route"]
        extra += ["Contact: <sip:%s:%d;transport=udp>" % (self.host, self.port), "Allow: %s" % ALLOW]
        return extra

    def answer(self, call_id, call):
        ok = self.response(200, "OK", call["headers"], call["tag"],
                           self.answer_headers(call["headers"]) + ["Content-Type: application/sdp"], self.sdp())
        with self.device.lock:
            if self.device.dialogs.get(call_id) is not call or call["state"] != "early":
                return  # cancelled, or the device reset meanwhile
            call["state"] = "answered"
            self.device.calls_answered += 1
            self.sent[call["key"]].append(ok)
        self.send(ok, call["addr"])
        hold = self.hold_of(call["headers"])
        if hold > 0:
            timer = threading.Timer(hold / 1000.0, self.hang_up, (call_id, call))
            timer.daemon = True
            timer.start()

    def hold_of(self, headers):
        try:
            return max(0, int(header(headers, "x-hold-ms") or self.hold_ms))
        except ValueError:
            return self.hold_ms

    def hang_up(self, call_id, call):
        """The called party hangs up: BYE within the dialog (RFC 3261 12.2.1.1 / 15.1.1: the Record-Route set as
        received is the route set, the caller's Contact the remote target; sent to the first route when it is a
        loose router)."""
        headers = call["headers"]
        with self.device.lock:
            if self.device.dialogs.get(call_id) is not call:
                return  # the caller hung up first, or the device reset
            del self.device.dialogs[call_id]
            self.device.lock.notify_all()
        routes = []
        for name, value in headers:
            if name == "record-route":
                routes += [r.strip() for r in value.split(",") if r.strip()]
        contact = header(headers, "contact") or ""
        target = contact[contact.find("<") + 1:contact.find(">")] if "<" in contact else contact.split(";")[0]
        to = header(headers, "to") or ""
        if tag_of(to) is None:
            to += ";tag=" + call["tag"]
        lines = ["BYE %s SIP/2.0" % target.strip(),
                 "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK%s;rport" % (self.host, self.port, uuid.uuid4().hex[:16])]
        lines += ["Route: %s" % r for r in routes]
        lines += ["From: %s" % to, "To: %s" % header(headers, "from"), "Call-ID: %s" % call_id, "CSeq: 1 BYE",
                  "Max-Forwards: 70", "Server: Mediant 1000 (simulated)/v.%s" % self.device.version,
                  "Content-Length: 0", "", ""]
        first = routes[0] if routes and ";lr" in routes[0] else target
        match = re.search(r"sips?:(?:[^@;>]*@)?([^:;>]+)(?::(\d+))?", first)
        if match:
            self.send("\r\n".join(lines), (match.group(1), int(match.group(2) or 5060)))

    def cancel(self, headers, call_id, addr):
        with self.device.lock:
            call = self.device.dialogs.get(call_id)
            early = call is not None and call["state"] == "early"
            if early:
                del self.device.dialogs[call_id]
                self.device.lock.notify_all()
        if call is None:
            self.send(self.response(481, "Call/Transaction Does Not Exist", headers), addr)
            return
        self.send(self.response(200, "OK", headers, call["tag"]), addr)
        if early:
            self.send(self.response(487, "Request Terminated", call["headers"], call["tag"]), call["addr"])

    def prune(self):
        """Forget answers to INVITEs of calls that ended long ago (called with the device lock held)."""
        if len(self.sent) > 4096:
            live = set(c["key"] for c in self.device.dialogs.values())
            for key in [k for k in self.sent if k not in live][:2048]:
                del self.sent[key]


class MediaEcho(object):
    """The gateway's RTP echo on one UDP socket (see the module docstring): every stream (source address) gets the
    gateway's own SSRC and offsets; ``rtp_loss`` drops evenly, ``rtp_delay_ms``/``rtp_jitter_ms`` delay the echo."""

    def __init__(self, device, host, port):
        self.device = device
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.sock.bind((host, port))
        except OSError as exc:  # the lab's port was taken meanwhile: a free one (the SDP answer names it)
            sys.stderr.write("gwsim rtp: port %d: %s; using a free port\n" % (port, exc))
            self.sock.bind((host, 0))
        self.port = self.sock.getsockname()[1]
        self.streams = {}  # source address -> {ssrc, seq, ts, first seq/ts, loss accumulator, n}
        self.queue = []  # (due, n, packet, address) of delayed echoes
        self.cond = threading.Condition()
        self.n = 0

    def serve(self):
        thread = threading.Thread(target=self.sender)
        thread.daemon = True
        thread.start()
        while True:
            try:
                data, addr = self.sock.recvfrom(2048)
            except OSError:
                return
            if len(data) < 12 or data[0] >> 6 != 2:
                continue  # not RTP
            if 200 <= data[1] <= 204:  # RTCP (RFC 5761 4: packet types 200-204 in the second byte)
                continue
            self.echo(data, addr)

    def echo(self, data, addr):
        dev = self.device
        with dev.lock:
            if dev.resetting:
                return
            dev.rtp["received"] += 1
            loss, delay, jitter = float(dev.rtp_loss or 0), float(dev.rtp_delay_ms or 0), float(dev.rtp_jitter_ms or 0)
        seq, ts = struct.unpack_from("!HI", data, 2)
        st = self.streams.get(addr)
        if st is None:
            if len(self.streams) > 1024:
                self.streams.clear()
            rnd = struct.unpack("!IHI", os.urandom(10))
            st = self.streams[addr] = {"ssrc": rnd[0], "seq": rnd[1], "ts": rnd[2], "seq0": seq, "ts0": ts,
                                       "acc": 0.0, "n": 0}
        st["acc"] += min(1.0, max(0.0, loss))
        st["n"] += 1
        if st["acc"] >= 1.0 - 1e-9:  # evenly spread loss: error diffusion
            st["acc"] -= 1.0
            with dev.lock:
                dev.rtp["dropped"] += 1
            return
        out = bytearray(data)
        struct.pack_into("!HII", out, 2, (st["seq"] + seq - st["seq0"]) & 0xFFFF, (st["ts"] + ts - st["ts0"]) & 0xFFFFFFFF,
                         st["ssrc"])
        wait = (delay + (jitter if st["n"] % 2 else 0.0)) / 1000.0
        if wait <= 0:
            self.send(bytes(out), addr)
            return
        with self.cond:
            self.n += 1
            heapq.heappush(self.queue, (time.monotonic() + wait, self.n, bytes(out), addr))
            self.cond.notify()

    def send(self, data, addr):
        try:
            self.sock.sendto(data, addr)
        except OSError:
            return
        with self.device.lock:
            self.device.rtp["echoed"] += 1

    def sender(self):
        while True:
            with self.cond:
                while not self.queue:
                    self.cond.wait()
                due, _n, data, addr = self.queue[0]
                now = time.monotonic()
                if due > now:
                    self.cond.wait(due - now)
                    continue
                heapq.heappop(self.queue)
            self.send(data, addr)


class Handler(BaseHTTPRequestHandler):
    server_version = "AudioCodes-sim"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # noqa: D401 - quiet unless asked
        if self.server.verbose:
            sys.stderr.write("%s - %s\n" % (self.address_string(), fmt % args))

    @property
    def device(self):
        return self.server.device

    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def gate(self, control=False):
        """False (and the connection dropped or 401 sent) when the request must not be served."""
        if self.device.resetting and not control:
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return False
        if control or not self.server.credentials:
            return True
        want = "Basic " + base64.b64encode(("%s:%s" % self.server.credentials).encode()).decode()
        if self.headers.get("Authorization") != want:
            self.body()
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="Mediant"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return False
        return True

    def do_GET(self):  # noqa: N802 - http.server's naming
        if self.path.startswith("/sim/"):
            self.gate(control=True)
            with self.device.lock:
                state = {"version": self.device.version, "previous": self.device.previous,
                         "resetting": self.device.resetting, "active_calls": self.device.active_calls,
                         "busy": self.device.busy, "resets": self.device.resets, "uploads": list(self.device.uploads),
                         "pending_reset": self.device.pending_reset, "sip_calls": len(self.device.dialogs),
                         "calls_answered": self.device.calls_answered, "calls_dropped": self.device.calls_dropped,
                         "graceful_waits": list(self.device.graceful_waits), "sip_port": self.server.sip_port,
                         "media_port": getattr(self.server, "media_port", None), "rtp_loss": self.device.rtp_loss,
                         "rtp_delay_ms": self.device.rtp_delay_ms, "rtp_jitter_ms": self.device.rtp_jitter_ms,
                         "rtp": dict(self.device.rtp)}
            return self.reply(200, state)
        if not self.gate():
            return None
        if self.path.rstrip("/") == "/api/v1/status":
            return self.reply(200, self.device.status(self.server.server_address[0]))
        return self.reply(404, {"description": "Not found"})

    def do_POST(self):  # noqa: N802
        if self.path == "/sim/control":
            self.gate(control=True)
            ctl = json.loads(self.body() or b"{}")
            with self.device.lock:
                for key, attr in (("active_calls", "extra_calls"), ("busy", "busy"),
                                  ("reset_seconds", "reset_seconds"), ("version", "version"), ("rtp_loss", "rtp_loss"),
                                  ("rtp_delay_ms", "rtp_delay_ms"), ("rtp_jitter_ms", "rtp_jitter_ms")):
                    if key in ctl:
                        setattr(self.device, attr, ctl[key])
                if "version" in ctl:
                    self.device.previous = None
                    self.device.write_snmprec()
                if ctl.get("clear"):  # forget the history: resets, uploads, call counters
                    self.device.resets = self.device.calls_answered = self.device.calls_dropped = 0
                    self.device.uploads, self.device.graceful_waits = [], []
                    self.device.rtp = {"received": 0, "echoed": 0, "dropped": 0}
                self.device.lock.notify_all()
            return self.reply(200, {"ok": True})
        if not self.gate():
            return None
        if self.path.rstrip("/") != "/api/v1/actions/reset":
            self.body()
            return self.reply(404, {"description": "Not found"})
        try:
            req = json.loads(self.body() or b"{}")
        except ValueError:
            return self.reply(400, {"description": "Invalid JSON"})
        save = req.get("saveConfiguration", True)
        graceful = req.get("gracefulTimeout", 0)
        if not isinstance(save, bool) or not isinstance(graceful, int) or isinstance(graceful, bool) or graceful < 0:
            return self.reply(400, {"description": "Invalid attribute value"})
        if self.device.take_busy():
            return self.reply(409, {"description": "Device is currently performing HA synchronization"})
        self.device.reset_later(graceful)
        return self.reply(200, {"description": "Device will reset now"})

    def do_PUT(self):  # noqa: N802
        if not self.gate():
            return None
        raw = self.body()
        if self.path.rstrip("/") != "/api/v1/files/software":
            return self.reply(404, {"description": "Not found"})
        ctype = self.headers.get("Content-Type", "")
        if not ctype.startswith("multipart/form-data"):
            return self.reply(400, {"description": "multipart/form-data expected"})
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + raw)
        load = None
        for part in msg.iter_parts():
            if part.get_param("name", header="content-disposition") == "file":
                load = part.get_payload(decode=True) or b""
        if load is None:
            return self.reply(400, {"description": "No file part"})
        lines = load.decode("utf-8", "replace").splitlines()
        first = lines[0].split() if lines else []
        if len(first) != 2 or first[0] != MAGIC:
            return self.reply(400, {"description": "Provided software load is incorrect"})
        if self.device.take_busy():
            return self.reply(409, {"description": "Device is currently performing HA synchronization"})
        boots = "NOBOOT" not in lines[1:2]
        with self.device.lock:
            self.device.uploads.append(first[1])
            self.device.upgrade = "In Progress"
        self.device.reset_later(0, new_version=first[1], boots=boots)
        return self.reply(200, {"description": "Device will reset now to activate new software load"})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="0: a free port, written to --port-file")
    parser.add_argument("--port-file", help="where to write the port once listening")
    parser.add_argument("--version", default="7.40A.100.001")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password-file", help="file holding the password (none: no authentication)")
    parser.add_argument("--reset-seconds", type=float, default=0.5)
    parser.add_argument("--sip-port", type=int, help="UDP port of the SIP side (none: no SIP side)")
    parser.add_argument("--media-port", type=int, default=0,
                        help="RTP echo port announced in the SDP answer (0: a free port)")
    parser.add_argument("--answer-ms", type=int, default=0, help="ring this long (180) before the 200 OK")
    parser.add_argument("--hold-ms", type=int, default=0,
                        help="hang up a call this long after answering it (0: the caller hangs up); X-Hold-Ms per call")
    parser.add_argument("--snmprec-template", help="the gateway's SNMP record, sysDescr without the version")
    parser.add_argument("--snmprec", help="the SNMP record file written on every boot (snmpsim's data file)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    server.sip_port = server.media_port = None
    server.device = Device(args.version, args.reset_seconds, args.snmprec, args.snmprec_template)
    if args.sip_port is not None:
        media = MediaEcho(server.device, args.host, args.media_port)
        server.media_port = media.port
        thread = threading.Thread(target=media.serve)
        thread.daemon = True
        thread.start()
        sip = SipSide(server.device, args.host, args.sip_port, media.port, args.answer_ms, args.verbose,
                      args.hold_ms)
        server.sip_port = sip.port
        thread = threading.Thread(target=sip.serve)
        thread.daemon = True
        thread.start()
    server.verbose = args.verbose
    server.credentials = None
    if args.password_file:
        with open(args.password_file) as handle:
            server.credentials = (args.user, handle.read().strip())
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as handle:
            handle.write("%d\n" % server.server_address[1])
        os.replace(tmp, args.port_file)
    try:
        server.serve_forever(0.1)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
