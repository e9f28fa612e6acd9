# -*- coding: utf-8 -*-
"""A simulated phone answering INVITEs by its answer mode, its in-call state and the update it defers during a
call.  Phones boot from real provisioning files over HTTP and register to a small registrar; the caller is a
plain UDP socket in the test that speaks SIP text, so every byte the phone sends is checked."""
from __future__ import absolute_import, division, print_function

import asyncio
import functools
import http.server
import socket
import threading

import pytest

from ansible_collections.voipops.voip.plugins.module_utils import provision, sip
from ansible_collections.voipops.voip.roles.lab.files.phonesim import sim as phonesim


class Registrar(object):
    """Accepts every REGISTER (digest is Kamailio's business in the lab tests)."""

    async def start(self):
        self.ep = await sip.SipEndpoint.create("127.0.0.1", 0, handler=self.on_request)
        return self

    def on_request(self, req, _source):
        resp = sip.SipResponse.for_request(req, 200 if req.method == "REGISTER" else 405)
        if req.method == "REGISTER" and int(req.headers.get("expires")):
            resp.headers.set("Contact", "%s;expires=%s" % (req.headers.get("contact"), req.headers.get("expires")))
        return resp

    @property
    def port(self):
        return self.ep.local_addr[1]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_root(tmp_path):
    root = tmp_path / "prov"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield str(root), "http://127.0.0.1:%d/" % server.server_address[1]
    server.shutdown()
    server.server_close()


class Caller(object):
    """A UAC on a plain UDP socket: sends SIP text, reads what comes back."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.n = 0

    def close(self):
        self.sock.close()

    def send(self, dest, method, ruri, call_id, cseq, branch, to_tag=None, body=b"", extra=""):
        text = ("%s %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\nMax-Forwards: 70\r\n"
                "From: <sip:7000@127.0.0.1>;tag=caller1\r\nTo: <%s>%s\r\nCall-ID: %s\r\nCSeq: %d %s\r\n"
                "Contact: <sip:7000@127.0.0.1:%d>\r\nRecord-Route: <sip:127.0.0.1:%d;lr>\r\n%s"
                "%sContent-Length: %d\r\n\r\n" % (
                    method, ruri, self.port, branch, ruri, ";tag=%s" % to_tag if to_tag else "", call_id, cseq, method,
                    self.port, self.port, extra, "Content-Type: application/sdp\r\n" if body else "", len(body)))
        self.sock.sendto(text.encode() + body, dest)

    async def recv(self, timeout=5.0):
        loop = asyncio.get_running_loop()
        data = await asyncio.wait_for(loop.sock_recv(self.sock, 65535), timeout)
        return sip.parse_message(data)

    async def until_final(self, method="INVITE", timeout=5.0):
        """Responses up to the final one for ``method``: [codes], final response; requests are kept apart."""
        codes = []
        while True:
            msg = await self.recv(timeout)
            if isinstance(msg, sip.SipRequest) or msg.cseq[1] != method:
                continue
            codes.append(msg.code)
            if msg.code >= 200:
                return codes, msg


OFFER = (b"v=0\r\no=caller 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
         b"m=audio 30000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n")


async def until(predicate, timeout=10.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in %ss" % timeout)


async def fleet(root, url, n=2):
    reg = await Registrar().start()
    phones = phonesim.make_fleet(n, first_extension=5001, prefix="c")
    estate = [dict((k, p[k]) for k in ("name", "mac", "vendor", "model", "user")) for p in phones]
    users = [{"extension": p["user"], "display_name": "C %s" % p["user"], "sip_password": "pw-%s-secret" % p["user"]}
             for p in phones]
    provision.Provisioner(root, estate, users, {"registrar": "127.0.0.1", "registrar_port": reg.port,
                                                "provisioning_url": url, "expires": 60}).run()
    simulator = phonesim.Simulator(phones, url, root, reboot_delay=0.1)
    await asyncio.gather(*(p.start() for p in simulator.phones))
    assert [p.state for p in simulator.phones] == ["registered"] * n
    return simulator


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_answer_ack_in_call_reinvite_and_bye_with_a_resync_deferred_until_the_call_ends(http_root):
    root, url = http_root
    out = {}

    async def go():
        simulator = await fleet(root, url)
        phone = simulator.phones[0]             # a Yealink
        dest = phone.ep.local_addr
        ruri = phone.ep.contact_uri(phone.config["username"])
        caller = Caller()
        try:
            caller.send(dest, "INVITE", ruri, "call-1", 1, "z9hG4bKinv1", body=OFFER)
            codes, ok = await caller.until_final()
            out["codes"] = codes
            out["sdp"] = ok.body.decode()
            out["content_type"] = ok.headers.get("content-type")
            out["record_route"] = ok.headers.get_all("record-route")
            out["contact"] = ok.headers.get("contact")
            tag = ok.to_tag
            out["in_call_before_ack"] = phone.status()["in_call"]
            caller.send(dest, "ACK", ruri, "call-1", 1, "z9hG4bKack1", to_tag=tag)
            await until(lambda: phone.calls and list(phone.calls.values())[0].state == "confirmed")
            out["status_in_call"] = dict((k, phone.status()[k]) for k in ("in_call", "calls", "calls_in"))
            # the vendor's check-sync during the call: 200, but no re-sync until the call has ended
            event = phone.profile.notify_event("resync")
            res = await sip.notify_many([{"uri": ruri, "event": event}], timeout=2.0)
            out["notify_code"] = res[0]["code"]
            await asyncio.sleep(0.3)
            out["resyncs_in_call"] = phone.resyncs
            out["pending"] = phone.status()["pending_update"]
            # re-INVITE: 200 with the same SDP
            caller.send(dest, "INVITE", ruri, "call-1", 2, "z9hG4bKinv2", to_tag=tag, body=OFFER)
            codes2, ok2 = await caller.until_final()
            out["reinvite"] = (codes2[-1], ok2.body.decode() == out["sdp"])
            caller.send(dest, "ACK", ruri, "call-1", 2, "z9hG4bKack2", to_tag=tag)
            # BYE from the caller ends the call; the deferred re-sync runs then
            caller.send(dest, "BYE", ruri, "call-1", 3, "z9hG4bKbye1", to_tag=tag)
            _codes, bye_ok = await caller.until_final("BYE")
            out["bye"] = bye_ok.code
            out["in_call_after"] = phone.status()["in_call"]
            await until(lambda: phone.resyncs == 1)
            out["pending_after"] = phone.status()["pending_update"]
            out["log"] = phone.status()["call_log"]
            # a BYE for that call again: no such dialog any more
            caller.send(dest, "BYE", ruri, "call-1", 4, "z9hG4bKbye2", to_tag=tag)
            _codes, gone = await caller.until_final("BYE")
            out["bye_again"] = gone.code
        finally:
            caller.close()
            await asyncio.gather(*(p.stop() for p in simulator.phones))

    run(go())
    assert out["codes"] == [100, 180, 200]
    assert out["content_type"] == "application/sdp"
    assert "m=audio " in out["sdp"] and " RTP/AVP 8\r\n" in out["sdp"] and "a=rtpmap:8 PCMA/8000" in out["sdp"]
    assert out["record_route"] == ["<sip:127.0.0.1:%s;lr>" % out["record_route"][0].split(":")[2].split(";")[0]]
    assert out["contact"].startswith("<sip:5001@127.0.0.1:")
    assert out["in_call_before_ack"] is True
    assert out["status_in_call"] == {"in_call": True, "calls": 1, "calls_in": 1}
    assert out["notify_code"] == 200 and out["resyncs_in_call"] == 0 and out["pending"] == "resync"
    assert out["reinvite"] == (200, True)
    assert out["bye"] == 200 and out["in_call_after"] is False
    assert out["pending_after"] is None
    assert [(c["call_id"], c["direction"], c["outcome"], c["code"]) for c in out["log"]] == \
        [("call-1", "in", "hangup_remote", 200)]
    assert out["bye_again"] == 481


def test_answer_modes_busy_reject_dnd_noanswer_and_cancel(http_root):
    root, url = http_root
    out = {}

    async def go():
        simulator = await fleet(root, url)
        yealink, poly = simulator.phones
        caller = Caller()

        async def call(phone, call_id):
            ruri = phone.ep.contact_uri(phone.config["username"])
            caller.send(phone.ep.local_addr, "INVITE", ruri, call_id, 1, "z9hG4bK" + call_id, body=OFFER)
            codes, final = await caller.until_final()
            if final.code >= 300:   # ACK for a refusal: same branch
                caller.send(phone.ep.local_addr, "ACK", ruri, call_id, 1, "z9hG4bK" + call_id, to_tag=final.to_tag)
            return codes, final

        try:
            for phone, mode, code in ((yealink, "busy", None), (yealink, "reject", None), (yealink, "reject", 604),
                                      (yealink, "dnd", None), (poly, "dnd", None)):
                await simulator.execute("answer_mode", name=phone.name, mode=mode, code=code)
                codes, final = await call(phone, "%s-%s-%s" % (phone.vendor, mode, code))
                out[(phone.vendor, mode, code)] = (codes, final.code, final.reason)
            await simulator.execute("answer_mode", name=poly.name, mode="noanswer", ring=0.3)
            out["noanswer"] = (await call(poly, "na-1"))[0]
            # noanswer and the caller gives up: 200 to the CANCEL, 487 to the INVITE
            await simulator.execute("answer_mode", name=poly.name, mode="noanswer")
            ruri = poly.ep.contact_uri(poly.config["username"])
            caller.send(poly.ep.local_addr, "INVITE", ruri, "na-2", 1, "z9hG4bKna2", body=OFFER)
            ringing = []
            while 180 not in ringing:
                ringing.append((await caller.recv()).code)
            out["ringing_in_call"] = poly.status()["in_call"]
            caller.send(poly.ep.local_addr, "CANCEL", ruri, "na-2", 1, "z9hG4bKna2")
            codes = {}
            while len(codes) < 2:
                msg = await caller.recv()
                codes[msg.cseq[1]] = msg.code
            out["cancel"] = codes
            out["poly_log"] = [(c["outcome"], c["code"]) for c in poly.status()["call_log"]]
            for bad in (dict(mode="ring-twice"), dict(mode="reject", code=200)):
                try:
                    await simulator.execute("answer_mode", name=poly.name, **bad)
                    out.setdefault("bad", []).append(None)
                except phonesim.ControlError as exc:
                    out.setdefault("bad", []).append(str(exc))
        finally:
            caller.close()
            await asyncio.gather(*(p.stop() for p in simulator.phones))

    run(go())
    assert out[("yealink", "busy", None)] == ([100, 486], 486, "Busy Here")
    assert out[("yealink", "reject", None)] == ([100, 603], 603, "Decline")
    assert out[("yealink", "reject", 604)][1] == 604
    assert out[("yealink", "dnd", None)][1:] == (480, "Temporarily Unavailable")     # features.dnd_refuse_code
    assert out[("poly", "dnd", None)][1] == 486
    assert out["noanswer"] == [100, 180, 480]
    assert out["ringing_in_call"] is False
    assert out["cancel"] == {"CANCEL": 200, "INVITE": 487}
    assert out["poly_log"] == [("dnd", 486), ("no_answer", 480), ("cancelled", 487)]
    assert "must be one of answer, busy, noanswer, reject, dnd" in out["bad"][0]
    assert "400-699" in out["bad"][1]
