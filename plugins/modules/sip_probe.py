#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: sip_probe
short_description: Probe SIP servers, gateways and phones with OPTIONS, in bulk
version_added: 0.1.0
description:
  - Sends a SIP C(OPTIONS) request to every target, concurrently, over UDP, TCP or TLS, and reports per
    target the final response code and reason, the round-trip time, the C(Server)/C(User-Agent),
    C(Allow) and C(Supported) headers, or the exact failure (timeout, ICMP port unreachable, TCP refused,
    TLS error, DNS failure).
  - Thousands of targets go in one task, with RFC 3261 retransmission over UDP (T1 = 500 ms doubling up to
    T2 = 4 s) until O(timeout). UDP targets given as IPv4 addresses are swept from one socket that keeps
    O(concurrency) probes in flight (when O(auth_username) is not set); names, IPv6, TCP and TLS targets go
    through the per-request engine at the same time. Both report the same.
  - Any final response means the target is reachable; its status is V(ok) only when the code is one of
    O(expect_codes) (default V(200)); an empty O(expect_codes) accepts any final response.
  - Read-only, so it runs normally in check mode. It never fails because a target is down unless
    O(fail_on_unreachable) is set, so ad hoc use prints the whole table.
author: voipops maintainers (@voipops)
extends_documentation_fragment:
  - voipops.voip.attributes
  - voipops.voip.attributes.INFO_MODULE
options:
  targets:
    description:
      - What to probe. Each item is a SIP URI (V(sip:gw1.example.net:5060), V(sip:10.0.0.5;transport=tcp),
        V(sips:sbc.example.net)) or V(host[:port]) (V(127.0.0.1:5080), V([2001:db8::5]:5060)).
      - A C(transport) URI parameter or the V(sips:) scheme overrides O(transport) for that target.
      - Default ports are 5060 (UDP, TCP) and 5061 (TLS). Names are resolved with A/AAAA records (no SRV).
    type: list
    elements: str
    required: true
  transport:
    description: Transport for targets that do not name one.
    type: str
    choices: [udp, tcp, tls]
    default: udp
  timeout:
    description: Seconds to wait for a final response per target (connection set-up included).
    type: float
    default: 5.0
  concurrency:
    description: How many probes are in flight at once.
    type: int
    default: 1000
  from_uri:
    description: The C(From) URI of the probes. Defaults to V(sip:probe@<local address>).
    type: str
  user_agent:
    description: The C(User-Agent) header of the probes.
    type: str
    default: voipops.voip sip_probe
  expect_codes:
    description:
      - Final response codes that count as V(ok). Other responses give status V(error) (still reachable).
      - An empty list accepts any final response.
    type: list
    elements: int
    default: [200]
  validate_certs:
    description: Verify the TLS certificate and host name of TLS targets. Turn off only for lab or self-signed systems.
    type: bool
    default: true
  ca_path:
    description: A PEM file of CA certificates to trust for TLS targets instead of the system store.
    type: path
  auth_username:
    description: User name to answer a Digest challenge (401/407) to the OPTIONS, if the target sends one.
    type: str
  auth_password:
    description: Password for O(auth_username).
    type: str
  fail_on_unreachable:
    description: Fail the task when at least one target's status is not V(ok).
    type: bool
    default: false
notes:
  - On Linux, a UDP target whose port is closed answers with ICMP port unreachable, reported as V(refused).
    The kernel rate-limits ICMP (C(net.ipv4.icmp_msgs_per_sec), 1000/s by default), so with very many dead
    UDP ports some are reported on a retransmission or as V(timeout).
  - Only C(OPTIONS) is sent; nothing is changed on any target.
seealso:
  - module: voipops.voip.callserver_info
"""

EXAMPLES = r"""
- name: Probe the callserver and both media gateways
  voipops.voip.sip_probe:
    targets:
      - sip:127.0.0.1:5060
      - 127.0.0.1:5080
      - sip:127.0.0.1:5082;transport=tcp
    timeout: 2
  register: probe

- name: Show what did not answer 200
  ansible.builtin.debug:
    msg: "{{ probe.results | rejectattr('status', 'eq', 'ok') | map(attribute='target') | list }}"

- name: Health gate - any final response counts, fail if something is down
  voipops.voip.sip_probe:
    targets: "{{ groups['gateways'] | map('extract', hostvars, 'sip_uri') | list }}"
    expect_codes: []
    fail_on_unreachable: true

- name: TLS to a session border controller with a private CA
  voipops.voip.sip_probe:
    targets: [sips:sbc1.example.net]
    ca_path: /etc/pki/voip-ca.pem

# Ad hoc:
#   ansible localhost -m voipops.voip.sip_probe -a 'targets=127.0.0.1:5060,127.0.0.1:5080 timeout=2'
"""

RETURN = r"""
results:
  description: One entry per target, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    target:
      description: The target as given.
      type: str
      sample: 127.0.0.1:5080
    uri:
      description: The Request-URI that was probed.
      type: str
      sample: sip:127.0.0.1:5080
    host:
      description: Destination host.
      type: str
    port:
      description: Destination port.
      type: int
    transport:
      description: V(udp), V(tcp) or V(tls).
      type: str
    status:
      description:
        - V(ok) (final response with a code in O(expect_codes)), V(error) (another final response, or a local
          failure such as an invalid target), V(timeout), V(refused) (ICMP port unreachable or TCP reset),
          V(tls_error) or V(dns_error).
      type: str
      sample: ok
    reachable:
      description: Whether any final response came back.
      type: bool
    code:
      description: Final response code, or null.
      type: int
      sample: 200
    reason:
      description: Reason phrase of the final response.
      type: str
      sample: OK
    rtt_ms:
      description: Milliseconds from the first send of the request to its final response.
      type: float
      sample: 0.42
    server:
      description: The C(Server) header of the response (servers and gateways send it).
      type: str
      sample: kamailio (5.6.3 (x86_64/linux))
    user_agent:
      description: The C(User-Agent) header of the response (phones often send this one instead).
      type: str
    allow:
      description: Methods from the C(Allow) header, upper case.
      type: list
      elements: str
      sample: [INVITE, ACK, BYE, CANCEL, OPTIONS]
    supported:
      description: Option tags from the C(Supported) header.
      type: list
      elements: str
    authenticated:
      description: Whether the probe had to answer a Digest challenge.
      type: bool
    error:
      description: What went wrong, or null.
      type: str
      sample: "ICMP from 127.0.0.1:5090: Connection refused"
summary:
  description: Totals over all targets.
  returned: always
  type: dict
  contains:
    total:
      description: Number of targets.
      type: int
    ok:
      description: Targets with status V(ok).
      type: int
    failed:
      description: Targets with another status.
      type: int
    reachable:
      description: Targets that sent any final response.
      type: int
    by_status:
      description: Count per status (every status is present).
      type: dict
      sample: {ok: 2, error: 0, timeout: 1, refused: 0, tls_error: 0, dns_error: 0}
    rtt_ms:
      description: Minimum, average and maximum round-trip time over the reachable targets (nulls if none).
      type: dict
      sample: {min: 0.3, avg: 0.5, max: 0.9}
table:
  description: One human-readable line per target (status, code, rtt, server), for ad hoc use.
  returned: always
  type: list
  elements: str
  sample: ["ok        200 OK      0.4 ms  127.0.0.1:5080  kamlab-mgw"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.voipops.voip.plugins.module_utils.sip import (
    SipParseError, SipTarget, probe_many, run_sync, summarize,
)


def _table(results):
    lines = []
    for r in results:
        code = "%s %s" % (r["code"], r["reason"] or "") if r["code"] else "-"
        rtt = "%.1f ms" % r["rtt_ms"] if r["rtt_ms"] is not None else "-"
        who = r["server"] or r["user_agent"] or r["error"] or ""
        lines.append("%-9s %-18s %9s  %s  %s" % (r["status"], code[:18], rtt, r["target"], who))
    return lines


def main():
    module = AnsibleModule(
        argument_spec=dict(
            targets=dict(type="list", elements="str", required=True),
            transport=dict(type="str", choices=["udp", "tcp", "tls"], default="udp"),
            timeout=dict(type="float", default=5.0),
            concurrency=dict(type="int", default=1000),
            from_uri=dict(type="str"),
            user_agent=dict(type="str", default="voipops.voip sip_probe"),
            expect_codes=dict(type="list", elements="int", default=[200]),
            validate_certs=dict(type="bool", default=True),
            ca_path=dict(type="path"),
            auth_username=dict(type="str"),
            auth_password=dict(type="str", no_log=True),
            fail_on_unreachable=dict(type="bool", default=False),
        ),
        required_together=[("auth_username", "auth_password")],
        supports_check_mode=True,
    )
    p = module.params
    errors = []
    for i, text in enumerate(p["targets"]):
        try:
            SipTarget.parse(text, p["transport"])
        except SipParseError as exc:
            errors.append("targets[%d] %r: %s" % (i, text, exc))
    if p["timeout"] <= 0:
        errors.append("timeout must be > 0, got %s" % p["timeout"])
    if p["concurrency"] < 1:
        errors.append("concurrency must be >= 1, got %s" % p["concurrency"])
    bad_codes = [c for c in p["expect_codes"] if not 100 <= c <= 699]
    if bad_codes:
        errors.append("expect_codes must be SIP codes 100-699, got %s" % bad_codes)
    if errors:
        module.fail_json(msg="; ".join(errors), errors=errors)

    expect = p["expect_codes"] or range(200, 700)
    credentials = (p["auth_username"], p["auth_password"]) if p["auth_username"] else None
    results = run_sync(probe_many(
        p["targets"], transport=p["transport"], timeout=p["timeout"], concurrency=p["concurrency"],
        from_uri=p["from_uri"], user_agent=p["user_agent"], expect_codes=expect, validate_certs=p["validate_certs"],
        ca_path=p["ca_path"], credentials=credentials))
    summary = summarize(results)
    out = dict(changed=False, results=results, summary=summary, table=_table(results))
    if p["fail_on_unreachable"] and summary["failed"]:
        module.fail_json(msg="%d of %d SIP targets not ok: %s" % (
            summary["failed"], summary["total"],
            ", ".join("%s (%s)" % (r["target"], r["error"] or r["status"]) for r in results if r["status"] != "ok")[:2000]),
            **out)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
