"""A scripted SIP UAS on a loopback UDP socket for the INVITE client's unit tests (RFC 3261 UAS behaviour).

The Request-URI's user picks the behaviour:

- ``answer``: 100, 180, then 200 with SDP, a Contact and (when ``record_route``) a Record-Route; the 200 is
  retransmitted (13.3.1.4) until the ACK arrives; BYE gets 200.
- ``answer-bye``: like ``answer``, then the far end hangs up (sends BYE) right after the ACK.
- ``busy``: 486.  ``reject-<code>``: that final code.  ``redirect``: 302 with a Contact.
- ``ring``: 180 and nothing more until a CANCEL (then 200 to the CANCEL and 487 to the INVITE);
  ``ring-late487``: the 487 comes 1.5 s after the CANCEL's 200 (a slow far end behind a proxy).
- ``auth``: 407 with a Digest challenge unless Proxy-Authorization is right (``password``), then like ``answer``.
- ``silent``: never answers.  ``lossy``: ignores the first INVITE (the client must retransmit), then ``answer``.
- ``retransmit-final``: 486, sent twice (the client must ACK each copy).

``media_port``: the audio port of the SDP answer (4000 by default: nothing listens there).

Every datagram received is kept in ``received`` (parsed), so tests can check ACK/CANCEL/BYE framing.
"""
import asyncio

from ansible_collections.voipops.voip.plugins.module_utils.sip_digest import DigestServer
from ansible_collections.voipops.voip.plugins.module_utils.sip_message import (
    SipRequest, SipResponse, parse_message,
)


class FakeUas(asyncio.DatagramProtocol):
    def __init__(self, password="secret", realm="fake.lab", record_route=True, ring_delay=0.0, media_port=4000):
        self.received = []
        self.password = password
        self.digest = DigestServer(realm)
        self.record_route = record_route
        self.ring_delay = ring_delay
        self.media_port = media_port
        self.transport = None
        self.port = None
        self.invites = {}       # branch -> request (ring mode)
        self.acked = {}         # call-id -> asyncio.Event
        self.seen_lossy = set()

    @classmethod
    async def start(cls, **kwargs):
        loop = asyncio.get_running_loop()
        proto = cls(**kwargs)
        await loop.create_datagram_endpoint(lambda: proto, local_addr=("127.0.0.1", 0))
        return proto

    def connection_made(self, transport):
        self.transport = transport
        self.port = transport.get_extra_info("sockname")[1]

    def close(self):
        self.transport.close()

    def of(self, method, call_id=None):
        return [m for m in self.received if isinstance(m, SipRequest) and m.method == method
                and (call_id is None or m.call_id == call_id)]

    def _send(self, msg, addr):
        self.transport.sendto(msg.to_bytes(), addr)

    def _answer(self, req, code, reason=None, headers=None, body=b""):
        return SipResponse.for_request(req, code, reason, to_tag="uas" + req.call_id[:6], headers=headers, body=body)

    def datagram_received(self, data, addr):
        msg = parse_message(data)
        self.received.append(msg)
        if isinstance(msg, SipResponse):
            return
        m = msg.method
        if m == "ACK":
            ev = self.acked.get(msg.call_id)
            if ev is not None:
                ev.set()
            return
        if m == "BYE":
            self._send(self._answer(msg, 200), addr)
            return
        if m == "CANCEL":
            inv = self.invites.pop(msg.branch, None)
            self._send(self._answer(msg, 200 if inv else 481), addr)
            if inv is not None:
                terminated = self._answer(inv, 487, "Request Terminated")
                if inv.ruri.user == "ring-late487":
                    asyncio.get_running_loop().call_later(1.5, self._send, terminated, addr)
                else:
                    self._send(terminated, addr)
            return
        if m != "INVITE":
            self._send(self._answer(msg, 501), addr)
            return
        mode = msg.ruri.user or "answer"
        if mode == "silent":
            return
        if mode == "lossy" and msg.call_id not in self.seen_lossy:
            self.seen_lossy.add(msg.call_id)
            return
        if mode == "auth":
            auth = msg.headers.get("proxy-authorization")
            if not auth or self.digest.check(auth, "INVITE", password=self.password) != "ok":
                self._send(self._answer(msg, 407, headers=[("Proxy-Authenticate", self.digest.challenge())]),
                           addr)
                return
        self._send(self._answer(msg, 100), addr)
        if mode == "busy":
            self._send(self._answer(msg, 486), addr)
        elif mode.startswith("reject-"):
            self._send(self._answer(msg, int(mode.split("-", 1)[1])), addr)
        elif mode == "redirect":
            self._send(self._answer(msg, 302, headers=[("Contact", "<sip:2002@fake.lab>")]), addr)
        elif mode == "retransmit-final":
            resp = self._answer(msg, 486)
            self._send(resp, addr)
            self._send(resp, addr)     # a retransmission (as if the first ACK were lost)
        elif mode in ("ring", "ring-late487"):
            self.invites[msg.branch] = msg
            self._send(self._answer(msg, 180), addr)
        else:
            asyncio.ensure_future(self._ring_then_answer(msg, addr, bye=(mode == "answer-bye")))

    async def _ring_then_answer(self, req, addr, bye=False):
        self._send(self._answer(req, 180), addr)
        if self.ring_delay:
            await asyncio.sleep(self.ring_delay)
        headers = [("Contact", "<sip:uas@127.0.0.1:%d>" % self.port), ("Content-Type", "application/sdp")]
        if self.record_route:
            headers.append(("Record-Route", "<sip:127.0.0.1:%d;lr>" % self.port))
        sdp = b"v=0\r\no=uas 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP 8\r\n" % self.media_port
        ok = self._answer(req, 200, headers=headers, body=sdp)
        ev = self.acked.setdefault(req.call_id, asyncio.Event())
        delay = 0.05
        for _i in range(7):            # 13.3.1.4: retransmit the 2xx until the ACK
            self._send(ok, addr)
            try:
                await asyncio.wait_for(ev.wait(), delay)
                break
            except asyncio.TimeoutError:
                delay *= 2
        if bye and ev.is_set():
            via = "SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKuasbye%s" % (self.port, req.call_id[:6])
            contact = req.headers.get("contact").strip("<>")
            host, port = contact.split("@", 1)[1].split(":")
            self._send(SipRequest("BYE", contact, [
                ("Via", via), ("From", ok.headers.get("to")), ("To", req.headers.get("from")),
                ("Call-ID", req.call_id), ("CSeq", "1 BYE"), ("Max-Forwards", "70")]), (host, int(port)))
