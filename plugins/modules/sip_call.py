#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: sip_call
short_description: Place short SIP test calls through the callserver or straight to a gateway
version_added: 0.1.0
description:
  - Places one short test call per target, in parallel (at most O(concurrency) at a time), over UDP - an RFC 3261
    C(INVITE) with an SDP offer, Digest authentication when the callserver challenges (401/407), the final answer,
    C(ACK), a hold of O(hold) seconds, C(BYE). A call that rings longer than O(ring_timeout) is cancelled (C(CANCEL)).
  - Reports per call the final code and reason, whether it was answered, the post-dial delay, the set-up time, the
    duration and a classification - V(answered), V(busy) (486, 600), V(no_answer) (cancelled on ring timeout, 408,
    480, 487), V(rejected) (any other final code), V(unreachable) (no answer at all, or ICMP port unreachable) or
    V(auth_failed) (401/407 after the credentials were sent, or no credentials).
  - Without O(media) no media is sent (the SDP offer names port 9); the call proves routing, signalling and answering.
    With O(media) (or a target's C(media) key) an answered call carries RTP both ways for O(hold) seconds and reports
    packet loss, interarrival jitter, the round trip when the far end echoes and an E-model MOS estimate.
  - Changes nothing anywhere (a test call leaves no state on the callserver), so it runs the same in check mode.
    It never fails because a call failed, unless O(fail_on_failed_calls) is set.
author: voipops maintainers (@voipops)
extends_documentation_fragment:
  - voipops.voip.attributes
  - voipops.voip.attributes.INFO_MODULE
options:
  targets:
    description:
      - What to call. A number or extension (V(1001), V(90001)) is called as V(sip:<number>@<domain>) through
        O(proxy). A V(sip:) URI (V(sip:127.0.0.1:5080), V(sip:9001@gw1.example.net)) goes through O(proxy) when one
        is given, else straight to its host.
      - A dict takes C(target) (a number or URI) and optionally C(name) and C(kind) (labels copied into the result,
        for example the gateway's name and V(gateway)) and C(direct) (V(true) sends a URI straight to its host even
        when O(proxy) is set - a gateway tested on its own) and C(media) (a boolean - this call carries RTP or not,
        whatever O(media) says).
    type: list
    elements: raw
    required: true
  proxy:
    description:
      - The callserver's SIP address, V(host:port) or V(sip:host:port) (UDP). Needed for numbers.
      - If not set, the environment variable E(VOIPOPS_TEST_CALL_PROXY) is used.
    type: str
  domain:
    description:
      - The SIP domain of numbers and of the caller's C(From) URI.
      - If not set, the environment variable E(VOIPOPS_CALLSERVER_DOMAIN) is used, then the proxy's host.
    type: str
  username:
    description:
      - The test-call account on the callserver (the caller), used for the C(From) URI and Digest authentication.
      - If not set, the environment variable E(VOIPOPS_TEST_CALL_USERNAME) is used.
    type: str
  password:
    description:
      - The test-call account's password. Never logged or returned.
      - If not set, the environment variable E(VOIPOPS_TEST_CALL_PASSWORD) is used (an AWX credential can inject it).
    type: str
  from_uri:
    description: The caller's C(From) URI. Defaults to V(sip:<username>@<domain>).
    type: str
  hold:
    description: Seconds an answered call is held before the BYE.
    type: float
    default: 1.0
  ring_timeout:
    description:
      - Seconds to wait for the final answer. A call that got a provisional answer is then cancelled (V(no_answer));
        one that got no answer at all is V(unreachable).
    type: float
    default: 15.0
  concurrency:
    description: How many calls are up at once.
    type: int
    default: 10
  media:
    description:
      - Answered calls carry RTP (RFC 3550) both ways for O(hold) seconds. The SDP offer names a real port
        (even, RFC 3550 section 11); a stream of PCMA/8000 packets, one every 20 ms (C(seq), C(timestamp), C(SSRC)),
        goes to the address and port of the SDP answer, and the far end's stream is received on the same port.
      - The result's C(media) has packet loss (from sequence numbers, RFC 3550 appendix A.3; against the packets sent
        when the far end echoes them), interarrival jitter (RFC 3550 section 6.4.1), the round trip of echoed packets
        (a gateway's test or loopback number echoes; the lab's gateways do), and an ITU-T G.107 E-model R and MOS for
        G.711 with packet loss concealment (Ie 0, Bpl 25.1; one-way delay = half the round trip).
      - A target's own C(media) key wins. A far end that sends nothing back shows as 100% loss (one-way audio).
    type: bool
    default: false
  fail_on_failed_calls:
    description: Fail the task when a call is not answered (the results are returned all the same).
    type: bool
    default: false
notes:
  - UDP only; the proxy and the targets are resolved with A records.
  - A call through the callserver uses its routing as a user's call would - class of service, do-not-disturb and call
    forwards of the called user apply; a forward shows as V(rejected) with code 302 and the C(redirect) target.
  - The post-dial delay is measured from the first C(INVITE) (a Digest challenge round trip included) to the first
    180 or 183, or to the final answer when there was no ringing (RFC 6076 session request delay).
seealso:
  - module: voipops.voip.sip_probe
  - module: voipops.voip.extension_diagnose
"""

EXAMPLES = r"""
- name: One call through each gateway group and to two phones, via the callserver
  voipops.voip.sip_call:
    proxy: 127.0.0.1:5060
    domain: voip.lab
    username: "1004"
    password: "{{ vault_test_call_password }}"
    targets: ["90001", "1001", "1002"]
  register: calls

- name: A gateway on its own, straight to its SIP address, with RTP for 3 seconds (loss, jitter, MOS)
  voipops.voip.sip_call:
    media: true
    hold: 3
    targets:
      - target: sip:90001@10.0.20.5:5060
        name: mgw1
        kind: gateway
        direct: true

# Ad hoc, with the account in the environment (VOIPOPS_TEST_CALL_USERNAME / VOIPOPS_TEST_CALL_PASSWORD):
#   ansible localhost -m voipops.voip.sip_call -a 'targets=1001 proxy=127.0.0.1:5060 domain=voip.lab'
"""

RETURN = r"""
calls:
  description: One entry per target, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    target:
      description: The target as given.
      type: str
    name:
      description: The target's C(name) label, if given.
      type: str
    kind:
      description: The target's C(kind) label, if given.
      type: str
    uri:
      description: The Request-URI called.
      type: str
    via:
      description: V(proxy) (through O(proxy)) or V(direct).
      type: str
    classification:
      description: V(answered), V(busy), V(no_answer), V(rejected), V(unreachable) or V(auth_failed).
      type: str
    code:
      description: The final response code (null when none came).
      type: int
    reason:
      description: The final response's reason phrase.
      type: str
    answered:
      description: A 2xx answer.
      type: bool
    ringing:
      description: A 180 or 183 came before the final answer.
      type: bool
    post_dial_delay_ms:
      description: INVITE sent to the first 180/183, or to the final answer when there was none.
      type: float
    setup_ms:
      description: INVITE sent to the final answer.
      type: float
    duration_ms:
      description: ACK to the end of the call (our BYE answered, or the far end's BYE).
      type: float
    hangup:
      description: V(local) (our BYE after O(hold)) or V(remote) (the far end hung up first); null when not answered.
      type: str
    bye_code:
      description: The answer to our BYE.
      type: int
    cancelled:
      description: The call was cancelled on O(ring_timeout).
      type: bool
    authenticated:
      description: The INVITE was re-sent with Digest credentials.
      type: bool
    server:
      description: The C(Server) (or C(User-Agent)) header of the final answer.
      type: str
    redirect:
      description: The C(Contact) of a 3xx answer (a call forward).
      type: str
    call_id:
      description: The call's Call-ID (to find it in the callserver's log).
      type: str
    error:
      description: What went wrong when no final answer came.
      type: str
    media:
      description: The call's RTP figures; null when the call carried no media (not answered, or O(media) off).
      type: dict
      contains:
        codec:
          description: V(PCMA/8000).
          type: str
        ptime_ms:
          description: Milliseconds of audio in a packet (20).
          type: int
        local:
          description: Our RTP address, V(host:port) (the port of the SDP offer).
          type: str
        remote:
          description: Where our RTP went (the SDP answer's address and port).
          type: str
        sent:
          description: RTP packets sent.
          type: int
        received:
          description: RTP packets received from the far end (its first SSRC; duplicates not counted).
          type: int
        expected:
          description: Packets expected - from the sequence numbers (RFC 3550 A.3), or the packets sent when echoed.
          type: int
        lost:
          description: RV(calls[].media.expected) minus RV(calls[].media.received) (0 at least).
          type: int
        loss_pct:
          description: Lost packets in percent of those expected (100 when nothing came back).
          type: float
        jitter_ms:
          description: RFC 3550 interarrival jitter of the received stream, in milliseconds.
          type: float
        duplicates:
          description: Duplicate packets received.
          type: int
        out_of_order:
          description: Packets that came after a later one.
          type: int
        burst_ratio:
          description: ITU-T G.107 BurstR of the loss pattern (1 = random loss, more = bursty).
          type: float
        echoed:
          description: The far end echoed our packets (so the round trip was measured).
          type: bool
        rtt_ms:
          description: Mean round trip of echoed packets, in milliseconds.
          type: float
        one_way_ms:
          description: Half the round trip (the one-way delay used for the E-model).
          type: float
        r_factor:
          description: ITU-T G.107 transmission rating R (93.2 for a perfect G.711 call).
          type: float
        mos:
          description: The MOS estimate from R (ITU-T G.107 Annex B; 4.41 for a perfect G.711 call).
          type: float
        error:
          description: Why no media flowed (no or a refused SDP answer, nothing received).
          type: str
  sample:
    - {"target": "90001", "uri": "sip:90001@voip.lab", "via": "proxy", "classification": "answered", "code": 200,
       "reason": "OK", "answered": true, "ringing": false, "post_dial_delay_ms": 4.1, "setup_ms": 4.1,
       "duration_ms": 1003.2, "hangup": "local", "bye_code": 200, "cancelled": false, "authenticated": true,
       "server": null, "redirect": null, "name": null, "kind": null, "call_id": "c1a2b31@voipops", "error": null,
       "media": null}
summary:
  description: Totals.
  returned: always
  type: dict
  contains:
    total:
      description: Calls placed.
      type: int
    answered:
      description: Calls answered.
      type: int
    failed:
      description: Calls not answered.
      type: int
    by_classification:
      description: Calls per classification.
      type: dict
    post_dial_delay_ms:
      description: C(min), C(avg), C(max) of the post-dial delay.
      type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.parameters import env_fallback

from ansible_collections.voipops.voip.plugins.module_utils.sip_call import CallError, run_calls


def main():
    module = AnsibleModule(
        argument_spec=dict(
            targets=dict(type="list", elements="raw", required=True),
            proxy=dict(type="str", fallback=(env_fallback, ["VOIPOPS_TEST_CALL_PROXY"])),
            domain=dict(type="str", fallback=(env_fallback, ["VOIPOPS_CALLSERVER_DOMAIN"])),
            username=dict(type="str", fallback=(env_fallback, ["VOIPOPS_TEST_CALL_USERNAME"])),
            password=dict(type="str", no_log=True, fallback=(env_fallback, ["VOIPOPS_TEST_CALL_PASSWORD"])),
            from_uri=dict(type="str"),
            hold=dict(type="float", default=1.0),
            ring_timeout=dict(type="float", default=15.0),
            concurrency=dict(type="int", default=10),
            media=dict(type="bool", default=False),
            fail_on_failed_calls=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        out = run_calls(targets=p["targets"], proxy=p["proxy"], domain=p["domain"], username=p["username"],
                        password=p["password"], from_uri=p["from_uri"], hold=p["hold"], ring_timeout=p["ring_timeout"],
                        concurrency=p["concurrency"], media=p["media"])
    except CallError as exc:
        module.fail_json(msg="sip_call: %s" % exc)
    failed = [c for c in out["calls"] if not c["answered"]]
    if p["fail_on_failed_calls"] and failed:
        which = ", ".join("%s %s" % (c["target"], c["code"] or c["classification"]) for c in failed[:10])
        module.fail_json(msg="%d of %d test calls not answered: %s" % (len(failed), len(out["calls"]), which),
                         changed=False, **out)
    module.exit_json(changed=False, **out)


if __name__ == "__main__":
    main()
