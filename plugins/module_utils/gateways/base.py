# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gateway interface and its one severity model.

A gateway *family* (``generic.py``: SNMP + SIP OPTIONS + the callserver's dispatcher; later one file per
management API) implements :class:`GatewayFamily`:

- ``state(gateways, ...)``: one record per gateway with its *problems* and the verdict drawn from them;
- ``version(record)``: the software/firmware version the gateway shows;
- ``drain(gateway, callserver)`` / ``return_to_service(gateway, callserver)``: take it out of, or put it back
  into, the callserver's dispatcher (here, for every family, through the callserver driver's
  ``set_gateway_state``);
- firmware, for families with a management API (``audiocodes_rest.py``): ``firmware_status``,
  ``upload_firmware``, ``reset``, and which errors are ``busy`` (retry later) or a ``bad_load``;
  ``release/gateway.py`` runs a rollout from them.

**One severity model.**  A family judges its evidence once, as a list of :func:`problem` records.  Each
problem says what it does to the gateway (``effect``: ``down`` or ``degraded``, the record's ``status`` and
``reasons``) and what it is as an audit finding (``check``, ``kind``, ``severity``, ``availability``, summary
and details).  ``gateway_info`` returns the problems with the record; the health audit files them as findings
(placing a line problem on the estate trunk that line carries) without judging the evidence again.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

STATUS_ORDER = {"ok": 0, "degraded": 1, "down": 2}
EFFECTS = ("down", "degraded")


class GatewayError(Exception):
    """A gateway family that does not exist, or an operation a family does not support."""


def problem(check, kind, severity, effect, reason, summary, details=None, availability=True, line=None):
    """One thing wrong with a gateway, as its family judges it.

    ``severity``: the finding's severity (``sla.SEVERITIES``), or None when the problem only shapes the
    gateway's status (no ticket: e.g. "all E1 lines in alarm", which the per-line problems already carry).
    ``effect``: ``down`` or ``degraded``.  ``reason``: words for the record's ``reasons``; ``summary``: the
    finding's summary.  ``line``: for a problem of one interface/line: ``{"names": [lower-case names the
    line is known by], "kind": kind on the estate trunk, "severity": severity on the trunk, "about": text that
    follows the trunk name in its summary (optional)}``; without an estate trunk the problem stays on the gateway.
    """
    if effect not in EFFECTS:
        raise ValueError("unknown effect %r" % (effect,))
    return {"check": check, "kind": kind, "severity": severity, "effect": effect, "reason": reason,
            "summary": summary, "details": details or {}, "availability": bool(availability), "line": line}


def verdict_of(problems):
    """Problems -> ``(status, reasons)``: ``down`` reasons first, then ``degraded`` ones, each in problem order."""
    down = [p["reason"] for p in problems if p["effect"] == "down"]
    degraded = [p["reason"] for p in problems if p["effect"] == "degraded"]
    if down:
        return "down", down + degraded
    if degraded:
        return "degraded", degraded
    return "ok", []


def summarize(records):
    out = {"total": len(records), "ok": 0, "degraded": 0, "down": 0}
    for r in records:
        out[r["status"]] = out.get(r["status"], 0) + 1
    return out


class GatewayFamily(object):
    """Interface of a gateway family."""

    family = None

    def state(self, gateways, **options):  # pragma: no cover - abstract
        """Gather every gateway's evidence at once: ``(records, summary, callserver)``.

        A record: ``{name, sip_uri, status, reasons, alarms, sip, dispatcher, snmp, problems}``.
        """
        raise NotImplementedError

    def version(self, record):  # pragma: no cover - abstract
        """The software/firmware version a gateway record shows, or None."""
        raise NotImplementedError

    def drain(self, gateway, callserver):
        """Stop routing new calls to ``gateway``: its dispatcher entry (``dispatcher_setid``, ``dispatcher_uri`` or
        ``sip_uri``) becomes ``disabled`` in the callserver (a callserver driver).  Returns the state set."""
        callserver.set_gateway_state(gateway.get("dispatcher_setid") or 1, dispatcher_uri(gateway), "disabled")
        return "disabled"

    def return_to_service(self, gateway, callserver):
        """Route calls to ``gateway`` again: its dispatcher entry becomes ``active`` (and probed)."""
        callserver.set_gateway_state(gateway.get("dispatcher_setid") or 1, dispatcher_uri(gateway), "active")
        return "active"

    # ---- firmware (families with a management API: audiocodes_rest.py)
    def firmware_status(self, gateway, **conn):
        """``{"version", "operational_state", "upgrade_status", "uptime", "reset_needed"}`` of the device."""
        raise GatewayError("%s gateways: firmware is not managed by this family" % self.family)

    def upload_firmware(self, gateway, image, **conn):
        """Send the firmware image; the device activates it (resets)."""
        raise GatewayError("%s gateways: firmware is not managed by this family" % self.family)

    def reset(self, gateway, graceful_timeout=0, **conn):
        """Reset the device; ``graceful_timeout``: 0 now, 1 after the last call, N after at most N seconds."""
        raise GatewayError("%s gateways: reset is not managed by this family" % self.family)

    def busy(self, error):
        """Whether ``error`` is a temporary refusal worth retrying."""
        return False

    def bad_load(self, error):
        """Whether ``error`` says the image itself is refused."""
        return False


def dispatcher_uri(gateway):
    """The URI of a gateway in the callserver's dispatcher (``dispatcher_uri``, else ``sip_uri``, else host:port)."""
    uri = gateway.get("dispatcher_uri") or gateway.get("sip_uri")
    if not uri and gateway.get("host"):
        uri = "sip:%s:%s" % (gateway["host"], gateway.get("sip_port") or 5060)
    if not uri:
        raise GatewayError("gateway %s has no sip_uri/dispatcher_uri: cannot drain it" % gateway.get("name"))
    return uri


FAMILIES = {}


def register(cls):
    """Class decorator: make a family known under its ``family`` key."""
    FAMILIES[cls.family] = cls()
    return cls


def get_family(name):
    """The registered family ``name``; GatewayError listing the known ones otherwise."""
    # imported here because the family files import this module
    from ansible_collections.voipops.voip.plugins.module_utils.gateways import generic  # noqa: F401 pylint: disable=unused-import
    from ansible_collections.voipops.voip.plugins.module_utils.gateways import audiocodes_rest  # noqa: F401 pylint: disable=unused-import
    family = FAMILIES.get(str(name or "").strip().lower())
    if family is None:
        raise GatewayError("unknown gateway family %r (known: %s)" % (name, ", ".join(sorted(FAMILIES))))
    return family
