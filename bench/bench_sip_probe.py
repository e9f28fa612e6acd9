# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bench: SIP OPTIONS probes per second with ``probe_many`` against a loopback responder fleet.

Responder fleet: ONE separate Python process binding N UDP ports on 127.0.0.1 (epoll, answers every
OPTIONS with 200 OK), so the prober and the responders each get a core.
Peers, on the same 1,000 targets in the same run:
- ``sipsak -s sip:127.0.0.1:PORT`` in a shell loop over a sample (one process per probe: the per-target baseline);
- ``svmap`` (sipvicious, the usual SIP sweep tool) over the same ports, at its default pace and at its fastest
  setting that still finds every target;
- ``sipp`` (the C++ traffic generator) with ``bench/sipp/options_fleet.xml``: one OPTIONS per call to the next
  target of an injection file (``setdest``); the fastest rate at which every target answers, its start-up cost
  taken out (a 10-call run subtracted from the 1,000-call run).
``probe_many`` takes its UDP sweep here (IPv4 targets, no credentials): one socket, no coroutine per probe.
Results: ``sip_probe`` (probes/s vs sipsak, the median of 5 sweeps), ``sip_probe_vs_svmap``, ``sip_probe_vs_sipp`` (probes/s), ``sip_probe_cpu`` (CPU
microseconds per probe, ours and sipp's),
``sip_probe_10k`` (seconds for 10,000 targets), ``sip_probe_growth`` (the exponent k of t ~ N^k over 1k/5k/10k
targets, sipp's beside it) and ``bench/results/sip_probe.svg``.
"""

from __future__ import absolute_import, division, print_function

import asyncio
import importlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

RESPONDER = r'''
import json, os, resource, select, socket, sys
n = int(sys.argv[1])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
ep = select.epoll()
socks = {}
ports = []
for _ in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setblocking(False)
    socks[s.fileno()] = s
    ep.register(s.fileno(), select.EPOLLIN)
    ports.append(s.getsockname()[1])
sys.stdout.write(json.dumps(ports) + "\n")
sys.stdout.flush()
KEEP = (b"via:", b"v:", b"from:", b"f:", b"call-id:", b"i:", b"cseq:")
TAIL = b"Server: bench-responder/1.0\r\nAllow: INVITE, ACK, BYE, CANCEL, OPTIONS\r\nContent-Length: 0\r\n\r\n"
while True:
    for fd, _ev in ep.poll():
        s = socks[fd]
        while True:
            try:
                data, addr = s.recvfrom(65535)
            except BlockingIOError:
                break
            head = data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
            out = [b"SIP/2.0 200 OK"]
            for line in head[1:]:
                low = line[:8].lower()
                if low.startswith(KEEP):
                    out.append(line)
                elif low.startswith((b"to:", b"t:")):
                    out.append(line + b";tag=bench")
            s.sendto(b"\r\n".join(out) + b"\r\n" + TAIL, addr)
'''


def _start_responder(n):
    proc = subprocess.Popen([sys.executable, "-c", RESPONDER, str(n)], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    line = proc.stdout.readline()
    if not line:
        proc.wait()
        raise RuntimeError("responder fleet failed to start")
    return proc, json.loads(line)


def _stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _import_sip():
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    importlib.import_module("conftest")  # side effect: exposes the checkout as ansible_collections.voipops.voip
    from ansible_collections.voipops.voip.plugins.module_utils import sip  # pylint: disable=import-outside-toplevel
    return sip


def _probe(sip, targets, concurrency):
    t0 = time.perf_counter()
    results = asyncio.run(sip.probe_many(targets, concurrency=concurrency, timeout=5.0, bind_host="127.0.0.1"))
    elapsed = time.perf_counter() - t0
    ok = sum(1 for r in results if r["status"] == "ok")
    return elapsed, ok


def _sipsak_rate(ports, sample, budget_s=30.0):
    sipsak = shutil.which("sipsak")
    if not sipsak:
        return None, 0
    script = 'for p in "$@"; do %s -s "sip:bench@127.0.0.1:$p" >/dev/null 2>&1 && echo ok; done' % sipsak
    chosen = ports[:sample]
    t0 = time.perf_counter()
    out = subprocess.run(["sh", "-c", script, "sh"] + [str(p) for p in chosen], capture_output=True, text=True,
                         timeout=budget_s * 2, check=False)
    elapsed = time.perf_counter() - t0
    return len(chosen) / elapsed, out.stdout.count("ok")


def _svmap_rate(ports):
    """Best rate of svmap over the ports with every target found, and the setting it took."""
    svmap = shutil.which("sipvicious_svmap") or os.path.join(os.path.dirname(sys.executable), "sipvicious_svmap")
    if not os.path.exists(svmap):
        return None, None
    best = (None, None)
    for pace in ("0.005", "0.001", "0.0001"):  # its default select time, then faster
        t0 = time.perf_counter()
        out = subprocess.run([svmap, "-t", pace, "-b", "127.0.0.1", "-p", ",".join(str(p) for p in ports), "127.0.0.1"],
                             capture_output=True, text=True, timeout=300, check=False)
        elapsed = time.perf_counter() - t0
        if out.stdout.count("bench-responder") == len(ports) and (best[0] is None or len(ports) / elapsed > best[0]):
            best = (len(ports) / elapsed, pace)
    return best


def _sipp_run(targets_csv, calls, rate, limit):
    t0 = time.perf_counter()
    out = subprocess.run(["sipp", "-sf", os.path.join(HERE, "sipp", "options_fleet.xml"), "-inf", targets_csv,
                          "-m", str(calls), "-r", str(rate), "-l", str(limit), "-i", "127.0.0.1", "-nostdin",
                          "-timeout", "60", "127.0.0.1:9"], capture_output=True, text=True, timeout=120, check=False)
    return time.perf_counter() - t0, out.returncode == 0


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _self_cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _sipp_rate(ports, tmpdir):
    """Fastest sipp rate at which all targets answer 200, start-up cost removed; (rate, setting, CPU seconds per
    probe of that run, its start-up's CPU removed)."""
    if not shutil.which("sipp"):
        return None, None, None
    targets_csv = os.path.join(tmpdir, "targets.csv")
    with open(targets_csv, "w") as handle:
        handle.write("SEQUENTIAL\n" + "".join("127.0.0.1;%d;\n" % p for p in ports))
    cpu0 = _children_cpu()
    start, _ok = _sipp_run(targets_csv, 10, 1000, 10)
    start_cpu = _children_cpu() - cpu0
    best = (None, None, None)
    for rate, limit in ((2000, 200), (5000, 200), (10000, 200), (20000, 200), (10000, 500)):
        cpu0 = _children_cpu()
        elapsed, ok = _sipp_run(targets_csv, len(ports), rate, limit)
        cpu = max(_children_cpu() - cpu0 - start_cpu, 0.0) / (len(ports) - 10)
        net = max(elapsed - start, 1e-3)
        if ok and (best[0] is None or (len(ports) - 10) / net > best[0]):
            best = ((len(ports) - 10) / net, "-r %d -l %d" % (rate, limit), cpu)
    return best


def _peer_row(name, ours, peer, setting, what):
    return {"name": name, "value": round(ours, 1), "unit": "probes/s",
            "baseline": "%s, same 1,000 targets (%s)" % (what, setting) if peer else what + " (not available)",
            "baseline_value": round(peer, 1) if peer else None,
            "ratio": round(ours / peer, 2) if peer else None,
            "detail": "sip_probe's probe_many vs %s in the same run" % what,
            # the goal is to be ahead of every peer; a miss is reported, not hidden
            "target": "ratio > 1", "met": bool(peer) and ours > peer}


def _growth(sip, ports, elapsed_1k, sipp_setting):
    """Ours and sipp (its best 1k setting) at 1k, 5k and 10k targets: growth exponents and the chart."""
    import chart  # pylint: disable=import-outside-toplevel
    ours, peer = [(1000, elapsed_1k)], []
    for n in (5000, 10000):  # the median of 3, as the 1k point is the median of 5
        elapsed, ok = sorted(_probe(sip, ["127.0.0.1:%d" % p for p in ports[:n]], 2000) for _unused in range(3))[1]
        if ok != n:
            raise RuntimeError("%d of %d targets answered" % (ok, n))
        ours.append((n, elapsed))
    tmpdir = tempfile.mkdtemp(prefix="bench-sipp-")
    try:
        if sipp_setting:
            rate, limit = [int(v) for v in sipp_setting.split()[1::2]]
            targets_csv = os.path.join(tmpdir, "targets.csv")
            with open(targets_csv, "w") as handle:
                handle.write("SEQUENTIAL\n" + "".join("127.0.0.1;%d;\n" % p for p in ports))
            start, _ok = _sipp_run(targets_csv, 10, 1000, 10)
            for n in (1000, 5000, 10000):
                elapsed, ok = _sipp_run(targets_csv, n, rate, limit)
                if ok:
                    peer.append((n, max(elapsed - start, 1e-3)))
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    k = chart.growth_exponent(ours)
    chart.write_svg(os.path.join(HERE, "results", "sip_probe.svg"), "sip_probe: SIP OPTIONS to N UDP targets",
                    [("sip_probe (probe_many)", ours)] + ([("sipp OPTIONS scenario (%s)" % sipp_setting, peer)] if peer else []),
                    x_label="targets")
    return [{"name": "sip_probe_growth", "value": round(k, 2), "unit": "exponent",
             "baseline": "sipp's growth exponent, same sizes", "sizes": [n for n, _t in ours],
             "baseline_value": round(chart.growth_exponent(peer), 2) if len(peer) > 1 else None, "ratio": None,
             "target": "k <= 1.1", "met": k <= 1.1}]


def run():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sip = _import_sip()
    n_fleet = 10000 if hard >= 10500 else 1000
    proc, ports = _start_responder(n_fleet)
    out = []
    try:
        targets_1k = ["127.0.0.1:%d" % p for p in ports[:1000]]
        _probe(sip, targets_1k[:200], 200)  # warm-up (imports, caches)
        # one sweep of 1,000 targets takes a few tens of ms, so one preemption by the shared machine moves it by
        # half: the median of 5 sweeps (sipp's side is its best setting, its start-up cost removed)
        cpu0 = _self_cpu()
        elapsed, ok = sorted(_probe(sip, targets_1k, 1000) for _unused in range(5))[2]
        our_cpu = (_self_cpu() - cpu0) / 5 / len(targets_1k)
        ours = ok / elapsed
        base_rate, base_ok = _sipsak_rate(ports, 200)
        out.append({
            "name": "sip_probe", "value": round(ours, 1), "unit": "probes/s",
            "baseline": "sipsak -s loop over 200 of the same targets (%d answered), rate extrapolated" % base_ok,
            "baseline_value": round(base_rate, 1) if base_rate else None,
            "ratio": round(ours / base_rate, 1) if base_rate else None,
            "detail": "probe_many (the UDP sweep), 1,000 distinct UDP targets on 127.0.0.1, median of 5 sweeps: %d "
                      "answered 200 in %.3f s" % (ok, elapsed),
        })
        svmap, pace = _svmap_rate(ports[:1000])
        out.append(_peer_row("sip_probe_vs_svmap", ours, svmap, "-t %s" % pace, "svmap (sipvicious)"))
        tmpdir = tempfile.mkdtemp(prefix="bench-sipp-")
        try:
            sipp, setting, sipp_cpu = _sipp_rate(ports[:1000], tmpdir)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)
        out.append(_peer_row("sip_probe_vs_sipp", ours, sipp, setting, "sipp OPTIONS scenario (C++)"))
        # the wall rate of a sweep of a few tens of ms swings with the shared machine; the CPU each tool spends per
        # probe does not (ours: the whole probe_many with asyncio.run and the socket set-up; sipp: its process)
        out.append({
            "name": "sip_probe_cpu", "value": round(our_cpu * 1e6, 1), "unit": "us/probe",
            "baseline": "sipp OPTIONS scenario, CPU per probe of its best run (%s), start-up removed" % setting
                        if sipp_cpu else "sipp (not available)",
            "baseline_value": round(sipp_cpu * 1e6, 1) if sipp_cpu else None,
            "ratio": round(sipp_cpu / our_cpu, 2) if sipp_cpu and our_cpu else None,
            "detail": "CPU seconds of this process per probe over the 5 sweeps of 1,000 (ratio > 1: we spend less)",
        })
        if n_fleet >= 10000:
            out.extend(_growth(sip, ports, elapsed, setting))
            targets = ["127.0.0.1:%d" % p for p in ports]
            elapsed10, ok10 = _probe(sip, targets, 2000)
            out.append({
                "name": "sip_probe_10k", "value": round(elapsed10, 3), "unit": "s",
                "baseline": "sipsak loop (extrapolated from its measured rate)",
                "baseline_value": round(len(targets) / base_rate, 1) if base_rate else None,
                "ratio": round((len(targets) / base_rate) / elapsed10, 1) if base_rate else None,
                "detail": "10,000 distinct UDP targets, concurrency 2,000: %d answered 200" % ok10,
            })
    finally:
        _stop(proc)
    return out


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
