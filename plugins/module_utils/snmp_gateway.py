# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One record per media gateway: SNMP facts + SIP OPTIONS + the callserver's dispatcher view + a verdict.

- :func:`verdict` and :func:`merge` are pure (evidence in, record out) and unit-tested without a lab.
- :func:`gather_gateways` is the driver: the SNMP poll, the OPTIONS probes and the callserver's
  dispatcher read run at the same time (one asyncio loop; the JSON-RPC call in a worker thread).

Status: ``down`` when the gateway cannot take calls (no OPTIONS answer, the callserver does not route to
it, or every E1/T1 has a critical alarm), ``degraded`` when it can but something is wrong (one E1 in LOS,
a far-end alarm, an interface that is switched on but down, a D channel down, SNMP not answering), else ``ok``.
``reasons`` says why, in words an on-call engineer acts on.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import asyncio

from ansible_collections.voipops.voip.plugins.module_utils import snmp as snmp_engine

STATUS_ORDER = {"ok": 0, "degraded": 1, "down": 2}
DEFAULT_GATHER = ("system", "interfaces", "ds1", "isdn")


def _norm_uri(uri):
    """``sip:Host:5060;transport=udp`` -> ``host:5060`` for matching dispatcher entries."""
    if not uri:
        return None
    u = str(uri).strip().lower()
    for scheme in ("sips:", "sip:"):
        if u.startswith(scheme):
            u = u[len(scheme):]
    u = u.split(";", 1)[0].split("?", 1)[0]
    if "@" in u:
        u = u.split("@", 1)[1]
    if ":" not in u.rsplit("]", 1)[-1]:
        u += ":5060"
    return u


def sip_uri_of(gw):
    if gw.get("sip_uri"):
        return gw["sip_uri"]
    if gw.get("host"):
        return "sip:%s:%s" % (gw["host"], gw.get("sip_port") or 5060)
    return None


def match_dispatcher(gw, entries):
    """The dispatcher entry of this gateway: by DUID = name, else by URI host:port. ``None`` if not listed."""
    if entries is None:
        return None
    name = gw.get("name")
    for e in entries:
        if name and e.get("duid") == name:
            return e
    want = _norm_uri(gw.get("dispatcher_uri") or sip_uri_of(gw))
    setid = gw.get("dispatcher_setid")
    for e in entries:
        if want and _norm_uri(e.get("uri")) == want and (setid is None or e.get("setid") == setid):
            return e
    return None


def _line_label(line):
    return line.get("name") or "line %s" % line.get("index")


def verdict(sip, dispatcher, dispatcher_known, snmp_result):
    """Evidence -> ``(status, reasons)``.

    ``sip``: a result of ``sip.probe_many`` (or ``None`` when not probed).  ``dispatcher``: the matched
    dispatcher entry or ``None``; ``dispatcher_known``: whether the callserver answered at all.
    ``snmp_result``: a result of :class:`snmp.SnmpPoller` (or ``None``).
    """
    down, degraded = [], []
    if sip is not None and sip.get("status") != "ok":
        what = sip.get("error") or sip.get("status")
        if sip.get("reachable"):
            degraded.append("SIP OPTIONS answered %s %s" % (sip.get("code"), sip.get("reason") or ""))
        else:
            down.append("SIP OPTIONS not answered (%s)" % what)
    if dispatcher_known:
        if dispatcher is None:
            down.append("not in the callserver's dispatcher list: no calls are routed to it")
        elif dispatcher.get("state") in ("inactive", "disabled"):
            down.append("callserver dispatcher marks it %s (flags %s)" % (dispatcher["state"], dispatcher.get("flags")))
        elif dispatcher.get("state") != "active":
            degraded.append("callserver dispatcher state %s (flags %s)" % (dispatcher.get("state"), dispatcher.get("flags")))
    if snmp_result is not None:
        if not snmp_result.get("ok"):
            degraded.append("SNMP not answering: %s" % snmp_result.get("error"))
        else:
            facts = snmp_result.get("facts") or {}
            lines = facts.get("ds1") or []
            critical = [ln for ln in lines if ln.get("severity") == "critical"]
            for ln in lines:
                if ln.get("severity") in ("critical", "warning"):
                    degraded.append("%s %s: %s" % ("E1/T1", _line_label(ln), "+".join(ln.get("alarms") or [])))
            if lines and len(critical) == len(lines):
                down.append("all %d E1/T1 lines in alarm" % len(lines))
            ds1_ifindexes = set(ln.get("if_index") for ln in lines)
            for itf in facts.get("interfaces") or []:
                if itf.get("fault") and itf.get("index") not in ds1_ifindexes:
                    degraded.append("interface %s is admin up but %s" % (itf.get("name"), itf.get("oper_status")))
            isdn = facts.get("isdn") or {}
            for d in isdn.get("d_channels") or []:
                if not d.get("up"):
                    degraded.append("ISDN D channel %s is %s" % (d.get("trunk") or d.get("name") or d.get("if_index"),
                                                                 d.get("state")))
    if down:
        return "down", down + degraded
    if degraded:
        return "degraded", degraded
    return "ok", []


def _sip_view(sip):
    if sip is None:
        return None
    keys = ("status", "reachable", "code", "reason", "rtt_ms", "server", "user_agent", "error", "uri")
    return dict((k, sip.get(k)) for k in keys)


def _alarms(snmp_result):
    out = []
    if snmp_result and snmp_result.get("ok"):
        for ln in (snmp_result.get("facts") or {}).get("ds1") or []:
            if ln.get("alarms"):
                out.append({"line": _line_label(ln), "if_index": ln.get("if_index"), "alarms": ln["alarms"],
                            "severity": ln.get("severity")})
    return out


def merge(gw, sip, dispatcher, dispatcher_known, snmp_result):
    """One gateway record (pure)."""
    status, reasons = verdict(sip, dispatcher, dispatcher_known, snmp_result)
    facts = (snmp_result or {}).get("facts") or {}
    snmp_view = None
    if snmp_result is not None:
        snmp_view = {"ok": bool(snmp_result.get("ok")), "error": snmp_result.get("error"),
                     "target": "%s:%s" % (snmp_result.get("host"), snmp_result.get("port"))}
        snmp_view.update(facts)
    if dispatcher_known:
        ds = dict(dispatcher) if dispatcher else {"state": "absent"}
    else:
        ds = {"state": "unknown"}
    return {
        "name": gw.get("name"),
        "sip_uri": sip_uri_of(gw),
        "status": status,
        "reasons": reasons,
        "alarms": _alarms(snmp_result),
        "sip": _sip_view(sip),
        "dispatcher": ds,
        "snmp": snmp_view,
    }


def summarize(records):
    out = {"total": len(records), "ok": 0, "degraded": 0, "down": 0}
    for r in records:
        out[r["status"]] = out.get(r["status"], 0) + 1
    return out


def snmp_target(gw, defaults):
    """SNMP target of a gateway: its ``snmp`` dict over ``defaults``, host defaulting to the gateway host."""
    t = dict((k, v) for k, v in (defaults or {}).items() if v is not None)
    t.update(dict((k, v) for k, v in (gw.get("snmp") or {}).items() if v is not None))
    t.setdefault("host", gw.get("host") or (_norm_uri(sip_uri_of(gw)) or "").rsplit(":", 1)[0] or None)
    t["name"] = gw.get("name")
    return t


async def _gather(gateways, snmp_defaults, groups, rpc_url, rpc_timeout, validate_certs, sip_timeout,
                  snmp_timeout, snmp_retries, concurrency, probe_sip, platform=None):
    from ansible_collections.voipops.voip.plugins.module_utils import sip as sip_engine
    from ansible_collections.voipops.voip.plugins.module_utils.callservers.base import DriverError, get_driver

    poller = snmp_engine.SnmpPoller(timeout=snmp_timeout, retries=snmp_retries, concurrency=concurrency)
    snmp_targets = [snmp_target(g, snmp_defaults) for g in gateways]
    want_snmp = [i for i, g in enumerate(gateways) if g.get("snmp") is not False and snmp_targets[i].get("host")]

    async def snmp_part():
        if not groups or not want_snmp:
            return {}
        res = await poller.apoll([snmp_targets[i] for i in want_snmp], list(groups))
        return dict(zip(want_snmp, res))

    async def sip_part():
        if not probe_sip:
            return {}
        idx = [i for i, g in enumerate(gateways) if sip_uri_of(g)]
        if not idx:
            return {}
        res = await sip_engine.probe_many([sip_uri_of(gateways[i]) for i in idx], timeout=sip_timeout,
                                          concurrency=concurrency)
        return dict(zip(idx, res))

    def rpc_part():
        if not rpc_url:
            return None, None
        try:
            return get_driver(platform, rpc_url=rpc_url, timeout=rpc_timeout, validate_certs=validate_certs).dispatcher(), None
        except DriverError as exc:
            return None, str(exc)

    loop = asyncio.get_running_loop()
    rpc_future = loop.run_in_executor(None, rpc_part)
    snmp_res, sip_res, (entries, rpc_error) = await asyncio.gather(snmp_part(), sip_part(), rpc_future)
    return snmp_res, sip_res, entries, rpc_error


def gather_gateways(gateways, snmp_defaults=None, groups=DEFAULT_GATHER, rpc_url=None, rpc_timeout=5.0,
                    validate_certs=True, sip_timeout=2.0, snmp_timeout=snmp_engine.DEFAULT_TIMEOUT,
                    snmp_retries=snmp_engine.DEFAULT_RETRIES, concurrency=64, probe_sip=True, platform=None):
    """Collect the evidence for every gateway and merge it.  Returns ``(records, summary, callserver)``."""
    snmp_res, sip_res, entries, rpc_error = asyncio.run(_gather(
        gateways, snmp_defaults, groups, rpc_url, rpc_timeout, validate_certs, sip_timeout, snmp_timeout,
        snmp_retries, concurrency, probe_sip, platform))
    known = entries is not None
    records = []
    for i, gw in enumerate(gateways):
        ds = match_dispatcher(gw, entries) if known else None
        rec = merge(gw, sip_res.get(i), ds, known, snmp_res.get(i))
        if rpc_url and not known:
            rec["reasons"].append("callserver dispatcher view unavailable: %s" % rpc_error)
        records.append(rec)
    callserver = {"rpc_url": rpc_url, "ok": known if rpc_url else None, "error": rpc_error}
    return records, summarize(records), callserver
