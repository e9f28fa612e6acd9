# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""sip_probe module: argument validation, results/summary/table, fail_on_unreachable, check mode."""
from __future__ import absolute_import, division, print_function

import asyncio
import json
import threading

import pytest
from tests.support.modargs import patch_module_args

from ansible_collections.voipops.voip.plugins.module_utils.sip import SipEndpoint, SipResponse
from ansible_collections.voipops.voip.plugins.modules import sip_probe
from tests.support.net import free_udp_port as _dead_port


def run(capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            sip_probe.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def uas():
    """A SIP UAS on loopback in its own thread/loop: 200 to OPTIONS with a Server header."""
    ready = threading.Event()
    state = {}

    def handler(request, _source):
        return SipResponse.for_request(request, 200, to_tag="m", headers=[("Server", "unit-gw/2.1"),
                                                                          ("Allow", "OPTIONS, INVITE")])

    def thread():
        loop = asyncio.new_event_loop()
        state["loop"] = loop
        state["ep"] = loop.run_until_complete(SipEndpoint.create("127.0.0.1", 0, handler=handler))
        ready.set()
        loop.run_forever()
        state["ep"].close()
        loop.close()

    t = threading.Thread(target=thread, daemon=True)
    t.start()
    assert ready.wait(10)
    yield state["ep"].port
    state["loop"].call_soon_threadsafe(state["loop"].stop)
    t.join(10)


def test_probe_results_summary_and_table(uas, capsys):
    dead = _dead_port()
    out = run(capsys, {"targets": ["127.0.0.1:%d" % uas, "sip:127.0.0.1:%d" % dead], "timeout": 2,
                       "_ansible_check_mode": True})
    assert out["changed"] is False and not out.get("failed")
    ok, refused = out["results"]
    assert ok["status"] == "ok" and ok["code"] == 200 and ok["server"] == "unit-gw/2.1"
    assert ok["allow"] == ["OPTIONS", "INVITE"]
    assert refused["status"] == "refused" and refused["reachable"] is False
    assert out["summary"]["total"] == 2 and out["summary"]["ok"] == 1 and out["summary"]["by_status"]["refused"] == 1
    assert out["table"][0].startswith("ok") and "unit-gw/2.1" in out["table"][0]
    assert out["table"][1].startswith("refused")


def test_expect_codes_decide_ok(uas, capsys):
    out = run(capsys, {"targets": ["127.0.0.1:%d" % uas], "expect_codes": [404], "timeout": 2})
    assert out["results"][0]["status"] == "error" and out["results"][0]["reachable"]
    assert "unexpected response 200" in out["results"][0]["error"]
    out = run(capsys, {"targets": ["127.0.0.1:%d" % uas], "expect_codes": [], "timeout": 2})
    assert out["results"][0]["status"] == "ok"


def test_fail_on_unreachable(uas, capsys):
    dead = _dead_port()
    out = run(capsys, {"targets": ["127.0.0.1:%d" % uas, "127.0.0.1:%d" % dead], "timeout": 2,
                       "fail_on_unreachable": True})
    assert out["failed"] and "1 of 2 SIP targets not ok" in out["msg"] and str(dead) in out["msg"]
    assert len(out["results"]) == 2


def test_every_bad_argument_is_reported(capsys):
    out = run(capsys, {"targets": ["sip:ok.example", "sip:bad host", "h:70000", "sips:x;transport=udp"],
                       "expect_codes": [42], "timeout": 0})
    assert out["failed"]
    text = "\n".join(out["errors"])
    assert "targets[1]" in text and "targets[2]" in text and "targets[3]" in text and "targets[0]" not in text
    assert "expect_codes" in text and "timeout" in text


def test_password_is_not_logged(uas, capsys):
    out = run(capsys, {"targets": ["127.0.0.1:%d" % uas], "auth_username": "probe", "auth_password": "Sup3r-s3cret",
                       "timeout": 2})
    assert "Sup3r-s3cret" not in json.dumps(out)
