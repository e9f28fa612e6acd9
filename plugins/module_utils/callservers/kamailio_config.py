# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kamailio configuration checks for a configuration release: ``kamailio -c`` and a trial start.

``kamailio -c`` returns before module init and route fixups (Kamailio 5.6 ``src/main.c``), so it passes configs
whose start fails: an undefined ``route(X)``, an unopenable database, a missing file, a port in use.  The trial start
runs the CANDIDATE for real, beside the live instance, and waits until it answers:

- every ``listen=`` socket moves to 127.0.0.1 on a spare port (``host:port`` forms of those ports elsewhere in the
  file and ``#!define NAME <port>`` lines follow, so ``$Rp == RPC_PORT`` style checks keep working);
- ``run_dir`` and every path under it (jsonrpcs FIFO, ctl socket) move to a private runtime directory;
- every SQLite database of a ``sqlite://`` URL is copied (SQLite's online backup) into that directory and the copy is
  used; a SQLite file that does not exist is refused (db_sqlite would silently create an empty database);
  networked databases (PostgreSQL, MySQL) are used as they are: the trial proves they are reachable;
- the trial must answer JSON-RPC ``core.version`` and a SIP OPTIONS within the timeout, else its log tells why.

Called through ``KamailioDriver.check_config`` / ``trial_start`` (callservers/base.py interface).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time

from ansible_collections.voipops.voip.plugins.module_utils.callservers.base import DriverError

LISTEN_RE = re.compile(r"^(?P<lead>\s*listen\s*=\s*)(?:(?P<proto>udp|tcp|tls|sctp|ws|wss):)?(?P<host>\[[^\]]+\]|[^:\s]+)"
                       r"(?::(?P<port>\d+))?(?P<rest>.*)$", re.M)
RUN_DIR_RE = re.compile(r'^\s*run_dir\s*=\s*"(?P<dir>[^"]+)"', re.M)
SQLITE_RE = re.compile(r"sqlite://(?P<path>/[^\"'\s;]+)")
DEFINE_PORT_RE = r"^(?P<lead>\s*#!(?:define|subst|substdef)\s+\w+\s+){port}(?P<tail>\s*)$"
DEFAULT_RUN_DIR = "/run/kamailio"


class ConfigCheckError(DriverError):
    """The candidate configuration was refused; ``stage`` is ``check`` or ``trial``, ``log`` the evidence."""

    def __init__(self, message, stage, log=""):
        super(ConfigCheckError, self).__init__(message)
        self.stage = stage
        self.log = log


def listens(text):
    """The ``listen=`` sockets of a config: ``[(proto, host, port)]`` (port None when not given)."""
    out = []
    for m in LISTEN_RE.finditer(text):
        out.append((m.group("proto") or "udp", m.group("host"), int(m.group("port")) if m.group("port") else None))
    return out


def sip_uri_of(text):
    """``sip:host:port`` of the first UDP (else any) listen socket, or None."""
    socks = listens(text)
    for proto, host, port in sorted(socks, key=lambda s: s[0] != "udp"):
        if port:
            return "sip:%s:%d" % (host, port)
    return None


def sqlite_paths(text):
    """Absolute paths of every SQLite database URL in the config (``sqlite:////abs/path.db``), in order, unique."""
    seen = []
    for m in SQLITE_RE.finditer(text):
        path = "/" + m.group("path").lstrip("/")
        if path not in seen:
            seen.append(path)
    return seen


def trial_text(text, port_map, run_dir, db_map):
    """The candidate rewritten for a trial: listens -> 127.0.0.1 spare ports, private run_dir, database copies.

    ``port_map``: live port -> trial port (every listen port must be in it); ``db_map``: live SQLite path -> copy.
    Pure: tested without Kamailio.
    """
    def listen_sub(m):
        port = m.group("port")
        proto = m.group("proto")
        new = port_map[int(port)] if port else port_map[5060]
        return "%s%s127.0.0.1:%d%s" % (m.group("lead"), proto + ":" if proto else "", new, m.group("rest"))

    out = LISTEN_RE.sub(listen_sub, text)
    for old, new in sorted(port_map.items()):
        out = re.sub(r"(?<=:)%d\b" % old, str(new), out)
        out = re.sub(DEFINE_PORT_RE.format(port=old), lambda m, n=new: "%s%d%s" % (m.group("lead"), n, m.group("tail")),
                     out, flags=re.M)
    live_run = RUN_DIR_RE.search(text)
    live_run_dir = live_run.group("dir") if live_run else DEFAULT_RUN_DIR
    for old, new in sorted(db_map.items(), key=lambda kv: -len(kv[0])):
        out = out.replace(old, new)
    out = out.replace(live_run_dir.rstrip("/"), run_dir.rstrip("/"))
    if not live_run:
        out = out.rstrip("\n") + '\nrun_dir="%s"\n' % run_dir
    return out


def check(kamailio_bin, cfg_path, timeout=30.0):
    """``kamailio -c -f cfg``: raises ConfigCheckError with Kamailio's own file:line message on failure."""
    try:
        proc = subprocess.run([kamailio_bin, "-c", "-f", cfg_path], capture_output=True, text=True, timeout=timeout,
                              check=False)
    except OSError as exc:
        raise ConfigCheckError("cannot run %s: %s" % (kamailio_bin, exc), "check")
    except subprocess.TimeoutExpired:
        raise ConfigCheckError("%s -c did not finish within %.0f s" % (kamailio_bin, timeout), "check")
    output = (proc.stdout or "") + (proc.stderr or "")
    if proc.returncode != 0:
        errors = [ln for ln in output.splitlines() if "ERROR" in ln or "CRITICAL" in ln] or output.splitlines()[-5:]
        raise ConfigCheckError("kamailio -c refused the configuration (exit %d): %s" % (
            proc.returncode, " | ".join(e.strip() for e in errors[:5])), "check", output[-4000:])
    return output


def _free_port(avoid):
    for _attempt in range(200):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            if port in avoid:
                continue
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                tcp.bind(("127.0.0.1", port))
            except OSError:
                continue
            finally:
                tcp.close()
            return port
        finally:
            udp.close()
    raise DriverError("no free loopback port for the trial start")


SOCKET_COLUMNS = (("dispatcher", "attrs"), ("location", "socket"))


def _copy_sqlite(src, dst, sock_map):
    """Copy a live SQLite database for the trial (online backup); sockets of its dispatcher (``attrs`` ``socket=``) and
    location rows that name a live port name the trial's port in the copy (else the trial logs non-local sockets)."""
    source = sqlite3.connect("file:%s?mode=ro" % src, uri=True, timeout=10)
    try:
        target = sqlite3.connect(dst)
        try:
            source.backup(target)
            target.execute("PRAGMA journal_mode=WAL")
            for table, column in SOCKET_COLUMNS:
                for old, new in sorted(sock_map.items()):
                    try:
                        target.execute("UPDATE %s SET %s = replace(%s, ?, ?)" % (table, column, column), (old, new))
                    except sqlite3.OperationalError:
                        break  # no such table or column in this database
            target.commit()
        finally:
            target.close()
    finally:
        source.close()


def _tail(path, limit=3000):
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - limit))
            return handle.read().decode("utf-8", "replace")
    except (IOError, OSError):
        return ""


def _stop(proc, timeout=5.0):
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except OSError:
            pass
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _errors_of(log):
    lines = [ln.strip() for ln in log.splitlines() if "ERROR" in ln or "CRITICAL" in ln]
    return " | ".join(lines[-4:]) if lines else log.strip().splitlines()[-1] if log.strip() else "no output"


def trial_start(kamailio_bin, cfg_dir, text, rpc_port, ready, timeout=15.0, memory=("-m", "64", "-M", "8"),
                keep_dir=False):
    """Start the candidate ``text`` on spare loopback ports with a private runtime dir and database copies.

    ``rpc_port``: the live JSON-RPC port (moved with the listens); ``ready(rpc_url, sip_uri)`` -> list of what does
    not answer yet (empty = up).  The config file is written in ``cfg_dir`` (the live config's directory) so relative
    ``include_file`` paths resolve as they will live.  Returns a dict of what the trial proved; raises
    ConfigCheckError(stage="trial") with Kamailio's errors when it does not come up.  The trial instance is always
    stopped (its process group) and its directory removed.
    """
    socks = listens(text)
    if not socks:
        raise ConfigCheckError("the configuration has no listen= socket: a trial start cannot tell whether it answers",
                               "trial")
    ports = sorted(set(p or 5060 for _proto, _host, p in socks))
    if rpc_port and rpc_port not in ports:
        ports.append(rpc_port)
    work = tempfile.mkdtemp(prefix="kamailio-trial-")
    proc = None
    try:
        port_map = {}
        for port in ports:
            port_map[port] = _free_port(set(port_map.values()) | set(ports))
        db_map = {}
        for path in sqlite_paths(text):
            if not os.path.exists(path):
                raise ConfigCheckError(
                    "database %s does not exist: db_sqlite would create an empty one (no subscribers, no "
                    "dispatcher): fix the db_url or create the database first" % path, "trial")
            copy = os.path.join(work, "db-%d-%s" % (len(db_map), os.path.basename(path)))
            try:
                _copy_sqlite(path, copy, dict(("%s:%d" % (host, port or 5060), "127.0.0.1:%d" % port_map[port or 5060])
                                              for _proto, host, port in socks))
            except sqlite3.Error as exc:
                raise ConfigCheckError("database %s cannot be read for the trial copy: %s" % (path, exc), "trial")
            db_map[path] = copy
        run_dir = os.path.join(work, "run")
        os.makedirs(run_dir)
        fd, cfg = tempfile.mkstemp(prefix=".trial-", suffix=".cfg", dir=cfg_dir)
        with os.fdopen(fd, "w") as handle:
            handle.write(trial_text(text, port_map, run_dir, db_map))
        log = os.path.join(work, "trial.log")
        try:
            with open(log, "wb") as out:
                proc = subprocess.Popen([kamailio_bin, "-DD", "-E", "-f", cfg] + list(memory), stdin=subprocess.DEVNULL,
                                        stdout=out, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
            trial_sip = sip_uri_of(trial_text(text, port_map, run_dir, db_map))
            trial_rpc = "http://127.0.0.1:%d/RPC" % port_map[rpc_port] if rpc_port else None
            started = time.time()
            pending = ["not checked"]
            while time.time() - started < timeout:
                if proc.poll() is not None:
                    text_log = _tail(log).replace(cfg, "candidate")
                    raise ConfigCheckError("trial start of the candidate failed (kamailio exited with %s): %s" % (
                        proc.returncode, _errors_of(text_log)), "trial", text_log)
                pending = ready(trial_rpc, trial_sip)
                if not pending:
                    return {"ok": True, "sip_uri": trial_sip, "rpc_url": trial_rpc,
                            "seconds": round(time.time() - started, 3), "databases": sorted(db_map)}
                time.sleep(0.1)
            text_log = _tail(log).replace(cfg, "candidate")
            raise ConfigCheckError("trial start of the candidate did not answer within %.0f s (%s): %s" % (
                timeout, "; ".join(pending), _errors_of(text_log)), "trial", text_log)
        finally:
            if proc is not None and proc.poll() is None:
                _stop(proc)
            os.unlink(cfg)
    finally:
        if not keep_dir:
            shutil.rmtree(work, ignore_errors=True)
