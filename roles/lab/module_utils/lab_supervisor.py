# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Process and port management for the embedded lab (used by the lab role's own modules lab_ports and lab_daemon,
which import it as ``ansible.module_utils.lab_supervisor``: a role's ``module_utils/`` joins that namespace for the
tasks of the role; it is not part of the collection's plugin surface).

Rules the lab lives by:
- loopback only; ports are picked free once and persisted, so a second ``lab_up`` changes nothing;
- every daemon runs in the foreground in its own session (``setsid``), so its pid is also its process
  group id; it is stopped by that recorded pid/group and never by name;
- a daemon's record (argv, fingerprint of its config, pid, start time) lives beside its pid file;
  a running daemon whose record matches is left alone, a changed fingerprint restarts it, a dead one
  is started again.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import glob
import json
import os
import random
import signal
import socket
import subprocess
import time

from ansible.module_utils.urls import open_url
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible_collections.voipops.voip.plugins.module_utils.fileio import atomic_write


LOOPBACK = "127.0.0.1"


# ----------------------------------------------------------------------------------------- ports
def port_is_free(port, host=LOOPBACK, protos=("tcp", "udp")):
    """True when ``port`` can be bound on ``host`` for every protocol in ``protos``."""
    for proto in protos:
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        sock = socket.socket(socket.AF_INET, kind)
        try:
            if proto == "tcp":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
        except (OSError, socket.error):
            return False
        finally:
            sock.close()
    return True


def ephemeral_port_range():
    """The kernel's range for client (ephemeral) ports, e.g. (32768, 60999)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as handle:
            low, high = handle.read().split()[:2]
        return int(low), int(high)
    except (IOError, OSError, ValueError):
        return 32768, 60999


def pick_free_port(host=LOOPBACK, protos=("tcp", "udp"), avoid=(), low=10000, high=None):
    """A port free for all ``protos`` on ``host``, outside the kernel's ephemeral range.

    Outside, because every client socket (probes, simulated phones, sipp) gets an ephemeral port: a lab port from that
    range could be taken by a client while its daemon restarts, and the restart would fail with "address in use".
    """
    eph_low, eph_high = ephemeral_port_range()
    if high is None:
        high = eph_low - 1 if eph_low - 1 > low + 1000 else 65535
    avoid = set(avoid)
    rng = random.SystemRandom()
    for _attempt in range(1000):
        port = rng.randint(low, high)
        if port in avoid or eph_low <= port <= eph_high:
            continue
        if port_is_free(port, host, protos):
            return port
    raise RuntimeError("no free port found on %s between %d and %d" % (host, low, high))


def allocate_ports(path, names, host=LOOPBACK):
    """Load the port map at ``path``; give every missing name a free port; save if changed.

    Returns ``(ports, added)``.  Existing allocations are kept even while their daemon runs (that is
    the point: a healthy lab keeps its ports).  New ports also avoid those of sibling labs
    (``<state>/*/ports.json``), whose daemons may be down at the moment.
    """
    ports = {}
    if os.path.exists(path):
        with open(path) as handle:
            ports = json.load(handle)
    taken = set(ports.values())
    for sibling in glob.glob(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(path))), "*", "ports.json")):
        if os.path.abspath(sibling) == os.path.abspath(path):
            continue
        try:
            with open(sibling) as handle:
                taken.update(int(v) for v in json.load(handle).values())
        except (IOError, OSError, ValueError, TypeError, AttributeError):
            continue
    added = []
    for name in names:
        if name not in ports:
            ports[name] = pick_free_port(host, avoid=taken)
            taken.add(ports[name])
            added.append(name)
    if added:
        write_json_atomic(path, ports)
    return ports, added


def write_json_atomic(path, data):
    atomic_write(path, json.dumps(data, indent=2, sort_keys=True) + "\n", mode=0o644)


# ------------------------------------------------------------------------------------ processes
def pid_alive(pid):
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    # a zombie is not alive
    try:
        with open("/proc/%d/stat" % pid) as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (IOError, OSError, IndexError):
        return False


def pid_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return [a.decode("utf-8", "replace") for a in handle.read().split(b"\0") if a]
    except (IOError, OSError):
        return []


def read_record(pidfile):
    """The record of a daemon we started, or None."""
    record_path = pidfile + ".json"
    if not os.path.exists(record_path):
        return None
    try:
        with open(record_path) as handle:
            return json.load(handle)
    except (IOError, OSError, ValueError):
        return None


def record_alive(record):
    """True when the recorded pid still runs the recorded program (guards against pid reuse)."""
    if not record or not pid_alive(record.get("pid")):
        return False
    argv = pid_cmdline(record["pid"])
    if not argv:
        return False
    want = os.path.basename(record["argv"][0])
    have = [os.path.basename(a) for a in argv[:3]]
    return want in have or any(want in a for a in argv[:3])


def start_daemon(argv, pidfile, log, chdir=None, env=None, fingerprint=None):
    """Start ``argv`` detached in a new session; stdout+stderr to ``log``.  Returns the record."""
    full_env = dict(os.environ)
    # never leak Ansible's module plumbing into a long-lived daemon
    for key in list(full_env):
        if key.startswith("ANSIBLE_") or key.startswith("_ANSIBLE"):
            full_env.pop(key)
    if env:
        full_env.update(dict((k, str(v)) for k, v in env.items()))
    logdir = os.path.dirname(log)
    if logdir and not os.path.isdir(logdir):
        os.makedirs(logdir)
    out = open(log, "ab")
    try:
        out.write(("\n--- %s start: %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), " ".join(argv))).encode())
        out.flush()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                cwd=chdir or None, env=full_env, close_fds=True, start_new_session=True)
    finally:
        out.close()
    record = {"pid": proc.pid, "argv": list(argv), "fingerprint": fingerprint, "started": time.time(),
              "log": log}
    with open(pidfile, "w") as handle:
        handle.write("%d\n" % proc.pid)
    write_json_atomic(pidfile + ".json", record)
    return record, proc


def stop_daemon(record, pidfile=None, timeout=10.0, own=False):
    """Stop the process group of a recorded daemon: SIGTERM, then SIGKILL after ``timeout``.

    ``own``: the daemon was started by this very process, so its pid cannot have been reused and is stopped
    without the record check (that check guards records of earlier runs).
    """
    pid = record.get("pid") if record else None
    stopped = False
    if pid and (own or record_alive(record)):
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pid, sig)
            except OSError:
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
            deadline = time.time() + wait
            while time.time() < deadline and group_alive(pid):
                _reap(pid)
                time.sleep(0.05)
            if not group_alive(pid):
                break
        stopped = True
    if pidfile:
        for path in (pidfile, pidfile + ".json"):
            try:
                os.unlink(path)
            except OSError:
                pass
    return stopped


def _reap(pid):
    try:
        os.waitpid(pid, os.WNOHANG)
    except OSError:
        pass


def group_alive(pgid):
    """True while any process of group ``pgid`` is alive (zombies excluded)."""
    try:
        os.killpg(pgid, 0)
    except OSError as exc:
        if exc.errno != errno.EPERM:
            return False
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except (IOError, OSError, IndexError):
            continue
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


# ------------------------------------------------------------------------------------ readiness
def _proc_net_has(proto, port, host=LOOPBACK):
    """Whether something listens on host:port per /proc/net/{tcp,udp} (works for UDP daemons)."""
    hexport = "%04X" % port
    hexhost = "".join("%02X" % int(o) for o in reversed(host.split(".")))
    for table in ("/proc/net/%s" % proto,):
        try:
            with open(table) as handle:
                next(handle)
                for line in handle:
                    parts = line.split()
                    local, state = parts[1], parts[3]
                    addr, lport = local.split(":")
                    if lport != hexport or addr not in (hexhost, "00000000"):
                        continue
                    if proto == "tcp" and state != "0A":  # LISTEN
                        continue
                    return True
        except (IOError, OSError):
            continue
    return False


def check_ready(checks, host=LOOPBACK):
    """Evaluate readiness checks; returns a list of what is not ready yet (empty = ready)."""
    pending = []
    for check in checks or []:
        if "tcp" in check:
            if not _proc_net_has("tcp", int(check["tcp"]), check.get("host", host)):
                pending.append("tcp port %s not listening" % check["tcp"])
        elif "udp" in check:
            if not _proc_net_has("udp", int(check["udp"]), check.get("host", host)):
                pending.append("udp port %s not bound" % check["udp"])
        elif "http" in check:
            try:
                open_url(check["http"], timeout=1.0, validate_certs=False).read()
            except HTTPError:
                pass  # any HTTP answer means the server is up
            except (URLError, OSError, socket.error) as exc:
                pending.append("%s does not answer (%s)" % (check["http"], exc))
        elif "file" in check:
            if not os.path.exists(check["file"]):
                pending.append("file %s not there yet" % check["file"])
    return pending


def wait_ready(record, checks, timeout, proc=None):
    """Wait until all checks pass or the daemon dies; returns (ok, reason).

    ``proc``: the ``Popen`` of a daemon this process just started; whether it exited is then asked of the kernel
    through the parent (``poll``), not guessed from /proc, which a starting daemon may not show consistently.
    """
    deadline = time.time() + timeout
    pending = ["not checked"]
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            return False, "process %d exited during start-up with code %s" % (record["pid"], proc.returncode)
        if proc is None and not record_alive(record):
            return False, "process %d exited during start-up" % record["pid"]
        pending = check_ready(checks)
        if not pending:
            return True, ""
        time.sleep(0.05)
    return False, "not ready after %.0f s: %s" % (timeout, "; ".join(pending))


def tail(path, lines=25):
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 8192))
            data = handle.read().decode("utf-8", "replace")
        return "\n".join(data.splitlines()[-lines:])
    except (IOError, OSError):
        return ""
