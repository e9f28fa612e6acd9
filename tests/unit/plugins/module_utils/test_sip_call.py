# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The INVITE client (module_utils/sip_call.py) against a scripted UAS on loopback (tests/support/fake_uas.py)."""

from __future__ import absolute_import, division, print_function

import asyncio

import pytest

from ansible_collections.voipops.voip.plugins.module_utils import sip_call
from ansible_collections.voipops.voip.plugins.module_utils.sip_call import CallError, call_many, classify, summarize
from tests.support.fake_uas import FakeUas
from tests.support.net import free_udp_port

FAST = dict(t1=0.05, t2=0.4)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


async def _calls(targets, uas_kwargs=None, **kwargs):
    uas = await FakeUas.start(**(uas_kwargs or {}))
    try:
        kwargs.setdefault("proxy", "127.0.0.1:%d" % uas.port)
        kwargs.setdefault("domain", "fake.lab")
        kwargs.setdefault("hold", 0.05)
        kwargs.setdefault("ring_timeout", 2.0)
        for k, v in FAST.items():
            kwargs.setdefault(k, v)
        results = await call_many(targets, **kwargs)
        await asyncio.sleep(0.05)
        return results, uas
    finally:
        uas.close()


def test_answered_call_acks_the_2xx_in_a_new_transaction_through_the_route_set_then_byes():
    (res,), uas = run(_calls(["answer"]))
    assert res["classification"] == "answered" and res["answered"] and res["code"] == 200
    assert res["ringing"] and res["post_dial_delay_ms"] is not None and res["setup_ms"] >= res["post_dial_delay_ms"]
    assert res["hangup"] == "local" and res["bye_code"] == 200 and res["duration_ms"] >= 40
    invite = uas.of("INVITE")[0]
    assert invite.uri == "sip:answer@fake.lab" and invite.headers.get("content-type") == "application/sdp"
    assert b"m=audio" in invite.body
    ack = uas.of("ACK")[0]
    assert ack.branch != invite.branch                      # 2xx ACK: a new transaction
    assert ack.cseq == (invite.cseq[0], "ACK")
    assert ack.uri == "sip:uas@127.0.0.1:%d" % uas.port      # the remote target (the 200's Contact)
    assert ack.headers.get("route") == "<sip:127.0.0.1:%d;lr>" % uas.port
    assert ack.to_tag and ack.to_tag == uas.of("BYE")[0].to_tag
    bye = uas.of("BYE")[0]
    assert bye.cseq == (invite.cseq[0] + 1, "BYE") and bye.call_id == invite.call_id


def test_2xx_retransmissions_are_acked_again():
    # the UAS retransmits the 200 until it sees an ACK; each copy that arrives is ACKed
    (res,), uas = run(_calls(["answer"]))
    oks = [m for m in uas.received if getattr(m, "method", None) == "ACK"]
    assert res["answered"] and len(oks) >= 1


def test_busy_is_acked_in_the_invite_transaction():
    (res,), uas = run(_calls(["busy"]))
    assert (res["classification"], res["code"], res["answered"]) == ("busy", 486, False)
    invite, ack = uas.of("INVITE")[0], uas.of("ACK")[0]
    assert ack.branch == invite.branch and ack.uri == invite.uri  # non-2xx ACK: same transaction
    assert ack.to_tag == "uas" + invite.call_id[:6]
    assert not uas.of("BYE")


def test_a_retransmitted_final_answer_is_acked_each_time():
    (res,), uas = run(_calls(["retransmit-final"]))
    assert res["code"] == 486
    assert len(uas.of("ACK")) == 2


@pytest.mark.parametrize("user, code, classification", [
    ("reject-404", 404, "rejected"), ("reject-503", 503, "rejected"), ("reject-480", 480, "no_answer"),
    ("reject-603", 603, "rejected"), ("reject-600", 600, "busy"),
])
def test_final_codes_are_classified(user, code, classification):
    (res,), _uas = run(_calls([user]))
    assert (res["code"], res["classification"]) == (code, classification)


def test_redirect_names_where_to():
    (res,), _uas = run(_calls(["redirect"]))
    assert res["code"] == 302 and res["redirect"] == "sip:2002@fake.lab" and res["classification"] == "rejected"


def test_ring_timeout_cancels_with_the_invite_branch_and_acks_the_487():
    (res,), uas = run(_calls(["ring"], ring_timeout=0.5))
    assert res["classification"] == "no_answer" and res["cancelled"] and res["code"] == 487
    assert res["ringing"] and not res["answered"]
    invite, cancel = uas.of("INVITE")[0], uas.of("CANCEL")[0]
    assert cancel.branch == invite.branch and cancel.uri == invite.uri
    assert cancel.cseq == (invite.cseq[0], "CANCEL") and cancel.to_tag is None
    ack = uas.of("ACK")[0]
    assert ack.branch == invite.branch


def test_the_487_after_a_cancel_is_waited_for_beyond_the_ring_timeout():
    (res,), uas = run(_calls(["ring-late487"], ring_timeout=0.3))
    assert (res["classification"], res["code"], res["cancelled"]) == ("no_answer", 487, True)
    assert uas.of("ACK")[0].branch == uas.of("INVITE")[0].branch


def test_digest_challenge_is_answered_with_a_new_invite():
    (res,), uas = run(_calls(["auth"], username="1001", password="secret"))
    assert res["classification"] == "answered" and res["authenticated"]
    first, second = uas.of("INVITE")[:2]
    assert second.branch != first.branch and second.cseq[0] == first.cseq[0] + 1
    assert second.call_id == first.call_id and second.from_tag == first.from_tag
    assert "Digest" in second.headers.get("proxy-authorization")
    assert uas.of("ACK")[0].branch == first.branch            # the 407 was ACKed in its own transaction


def test_wrong_password_is_auth_failed_and_not_retried_forever():
    (res,), uas = run(_calls(["auth"], username="1001", password="wrong"))
    assert (res["classification"], res["code"]) == ("auth_failed", 407)
    assert len(uas.of("INVITE")) == 2


def test_no_credentials_is_auth_failed():
    (res,), _uas = run(_calls(["auth"]))
    assert res["classification"] == "auth_failed" and not res["authenticated"]


def test_lost_invite_is_retransmitted():
    (res,), uas = run(_calls(["lossy"]))
    assert res["answered"]
    invites = uas.of("INVITE")
    assert len(invites) >= 2 and invites[0].branch == invites[1].branch


def test_silent_target_is_unreachable_after_the_ring_timeout_without_cancel():
    (res,), uas = run(_calls(["silent"], ring_timeout=0.4))
    assert res["classification"] == "unreachable" and res["code"] is None and "no answer" in res["error"]
    assert len(uas.of("INVITE")) >= 2 and not uas.of("CANCEL")


def test_dead_port_is_unreachable_named_by_icmp():
    port = free_udp_port()
    res, = run(call_many(["sip:9001@127.0.0.1:%d" % port], hold=0.05, ring_timeout=5.0, **FAST))
    assert res["classification"] == "unreachable"
    assert "127.0.0.1:%d refused" % port in res["error"]
    assert res["via"] == "direct"


def test_far_end_hangs_up():
    (res,), uas = run(_calls(["answer-bye"], hold=2.0))
    assert res["answered"] and res["hangup"] == "remote" and res["bye_code"] is None
    assert not uas.of("BYE") or all(b.headers.get("user-agent") is None for b in uas.of("BYE"))
    # the far end's BYE got our 200
    assert any(getattr(m, "code", None) == 200 and m.cseq[1] == "BYE" for m in uas.received)


def test_many_calls_in_parallel_keep_their_order():
    targets = ["answer", "busy", "reject-404", "answer", {"target": "ring", "name": "r1", "kind": "phone"}] * 4
    results, uas = run(_calls(targets, concurrency=8, ring_timeout=0.5))
    assert [r["target"] for r in results] == [t if isinstance(t, str) else t["target"] for t in targets]
    assert [r["classification"] for r in results[:5]] == ["answered", "busy", "rejected", "answered", "no_answer"]
    assert results[4]["name"] == "r1" and results[4]["kind"] == "phone"
    assert len(set(r["call_id"] for r in results)) == len(results)
    s = summarize(results)
    assert s["total"] == 20 and s["answered"] == 8 and s["by_classification"]["busy"] == 4


def test_direct_target_goes_to_its_own_host_even_with_a_proxy():
    async def go():
        uas = await FakeUas.start()
        try:
            return await call_many([{"target": "sip:answer@127.0.0.1:%d" % uas.port, "direct": True}],
                                   proxy="127.0.0.1:%d" % free_udp_port(), hold=0.05, **FAST)
        finally:
            uas.close()
    res, = run(go())
    assert res["answered"] and res["via"] == "direct"


@pytest.mark.parametrize("targets, proxy, message", [
    (["1001"], None, "targets[0]: '1001' is a number: give a proxy"),
    ([{"target": ""}], "127.0.0.1", "targets[0]: target is empty"),
    (["1001", {"target": "x", "colour": 1}], "127.0.0.1", "targets[1]: unknown key(s) colour"),
    (["sips:gw"], "127.0.0.1", "targets[0]: 'sips:gw': test calls use UDP only"),
    (["sip:gw;transport=tcp"], "127.0.0.1", "UDP only"),
    (["a@b"], "127.0.0.1", "is neither a number nor a sip: URI"),
    ([{"target": "1001", "media": "yes"}], "127.0.0.1", "targets[0]: media 'yes' is not a boolean"),
])
def test_bad_targets_are_named(targets, proxy, message):
    with pytest.raises(CallError) as exc:
        sip_call.normalize_targets(targets, proxy)
    assert message in str(exc.value)


def test_classify():
    assert classify(None) == "unreachable"
    assert classify(None, cancelled=True) == "no_answer"
    assert classify(200) == "answered" and classify(486) == "busy" and classify(487, cancelled=True) == "no_answer"
    assert classify(407) == "auth_failed" and classify(501) == "rejected"


# ---------------------------------------------------------------------------------------------- media (RTP)
class _Echo(asyncio.DatagramProtocol):
    """An RTP echo that drops every ``drop_every``-th packet (the lab gateway does the same, roles/lab/files/gwsim)."""

    def __init__(self, drop_every=0):
        self.drop_every = drop_every
        self.n = 0
        self.transport = None
        self.sources = set()

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.n += 1
        self.sources.add(addr)
        if self.drop_every and self.n % self.drop_every == 0:
            return
        self.transport.sendto(data[:8] + b"\x01\x02\x03\x04" + data[12:], addr)   # its own SSRC


async def _media_calls(targets, drop_every=0, **kwargs):
    loop = asyncio.get_running_loop()
    transport, echo = await loop.create_datagram_endpoint(lambda: _Echo(drop_every), local_addr=("127.0.0.1", 0))
    try:
        results, uas = await _calls(targets, uas_kwargs={"media_port": transport.get_extra_info("sockname")[1]},
                                    **kwargs)
    finally:
        transport.close()
    return results, uas, echo


def test_media_flows_both_ways_from_the_offered_port_and_is_measured():
    (res, plain), uas, echo = run(_media_calls(["answer", {"target": "answer", "media": False}], media=True,
                                               hold=0.3, concurrency=1))
    media = res["media"]
    offer = uas.of("INVITE")[0].body.decode()
    port = int(offer.split("m=audio ")[1].split()[0])
    assert port % 2 == 0 and media["local"] == "127.0.0.1:%d" % port
    assert ("127.0.0.1", port) in echo.sources                 # our RTP left from the port the SDP offer names
    assert media["sent"] >= 10 and media["received"] == media["sent"] == media["expected"]
    assert (media["lost"], media["loss_pct"], media["echoed"]) == (0, 0.0, True)
    assert media["rtt_ms"] is not None and media["mos"] == 4.41 and media["r_factor"] == 93.2
    # a target's own media key wins: signalling only, port 9 in its offer
    assert plain["answered"] and plain["media"] is None
    assert "m=audio 9 " in uas.of("INVITE")[1].body.decode()


def test_media_loss_of_the_echo_is_counted_against_what_was_sent():
    (res,), _uas, echo = run(_media_calls(["answer"], drop_every=5, media=True, hold=0.3))
    media = res["media"]
    assert media["lost"] == echo.n // 5 and media["received"] == media["sent"] - echo.n // 5
    assert media["loss_pct"] == round(100.0 * (echo.n // 5) / media["sent"], 2) and media["loss_pct"] >= 15
    assert media["mos"] < 3.6


def test_no_rtp_back_is_one_way_audio():
    (res,), _uas = run(_calls(["answer"], media=True, hold=0.2))   # nothing listens on the answer's port
    media = res["media"]
    assert res["answered"] and media["sent"] > 0 and media["received"] == 0
    assert (media["loss_pct"], media["mos"]) == (100.0, 1.0) and "no RTP received from 127.0.0.1:4000" in media["error"]


@pytest.mark.parametrize("body, message", [
    (b"v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 0 RTP/AVP 8\r\n", "refused the audio stream"),
    (b"v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\n", "does not take PCMA"),
    (b"v=0\r\nm=audio 4000 RTP/AVP 8\r\n", "no IPv4 connection address"),
    (b"", "no SDP audio stream"),
])
def test_bad_sdp_answers(body, message):
    with pytest.raises(ValueError) as exc:
        sip_call.parse_sdp_answer(body)
    assert message in str(exc.value)


def test_sdp_answer_media_address_wins():
    body = b"v=0\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4002 RTP/AVP 0 8\r\nc=IN IP4 10.0.0.2\r\n"
    assert sip_call.parse_sdp_answer(body) == ("10.0.0.2", 4002, [0, 8])
