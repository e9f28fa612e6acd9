# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Gateway firmware rollout with drain, one gateway at a time (module gateway_firmware).

Per gateway, in the order given:

1. read its firmware status; a gateway already healthy on the target version is left alone (idempotent);
   check mode stops here for every gateway (the plan: who would go from which version to the target);
2. drain: the callserver's dispatcher stops routing new calls to it (``disabled``: not probed either);
3. wait for its calls to end: a graceful reset (``drain_timeout``: the device resets when its last call has ended,
   or after that many seconds), then wait until it answers again;
4. upload the image (a busy refusal - HTTP 409 on AudioCodes - is retried ``busy_retries`` times, ``busy_delay``
   seconds apart; a refused image - 400 - stops the rollout); the device resets into the new load;
5. wait until it is healthy on the target version (status UNLOCKED, no upgrade in progress); a device that comes back
   on its previous version (a dual-partition device whose new load did not boot) has failed;
   a gateway with SNMP settings (its ``snmp`` dict) must also show the target version in its SNMP ``sysDescr``
   (a Mediant's ends in ``SW Version: <version>``) within ``gate_timeout``, while still drained - the first part
   of the gate; a sysDescr that does not show it fails the gate like the rest of it;
6. return it to service and gate it: it answers SIP OPTIONS and its dispatcher entry is active again;
7. a gate failure with a ``rollback_image`` drains it again, loads that image and waits for the previous version.

The first failure stops the rollout: that gateway stays drained (named in the result, ``failed_gateway``), the
gateways after it are not touched and the ones before it keep carrying calls on the new version.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import time

from ansible_collections.voipops.voip.plugins.module_utils.gateways import base
from ansible_collections.voipops.voip.plugins.module_utils.gateways.generic import match_dispatcher


class RolloutFailed(Exception):
    def __init__(self, message, result):
        super(RolloutFailed, self).__init__(message)
        self.result = result


class StepFailed(Exception):
    pass


def healthy_on(view, version):
    return (view.get("version") == version and view.get("operational_state") == "UNLOCKED"
            and str(view.get("upgrade_status") or "None") == "None")


SYS_DESCR = "1.3.6.1.2.1.1.1.0"


def version_in(text, version):
    """Whether ``version`` appears in ``text`` as a whole token (7.40A.250.001 is not in 7.40A.250.0012)."""
    return bool(text) and re.search(r"(?<![\w.])%s(?!\w|\.\w)" % re.escape(version), text) is not None


def read_sys_descr(target):
    """The SNMP sysDescr of ``target`` (a snmp.normalize_target dict): ``(text, None)`` or ``(None, error)``."""
    from ansible_collections.voipops.voip.plugins.module_utils import snmp
    poller = snmp.SnmpPoller(timeout=target.get("timeout") or 1.0, retries=target.get("retries") or 0)
    try:
        values = poller.run(poller.aget(target, [SYS_DESCR]))
    except (snmp.SnmpError, OSError, ValueError) as exc:
        return None, str(exc) or exc.__class__.__name__
    except Exception as exc:  # pylint: disable=broad-except  # asyncio timeouts and pysnmp errors: no answer
        return None, "%s: %s" % (target.get("name"), exc or exc.__class__.__name__)
    value = values.get(SYS_DESCR)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None, "%s: no sysDescr (%r)" % (target.get("name"), value)
    return value, None


def snmp_target_of(gw):
    """The gateway's SNMP target (its ``snmp`` dict, host defaulting to its SIP host), or None without one."""
    if not gw.get("snmp"):
        return None
    from ansible_collections.voipops.voip.plugins.module_utils import snmp
    from ansible_collections.voipops.voip.plugins.module_utils.gateways.generic import snmp_target
    return snmp.normalize_target(snmp_target(gw, {}))


def options_answered(sip_uri, timeout=1.0):
    from ansible_collections.voipops.voip.plugins.module_utils import sip
    res = sip.run_sync(sip.probe_many([sip_uri], timeout=timeout))[0]
    return bool(res.get("reachable") and res.get("code"))


class Rollout(object):
    """One rollout run; ``sleep`` and ``clock`` are injectable so the waits are testable without waiting."""

    def __init__(self, family, callserver, image, version, conn=None, rollback_image=None, drain_timeout=300,
                 boot_timeout=600, busy_retries=5, busy_delay=10.0, gate_timeout=60.0, poll=1.0,
                 probe=options_answered, sys_descr=read_sys_descr, sleep=time.sleep, clock=time.time):
        self.family = family
        self.callserver = callserver
        self.image = image
        self.version = version
        self.conn = conn or {}
        self.rollback_image = rollback_image
        self.drain_timeout = int(drain_timeout)
        self.boot_timeout = float(boot_timeout)
        self.busy_retries = int(busy_retries)
        self.busy_delay = float(busy_delay)
        self.gate_timeout = float(gate_timeout)
        self.poll = float(poll)
        self.probe = probe
        self.sys_descr = sys_descr
        self.sleep = sleep
        self.clock = clock

    # ---------------------------------------------------------------------------------------- steps
    def status(self, gw):
        return self.family.firmware_status(gw, **self.conn)

    def try_status(self, gw):
        try:
            return self.status(gw)
        except base.GatewayError:
            return None

    def with_busy_retry(self, what, call, log):
        for attempt in range(self.busy_retries + 1):
            try:
                return call()
            except base.GatewayError as exc:
                if self.family.busy(exc) and attempt < self.busy_retries:
                    log.append("%s: busy (%s), retry %d of %d in %.1f s" % (
                        what, exc, attempt + 1, self.busy_retries, self.busy_delay))
                    self.sleep(self.busy_delay)
                    continue
                raise
        raise StepFailed("%s: still busy after %d retries" % (what, self.busy_retries))  # pragma: no cover

    def wait_reset(self, gw, before, limit, log, what):
        """Wait until the device has reset (it stopped answering, or its uptime went down) and answers again."""
        deadline = self.clock() + limit
        seen_down = False
        while self.clock() < deadline:
            view = self.try_status(gw)
            if view is None:
                seen_down = True
            elif seen_down or (before.get("uptime") is not None and view.get("uptime") is not None
                               and view["uptime"] < before["uptime"]):
                if str(view.get("upgrade_status") or "None") == "None":
                    log.append("%s: back on %s" % (what, view.get("version")))
                    return view
            self.sleep(self.poll)
        raise StepFailed("%s: the gateway did not reset and come back within %.0f s" % (what, limit))

    def gate(self, gw):
        """OPTIONS answered and the dispatcher entry active again, within gate_timeout."""
        deadline = self.clock() + self.gate_timeout
        last = {}
        while True:
            entry = match_dispatcher(gw, self.callserver.dispatcher())
            sip_uri = gw.get("sip_uri") or base.dispatcher_uri(gw)
            last = {"options": bool(self.probe(sip_uri, 1.0)), "dispatcher": entry.get("state") if entry else None}
            if last["options"] and last["dispatcher"] == "active":
                return dict(last, passed=True)
            if self.clock() >= deadline:
                return dict(last, passed=False)
            self.sleep(self.poll)

    def snmp_gate(self, gw, target):
        """The gateway's sysDescr shows ``version`` within gate_timeout: ``{passed, sys_descr, error}``."""
        deadline = self.clock() + self.gate_timeout
        while True:
            text, error = self.sys_descr(target)
            if text is not None and version_in(text, self.version):
                return {"passed": True, "sys_descr": text}
            if self.clock() >= deadline:
                return {"passed": False, "sys_descr": text, "error": error or "sysDescr does not show %s" % self.version}
            self.sleep(self.poll)

    def load(self, gw, image, want_version, before, log):
        """Upload ``image`` (busy retried), wait for the reset, check the version it came back on."""
        try:
            self.with_busy_retry("upload", lambda: self.family.upload_firmware(gw, image, **self.conn), log)
        except base.GatewayError as exc:
            if self.family.bad_load(exc):
                raise StepFailed("the gateway refused the image %s: %s" % (image, exc))
            raise StepFailed("upload failed: %s" % exc)
        log.append("upload accepted: the gateway resets into the new load")
        view = self.wait_reset(gw, before, self.boot_timeout, log, "new load")
        deadline = self.clock() + self.boot_timeout
        while not healthy_on(view, want_version):
            if view.get("version") != want_version and str(view.get("upgrade_status") or "None") == "None":
                raise StepFailed("the gateway came back on version %s, not %s: the new load did not boot and the "
                                 "device returned to its previous load" % (view.get("version"), want_version))
            if self.clock() >= deadline:
                raise StepFailed("the gateway is not healthy on %s after %.0f s (%s)" % (want_version,
                                                                                         self.boot_timeout, view))
            self.sleep(self.poll)
            view = self.try_status(gw) or view
        return view

    # ----------------------------------------------------------------------------------- one gateway
    def upgrade(self, gw, rec):
        log = rec["steps"]
        before = self.status(gw)
        self.family.drain(gw, self.callserver)
        rec["drained"] = True
        log.append("drained: the callserver routes no new calls to it")
        if self.drain_timeout > 0:
            self.with_busy_retry("graceful reset", lambda: self.family.reset(gw, self.drain_timeout, **self.conn), log)
            log.append("graceful reset requested (gracefulTimeout %d): the gateway resets when its calls have ended"
                       % self.drain_timeout)
            limit = (self.drain_timeout if self.drain_timeout > 1 else 86400) + self.boot_timeout
            before = self.wait_reset(gw, before, limit, log, "graceful reset")
        view = self.load(gw, self.image, self.version, before, log)
        rec["after"] = view.get("version")
        target = snmp_target_of(gw)
        snmp_gate = self.snmp_gate(gw, target) if target else None
        if snmp_gate is not None and not snmp_gate["passed"]:
            rec["gate"] = {"passed": False, "snmp": snmp_gate}
            reason = "gate failed on %s: SNMP sysDescr of %s does not show %s (%s: %r)" % (
                self.version, target["name"], self.version, snmp_gate["error"], snmp_gate["sys_descr"])
        else:
            if snmp_gate is not None:
                log.append("SNMP sysDescr shows %s" % self.version)
            self.family.return_to_service(gw, self.callserver)
            rec["drained"] = False
            log.append("returned to service")
            rec["gate"] = self.gate(gw)
            if snmp_gate is not None:
                rec["gate"]["snmp"] = snmp_gate
            if rec["gate"]["passed"]:
                return
            reason = "gate failed on %s: OPTIONS %s, dispatcher %s" % (
                self.version, "answered" if rec["gate"]["options"] else "not answered", rec["gate"]["dispatcher"])
            self.family.drain(gw, self.callserver)
            rec["drained"] = True
        if not self.rollback_image:
            raise StepFailed(reason + "; no rollback_image: left drained on the new version")
        log.append(reason + "; rolling back to %s" % rec["before"])
        view = self.load(gw, self.rollback_image, rec["before"], view, log)
        rec["after"] = view.get("version")
        rec["rolled_back"] = True
        raise StepFailed(reason + "; rolled back to %s and left drained" % rec["before"])

    # -------------------------------------------------------------------------------------- the run
    def run(self, gateways, check_mode=False):
        result = {"changed": False, "gateways": [], "failed_gateway": None, "target_version": self.version}
        for index, gw in enumerate(gateways):
            rec = {"name": gw.get("name"), "before": None, "after": None, "status": None, "steps": [],
                   "drained": False, "rolled_back": False}
            result["gateways"].append(rec)
            try:
                view = self.status(gw)
            except base.GatewayError as exc:
                rec.update(status="failed", error="status not readable before the upgrade: %s" % exc)
                return self.fail(result, rec, gateways[index + 1:])
            rec["before"] = rec["after"] = view.get("version")
            if healthy_on(view, self.version):
                rec["status"] = "current"
                continue
            result["changed"] = True
            if check_mode:
                rec.update(status="would upgrade", after=self.version)
                continue
            try:
                self.upgrade(gw, rec)
            except (StepFailed, base.GatewayError) as exc:
                rec.update(status="rolled back" if rec["rolled_back"] else "failed", error=str(exc))
                return self.fail(result, rec, gateways[index + 1:])
            rec["status"] = "upgraded"
        return result

    def fail(self, result, rec, rest):
        result["failed_gateway"] = rec["name"]
        for gw in rest:
            result["gateways"].append({"name": gw.get("name"), "status": "not started", "steps": [], "before": None,
                                       "after": None, "drained": False, "rolled_back": False})
        raise RolloutFailed("gateway %s: %s%s" % (rec["name"], rec["error"], " (left drained)" if rec["drained"]
                                                  else ""), result)
