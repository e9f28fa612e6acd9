# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Calls of a simulated phone: answering INVITEs by answer mode, placing calls, the in-call state.

What the vendors document, and what the simulated phone does:

- A phone rings and is answered, or answers busy, or rejects; with Do Not Disturb it refuses with its DND
  return code.  Yealink's admin guide documents ``features.dnd_refuse_code`` (default **480 Temporarily
  Unavailable**, also 404, 486, 603); for the other vendors the simulated phone answers DND with **486 Busy
  Here**, their busy answer.  ``code`` (control ``answer_mode ... dnd --code N``) sets another one.
- A phone does not reboot or update its firmware while a line is in a call: Cisco IP Phone 8800 Series
  Multiplatform Phones administration guide (upgrade rule: "upgrade only if all voice lines are inactive"),
  Poly UC Software administrator guide (no reboot or update during an active call: the phone waits for the
  call to end), Yealink administrator guide (auto provisioning waits until the phone is idle).  The phone
  answers the NOTIFY (200), notes the pending re-sync or reboot (``pending_update`` in its status) and applies
  it when its last call ends.

Answer modes (per phone; the fleet file's ``answer_mode``/``answer_code``/``ring`` per handset, or the control
command ``answer_mode``):

``answer`` (default)
    100 Trying, 180 Ringing, after ``ring`` seconds (default 0.2) 200 OK with an SDP answer.  The 200 is sent
    again (T1 doubling up to T2) until the ACK comes; without an ACK within 64*T1 the phone hangs up (BYE).
``busy``
    486 Busy Here.
``noanswer``
    180 Ringing until the caller cancels (200 to the CANCEL, 487 to the INVITE) or ``ring`` seconds (default
    20) have passed, then 480 Temporarily Unavailable.
``reject``
    the final ``code`` given (default 603 Decline).
``dnd``
    the vendor's DND code (see above), or ``code``.

In a call: BYE gets 200 and ends it; a re-INVITE gets 200 with the same SDP; UPDATE and INFO get 200; a request
for an unknown dialog gets 481.  No RTP is sent or received: the SDP names a port, nothing listens on it.

Placing a call (control ``call``): INVITE to ``sip:<number>@<domain>`` through the phone's registrar (outbound
proxy) with its account's digest credentials (407 answered once), ACK, then held until control ``hangup`` or
``duration`` seconds, then BYE; a call still ringing is cancelled.

The phone is **in a call** (``in_call`` in status.json) while a call is answered or one it places is being set
up or answered; a call that only rings at it does not count.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import asyncio
import socket
import time

from ansible_collections.voipops.voip.plugins.module_utils import sip
from ansible_collections.voipops.voip.plugins.module_utils.sip_message import REASONS as SIP_REASONS

ANSWER_MODES = ("answer", "busy", "noanswer", "reject", "dnd")
DND_CODES = {"yealink": 480}          # Yealink features.dnd_refuse_code default; others: 486
DEFAULT_RING = {"answer": 0.2, "noanswer": 20.0}
REASONS = {180: "Ringing", 404: "Not Found", 480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist",
           486: "Busy Here", 487: "Request Terminated", 488: "Not Acceptable Here", 600: "Busy Everywhere",
           603: "Decline", 604: "Does Not Exist Anywhere"}
CODECS = {"0": "PCMU/8000", "8": "PCMA/8000", "9": "G722/8000", "18": "G729/8000"}
CALL_LOG = 20


class CallError(Exception):
    pass


def reason(code):
    return REASONS.get(code) or SIP_REASONS.get(code, "")


def offered_codecs(body):
    """Payload types of the first audio stream of an SDP offer ([] for none)."""
    for line in (body or b"").decode("utf-8", "replace").splitlines():
        if line.startswith("m=audio "):
            return line.split()[3:]
    return []


def make_sdp(user, port, session, version, payloads):
    lines = ["v=0", "o=%s %d %d IN IP4 127.0.0.1" % (user or "-", session, version), "s=voipops-phonesim",
             "c=IN IP4 127.0.0.1", "t=0 0", "m=audio %d RTP/AVP %s" % (port, " ".join(payloads))]
    lines += ["a=rtpmap:%s %s" % (pt, CODECS[pt]) for pt in payloads]
    lines.append("a=sendrecv")
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


class Call(object):
    """One call of the phone (a dialog once it has both tags)."""

    def __init__(self, direction, call_id, local_uri, local_tag, remote_uri):
        self.direction = direction          # in | out
        self.call_id = call_id
        self.local_uri = local_uri
        self.local_tag = local_tag
        self.remote_uri = remote_uri
        self.remote_tag = None
        self.remote_target = None
        self.route_set = []
        self.local_cseq = 1
        self.state = "ringing"              # ringing | answered | confirmed | ended
        self.started = time.time()
        self.answered_at = None
        self.ended_at = None
        self.outcome = None
        self.code = None
        self.sdp = None
        self.invite = None
        self.source = None
        self.cancelled = asyncio.Event()
        self.acked = asyncio.Event()
        self.hangup = asyncio.Event()
        self.task = None

    @property
    def active(self):
        """In a call: answered, or (placed by the phone) being set up."""
        return self.state in ("answered", "confirmed") or (self.direction == "out" and self.state == "ringing")

    def summary(self):
        return {"call_id": self.call_id, "direction": self.direction, "peer": self.remote_uri, "state": self.state,
                "started": self.started, "answered_at": self.answered_at, "ended_at": self.ended_at,
                "outcome": self.outcome, "code": self.code}


def _uri_of(header_value):
    try:
        return sip.NameAddr.parse(header_value).uri
    except sip.SipParseError:
        return header_value


class CallHandling(object):
    """Mixin for :class:`sim.Phone`: needs ``self.ep``, ``self.config``, ``self.sim``, ``self.vendor``, ``self._set``,
    ``self.on_notify``, ``self.port``, ``self.sip_ua()``."""

    def init_calls(self, spec):
        self.answer_mode = spec.get("answer_mode") or "answer"
        if self.answer_mode not in ANSWER_MODES:
            raise CallError("%s: answer_mode must be one of %s" % (self.name, ", ".join(ANSWER_MODES)))
        self.answer_code = spec.get("answer_code")
        self.ring = spec.get("ring")
        self.calls = {}
        self.call_log = []
        self.calls_in = 0
        self.calls_out = 0
        self.pending_update = None
        self._sdp_session = int(time.time())

    # ------------------------------------------------------------ state
    @property
    def in_call(self):
        return any(c.active for c in self.calls.values())

    def calls_status(self):
        return {"in_call": self.in_call, "calls": sum(1 for c in self.calls.values() if c.active),
                "active_calls": [c.summary() for c in self.calls.values() if c.state != "ended"],
                "calls_in": self.calls_in, "calls_out": self.calls_out, "call_log": list(self.call_log),
                "answer_mode": self.answer_mode, "answer_code": self.answer_code, "pending_update": self.pending_update}

    def set_answer_mode(self, mode, code=None, ring=None):
        if mode not in ANSWER_MODES:
            raise CallError("answer_mode must be one of %s, not '%s'" % (", ".join(ANSWER_MODES), mode))
        if code is not None:
            code = int(code)
            if not 400 <= code <= 699:
                raise CallError("answer_mode code must be a final error code 400-699, not %d" % code)
        self.answer_mode = mode
        self.answer_code = code
        self.ring = float(ring) if ring is not None else None
        self.sim.dirty = True

    def _ring_time(self):
        if self.ring is not None:
            return float(self.ring)
        return DEFAULT_RING.get(self.answer_mode, 0.2)

    def _refusal_code(self):
        if self.answer_mode == "busy":
            return self.answer_code or 486
        if self.answer_mode == "reject":
            return self.answer_code or 603
        if self.answer_mode == "dnd":
            return self.answer_code or DND_CODES.get(self.vendor, 486)
        return None

    def _end(self, call, outcome, code=None):
        if call.state == "ended":
            return
        call.state = "ended"
        call.outcome = outcome
        if code is not None:
            call.code = code
        call.ended_at = time.time()
        self.calls.pop(call.call_id, None)
        self.call_log.append(call.summary())
        del self.call_log[:-CALL_LOG]
        self.sim.dirty = True
        if not self.in_call and self.pending_update:
            action, self.pending_update = self.pending_update, None
            self.events.append("applied-after-call:%s" % action)
            self._busy = asyncio.ensure_future(self.on_notify(action))

    def defer_update(self, action):
        """NOTIFY during a call: remember it (a reboot outranks a re-sync) and apply it when the last call ends."""
        if self.pending_update != "reboot":
            self.pending_update = action
        self.sim.dirty = True

    def _sdp(self, payloads):
        user = (self.config or {}).get("username")
        return make_sdp(user, 20000 + (self.port % 20000) * 2, self._sdp_session, self._sdp_session, payloads)

    def _response(self, call, req, code, body=b"", reason_text=None):
        headers = []
        if code > 100 and code < 300:
            for rr in req.headers.get_all("record-route"):
                headers.append(("Record-Route", rr))
            headers.append(("Contact", "<%s>" % self.ep.contact_uri((self.config or {}).get("username"))))
        if body:
            headers.append(("Content-Type", "application/sdp"))
        headers.append(("User-Agent", self.sip_ua()))
        return sip.SipResponse.for_request(req, code, reason_text or reason(code), to_tag=call.local_tag if call else None,
                                           headers=headers, body=body)

    # ------------------------------------------------------------ incoming
    def on_call_request(self, req, source):
        """INVITE / ACK / BYE / CANCEL / in-dialog requests.  Returns a response, or None (answered later)."""
        method = req.method
        call = self.calls.get(req.call_id)
        if method == "CANCEL":
            if call is None or call.invite is None or call.direction != "in" or \
                    call.invite.top_via.branch != req.top_via.branch:
                return sip.SipResponse.for_request(req, 481, reason(481))
            call.cancelled.set()
            return sip.SipResponse.for_request(req, 200, "OK", to_tag=call.local_tag)
        if method == "ACK":
            if call is not None and req.to_tag == call.local_tag:
                call.acked.set()
            return None
        try:
            to_tag = req.to_tag
        except sip.SipParseError:
            return sip.SipResponse.for_request(req, 400, "Bad Request")
        if to_tag:
            if call is None or call.local_tag != to_tag or call.state == "ended":
                return sip.SipResponse.for_request(req, 481, reason(481))
            if method == "BYE":
                self._end(call, "hangup_remote")
                return sip.SipResponse.for_request(req, 200, "OK")
            if method == "INVITE":             # re-INVITE: same SDP, same session version
                return self._response(call, req, 200, call.sdp or b"")
            if method in ("UPDATE", "INFO"):
                return sip.SipResponse.for_request(req, 200, "OK")
            return sip.SipResponse.for_request(req, 405, "Method Not Allowed",
                                               headers=[("Allow", "INVITE, ACK, CANCEL, BYE, UPDATE, INFO")])
        if method != "INVITE":
            return sip.SipResponse.for_request(req, 481, reason(481))
        if call is not None:                    # the same call again on another branch (a fork): no second call
            return sip.SipResponse.for_request(req, 482, "Loop Detected")
        try:
            remote = _uri_of(req.headers.get("from", ""))
        except Exception:  # noqa: BLE001
            remote = None
        call = Call("in", req.call_id, _uri_of(req.headers.get("to", "")), self.ep.new_tag(), remote)
        call.remote_tag = req.from_tag
        call.remote_target = _uri_of(req.headers.get("contact", "")) if req.headers.get("contact") else None
        call.route_set = list(req.headers.get_all("record-route"))
        call.invite = req
        call.source = source
        self.calls[call.call_id] = call
        self.calls_in += 1
        self.sim.dirty = True
        call.task = asyncio.ensure_future(self._answer(call, req, source))
        return None

    async def _answer(self, call, req, source):
        source.reply(sip.SipResponse.for_request(req, 100, "Trying"))
        refusal = self._refusal_code()
        if refusal:
            source.reply(self._response(call, req, refusal))
            self._end(call, self.answer_mode, refusal)
            return
        offer = offered_codecs(req.body)
        if req.body:
            common = [pt for pt in offer if pt in CODECS]
            if not common:
                source.reply(self._response(call, req, 488))
                self._end(call, "no_common_codec", 488)
                return
            payloads = common[:1]
        else:
            payloads = ["0", "8"]               # no offer in the INVITE: the 200 carries ours (RFC 3264)
        source.reply(self._response(call, req, 180))
        try:
            await asyncio.wait_for(call.cancelled.wait(), self._ring_time())
            source.reply(self._response(call, req, 487))
            self._end(call, "cancelled", 487)
            return
        except asyncio.TimeoutError:
            pass
        if call.state == "ended":
            return
        if self.answer_mode == "noanswer":
            source.reply(self._response(call, req, 480))
            self._end(call, "no_answer", 480)
            return
        call.sdp = self._sdp(payloads)
        call.state = "answered"
        call.answered_at = time.time()
        call.code = 200
        self.sim.dirty = True
        ok = self._response(call, req, 200, call.sdp)
        t1, t2 = self.ep.t1, self.ep.t2
        interval, waited = t1, 0.0
        while not call.acked.is_set():
            source.reply(ok)
            try:
                await asyncio.wait_for(call.acked.wait(), interval)
            except asyncio.TimeoutError:
                waited += interval
                interval = min(interval * 2, t2)
                if waited >= 64 * t1:
                    break
            if call.state == "ended":
                return
        if not call.acked.is_set():
            await self._send_bye(call)
            self._end(call, "no_ack", 200)
            return
        call.state = "confirmed"
        self.sim.dirty = True

    # ------------------------------------------------------------ outgoing requests
    def _next_hop(self, call):
        if call.route_set:                      # RFC 3261 12.1: the route set starts with the next hop
            uri = sip.SipUri.parse(_uri_of(call.route_set[0]))
        else:
            uri = sip.SipUri.parse(call.remote_target or call.remote_uri)
        return uri.host, uri.port or 5060

    def _build(self, call, method, ruri, branch, cseq=None, extra=(), body=b""):
        h = sip.Headers()
        host, port = self.ep.local_addr
        h.add("Via", "SIP/2.0/UDP %s:%d;branch=%s;rport" % (host, port, branch))
        h.add("Max-Forwards", "70")
        h.add("From", "<%s>;tag=%s" % (call.local_uri, call.local_tag))
        h.add("To", "<%s>%s" % (call.remote_uri, ";tag=%s" % call.remote_tag if call.remote_tag else ""))
        h.add("Call-ID", call.call_id)
        h.add("CSeq", "%d %s" % (cseq if cseq is not None else call.local_cseq, method))
        for name, value in extra:
            h.add(name, value)
        h.add("User-Agent", self.sip_ua())
        return sip.SipRequest(method, ruri, h, body)

    def _route_headers(self, call):
        return [("Route", r) for r in call.route_set]

    async def _send_bye(self, call):
        call.local_cseq += 1
        branch = self.ep.new_branch()
        req = self._build(call, "BYE", call.remote_target or call.remote_uri, branch, extra=self._route_headers(call))
        host, port = self._next_hop(call)
        try:
            await self._transact(req, branch, "BYE", (host, port), 4.0)
        except sip.SipTransportError:
            pass

    async def _transact(self, req, branch, method, addr, timeout):
        """A client transaction on the phone's endpoint (the endpoint's own machinery: retransmission, matching)."""
        ep = self.ep
        family, ip = await ep._resolve(addr[0], addr[1])
        conn = ep._udp_for(family)
        return await ep._transact(branch, method, req.to_bytes(), (ip, addr[1]), conn, timeout, False)

    def _send_raw(self, req, addr):
        ep = self.ep
        conn = ep._udp_for(socket.AF_INET)   # the lab is IPv4 loopback
        conn.send(req.to_bytes(), addr)

    # ------------------------------------------------------------ placing a call
    async def place_call(self, number, duration=None, timeout=30.0):
        """INVITE ``number`` through the registrar with digest auth; returns once answered or failed."""
        cfg = self.config or {}
        if not cfg.get("username") or self.state not in ("registered", "unregistered"):
            raise CallError("%s cannot call: it is %s" % (self.name, self.state))
        domain = cfg.get("domain") or cfg.get("registrar")
        ruri = "sip:%s@%s" % (number, domain)
        call = Call("out", self.ep.new_call_id(), "sip:%s@%s" % (cfg["username"], domain), self.ep.new_tag(), ruri)
        call.remote_target = ruri
        self.calls[call.call_id] = call
        self.calls_out += 1
        self.sim.dirty = True
        payloads = ["0", "8"]
        offer = self._sdp(payloads)
        proxy = (cfg["registrar"], int(cfg.get("port") or 5060))
        contact = ("Contact", "<%s>" % self.ep.contact_uri(cfg["username"]))
        auth = []
        resp = None
        for _attempt in range(2):
            branch = self.ep.new_branch()
            req = self._build(call, "INVITE", ruri, branch, extra=[contact, ("Content-Type", "application/sdp")] + auth,
                              body=offer)
            call.invite = req
            waiter = asyncio.ensure_future(self._transact(req, branch, "INVITE", proxy, timeout))
            hung = asyncio.ensure_future(call.hangup.wait())
            done, _pending = await asyncio.wait([waiter, hung], return_when=asyncio.FIRST_COMPLETED)
            if waiter not in done:              # hangup while ringing: CANCEL, then the INVITE ends with 487
                cancel = self._build(call, "CANCEL", ruri, branch)
                cancel.headers.set("CSeq", "%d CANCEL" % call.local_cseq)
                self._send_raw(cancel, proxy)
            else:
                hung.cancel()
            try:
                resp = await waiter
            except sip.SipTransportError as exc:
                self._end(call, "failed: %s" % exc.status)
                return call.summary()
            if resp.code >= 300:
                ack = self._build(call, "ACK", ruri, branch)
                ack.headers.set("To", resp.headers.get("to"))
                self._send_raw(ack, proxy)
            if resp.code == 407 and not auth and cfg.get("password") is not None:
                chal = sip.DigestChallenge.parse(resp.headers.get("proxy-authenticate"))
                value = sip.authorization_value(chal, cfg.get("auth_user") or cfg["username"], cfg["password"],
                                                "INVITE", ruri, body=offer)
                auth = [("Proxy-Authorization", value)]
                call.local_cseq += 1
                continue
            break
        if resp.code >= 300:
            self._end(call, "cancelled" if resp.code == 487 else "refused", resp.code)
            return call.summary()
        # 2xx: the dialog, then ACK end to end (new branch, through the recorded route)
        call.remote_tag = sip.NameAddr.parse(resp.headers.get("to")).tag
        call.remote_target = _uri_of(resp.headers.get("contact")) if resp.headers.get("contact") else ruri
        call.route_set = list(reversed(resp.headers.get_all("record-route")))
        call.sdp = offer
        call.state = "confirmed"
        call.code = resp.code
        call.answered_at = time.time()
        ack = self._build(call, "ACK", call.remote_target, self.ep.new_branch(), extra=self._route_headers(call))
        self._send_raw(ack, self._resolved(self._next_hop(call)))
        self.sim.dirty = True
        call.task = asyncio.ensure_future(self._hold(call, duration))
        return call.summary()

    def _resolved(self, hostport):
        return hostport   # the lab's hops are IP literals

    async def _hold(self, call, duration):
        try:
            if duration:
                await asyncio.wait_for(call.hangup.wait(), float(duration))
            else:
                await call.hangup.wait()
        except asyncio.TimeoutError:
            pass
        if call.state != "ended":
            await self._send_bye(call)
            self._end(call, "hangup")

    async def hangup_calls(self, call_id=None):
        """Control ``hangup``: end the phone's calls (or one): BYE when answered, CANCEL when still ringing out,
        a 486 for one ringing in."""
        ended = []
        for call in list(self.calls.values()):
            if call_id and call.call_id != call_id:
                continue
            ended.append(call.call_id)
            if call.direction == "out":
                call.hangup.set()
                if call.task is not None:
                    await asyncio.wait([call.task], timeout=5.0)
            elif call.state == "ringing":
                call.source.reply(self._response(call, call.invite, 486))
                self._end(call, "declined", 486)
            else:
                await self._send_bye(call)
                self._end(call, "hangup")
        if call_id and not ended:
            raise CallError("%s has no call '%s'" % (self.name, call_id))
        return ended
