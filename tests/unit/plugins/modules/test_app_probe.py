# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""app_probe module: a SIP link answered by a real SIP endpoint on loopback, a dead TCP link, a bad endpoint, check
mode, and a password given by {var} that appears nowhere in the result."""
from __future__ import absolute_import, division, print_function

import asyncio
import json
import threading

import pytest
from tests.support.modargs import patch_module_args

from ansible_collections.voipops.voip.plugins.module_utils.sip import SipEndpoint, SipResponse
from ansible_collections.voipops.voip.plugins.modules import app_probe
from tests.support.net import free_udp_port


def run(capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            app_probe.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def uas():
    """A SIP UAS on loopback: 486 to OPTIONS (busy, but alive)."""
    ready, state = threading.Event(), {}

    def thread():
        loop = asyncio.new_event_loop()
        state["loop"] = loop
        state["ep"] = loop.run_until_complete(SipEndpoint.create(
            "127.0.0.1", 0, handler=lambda req, _src: SipResponse.for_request(req, 486, to_tag="p")))
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


def test_each_link_by_its_scheme(uas, capsys):
    dead = free_udp_port()
    out = run(capsys, {"targets": [
        {"name": "paging", "kind": "paging", "endpoint": "sip:paging@127.0.0.1:%d" % uas},
        {"name": "paging-strict", "kind": "paging", "endpoint": "sip:127.0.0.1:%d" % uas, "expect": {"status": [200]}},
        {"name": "cti", "kind": "cti", "endpoint": "tcp://127.0.0.1:%d" % dead},
        {"name": "typo", "kind": "cti", "endpoint": "tcp//127.0.0.1:1"},
        {"name": "dir", "kind": "directory", "endpoint": "ldap://127.0.0.1:%d" % dead,
         "ldap": {"bind_dn": "cn=probe", "password": {"var": "dir_pw"}}},
    ], "secrets": {"dir_pw": "Very-Secret-Bind-9"}, "timeout": 2, "_ansible_check_mode": True})
    assert out["changed"] is False and not out.get("failed")
    got = dict((r["name"], r) for r in out["results"])
    assert (got["paging"]["status"], got["paging"]["details"]["code"]) == ("ok", 486)
    assert got["paging-strict"]["status"] == "error" and got["paging-strict"]["error"].startswith("SIP 486")
    assert got["cti"]["status"] == "down" and got["cti"]["error"].startswith("refused")
    assert got["typo"]["status"] == "error" and "is not an endpoint like" in got["typo"]["error"]
    assert got["dir"]["status"] == "down"
    assert out["summary"] == {"total": 5, "ok": 1, "failed": 4, "by_status": {"ok": 1, "down": 2, "error": 2}}
    assert "Very-Secret-Bind-9" not in json.dumps(out)
