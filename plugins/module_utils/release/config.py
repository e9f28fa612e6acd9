# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Callserver configuration release: validate, back up, swap, restart, gate, roll back (module callserver_config).

One way through, platform-neutral; the platform parts are the callserver driver's (``callservers/base.py``:
``check_config``, ``trial_start``, ``health``, ``sip_uri_of_config``):

1. the candidate equals the live file -> nothing to do (idempotent, no check, no restart);
2. the platform's syntax check (``kamailio -c``), then a trial start of the candidate beside the live instance
   (spare loopback ports, private runtime dir, database copies) that must answer; a refusal stops here: the live file
   and the running instance are untouched;
3. check mode stops here (validation and the diff, nothing written, nothing restarted);
4. the live file is kept in ``backup_dir`` (the newest ``keep`` versions stay), the candidate replaces it atomically,
   ``restart_command`` restarts the real instance (how the host supervises it: systemd, the lab supervisor, ...);
5. the gate: the management API answers, SIP OPTIONS is answered, the registrations are back to at least
   ``min_registrations`` of those before and - with a test call configured - a test call through the callserver to
   a number routed to the gateway group is answered, within ``gate_timeout`` (``test_call``: a function placing
   the call, see ``test_caller``);
6. a failed gate (or a failed restart) puts the backup back and restarts again: the release fails, rolled back.

A continuous OPTIONS probe runs from just before the swap to the end of the gate and reports the service gap (the
longest time without an answer, in milliseconds); a refused release has a gap of zero by construction.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import math
import os
import subprocess
import threading
import time

from ansible_collections.voipops.voip.plugins.module_utils.callservers.base import DriverError
from ansible_collections.voipops.voip.plugins.module_utils.fileio import atomic_write, mask_urls_in_text


class ReleaseFailed(Exception):
    """The release did not go live; ``result`` says what was checked, changed and rolled back."""

    def __init__(self, message, result):
        super(ReleaseFailed, self).__init__(message)
        self.result = result


def sha1(text):
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def read_text(path):
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8")
    except (IOError, OSError):
        return None


def backup_name(path, text, now=None):
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now if now is not None else time.time()))
    return "%s.%s.%s" % (os.path.basename(path), stamp, sha1(text)[:10])


def backups(path, backup_dir):
    """The kept versions of ``path`` in ``backup_dir``, oldest first."""
    prefix = os.path.basename(path) + "."
    try:
        names = sorted(n for n in os.listdir(backup_dir) if n.startswith(prefix) and not n.startswith(".tmp-"))
    except (IOError, OSError):
        return []
    return [os.path.join(backup_dir, n) for n in names]


def keep_backup(path, text, backup_dir, keep, now=None):
    """Write ``text`` (the live version) into ``backup_dir`` and prune to the newest ``keep``.  Returns its path."""
    target = os.path.join(backup_dir, backup_name(path, text, now))
    atomic_write(target, text, mode=0o600)
    existing = backups(path, backup_dir)
    for old in existing[:max(0, len(existing) - max(1, int(keep)))]:
        os.unlink(old)
    return target


def registrations_needed(before, ratio):
    """How many registrations the gate wants back: ceil(before * ratio) (0 when there were none)."""
    if not before:
        return 0
    return int(math.ceil(before * float(ratio) - 1e-9))


class GapProbe(object):
    """Sends OPTIONS to ``sip_uri`` back to back in a thread; ``gap_ms`` = longest span without an answer."""

    def __init__(self, answered, sip_uri, interval=0.05):
        self.answered = answered
        self.sip_uri = sip_uri
        self.interval = interval
        self.gap = 0.0
        self.probes = 0
        self.unanswered = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="options-gap-probe")
        self._thread.daemon = True

    def _run(self):
        last_ok = time.time()
        while not self._stop.is_set():
            ok = False
            try:
                ok = self.answered(self.sip_uri, 0.25)
            except Exception:  # pylint: disable=broad-except  # a probe error counts as no answer
                ok = False
            now = time.time()
            self.probes += 1
            if ok:
                last_ok = now
            else:
                self.unanswered += 1
                self.gap = max(self.gap, now - last_ok)
            self._stop.wait(self.interval)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(5.0)
        return {"gap_ms": int(round(self.gap * 1000)), "probes": self.probes, "unanswered": self.unanswered}


def run_restart(command, timeout):
    """Run ``restart_command``; returns ``(ok, message)``."""
    try:
        proc = subprocess.run(list(command), capture_output=True, text=True, timeout=timeout, check=False)
    except OSError as exc:
        return False, "restart command %s cannot run: %s" % (command[0], exc)
    except subprocess.TimeoutExpired:
        return False, "restart command did not finish within %.0f s" % timeout
    if proc.returncode != 0:
        tail = ((proc.stderr or "") + (proc.stdout or "")).strip().splitlines()[-5:]
        return False, "restart command exited %d: %s" % (proc.returncode, " | ".join(tail))
    return True, ""


def test_caller(number, username, password, domain=None, ring_timeout=8.0, hold=0.2):
    """``call(sip_uri)`` -> one test call's result (sip_call's dict): ``number`` through the callserver at
    ``sip_uri`` with the digest account.  None when no number or no account is configured (no test call)."""
    if not number or not username or password is None:
        return None
    from ansible_collections.voipops.voip.plugins.module_utils import sip_call

    def call(sip_uri):
        proxy = sip_uri[4:] if sip_uri.lower().startswith("sip:") else sip_uri
        try:
            out = sip_call.run_calls(targets=[str(number)], proxy=proxy.split(";", 1)[0], domain=domain,
                                     username=username, password=password, hold=hold, ring_timeout=ring_timeout,
                                     concurrency=1)
        except (sip_call.CallError, OSError) as exc:
            return {"target": str(number), "answered": False, "classification": "unreachable", "code": None,
                    "reason": None, "error": str(exc)}
        return out["calls"][0]
    return call


def call_summary(call):
    """What the record and the result keep of one test call (never the account's password)."""
    keys = ("target", "answered", "classification", "code", "reason", "post_dial_delay_ms", "setup_ms", "server",
            "call_id", "error")
    return dict((k, call.get(k)) for k in keys)


def _call_words(call):
    return "test call to %s not answered: %s%s" % (
        call.get("target"), call.get("classification"),
        " %s %s" % (call.get("code"), call.get("reason") or "") if call.get("code") else (
            " (%s)" % call["error"] if call.get("error") else ""))


def gate(driver, sip_uri, needed, timeout, poll=0.25, test_call=None):
    """Wait until the live instance is healthy: API up, OPTIONS answered, ``needed`` registrations back and, with
    ``test_call``, a test call answered (placed once the rest is healthy, again on each poll until the deadline)."""
    deadline = time.time() + timeout
    health = {}
    call = None
    attempts = 0
    while True:
        health = driver.health(sip_uri, timeout=1.0)
        regs = health.get("registrations") or 0
        reasons = list(health.get("errors") or [])
        if health.get("rpc") and regs < needed:
            reasons.append("registrations %d of the %d needed" % (regs, needed))
        healthy = health.get("rpc") and health.get("options") is not False and regs >= needed
        if healthy and test_call is not None:
            call = call_summary(test_call(sip_uri))
            attempts += 1
            if not call.get("answered"):
                reasons.append(_call_words(call))
                healthy = False
        if healthy:
            out = {"passed": True, "rpc": True, "options": health.get("options"), "registrations": regs,
                   "registrations_needed": needed, "reasons": []}
            if call is not None:
                out.update(test_call=call, test_call_attempts=attempts)
            return out
        if time.time() >= deadline:
            out = {"passed": False, "rpc": bool(health.get("rpc")), "options": health.get("options"),
                   "registrations": health.get("registrations"), "registrations_needed": needed,
                   "reasons": reasons}
            if test_call is not None:
                out.update(test_call=call, test_call_attempts=attempts)
            return out
        time.sleep(poll)


def release(driver, path, candidate, restart_command=None, backup_dir=None, keep=5, binary=None, trial=True,
            trial_timeout=15.0, sip_uri=None, gate_timeout=30.0, min_registrations=0.95, restart_timeout=60.0,
            check_mode=False, mode=None, measure_gap=True, test_call=None):
    """Release ``candidate`` (the full configuration text) to ``path``; see the module docstring for the steps.

    ``test_call``: ``test_caller(...)``'s function (the gate places a test call) or None (no test call; the result's
    ``test_call`` says so).
    Returns the result dict (``changed``, ``diff``, ``validation``, ``backup``, ``gate``, ``service_gap_ms``,
    ``test_call``, ...);
    raises ReleaseFailed(message, result) when the candidate is refused or the gate failed (then rolled back).
    """
    live = read_text(path)
    result = {"changed": False, "path": path, "checksum": sha1(candidate), "previous_checksum": sha1(live) if live
              is not None else None, "validation": {}, "backup": None, "gate": None, "rolled_back": False,
              "restarted": False, "service_gap_ms": 0,
              "test_call": {"placed": False, "reason": "no test call configured (test_call_number and an account)"}
              if test_call is None else {"placed": False, "reason": "no restart, so no gate and no test call"},
              # a configuration may carry a database URL with its password: the diff shows it masked
              "diff": {"before": mask_urls_in_text(live or ""), "after": mask_urls_in_text(candidate), "before_header": path,
                       "after_header": "%s (candidate)" % path}}
    if live == candidate:
        result["diff"] = {"before": mask_urls_in_text(live), "after": mask_urls_in_text(live)}
        result["msg"] = "%s already has this configuration" % path
        return result

    # 1. validation: nothing live is touched before it passes
    try:
        driver.check_config(candidate, path, binary=binary)
        result["validation"]["check"] = "passed"
        if trial:
            result["validation"]["trial"] = driver.trial_start(candidate, path, binary=binary, timeout=trial_timeout)
    except DriverError as exc:
        stage = getattr(exc, "stage", "check")
        result["validation"][stage] = "failed"
        result["validation"]["error"] = str(exc)
        result["validation"]["log"] = getattr(exc, "log", "")[-2000:]
        raise ReleaseFailed("candidate refused by the %s, %s and the running callserver are untouched: %s" % (
            "trial start" if stage == "trial" else "configuration check", path, exc), result)
    result["changed"] = True
    if check_mode:
        result["msg"] = "the candidate passed validation; check mode: nothing written, nothing restarted"
        return result
    if not restart_command:
        raise ReleaseFailed("restart_command is required to release a configuration (how the host restarts the "
                            "callserver, for example [systemctl, restart, kamailio])", result)

    # 2. back up, swap, restart, gate
    sip_uri = sip_uri or driver.sip_uri_of_config(candidate)
    before = driver.health(sip_uri, timeout=2.0)
    result["registrations_before"] = before.get("registrations")
    needed = registrations_needed(before.get("registrations"), min_registrations)
    file_mode = mode if mode is not None else (os.stat(path).st_mode & 0o7777 if live is not None else 0o644)
    if live is not None:
        result["backup"] = keep_backup(path, live, backup_dir or os.path.join(os.path.dirname(path), "backups"), keep)
    probe = GapProbe(_answered(driver), sip_uri).start() if (measure_gap and sip_uri) else None
    try:
        atomic_write(path, candidate, mode=file_mode)
        result["restarted"] = True
        ok, why = run_restart(restart_command, restart_timeout)
        result["gate"] = gate(driver, sip_uri, needed, gate_timeout, test_call=test_call) if ok else {
            "passed": False, "reasons": [why], "registrations_needed": needed}
    finally:
        gap = probe.stop() if probe else None
    if gap:
        result["service_gap_ms"] = gap["gap_ms"]
        result["probe"] = gap
    if test_call is not None and result["gate"].get("test_call_attempts"):
        result["test_call"] = dict(result["gate"]["test_call"], placed=True,
                                   attempts=result["gate"]["test_call_attempts"])
    elif test_call is not None:
        result["test_call"] = {"placed": False, "reason": "the gate failed before a test call (%s)" % "; ".join(
            result["gate"].get("reasons") or [])}
    if result["gate"]["passed"]:
        result["msg"] = "%s released and healthy (registrations %s, service gap %d ms%s)" % (
            path, result["gate"].get("registrations"), result["service_gap_ms"],
            ", test call to %s answered" % result["test_call"].get("target") if result["test_call"].get("placed")
            else ", no test call")
        return result

    # 3. roll back
    reasons = "; ".join(result["gate"].get("reasons") or ["gate failed"])
    if live is None:
        raise ReleaseFailed("the health gate failed after the swap (%s) and there is no previous configuration to "
                            "roll back to" % reasons, result)
    atomic_write(path, live, mode=file_mode)
    ok, why = run_restart(restart_command, restart_timeout)
    result["rolled_back"] = True
    result["rollback_gate"] = gate(driver, sip_uri, needed, gate_timeout) if ok else {"passed": False, "reasons": [why]}
    raise ReleaseFailed("the health gate failed after the swap (%s): rolled back to the previous configuration "
                        "(%s), which is %s" % (reasons, result["backup"], "healthy again" if result["rollback_gate"][
                            "passed"] else "NOT healthy: %s" % "; ".join(result["rollback_gate"]["reasons"])), result)


def _answered(driver):
    def answered(sip_uri, timeout):
        return driver.health(sip_uri, timeout=timeout, rpc=False).get("options")
    return answered
