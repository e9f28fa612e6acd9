# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab gateway simulator's SIP side (roles/lab/files/gwsim), on its own: a raw UDP SIP client places calls and
reads what the gateway answers, the REST side shows the calls it counts and resets on them (RFC 3261 behaviour:
OPTIONS, INVITE/ACK/BYE, CANCEL -> 487, unknown BYE -> 481, a hold time ends the call with the gateway's BYE;
AudioCodes graceful reset: waits for the calls and refuses new ones meanwhile)."""
from __future__ import absolute_import, division, print_function

import os
import signal
import socket
import subprocess
import sys
import uuid

import pytest
import requests

from tests.integration.conftest import ROOT, wait_for


@pytest.fixture(params=[0])
def gw(tmp_path, request):
    """A gateway simulator with its SIP side; the parameter is its ringing time (``--answer-ms``)."""
    port_file = tmp_path / "port"
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "roles/lab/files/gwsim/gwsim.py"), "--port", "0",
                             "--port-file", str(port_file), "--sip-port", "0", "--reset-seconds", "0.5",
                             "--answer-ms", str(request.param)], start_new_session=True)
    try:
        wait_for(port_file.exists, 20, what="the gateway simulator")
        base = "http://127.0.0.1:%d" % int(port_file.read_text())
        yield base, requests.get(base + "/sim/state", timeout=5).json()["sip_port"]
    finally:  # only the simulator this fixture started, by its process group
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


class Phone(object):
    def __init__(self, sip_port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5)
        self.port = self.sock.getsockname()[1]
        self.gw = ("127.0.0.1", sip_port)

    def request(self, method, call_id, cseq, to_tag=None, extra=()):
        lines = ["%s sip:9000@127.0.0.1:%d SIP/2.0" % (method, self.gw[1]),
                 "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s" % (self.port, uuid.uuid4().hex),
                 "From: <sip:1001@voip.lab>;tag=caller", "To: <sip:9000@voip.lab>%s" % (
                     ";tag=%s" % to_tag if to_tag else ""),
                 "Call-ID: %s" % call_id, "CSeq: %d %s" % (cseq, method),
                 "Contact: <sip:1001@127.0.0.1:%d>" % self.port, "Max-Forwards: 70"] + list(extra)
        self.sock.sendto(("\r\n".join(lines + ["Content-Length: 0", "", ""])).encode(), self.gw)

    def read(self):
        """The next message: (start line, {lower-case header: value})."""
        data = self.sock.recv(65535).decode()
        head = data.split("\r\n\r\n", 1)[0].split("\r\n")
        return head[0], dict((k.strip().lower(), v.strip()) for k, _s, v in (l.partition(":") for l in head[1:]))

    def until(self, prefix):
        while True:
            start, headers = self.read()
            if start.startswith(prefix):
                return start, headers


def state(base):
    return requests.get(base + "/sim/state", timeout=5).json()


def test_options_invite_bye_and_the_calls_counted(gw):
    base, sip_port = gw
    phone = Phone(sip_port)
    phone.request("OPTIONS", "opt-1", 1)
    start, headers = phone.read()
    assert start == "SIP/2.0 200 OK" and "INVITE" in headers["allow"] and headers["server"].endswith("7.40A.100.001")
    phone.request("INVITE", "call-1", 1)
    assert phone.read()[0] == "SIP/2.0 100 Trying"
    start, headers = phone.read()
    assert start == "SIP/2.0 200 OK" and headers["content-type"] == "application/sdp"
    tag = headers["to"].split("tag=")[1]
    phone.request("ACK", "call-1", 1, tag)
    assert state(base)["active_calls"] == 1 and state(base)["sip_calls"] == 1
    phone.request("BYE", "call-1", 2, tag)
    assert phone.read()[0] == "SIP/2.0 200 OK"
    assert state(base)["active_calls"] == 0
    phone.request("BYE", "call-1", 3, tag)
    assert phone.read()[0].startswith("SIP/2.0 481")


@pytest.mark.parametrize("gw", [60000], indirect=True)  # it rings for a minute: the CANCEL comes first
def test_cancel_before_the_answer(gw):
    base, sip_port = gw
    phone = Phone(sip_port)
    phone.request("INVITE", "call-2", 1)
    assert phone.read()[0] == "SIP/2.0 100 Trying"
    assert phone.read()[0] == "SIP/2.0 180 Ringing"
    assert state(base)["sip_calls"] == 1
    phone.request("CANCEL", "call-2", 1)
    answers = sorted([phone.read()[0], phone.read()[0]])
    assert answers == ["SIP/2.0 200 OK", "SIP/2.0 487 Request Terminated"]
    assert state(base)["sip_calls"] == 0 and state(base)["calls_answered"] == 0
    phone.request("CANCEL", "no-such-call", 1)
    assert phone.read()[0].startswith("SIP/2.0 481")


def test_hold_time_ends_the_call_with_the_gateways_bye(gw):
    base, sip_port = gw
    phone = Phone(sip_port)
    phone.request("INVITE", "call-3", 1, extra=("X-Hold-Ms: 300",))
    _start, ok = phone.until("SIP/2.0 200")
    phone.request("ACK", "call-3", 1, ok["to"].split("tag=")[1])
    start, bye = phone.until("BYE ")
    assert start.startswith("BYE sip:1001@127.0.0.1:%d" % phone.port) and bye["call-id"] == "call-3"
    assert bye["to"] == "<sip:1001@voip.lab>;tag=caller"  # the dialog's remote party: the caller
    assert state(base)["sip_calls"] == 0


def test_graceful_reset_waits_for_the_call_and_refuses_new_ones(gw):
    base, sip_port = gw
    phone = Phone(sip_port)
    phone.request("INVITE", "call-4", 1)
    _start, ok = phone.until("SIP/2.0 200")
    tag = ok["to"].split("tag=")[1]
    phone.request("ACK", "call-4", 1, tag)
    assert requests.post(base + "/api/v1/actions/reset", json={"gracefulTimeout": 1}, timeout=5).status_code == 200
    wait_for(lambda: state(base)["pending_reset"], 10, what="the graceful reset to wait for the call")
    phone.request("INVITE", "call-5", 1)  # graceful lock: a new call is refused
    assert phone.until("SIP/2.0 5")[0].startswith("SIP/2.0 503")
    assert state(base)["resets"] == 0 and state(base)["graceful_waits"] == [1]
    phone.request("BYE", "call-4", 2, tag)
    assert phone.read()[0] == "SIP/2.0 200 OK"
    wait_for(lambda: state(base)["resets"] == 1, 20, what="the reset after the last call")
    assert state(base)["calls_dropped"] == 0
