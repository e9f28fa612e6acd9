# -*- coding: utf-8 -*-
"""Engine logic that needs no agent: target checks and the multi-column GETBULK walk.

The walk is driven against an in-memory MIB that answers GETBULK exactly as RFC 3416 says (and, in
two tests, like the broken agents met in the field: truncating responses, going backwards).  The
real agents (snmpsim, net-snmp snmpd) are exercised in tests/integration/test_snmp_info.py.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import asyncio
import bisect

import pytest

from ansible_collections.voipops.voip.plugins.module_utils import snmp


def _key(oid):
    return tuple(int(x) for x in oid.split("."))


class MemoryAgent(object):
    """GETBULK/GET over a sorted OID->value map, recording every request."""

    name = "mem"

    def __init__(self, mib, max_varbinds=None, backwards_after=None):
        self.mib = dict(mib)
        self.keys = sorted(self.mib, key=_key)
        self.tuples = [_key(k) for k in self.keys]
        self.max_varbinds = max_varbinds
        self.backwards_after = backwards_after
        self.log = []
        self.requests = 0

    def _next(self, oid):
        i = bisect.bisect_right(self.tuples, _key(oid))
        if i >= len(self.keys):
            return oid, snmp.END_OF_MIB
        if self.backwards_after and _key(oid) >= _key(self.backwards_after):
            return self.keys[0], self.mib[self.keys[0]]
        return self.keys[i], self.mib[self.keys[i]]

    async def get(self, oids):
        self.requests += 1
        self.log.append(("get", list(oids)))
        return [(o, self.mib.get(o, snmp.NO_SUCH)) for o in oids]

    async def bulk(self, non_repeaters, max_repetitions, oids):
        self.requests += 1
        self.log.append(("bulk", non_repeaters, max_repetitions, list(oids)))
        out = [self._next(o) for o in oids[:non_repeaters]]
        cur = list(oids[non_repeaters:])
        for _r in range(max_repetitions):
            row = [self._next(o) for o in cur]
            out.extend(row)
            cur = [o for o, _v in row]
        if self.max_varbinds:
            out = out[:self.max_varbinds]
        return out


def run(coro):
    return asyncio.run(coro)


def _table(entry, columns, rows):
    mib = {}
    for c in columns:
        for r in range(1, rows + 1):
            mib["%s.%d.%d" % (entry, c, r)] = c * 1000 + r
    return mib


SYS = {"1.3.6.1.2.1.1.1.0": b"descr", "1.3.6.1.2.1.1.3.0": 4242, "1.3.6.1.2.1.1.5.0": b"mgw1"}


def test_scalars_and_columns_come_back_in_one_getbulk_for_small_tables():
    mib = dict(SYS)
    mib.update(_table("1.3.6.1.2.1.2.2.1", [2, 7, 8], 3))
    mib.update(_table("1.3.6.1.2.1.10.18.6.1", [10], 2))
    agent = MemoryAgent(mib)
    got = run(snmp.collect(agent, ["1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.6.0"],
                           ["1.3.6.1.2.1.2.2.1.2", "1.3.6.1.2.1.2.2.1.8", "1.3.6.1.2.1.10.18.6.1.10"], budget=60))
    assert agent.requests == 1
    want = dict((k, v) for k, v in mib.items() if not k.startswith("1.3.6.1.2.1.2.2.1.7.") and k != "1.3.6.1.2.1.1.3.0")
    assert got == want  # sysLocation absent: not invented; ifAdminStatus not asked: not returned


def test_long_columns_continue_where_each_column_stopped():
    mib = _table("1.3.6.1.2.1.2.2.1", [2, 3, 8], 250)
    agent = MemoryAgent(mib)
    got = run(snmp.collect(agent, [], ["1.3.6.1.2.1.2.2.1.2", "1.3.6.1.2.1.2.2.1.8"], budget=100))
    assert len(got) == 500 and "1.3.6.1.2.1.2.2.1.3.1" not in got
    assert got["1.3.6.1.2.1.2.2.1.8.250"] == 8250
    assert agent.requests == 6  # 50 rows per column per request -> 5 requests + the one that sees the end


def test_truncated_responses_are_resumed_not_lost():
    mib = _table("1.3.6.1.2.1.31.1.1.1", [1, 6, 10], 40)
    agent = MemoryAgent(mib, max_varbinds=7)  # an agent that packs only 7 varbinds per response
    got = run(snmp.collect(agent, [], ["1.3.6.1.2.1.31.1.1.1.%d" % c for c in (1, 6, 10)], budget=90))
    assert got == mib


def test_column_missing_on_agent_ends_immediately():
    mib = dict(SYS)
    mib.update(_table("1.3.6.1.2.1.2.2.1", [2], 2))
    agent = MemoryAgent(mib)
    got = run(snmp.collect(agent, [], ["1.3.6.1.2.1.10.18.6.1.10", "1.3.6.1.2.1.2.2.1.2"]))
    assert sorted(got) == ["1.3.6.1.2.1.2.2.1.2.1", "1.3.6.1.2.1.2.2.1.2.2"]


def test_agent_going_backwards_does_not_loop_forever():
    mib = _table("1.3.6.1.2.1.2.2.1", [2], 30)
    agent = MemoryAgent(mib, backwards_after="1.3.6.1.2.1.2.2.1.2.10")
    got = run(snmp.collect(agent, [], ["1.3.6.1.2.1.2.2.1.2"], budget=4))
    assert len(got) == 10 and agent.requests <= 4


def test_scalars_only_use_a_plain_get():
    agent = MemoryAgent(SYS)
    got = run(snmp.collect(agent, ["1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.6.0"], []))
    assert got == {"1.3.6.1.2.1.1.5.0": b"mgw1"}
    assert agent.log == [("get", ["1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.6.0"])]


def test_normalize_target_defaults_and_errors():
    t = snmp.normalize_target({"host": "10.1.2.3"}, {"community": "public", "timeout": 3})
    assert (t["port"], t["version"], t["community"], t["timeout"], t["retries"], t["name"]) == (
        161, "2c", "public", 3.0, snmp.DEFAULT_RETRIES, "10.1.2.3:161")
    v3 = snmp.normalize_target({"host": "gw", "version": "v3", "user": "ops", "auth_key": "authsecret",
                                "priv_key": "privsecret", "auth_protocol": "SHA-256", "priv_protocol": "AES128"})
    assert (v3["version"], v3["auth_protocol"], v3["priv_protocol"]) == ("3", "sha256", "aes")
    with pytest.raises(ValueError) as err:
        snmp.normalize_target({"host": "gw", "version": "3", "priv_key": "x", "auth_protocol": "sha3", "port": 70000})
    msg = str(err.value)
    for part in ("port 70000", "user is required", "priv_key needs auth_key", "auth_protocol 'sha3'",
                 "priv_key must be at least 8"):
        assert part in msg
    with pytest.raises(ValueError, match="community is required"):
        snmp.normalize_target({"host": "gw"})


def test_numeric_oids_only():
    assert snmp._check_oid(".1.3.6.1.2.1.1.5.0") == "1.3.6.1.2.1.1.5.0"
    with pytest.raises(ValueError, match="not a numeric OID"):
        snmp._check_oid("SNMPv2-MIB::sysName.0")


def test_unreachable_agent_is_a_per_target_error_not_an_exception():
    poller = snmp.SnmpPoller(timeout=0.2, retries=0)
    # a UDP port nobody listens on: ICMP port unreachable on loopback, or a timeout
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    res = poller.poll([{"host": "127.0.0.1", "port": port, "community": "x", "name": "dead"},
                       {"host": "", "community": "x"}], ["system"])
    assert [r["ok"] for r in res] == [False, False]
    assert res[0]["name"] == "dead" and "dead" in res[0]["error"]
    assert "host is required" in res[1]["error"]


# --------------------------------------------------------------------------- the v2c codec against pyasn1's
from hypothesis import given, settings, strategies as st  # noqa: E402  pylint: disable=wrong-import-position
from pyasn1.codec.ber import decoder as ber_decoder, encoder as ber_encoder  # noqa: E402
from pysnmp.proto import rfc1902, rfc1905  # noqa: E402
from pysnmp.proto.api import v2c  # noqa: E402

OIDS = st.builds(lambda first, second, rest: ".".join(map(str, (first, second) + tuple(rest))),
                 st.integers(0, 2), st.integers(0, 39), st.lists(st.integers(0, 2 ** 32 - 1), max_size=14))
VALUES = st.one_of(
    st.integers(-2 ** 31, 2 ** 31 - 1).map(v2c.Integer), st.binary(max_size=300).map(v2c.OctetString),
    OIDS.map(v2c.ObjectIdentifier), st.integers(0, 2 ** 32 - 1).map(rfc1902.Counter32),
    st.integers(0, 2 ** 32 - 1).map(rfc1902.Gauge32), st.integers(0, 2 ** 32 - 1).map(rfc1902.TimeTicks),
    st.integers(0, 2 ** 64 - 1).map(rfc1902.Counter64), st.binary(min_size=4, max_size=4).map(rfc1902.IpAddress),
    st.binary(max_size=20).map(rfc1902.Opaque), st.just(rfc1905.endOfMibView), st.just(rfc1905.noSuchObject),
    st.just(rfc1905.noSuchInstance), st.just(v2c.null))


def _pyasn1_response(request_id, status, index, varbinds, community=b"public"):
    pdu = v2c.ResponsePDU()
    v2c.apiPDU.set_defaults(pdu)
    v2c.apiPDU.set_request_id(pdu, request_id)
    v2c.apiPDU.set_error_status(pdu, status)
    v2c.apiPDU.set_error_index(pdu, index)
    v2c.apiPDU.set_varbinds(pdu, [(v2c.ObjectIdentifier(o), v) for o, v in varbinds])
    msg = v2c.Message()
    v2c.apiMessage.set_defaults(msg)
    v2c.apiMessage.set_community(msg, community)
    v2c.apiMessage.set_pdu(msg, pdu)
    return ber_encoder.encode(msg)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2 ** 31 - 1), st.integers(0, 18), st.integers(0, 100), st.lists(st.tuples(OIDS, VALUES), max_size=40))
def test_responses_decode_to_the_values_pyasn1_decodes(request_id, status, index, varbinds):
    wire = _pyasn1_response(request_id, status, index, varbinds)
    msg, _rest = ber_decoder.decode(wire, asn1Spec=v2c.Message())
    pdu = v2c.apiMessage.get_pdu(msg)
    want = [(snmp._oid_str(o), snmp.to_python(v)) for o, v in v2c.apiPDU.get_varbinds(pdu)]
    assert snmp.decode_response(wire) == (request_id, status, index, want)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=30), st.sampled_from([snmp.GET_REQUEST, snmp.GET_BULK_REQUEST]), st.integers(1, 2 ** 31 - 1),
       st.lists(OIDS, min_size=1, max_size=30), st.integers(0, 5), st.integers(0, 100))
def test_requests_are_what_pyasn1_reads(community, pdu_type, request_id, oids, non_repeaters, max_repetitions):
    wire = snmp.encode_request(community, pdu_type, request_id, oids, non_repeaters, max_repetitions)
    msg, rest = ber_decoder.decode(wire, asn1Spec=v2c.Message())
    assert rest == b"" and ber_encoder.encode(msg) == wire          # canonical BER, byte for byte
    pdu = v2c.apiMessage.get_pdu(msg)
    assert bytes(v2c.apiMessage.get_community(msg)) == community and int(v2c.apiMessage.get_version(msg)) == 1
    assert pdu.tagSet == (v2c.GetBulkRequestPDU if pdu_type == snmp.GET_BULK_REQUEST else v2c.GetRequestPDU).tagSet
    assert int(v2c.apiPDU.get_request_id(pdu)) == request_id
    assert [snmp._oid_str(o) for o, _v in v2c.apiPDU.get_varbinds(pdu)] == oids
    if pdu_type == snmp.GET_BULK_REQUEST:
        assert int(v2c.apiBulkPDU.get_non_repeaters(pdu)) == non_repeaters
        assert int(v2c.apiBulkPDU.get_max_repetitions(pdu)) == max_repetitions


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(OIDS, VALUES), min_size=1, max_size=5), st.data())
def test_a_damaged_response_is_refused_or_decoded_never_a_crash(varbinds, data):
    wire = bytearray(_pyasn1_response(7, 0, 0, varbinds))
    cut = data.draw(st.integers(0, len(wire) - 1))
    for damaged in (bytes(wire[:cut]), bytes(wire[:cut] + bytes([data.draw(st.integers(0, 255))]) + wire[cut + 1:])):
        try:
            snmp.decode_response(damaged)
        except snmp.BerError:
            pass


def test_a_request_or_a_v1_message_is_not_taken_for_a_response():
    request = snmp.encode_request(b"public", snmp.GET_REQUEST, 5, ["1.3.6.1.2.1.1.5.0"])
    with pytest.raises(snmp.BerError, match="expected tag 0xa2"):
        snmp.decode_response(request)
    v1 = bytearray(_pyasn1_response(5, 0, 0, [("1.3.6.1.2.1.1.5.0", v2c.OctetString(b"x"))]))
    v1[4] = 0  # version 0 = SNMPv1
    with pytest.raises(snmp.BerError, match="not an SNMPv2c message"):
        snmp.decode_response(bytes(v1))
