# -*- coding: utf-8 -*-
"""A release wave on the simulated fleet: how close ``handset_release`` gets to the phones' own delays, and the service
gap of a good callserver release.

handset_release_1000
    A private lab (``lab_up`` in its own directory: real Kamailio, nginx, ...), 1,000 simulated phones of five vendors
    (``tools/phonesim``, one process, reboot delay ``REBOOT_DELAY`` seconds) provisioned by ``handset_provision`` and
    registered to the real Kamailio with digest auth, a newer image for every family under the provisioning server.
    Measured: ``handset_release`` (one call in-process, ``max_waves: 0``) taking the whole fleet to the new images in
    4 waves (a canary of 10, 30%, 30%, the rest): every wave pins its phones' files, sends the vendor's re-sync NOTIFY,
    the phones fetch their file and image over HTTP, check its SHA-256, reboot and register again, and the gate reads
    Kamailio's registrations (``poll_interval`` 0.5 s).  Baseline: the lower bound the phones set themselves - the
    waves run one after the other and none can end before its phones have rebooted, so 4 x the reboot delay.  The
    ratio is bound / ours (1 would be a release that adds nothing to the phones' own delays).

callserver_release_service_gap
    ``callserver_config`` releasing a good Kamailio configuration on the same lab (``kamailio -c``, trial start on
    spare ports, swap, restart through the lab's restart hook, registration gate): ``service_gap_ms``, the longest time
    the callserver did not answer OPTIONS, as the module measured it.  Reported, no peer.

handset_release_wave_growth
    The release's growth inside one run: each wave's seconds (start to gate verdict, from the release record, 1 s
    resolution) against the phones in the wave (10, then about 30%, 30% and 40% of the fleet: three sizes), the
    fitted exponent (target k <= 1.1) and the chart ``bench/results/handset_release.svg`` with the phones' own bound
    (one reboot delay per wave, whatever its size) beside it.

Knobs: ``BENCH_RELEASE_PHONES`` (1000; 200 makes a run of about a minute) and ``BENCH_RELEASE_REBOOT_DELAY`` (1.0 s).
"""
from __future__ import absolute_import, division, print_function

import datetime
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import bench_e2e as BE  # noqa: E402  pylint: disable=wrong-import-position
import bench_users as BU  # noqa: E402  pylint: disable=wrong-import-position
import chart  # noqa: E402  pylint: disable=wrong-import-position
sys.path.insert(0, ROOT)
from ansible_collections.voipops.voip.roles.lab.files.phonesim import sim as phonesim  # noqa: E402
from ansible_collections.voipops.voip.plugins.module_utils.handsets import base  # noqa: E402
from ansible_collections.voipops.voip.plugins.modules import (  # noqa: E402
    callserver_config, handset_provision, handset_release)

PHONES = int(os.environ.get("BENCH_RELEASE_PHONES", "1000"))
REBOOT_DELAY = float(os.environ.get("BENCH_RELEASE_REBOOT_DELAY", "1.0"))
FIRST_EXT = 610001
SUBDIR = "bench-release"
WAVES = {"canary": 10, "then": ["30%", "30%"]}  # and the rest: 4 waves
ALWAYS = {"days": "mon-sun", "start": "00:00", "end": "00:00"}


def newer(version):
    parts = version.split(".")
    return ".".join(parts[:-1] + [str(int(parts[-1]) + 1)])


def _wait(what, fn, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.5)
    raise RuntimeError("timed out waiting for %s" % what)


class Fleet(object):
    """The bench's phones: subscribers in the lab's Kamailio, files and images under its provisioning tree, phonesim."""

    def __init__(self, lab, work):
        self.lab = lab
        self.work = work
        self.root = os.path.join(lab["provisioning"]["root"], SUBDIR)
        self.url = lab["provisioning"]["url"] + SUBDIR + "/"
        self.phones = phonesim.make_fleet(PHONES, first_extension=FIRST_EXT, prefix="br")
        self.users_file = os.path.join(work, "users.json")
        users = [{"extension": p["user"], "display_name": "Bench %s" % p["user"],
                  "sip_password": hashlib.sha256(p["name"].encode()).hexdigest()[:20]} for p in self.phones]
        with open(self.users_file, "w") as handle:
            json.dump({"users": users}, handle)
        realm = lab["domain"]
        with sqlite3.connect(lab["callserver"]["db_path"], timeout=30) as db:
            db.executemany("INSERT OR REPLACE INTO subscriber (username, domain, password, ha1, ha1b) VALUES (?,?,?,?,?)",
                           [(u["extension"], realm, "", hashlib.md5(("%s:%s:%s" % (  # nosec - Kamailio's HA1
                               u["extension"], realm, u["sip_password"])).encode()).hexdigest(), "") for u in users])
        self.handsets_file = os.path.join(work, "handsets.json")
        with open(self.handsets_file, "w") as handle:
            json.dump({"handsets": self.estate}, handle)
        self.state_dir = os.path.join(work, "phonesim")
        self.proc = None

    @property
    def estate(self):
        return [{"name": p["name"], "mac": p["mac"], "vendor": p["vendor"], "model": p["model"], "user": p["user"],
                 "site": "ams", "firmware": p["running_firmware"]} for p in self.phones]

    def write_images(self):
        """The running and the newer image of every family (each phone checks size and SHA-256 against the manifest)."""
        done = set()
        for p in self.phones:
            profile = base.get_profile(p["vendor"])
            fam = profile.family(p["model"])
            for version in (p["running_firmware"], newer(p["running_firmware"])):
                path = os.path.join(self.root, "firmware", p["vendor"], profile.firmware_path(fam, version))
                if path not in done:
                    done.add(path)
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    with open(path, "wb") as handle:
                        handle.write(hashlib.sha256(path.encode()).digest() * 512)

    def provision_args(self):
        return {"root": self.root, "provisioning_url": self.url, "registrar": "127.0.0.1",
                "registrar_port": self.lab["callserver"]["sip_port"], "expires": 300, "timezone": "Europe/Amsterdam",
                "firmware": "none", "handsets_file": self.handsets_file, "users_file": self.users_file}

    def release_file(self):
        targets, seen = [], set()
        for p in self.phones:
            profile = base.get_profile(p["vendor"])
            key = (p["vendor"], profile.family(p["model"]))
            if key not in seen:
                seen.add(key)
                targets.append({"vendor": key[0], "family": key[1], "version": newer(p["running_firmware"])})
        doc = {"id": "bench-wave", "kind": "handset_firmware", "targets": targets,
               "scope": {"handsets": [p["name"] for p in self.phones]}, "waves": WAVES, "window": ALWAYS,
               "gate": {"registered": "100%", "timeout": "10m", "unregistered_rise": 0}}
        path = os.path.join(self.work, "release.yml")
        with open(path, "w") as handle:
            json.dump(doc, handle)  # JSON is YAML
        return path

    def start(self):
        os.makedirs(self.state_dir, exist_ok=True)
        cfg = os.path.join(self.work, "fleet.yml")
        with open(cfg, "w") as handle:
            json.dump({"provisioning_url": self.url, "handsets": self.phones, "reboot_delay": REBOOT_DELAY,
                       "retry": 2.0}, handle)
        self.log = open(os.path.join(self.work, "phonesim.log"), "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "tools.phonesim", "--config", cfg, "--state-dir",
                                      self.state_dir], cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def registered(self):
        try:
            with open(os.path.join(self.state_dir, "status.json")) as handle:
                status = json.load(handle)
        except (IOError, ValueError):
            return 0
        return status["states"].get("registered", 0)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(5)
        if getattr(self, "log", None):
            self.log.close()


def handset_wave(lab, work):
    """(seconds, waves, phones on target) of the whole release."""
    fleet = Fleet(lab, work)
    fleet.write_images()
    out = BU.run_module(fleet.provision_args(), module=handset_provision)
    if not out.get("changed"):
        raise RuntimeError("handset_provision wrote nothing: %r" % out.get("msg"))
    fleet.start()
    try:
        _wait("%d simulated phones registered" % PHONES, lambda: fleet.registered() >= PHONES, 300)
        args = dict(fleet.provision_args(), release_file=fleet.release_file(), record_dir=os.path.join(work, "releases"),
                    rpc_url=lab["callserver"]["rpc_url"], poll_interval=0.5, max_waves=0)
        started = time.perf_counter()
        res = BU.run_module(args, module=handset_release)
        elapsed = time.perf_counter() - started
    finally:
        fleet.stop()
    on_target = sum(1 for t in res["targets"].values() if t.get("outcome") == "on_target")
    if res["status"] != "done" or on_target != PHONES:
        raise RuntimeError("release did not finish: status %s, %d of %d on target, gate %r"
                           % (res["status"], on_target, PHONES, res.get("gate")))
    return elapsed, len(res["waves"]), on_target, wave_seconds(res["record"]), wave_sizes(res["record"])


def wave_sizes(record):
    """The number of phones in each wave, from the release record."""
    with open(record) as handle:
        return [len(w.get("names", [])) for w in json.load(handle).get("waves", [])]


def wave_seconds(record):
    """Each wave's seconds from its start to its gate verdict, from the release record's events (1 s resolution)."""
    with open(record) as handle:
        events = json.load(handle).get("events", [])
    stamp = dict()
    for e in events:
        m = re.match(r"wave (\d+)(?: started|: gate)", e["what"])
        if m:
            at = datetime.datetime.strptime(e["at"], "%Y-%m-%dT%H:%M:%SZ")
            stamp.setdefault(int(m.group(1)), []).append(at)
    return [int((max(v) - min(v)).total_seconds()) for _k, v in sorted(stamp.items())]


def callserver_gap(lab, lab_dir):
    """service_gap_ms of a good configuration release of the lab's Kamailio."""
    with open(lab["callserver"]["cfg"]) as handle:
        live = handle.read()
    restart = [sys.executable, os.path.join(ROOT, "roles", "lab", "files", "lab_restart.py"),
               os.path.join(lab_dir, "run", "kamailio.pid")]
    res = BU.run_module({"rpc_url": lab["callserver"]["rpc_url"], "path": lab["callserver"]["cfg"],
                         "content": live + "\n# bench_release: a good configuration\n", "restart_command": restart,
                         "backup_dir": os.path.join(lab_dir, "kamailio", "backups-bench"), "keep": 2, "gate_timeout": 20},
                        module=callserver_config)
    if not (res.get("restarted") and res.get("gate", {}).get("passed")) or res.get("rolled_back"):
        raise RuntimeError("callserver release did not pass: %r" % {k: res.get(k) for k in ("msg", "gate", "rolled_back")})
    return res["service_gap_ms"]


def run():
    tmp = BE.bench_tmp("voipops-bench-release-")
    work = os.path.join(tmp, "work")
    os.makedirs(work)
    lab_dir = None
    try:
        lab_dir, lab = BE.lab_up(tmp)
        elapsed, waves, on_target, per_wave, sizes = handset_wave(lab, work)
        gap = callserver_gap(lab, lab_dir)
    finally:
        if lab_dir:
            BE.lab_down(lab_dir)
        shutil.rmtree(tmp, ignore_errors=True)
    bound = waves * REBOOT_DELAY
    results = [
        {"name": "handset_release_%d" % PHONES, "value": round(elapsed, 2), "unit": "s",
         "baseline": "lower bound set by the phones: %d waves x %.1f s reboot delay" % (waves, REBOOT_DELAY),
         "baseline_value": round(bound, 2), "ratio": round(bound / elapsed, 2),
         "detail": "%d phones, 4 waves (canary 10, 30%%, 30%%, rest), %d on the new image; seconds per wave from "
                   "start to gate (release record, 1 s resolution): %s" % (PHONES, on_target, per_wave),
         "per_wave_s": per_wave},
        {"name": "callserver_release_service_gap", "value": gap, "unit": "ms",
         "baseline": "no peer: the longest OPTIONS silence callserver_config measured during the swap",
         "baseline_value": None, "ratio": None},
    ]
    return results + wave_growth(sizes, per_wave)


def wave_growth(sizes, per_wave):
    """The release's own growth: seconds of each wave against its phones (the canary and the larger waves are the
    sizes), the fitted exponent, and the chart bench/results/handset_release.svg with the phones' bound beside it."""
    points = [(n, s) for n, s in zip(sizes, per_wave) if n > 0 and s > 0]  # a wave under 1 s reads as 0 in the record
    if len(set(n for n, _s in points)) < 2:
        return []
    chart.write_svg(os.path.join(HERE, "results", "handset_release.svg"),
                    "handset_release: seconds per wave (start to gate verdict), %d phones" % PHONES,
                    [("handset_release wave (release record, 1 s resolution)", points),
                     ("bound set by the phones: their reboot delay", [(n, REBOOT_DELAY) for n, _s in points])],
                    x_label="phones in the wave")
    k = chart.growth_exponent(points)
    return [{"name": "handset_release_wave_growth", "value": round(k, 2), "unit": "exponent",
             "baseline": "the phones' bound (one reboot delay per wave, whatever its size)", "baseline_value": 0.0,
             "ratio": None, "target": "k <= 1.1", "met": k <= 1.1, "sizes": [n for n, _s in points],
             "seconds": [s for _n, s in points]}]


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
