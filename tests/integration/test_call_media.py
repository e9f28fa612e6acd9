# -*- coding: utf-8 -*-
"""Test calls with media against the real lab: RTP both ways to the lab gateways (the gateway simulator echoes RTP,
roles/lab/files/gwsim), loss/jitter/MOS measured by sip_call; the simulator's rtp_loss knob drops a share of the
packets and the call says so."""
import pytest
import requests

pytestmark = [pytest.mark.lab]


@pytest.fixture
def caller(lab, extra_subscriber):
    acct = extra_subscriber("1097")
    cs = lab["callserver"]
    return {"proxy": "%s:%d" % (cs["host"], cs["sip_port"]), "domain": lab["domain"], "username": acct["username"],
            "password": acct["password"], "hold": 0.4, "ring_timeout": 4.0}


@pytest.fixture
def rtp_knob(lab):
    """``rtp_knob("mgw1", rtp_loss=0.2)``: the gateway simulator's RTP echo knobs (/sim/control); reset after."""
    changed = []

    def set_knob(name, **ctl):
        url = lab["gateway_management"]["gateways"][name]["sim_url"]
        requests.post(url + "/control", json=ctl, timeout=5).raise_for_status()
        changed.append(url)
        return requests.get(url + "/state", timeout=5).json()
    yield set_knob
    for url in changed:
        requests.post(url + "/control", json={"rtp_loss": 0, "rtp_delay_ms": 0, "rtp_jitter_ms": 0},
                      timeout=5).raise_for_status()


def direct(gw):
    return {"target": gw["sip_uri"].replace("sip:", "sip:90001@"), "name": gw["name"], "kind": "gateway",
            "direct": True}


def test_media_to_a_gateway_straight_and_through_the_callserver(ansible, lab, caller):
    gw = lab["gateways"][0]
    targets = [direct(gw), "90001", {"target": "1001", "media": False}]
    result = ansible.module("sip_call", dict(caller, media=True, targets=targets))
    assert not result.get("failed"), result.get("msg")
    straight, routed, phone = result["calls"]
    for call in (straight, routed):
        media = call["media"]
        assert call["answered"] and media["echoed"] and media["error"] is None, call
        assert media["sent"] >= 15 and media["received"] == media["sent"] and media["loss_pct"] == 0.0
        assert media["mos"] >= 4.0 and media["rtt_ms"] is not None
    # Kamailio carries only the signalling: the RTP went to the gateway's own media address
    assert straight["media"]["remote"].startswith("127.0.0.1:") and straight["media"]["remote"] != gw["sip_uri"][4:]
    assert phone["answered"] and phone["media"] is None


def test_gateway_dropping_a_fifth_of_the_packets_is_measured(ansible, lab, caller, rtp_knob):
    gw = lab["gateways"][0]
    state = rtp_knob(gw["name"], rtp_loss=0.2, clear=True)
    assert state["rtp_loss"] == 0.2
    result = ansible.module("sip_call", dict(caller, media=True, targets=[direct(gw)]))
    (call,) = result["calls"]
    media = call["media"]
    after = rtp_knob(gw["name"])["rtp"]
    # the simulator drops every fifth packet it receives: what it dropped is what the call lost
    assert after["dropped"] == after["received"] // 5 and media["lost"] == after["dropped"]
    assert 15.0 <= media["loss_pct"] <= 25.0 and media["mos"] < 3.6, media
