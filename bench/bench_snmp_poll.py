# -*- coding: utf-8 -*-
"""Bench ``snmp_poll``: poll >= 200 SNMP agent endpoints for system + ifTable/ifXTable + DS1.

Agents: ONE snmpsim process listening on N loopback UDP endpoints, all serving the lab's gateway data
(``roles/lab/files/mgw1.snmprec``: system, IF-MIB, DS1-MIB, ISDN-MIB).
Ours: ``SnmpPoller(concurrency=C).poll(targets, ["system", "interfaces", "ds1"])`` - decoded facts.
Baseline: net-snmp ``snmpbulkwalk -v2c -c C -On 127.0.0.1:P <subtree>`` per agent per subtree
(system, ifTable, ifXTable, dsx1ConfigTable), C processes at a time (same parallelism), output
not even parsed.  Peer: Prometheus ``snmp_exporter`` (Go; Debian prometheus-snmp-exporter) with
``bench/snmp_exporter/snmp.yml`` walking the same four subtrees, scraped over HTTP for every agent, C scrapes at a
time.  All must return every agent's data; each side's wall time is measured in this run.
Real agent: the same poller and snmpbulkwalk against net-snmp's ``snmpd`` (C; one process listening on N loopback
UDP endpoints, system + ifTable + ifXTable of this machine's interfaces; snmpd has no DS1 table), the same
concurrency: ``snmp_poll_real_agent``.  There the agent is not the bottleneck, so the row shows the pollers' own pace.
Growth: the three contenders again on the first quarter and half of the agents: ``snmp_poll_growth`` (exponent k of
t ~ N^k, snmpbulkwalk's beside it) and ``bench/results/snmp_poll.svg``.
"""
from __future__ import absolute_import, division, print_function

import importlib
import json
import os
import shutil
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
importlib.import_module("conftest")  # imported for its side effect: makes ansible_collections.voipops.voip importable

from ansible_collections.voipops.voip.plugins.module_utils.snmp import SnmpPoller  # noqa: E402

AGENTS = int(os.environ.get("BENCH_SNMP_AGENTS", "200"))
CONCURRENCY = int(os.environ.get("BENCH_SNMP_CONCURRENCY", "32"))
COMMUNITY = "mgw"
SUBTREES = ["1.3.6.1.2.1.1", "1.3.6.1.2.1.2.2", "1.3.6.1.2.1.31.1.1", "1.3.6.1.2.1.10.18.6"]
GROUPS = ["system", "interfaces", "ds1"]
VENV_BIN = os.path.dirname(sys.executable)


def _free_udp_ports(n):
    socks, ports = [], []
    try:
        for _unused in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def _snmp_answers(port, timeout=0.5):
    env = dict(os.environ, MIBS="", SNMP_PERSISTENT_DIR=tempfile.gettempdir())
    r = subprocess.run(["snmpget", "-v2c", "-c", COMMUNITY, "-On", "-t", str(timeout), "-r", "0",
                        "127.0.0.1:%d" % port, "1.3.6.1.2.1.1.5.0"], env=env, capture_output=True, text=True, check=False)
    return r.returncode == 0


class Snmpsim(object):
    def __init__(self, n):
        self.dir = tempfile.mkdtemp(prefix="bench-snmp-")
        os.makedirs(os.path.join(self.dir, "data"))
        os.makedirs(os.path.join(self.dir, "cache"))
        shutil.copy(os.path.join(ROOT, "roles", "lab", "files", "mgw1.snmprec"),
                    os.path.join(self.dir, "data", COMMUNITY + ".snmprec"))
        self.ports = _free_udp_ports(n)
        self.proc = None

    def start(self):
        cmd = [os.path.join(VENV_BIN, "snmpsim-command-responder"), "--data-dir=%s/data" % self.dir,
               "--cache-dir=%s/cache" % self.dir, "--logging-method=null"]
        cmd += ["--agent-udpv4-endpoint=127.0.0.1:%d" % p for p in self.ports]
        env = dict(os.environ, SNMPSIM_ALLOW_ROOT="true")
        self.log = open(os.path.join(self.dir, "snmpsim.log"), "w")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("snmpsim exited: see %s/snmpsim.log" % self.dir)
            if _snmp_answers(self.ports[-1]) and _snmp_answers(self.ports[0]):
                return
            time.sleep(0.3)
        raise RuntimeError("snmpsim did not answer within 60 s")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Snmpd(object):
    """net-snmp's snmpd (LAB-NOTES: -f -C -c conf, the addresses only in agentAddress) on n loopback UDP ports."""

    def __init__(self, n):
        self.dir = tempfile.mkdtemp(prefix="bench-snmpd-")
        self.ports = _free_udp_ports(n)
        self.proc = None
        with open(os.path.join(self.dir, "snmpd.conf"), "w") as handle:
            # the listening addresses go on the command line: with 200 of them on one agentAddress line snmpd
            # did not answer (a config line's length is limited); with 3 it did
            handle.write("rocommunity %s 127.0.0.1\nsysName bench\nsysServices 72\n" % COMMUNITY)

    def start(self):
        env = dict(os.environ, MIBS="", SNMP_PERSISTENT_DIR=self.dir)
        self.proc = subprocess.Popen(["snmpd", "-f", "-C", "-c", os.path.join(self.dir, "snmpd.conf"), "-Lf",
                                      os.path.join(self.dir, "snmpd.log"), "-I", "-smux",
                                      ",".join("udp:127.0.0.1:%d" % p for p in self.ports)], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("snmpd exited: see %s/snmpd.log" % self.dir)
            if _snmp_answers(self.ports[-1]) and _snmp_answers(self.ports[0]):
                return
            time.sleep(0.2)
        raise RuntimeError("snmpd did not answer within 30 s")

    stop = Snmpsim.stop


def run_ours(ports, groups=None, check=True):
    targets = [{"host": "127.0.0.1", "port": p, "community": COMMUNITY, "name": "agent%d" % i}
               for i, p in enumerate(ports)]
    poller = SnmpPoller(timeout=5, retries=1, concurrency=CONCURRENCY)
    t0, c0 = time.monotonic(), time.process_time()
    results = poller.poll(targets, groups or GROUPS)
    elapsed, cpu = time.monotonic() - t0, time.process_time() - c0
    if check:
        bad = [r for r in results if not r["ok"] or len(r["facts"]["interfaces"]) != 3 or len(r["facts"]["ds1"]) != 2]
    else:
        bad = [r for r in results if not r["ok"] or not r["facts"]["interfaces"] or not r["facts"]["system"]]
    if bad:
        raise RuntimeError("our poller missed data for %d agents, e.g. %s" % (len(bad), bad[0].get("error")))
    return elapsed, cpu, sum(r.get("requests", 0) for r in results)


def run_baseline(ports, subtrees=None):
    env = dict(os.environ, MIBS="", SNMP_PERSISTENT_DIR=tempfile.gettempdir())

    def walk(job):
        port, subtree = job
        r = subprocess.run(["snmpbulkwalk", "-v2c", "-c", COMMUNITY, "-On", "-t", "5", "-r", "1",
                            "127.0.0.1:%d" % port, subtree], env=env, capture_output=True, text=True, check=False)
        return r.returncode, r.stdout.count("\n")

    jobs = [(p, s) for p in ports for s in (subtrees or SUBTREES)]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        out = list(pool.map(walk, jobs))
    elapsed = time.monotonic() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    failed = [j for j, (rc, lines) in zip(jobs, out) if rc != 0 or lines == 0]
    if failed:
        raise RuntimeError("snmpbulkwalk failed for %d walks, e.g. %s" % (len(failed), failed[0]))
    return elapsed, cpu


def run_exporter(ports):
    """Scrape snmp_exporter for every agent (C scrapes at a time); (seconds, exporter CPU s) or (None, None)."""
    exporter = shutil.which("prometheus-snmp-exporter")
    if not exporter:
        return None, None
    listen = _free_tcp_port()
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([exporter, "--config.file=%s" % os.path.join(ROOT, "bench", "snmp_exporter", "snmp.yml"),
                             "--web.listen-address=127.0.0.1:%d" % listen, "--log.level=warn"],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = "http://127.0.0.1:%d/snmp?module=voipops_gateway&target=127.0.0.1:" % listen
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/" % listen, timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("snmp_exporter did not start")
                time.sleep(0.1)

        def scrape(port):
            body = urllib.request.urlopen(base + str(port), timeout=30).read().decode()
            return body.count("\nifOperStatus{") == 3 and body.count("\ndsx1LineStatus{") == 2

        urllib.request.urlopen(base + str(ports[0]), timeout=30).read()  # warm-up
        c0 = _proc_cpu(proc.pid)
        t0 = time.monotonic()
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            ok = list(pool.map(scrape, ports))
        elapsed = time.monotonic() - t0
        cpu = _proc_cpu(proc.pid) - c0
        if not all(ok):
            raise RuntimeError("snmp_exporter missed data for %d agents" % ok.count(False))
        return elapsed, cpu
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def _free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _growth(ports, ours, base, peer):
    """Each contender at N/4, N/2 (measured here) and N (the main run): exponents and the chart."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import chart  # pylint: disable=import-outside-toplevel
    sizes = [len(ports) // 4, len(ports) // 2]
    series = {"ours": [], "snmpbulkwalk": [], "snmp_exporter": []}
    for n in sizes:
        series["ours"].append((n, run_ours(ports[:n])[0]))
        series["snmpbulkwalk"].append((n, run_baseline(ports[:n])[0]))
        if peer:
            series["snmp_exporter"].append((n, run_exporter(ports[:n])[0]))
    series["ours"].append((len(ports), ours))
    series["snmpbulkwalk"].append((len(ports), base))
    if peer:
        series["snmp_exporter"].append((len(ports), peer))
    chart.write_svg(os.path.join(ROOT, "bench", "results", "snmp_poll.svg"),
                    "snmp_poll: system + ifTable + ifXTable + DS1 of N agents (concurrency %d)" % CONCURRENCY,
                    [("snmp_poll (SnmpPoller)", series["ours"]), ("snmpbulkwalk per agent per subtree", series["snmpbulkwalk"])]
                    + ([("snmp_exporter (Go)", series["snmp_exporter"])] if peer else []), x_label="agents")
    k = chart.growth_exponent(series["ours"])
    return [{"name": "snmp_poll_growth", "value": round(k, 2), "unit": "exponent", "sizes": sizes + [len(ports)],
             "baseline": "snmpbulkwalk's growth exponent, same sizes",
             "baseline_value": round(chart.growth_exponent(series["snmpbulkwalk"]), 2), "ratio": None,
             "target": "k <= 1.1", "met": k <= 1.1}]


def real_agent():
    """Both pollers against net-snmp's snmpd: system + ifTable + ifXTable, the same agents, the same concurrency."""
    if not shutil.which("snmpd"):
        return []
    agent = Snmpd(AGENTS)
    try:
        agent.start()
        run_ours(agent.ports[:8], ["system", "interfaces"], check=False)  # warm up
        a0 = _proc_cpu(agent.proc.pid)
        ours, ours_cpu, requests = run_ours(agent.ports, ["system", "interfaces"], check=False)
        a1 = _proc_cpu(agent.proc.pid)
        base, base_cpu = run_baseline(agent.ports, SUBTREES[:3])
        a2 = _proc_cpu(agent.proc.pid)
    finally:
        agent.stop()
    return [{"name": "snmp_poll_real_agent", "value": round(ours, 3),
             "unit": "s for %d agents of net-snmp snmpd (system+ifTable+ifXTable, decoded; %d requests; concurrency %d; "
                     "client CPU %.2f s, agent CPU %.2f s)" % (AGENTS, requests, CONCURRENCY, ours_cpu, a1 - a0),
             "baseline": "snmpbulkwalk per agent per subtree (%d walks), %d in parallel (their CPU %.2f s, agent CPU "
                         "%.2f s)" % (AGENTS * 3, CONCURRENCY, base_cpu, a2 - a1),
             "baseline_value": round(base, 3), "ratio": round(base / ours, 2) if ours else None,
             "target": "ratio >= 2", "met": base >= 2 * ours}]


def run():
    sim = Snmpsim(AGENTS)
    try:
        sim.start()
        run_ours(sim.ports[:8])  # warm snmpsim's index and Python imports on both sides
        agent0 = _proc_cpu(sim.proc.pid)
        ours, ours_cpu, requests = run_ours(sim.ports)
        agent1 = _proc_cpu(sim.proc.pid)
        base, base_cpu = run_baseline(sim.ports)
        agent2 = _proc_cpu(sim.proc.pid)
        peer, peer_cpu = run_exporter(sim.ports)
        growth = _growth(sim.ports, ours, base, peer)
    finally:
        sim.stop()
    exporter = [{
        "name": "snmp_poll_vs_snmp_exporter", "value": round(ours, 3), "unit": "s for %d agents" % AGENTS,
        "baseline": "snmp_exporter (Go), same subtrees, %d scrapes in parallel (its CPU %.2f s)" % (
            CONCURRENCY, peer_cpu) if peer else "snmp_exporter (not installed)",
        "baseline_value": round(peer, 3) if peer else None, "ratio": round(peer / ours, 2) if peer else None,
        "target": "ratio >= 1", "met": bool(peer) and peer >= ours}]
    return exporter + growth + real_agent() + [
        {"name": "snmp_poll", "value": round(ours, 3), "unit": "s for %d agents (system+ifTable+ifXTable+DS1, "
         "decoded; %d SNMP requests; concurrency %d)" % (AGENTS, requests, CONCURRENCY),
         "baseline": "snmpbulkwalk per agent per subtree (%d walks), %d in parallel" % (AGENTS * len(SUBTREES), CONCURRENCY),
         "baseline_value": round(base, 3), "ratio": round(base / ours, 2) if ours else None,
         "target": "ratio >= 2", "met": base >= 2 * ours},
        {"name": "snmp_poll_rate", "value": round(AGENTS / ours, 1), "unit": "agents/s",
         "baseline": "snmpbulkwalk per agent per subtree", "baseline_value": round(AGENTS / base, 1),
         "ratio": round(base / ours, 2) if ours else None},
        # the agents' side: one snmpsim process answers both; its CPU per contender bounds the wall-time ratio on a
        # machine whose cores it shares with the pollers
        {"name": "snmp_poll_agent_cpu", "value": round(agent1 - agent0, 2),
         "unit": "agent CPU s (the snmpsim process) to answer our poll of %d agents" % AGENTS,
         "baseline": "agent CPU s to answer the snmpbulkwalk walks", "baseline_value": round(agent2 - agent1, 2),
         "ratio": round((agent2 - agent1) / (agent1 - agent0), 2) if agent1 > agent0 else None},
        {"name": "snmp_poll_client_cpu", "value": round(ours_cpu, 3),
         "unit": "client CPU s for %d agents (snmpsim's CPU not counted on either side)" % AGENTS,
         "baseline": "snmpbulkwalk processes (user+sys of the children)", "baseline_value": round(base_cpu, 3),
         "ratio": round(base_cpu / ours_cpu, 2) if ours_cpu else None},
    ]


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
