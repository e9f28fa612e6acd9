# -*- coding: utf-8 -*-
"""The GETBULK walk (``snmp.collect``) against the walk it replaced (#16), on the lab's recorded agents and on
random MIBs.

``previous_collect`` below is the walk as it was before runs of sibling subtrees shared one repeater (one varbind
per column per GETBULK, scalars as non-repeaters): every result of ``collect`` must equal its result, for every fact
group and for agents that pack few varbinds into a response (snmpsim packs at most 64, pysnmp's limit) or go
backwards.  The agents are in-memory (``Agent``), answering GETBULK as RFC 3416 says.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import asyncio
import bisect
import itertools
import os

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.voipops.voip.plugins.module_utils import snmp, snmp_decode

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
RECORDED = [os.path.join(ROOT, "roles", "lab", "files", name) for name in ("mgw1.snmprec", "mgw2.snmprec")]


def _key(oid):
    return tuple(int(x) for x in oid.split("."))


class Agent(object):
    """GETBULK/GET over a sorted OID->value map; ``max_varbinds`` caps a response like pysnmp's command responder
    (max-repetitions lowered to ``max_varbinds // repeaters``, as snmpsim does); ``backwards_after`` answers the
    first OID again once a request reaches that OID (a broken agent)."""

    name = "mem"

    def __init__(self, mib, max_varbinds=None, backwards_after=None):
        self.mib = dict(mib)
        self.keys = sorted(self.mib, key=_key)
        self.tuples = [_key(k) for k in self.keys]
        self.max_varbinds = max_varbinds
        self.backwards_after = backwards_after
        self.log = []
        self.searches = 0  # lookups that start at an OID the agent does not hold (snmpsim: a binary search)

    @property
    def requests(self):
        return len(self.log)

    @property
    def varbinds(self):
        return sum(n for _kind, n in self.log)

    def _next(self, oid):
        if self.backwards_after and _key(oid) >= _key(self.backwards_after):
            return self.keys[0], self.mib[self.keys[0]]
        i = bisect.bisect_right(self.tuples, _key(oid))
        if i >= len(self.keys):
            return oid, snmp.END_OF_MIB
        return self.keys[i], self.mib[self.keys[i]]

    async def get(self, oids):
        self.log.append(("get", len(oids)))
        return [(o, self.mib.get(o, snmp.NO_SUCH)) for o in oids]

    async def bulk(self, non_repeaters, max_repetitions, oids):
        n = min(non_repeaters, len(oids))
        r = len(oids) - n
        self.searches += sum(1 for o in oids if o not in self.mib)
        if r and self.max_varbinds:  # pysnmp (snmpsim): M*R <= 64; net-snmp 5.9 seen: M*R <= 100
            max_repetitions = min(max_repetitions, max(1, self.max_varbinds // r))
        out = [self._next(o) for o in oids[:n]]
        cur = list(oids[n:])
        for _rep in range(max_repetitions if r else 0):
            row = [self._next(o) for o in cur]
            out.extend(row)
            cur = [o for o, _v in row]
        self.log.append(("bulk", len(out)))
        return out


async def previous_collect(session, scalars=(), columns=(), budget=snmp.DEFAULT_BULK_BUDGET):
    """The walk before #16, verbatim but for the names: one repeater per column, scalars as non-repeaters."""
    result = {}
    scalars = list(scalars)
    pending = list(columns)
    if scalars and not pending:
        for oid, value in await session.get(scalars):
            if value is not snmp.NO_SUCH and value is not snmp.END_OF_MIB:
                result[oid] = value
        return result
    last = dict((c, c) for c in pending)
    first = True
    requests = 0
    while pending:
        requests += 1
        if requests > snmp.MAX_REQUESTS_PER_TARGET:
            raise snmp.SnmpError("loops")
        nr = scalars if first else []
        reps = max(1, min(snmp.MAX_REPETITIONS, budget // len(pending)))
        req = [s.rsplit(".", 1)[0] for s in nr] + [last[c] for c in pending]
        rsp = await session.bulk(len(nr), reps, req)
        for i, scalar in enumerate(nr):
            if i < len(rsp) and rsp[i][0] == scalar and rsp[i][1] is not snmp.END_OF_MIB and rsp[i][1] is not snmp.NO_SUCH:
                result[scalar] = rsp[i][1]
        rest = rsp[len(nr):]
        k = len(pending)
        done = set()
        progressed = False
        for j, (oid, value) in enumerate(rest):
            col = pending[j % k]
            if col in done:
                continue
            if value is snmp.END_OF_MIB or not oid.startswith(col + "."):
                done.add(col)
                continue
            if oid == last[col] or _key(oid) < _key(last[col]):
                done.add(col)
                continue
            result[oid] = value
            last[col] = oid
            progressed = True
        if not progressed and len(done) == 0:
            raise snmp.SnmpError("empty GETBULK response")
        pending = [c for c in pending if c not in done]
        first = False
    return result


def run(coro):
    return asyncio.run(coro)


def _recorded(path):
    """The lab's .snmprec as {oid: plain value}, typed as the v2c decoder returns them (snmpsim's tags: 2 INTEGER,
    4 OCTET STRING, 4x the same in hex, 6 OID, 64 IpAddress, 65/66/67/70 Counter32/Gauge32/TimeTicks/Counter64;
    ``:writecache`` rows carry ``value=N``)."""
    mib = {}
    with open(path) as handle:
        for line in handle:
            if line.strip() and not line.startswith("#"):
                oid, tag, value = line.rstrip("\n").split("|", 2)
                tag = tag.split(":")[0]
                if value.startswith("value="):
                    value = value[len("value="):]
                if tag in ("2", "65", "66", "67", "70"):
                    mib[oid] = int(value)
                elif tag == "4x":
                    mib[oid] = bytes.fromhex(value)
                elif tag == "4":
                    mib[oid] = value.encode("utf-8")
                else:
                    mib[oid] = value
    return mib


GROUP_SETS = [list(c) for n in (1, 2, 3, len(snmp_decode.GROUP_NAMES))
              for c in itertools.combinations(snmp_decode.GROUP_NAMES, n)]


@pytest.mark.parametrize("path", RECORDED, ids=os.path.basename)
@pytest.mark.parametrize("cap", [None, 64, 7])
@pytest.mark.parametrize("budget", [snmp.DEFAULT_BULK_BUDGET, 10])
@pytest.mark.parametrize("runs", [True, False])
def test_every_fact_group_gets_what_the_previous_walk_got_from_the_lab_agents(path, cap, budget, runs):
    mib = _recorded(path)
    for groups in GROUP_SETS:
        scalars, columns = snmp_decode.requests_for(groups)
        before, now = Agent(mib, cap), Agent(mib, cap)
        want = run(previous_collect(before, scalars, columns, budget))
        got = run(snmp.collect(now, scalars, columns, budget, runs=runs))
        assert got == want, groups
        assert snmp_decode.decode(groups, got) == snmp_decode.decode(groups, want)
        assert now.searches <= before.searches, groups  # never more lookups from OIDs the agent does not hold


def test_the_bench_poll_costs_the_agent_fewer_searches_and_varbinds():
    # system + interfaces + ds1 from a snmpsim-like agent (64 varbinds a response): the previous walk started 32
    # lookups at OIDs the agent does not hold (7 scalar parents, 25 columns) and received 107 varbinds; now the
    # sibling runs (sysDescr..sysServices, ifDescr..ifLastChange, ...) start 15 and receive 94
    scalars, columns = snmp_decode.requests_for(["system", "interfaces", "ds1"])
    mib = _recorded(RECORDED[0])
    before, now = Agent(mib, 64), Agent(mib, 64)
    assert run(snmp.collect(now, scalars, columns)) == run(previous_collect(before, scalars, columns))
    assert (before.requests, before.varbinds, before.searches) == (2, 107, 32)
    assert (now.requests, now.varbinds, now.searches) == (3, 94, 15)
    assert len(snmp._streams(scalars, columns)) == 15


def test_a_run_of_adjacent_columns_is_one_repeater_and_other_scalars_stay_exact():
    agent = Agent(dict([("1.3.6.1.2.1.1.%d.0" % i, i) for i in range(1, 8)]
                       + [("1.3.6.1.2.1.2.2.1.%d.%d" % (c, r), c * 10 + r) for c in range(1, 6) for r in (1, 2)]))
    scalars = ["1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.1.5.0"]
    columns = ["1.3.6.1.2.1.2.2.1.2", "1.3.6.1.2.1.2.2.1.3", "1.3.6.1.2.1.2.2.1.5"]
    got = run(snmp.collect(agent, scalars, columns))
    assert got == {"1.3.6.1.2.1.1.1.0": 1, "1.3.6.1.2.1.1.2.0": 2, "1.3.6.1.2.1.1.5.0": 5,
                   "1.3.6.1.2.1.2.2.1.2.1": 21, "1.3.6.1.2.1.2.2.1.2.2": 22, "1.3.6.1.2.1.2.2.1.3.1": 31,
                   "1.3.6.1.2.1.2.2.1.3.2": 32, "1.3.6.1.2.1.2.2.1.5.1": 51, "1.3.6.1.2.1.2.2.1.5.2": 52}
    starts = [s.start for s in snmp._streams(scalars, columns)]
    assert starts == ["1.3.6.1.2.1.1.1", "1.3.6.1.2.1.1.5", "1.3.6.1.2.1.2.2.1.2", "1.3.6.1.2.1.2.2.1.5"]


def test_repetitions_follow_what_the_runs_still_need():
    assert snmp._repetitions([None, 3], 160) == 80           # nothing known about a table: the budget shared out
    assert snmp._repetitions([None] * 25 + [7], 160) == 7  # ... unless a run of 7 scalars needs more to finish now
    assert snmp._repetitions([3, 3, 3, 24], 160) == 3        # the long run finishes alone in the next request
    assert snmp._repetitions([22, 24, 23], 160) == 24        # a round trip costs more than the few repetitions wasted
    assert snmp._repetitions([200], 160) == snmp.MAX_REPETITIONS


def test_an_agent_going_backwards_in_a_run_does_not_loop():
    mib = dict(("1.3.6.1.2.1.2.2.1.%d.%d" % (c, r), r) for c in (2, 3) for r in range(1, 31))
    agent = Agent(mib, backwards_after="1.3.6.1.2.1.2.2.1.2.10")
    got = run(snmp.collect(agent, [], ["1.3.6.1.2.1.2.2.1.2", "1.3.6.1.2.1.2.2.1.3"], budget=4))
    assert len(got) == 10 and agent.requests <= 6


ARCS = st.integers(1, 6)


@st.composite
def mibs(draw):
    """A few scalars and sparse tables under two parents, plus what to ask for (some of it absent)."""
    mib = {}
    for base in ("1.3.6.1.2.1.1", "1.3.6.1.4.1.9.1"):
        for arc in draw(st.sets(ARCS, max_size=6)):
            mib["%s.%d.0" % (base, arc)] = arc
            if draw(st.booleans()):  # a stray instance beside the scalar (broken agents have them)
                mib["%s.%d.%d" % (base, arc, draw(st.integers(1, 3)))] = -arc
    for entry in ("1.3.6.1.2.1.2.2.1", "1.3.6.1.2.1.31.1.1.1"):
        rows = draw(st.integers(0, 12))
        for col in draw(st.sets(st.integers(1, 9), max_size=8)):
            for row in range(1, rows + 1):
                if draw(st.integers(0, 5)):  # sparse: some cells missing
                    mib["%s.%d.%d" % (entry, col, row)] = col * 100 + row
    scalars = draw(st.lists(st.sampled_from(["%s.%d.0" % (b, a) for b in ("1.3.6.1.2.1.1", "1.3.6.1.4.1.9.1")
                                             for a in range(1, 7)]), unique=True, max_size=8))
    columns = draw(st.lists(st.sampled_from(["%s.%d" % (e, c) for e in ("1.3.6.1.2.1.2.2.1", "1.3.6.1.2.1.31.1.1.1")
                                             for c in range(1, 10)] + ["1.3.6.1.2.1.31"]), unique=True, max_size=12))
    return mib, scalars, columns


@settings(max_examples=400, deadline=None)
@given(mibs(), st.sampled_from([None, 64, 9, 3]), st.sampled_from([160, 12, 1]), st.booleans())
def test_random_mibs_give_what_the_previous_walk_gave(case, cap, budget, runs):
    mib, scalars, columns = case
    if not mib:
        return
    want = run(previous_collect(Agent(mib, cap), scalars, columns, budget))
    assert run(snmp.collect(Agent(mib, cap), scalars, columns, budget, runs=runs)) == want


class PolledAgent(Agent):
    """An ``Agent`` the poller opens and closes like a session."""

    def __init__(self, mib, max_varbinds=None):
        super(PolledAgent, self).__init__(mib, max_varbinds)
        self.name = "mem"

    def close(self):
        pass


@pytest.mark.parametrize("cap", [None, 100, 64])
def test_the_poller_walks_runs_once_an_agent_needs_several_requests(monkeypatch, cap):
    # system + interfaces + ds1 of small tables come back in ONE response when every column is its own repeater,
    # from an agent that answers every repetition asked or, like net-snmp's snmpd, up to 100 repeated varbinds;
    # an agent that packs at most 64 (snmpsim) needs two anyway, so after the first such agent the poller walks
    # runs, which cost that agent fewer lookups and varbinds for one more request
    mib = _recorded(RECORDED[0])
    agents = [PolledAgent(mib, cap) for _i in range(3)]
    poller = snmp.SnmpPoller(concurrency=1)

    async def session(target):
        return agents[int(target["host"][-1])]

    monkeypatch.setattr(poller, "_session", session)
    targets = [{"host": "10.0.0.%d" % i, "community": "public"} for i in range(3)]
    results = poller.poll(targets, ["system", "interfaces", "ds1"])
    assert [len(r["facts"]["interfaces"]) for r in results] == [3, 3, 3]
    assert results[0]["facts"] == results[1]["facts"] == results[2]["facts"]
    if cap != 64:
        assert poller.runs is False
        assert [(a.requests, a.searches) for a in agents] == [(1, 32)] * 3
    else:
        assert poller.runs is True
        assert [(a.requests, a.varbinds, a.searches) for a in agents] == [(2, 107, 32), (3, 94, 15), (3, 94, 15)]
