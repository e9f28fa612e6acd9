# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The generic gateway family: SNMP facts + SIP OPTIONS + the callserver's dispatcher view, one record per gateway.

- The evidence rules (:func:`sip_problems`, :func:`dispatcher_problems`, :func:`snmp_problems`) are the one
  severity model of ``gateways/base.py``: the gateway record's verdict and the health audit's findings (also
  for ``sip_probe``, ``snmp_info`` and ``callserver_info`` results) come from them.
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

from ansible_collections.voipops.voip.plugins.module_utils.gateways import base

STATUS_ORDER = base.STATUS_ORDER
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


def sip_problems(res, name):
    """A SIP OPTIONS result (``sip.probe_many``/``sip_probe``) of component ``name`` -> problems."""
    status = res.get("status")
    code = res.get("code", res.get("status_code"))
    ok = res.get("ok")
    if ok is None and isinstance(status, str):
        ok = status == "ok"
    reachable = res.get("reachable")
    if reachable is None:
        reachable = bool(ok) or code is not None
    details = {"uri": res.get("uri"), "status": status, "code": code, "error": res.get("error")}
    if not reachable:
        return [base.problem("sip_options", "sip_unreachable", "critical", "down",
                             "SIP OPTIONS not answered (%s)" % (res.get("error") or status),
                             "%s does not answer SIP OPTIONS (%s)" % (name, res.get("error") or status or "no reply"),
                             details)]
    if ok is False:
        return [base.problem("sip_options", "sip_error", "major" if isinstance(code, int) and code >= 500 else "minor",
                             "degraded", "SIP OPTIONS answered %s %s" % (code, res.get("reason") or ""),
                             "%s answers OPTIONS with %s %s" % (name, code, res.get("reason") or ""), details)]
    return []


def dispatcher_problems(state, entry, name, callserver=None):
    """The callserver's dispatcher view of gateway ``name`` -> problems.

    ``state``: ``active``, ``inactive``, ``disabled``, ``trying``, ... or ``absent`` (not listed).
    """
    entry = entry or {}
    if state == "inactive":
        return [base.problem("dispatcher", "dispatcher_inactive", "critical", "down",
                             "callserver dispatcher marks it inactive (flags %s)" % entry.get("flags"),
                             "%s is inactive in the callserver's dispatcher (OPTIONS probes fail)" % name,
                             {"uri": entry.get("uri"), "flags": entry.get("flags"), "setid": entry.get("setid")})]
    if state == "disabled":
        return [base.problem("dispatcher", "dispatcher_disabled", "minor", "down",
                             "callserver dispatcher marks it disabled (flags %s)" % entry.get("flags"),
                             "%s is administratively disabled in the dispatcher" % name,
                             {"uri": entry.get("uri"), "flags": entry.get("flags")}, availability=False)]
    if state == "absent":
        return [base.problem("dispatcher", "dispatcher_missing", "major", "down",
                             "not in the callserver's dispatcher list: no calls are routed to it",
                             "%s is not in the callserver's dispatcher list: no calls are routed to it" % name,
                             {"callserver": callserver}, availability=False)]
    if state not in ("active", None, "unknown"):
        # a transient probing state: the record says so, no ticket
        return [base.problem("dispatcher", "dispatcher_state", None, "degraded",
                             "callserver dispatcher state %s (flags %s)" % (state, entry.get("flags")),
                             "%s dispatcher state %s" % (name, state), {"flags": entry.get("flags")})]
    return []


def iface_names(iface):
    """Every name an interface is known by (ifName, ifDescr, ifAlias), lower-case."""
    return set(str(iface.get(k)).strip().lower() for k in ("name", "descr", "alias") if iface.get(k))


def interface_aliases(facts):
    """``if_index`` -> every name (lower-case) the interface of that index is known by."""
    return dict((iface.get("index", iface.get("if_index")), iface_names(iface)) for iface in facts.get("interfaces") or [])


def line_names(line, aliases):
    """Every name (lower-case) an E1/T1 line is known by: its own and its interface's."""
    return set(n for n in [str(line.get("name") or "").lower()] if n) | aliases.get(line.get("if_index"), set())


def _line_problems(name, lines, aliases):
    out = []
    critical = [ln for ln in lines if ln.get("severity") == "critical"]
    for ln in lines:
        if ln.get("severity") not in ("critical", "warning"):
            continue
        sev = "critical" if ln["severity"] == "critical" else "minor"
        alarms = ", ".join(ln.get("alarms") or []) or "alarm"
        names = line_names(ln, aliases)
        about = "%s on %s: %s" % (ln.get("name"), name, alarms)
        out.append(base.problem(
            "snmp", "e1_alarm:%s" % ln.get("name"), sev, "degraded",
            "%s %s: %s" % ("E1/T1", _line_label(ln), "+".join(ln.get("alarms") or [])), "%s %s" % (name, about),
            {"gateway": name, "interface": ln.get("name"), "alarms": ln.get("alarms"), "line_status": ln.get("line_status")},
            availability=sev == "critical",
            line={"names": sorted(names), "kind": "e1_alarm", "severity": sev, "about": about}))
    if lines and len(critical) == len(lines):
        out.append(base.problem("snmp", "all_lines_in_alarm", None, "down", "all %d E1/T1 lines in alarm" % len(lines),
                                "%s: all %d E1/T1 lines in alarm" % (name, len(lines))))
    return out


def snmp_problems(res, name):
    """An SNMP poll result (``SnmpPoller.poll``: ``{ok, error, facts: {interfaces, ds1, isdn, ...}}``) -> problems.

    An E1/T1 with a DS1 alarm is reported once, with the alarm names (not again as a down interface).
    """
    if not res.get("ok", True):
        return [base.problem("snmp", "snmp_unreachable", "major", "degraded", "SNMP not answering: %s" % res.get("error"),
                             "%s does not answer SNMP: %s" % (name, res.get("error") or "timeout"),
                             {"error": res.get("error")})]
    facts = res.get("facts") or {}
    aliases = interface_aliases(facts)
    lines = facts.get("ds1") or []
    out = _line_problems(name, lines, aliases)
    on_lines = set(ln.get("if_index") for ln in lines) | set(str(ln.get("name") or "").lower() for ln in lines)
    for iface in facts.get("interfaces") or []:
        index = iface.get("index", iface.get("if_index"))
        if not iface.get("fault") or index in on_lines or str(iface.get("name") or "").lower() in on_lines:
            continue
        out.append(base.problem(
            "snmp", "interface_down:%s" % iface.get("name"), "major", "degraded",
            "interface %s is admin up but %s" % (iface.get("name"), iface.get("oper_status")),
            "%s interface %s is %s (admin up)" % (name, iface.get("name"), iface.get("oper_status")),
            {"gateway": name, "interface": iface.get("name"), "oper_status": iface.get("oper_status")},
            line={"names": sorted(iface_names(iface)), "kind": "interface_down", "severity": "critical"}))
    for dch in (facts.get("isdn") or {}).get("d_channels") or []:
        if dch.get("up"):
            continue
        label = dch.get("trunk") or dch.get("name") or dch.get("if_index")
        names = set(str(dch.get(k)).lower() for k in ("trunk", "name") if dch.get(k)) | aliases.get(dch.get("if_index"), set())
        out.append(base.problem(
            "snmp", "isdn_d_channel_down:%s" % label, "major", "degraded",
            "ISDN D channel %s is %s" % (label, dch.get("state")),
            "%s ISDN D channel on %s is %s" % (name, label, dch.get("state")),
            {"gateway": name, "interface": label, "state": dch.get("state")},
            line={"names": sorted(names), "kind": "isdn_d_channel_down", "severity": "major"}))
    return out


def problems(gw, sip, dispatcher, dispatcher_known, snmp_result, callserver=None):
    """Every problem of one gateway, in the order of its evidence: SIP, dispatcher, SNMP."""
    name = gw.get("name")
    out = sip_problems(sip, name) if sip is not None else []
    if dispatcher_known:
        out.extend(dispatcher_problems(dispatcher.get("state") if dispatcher else "absent", dispatcher, name, callserver))
    if snmp_result is not None:
        out.extend(snmp_problems(dict(snmp_result, ok=bool(snmp_result.get("ok"))), name))
    return out


def verdict(sip, dispatcher, dispatcher_known, snmp_result):
    """Evidence -> ``(status, reasons)`` (see :func:`.base.verdict_of`).

    ``sip``: a result of ``sip.probe_many`` (or ``None`` when not probed).  ``dispatcher``: the matched
    dispatcher entry or ``None``; ``dispatcher_known``: whether the callserver answered at all.
    ``snmp_result``: a result of :class:`snmp.SnmpPoller` (or ``None``).
    """
    return base.verdict_of(problems({}, sip, dispatcher, dispatcher_known, snmp_result))


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
    """One gateway record (pure): the evidence, its problems and the verdict drawn from them."""
    found = problems(gw, sip, dispatcher, dispatcher_known, snmp_result)
    status, reasons = base.verdict_of(found)
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
        "problems": found,
    }


summarize = base.summarize


def snmp_target(gw, defaults):
    """SNMP target of a gateway: its ``snmp`` dict over ``defaults``, host defaulting to the gateway host."""
    t = dict((k, v) for k, v in (defaults or {}).items() if v is not None)
    t.update(dict((k, v) for k, v in (gw.get("snmp") or {}).items() if v is not None))
    t.setdefault("host", gw.get("host") or (_norm_uri(sip_uri_of(gw)) or "").rsplit(":", 1)[0] or None)
    t["name"] = gw.get("name")
    return t


async def _gather(gateways, snmp_defaults, groups, rpc_url, rpc_timeout, validate_certs, sip_timeout,
                  snmp_timeout, snmp_retries, concurrency, probe_sip, platform=None):
    # the engines are imported where they are used: the audit reads this family's rules without loading pysnmp
    from ansible_collections.voipops.voip.plugins.module_utils import sip as sip_engine
    from ansible_collections.voipops.voip.plugins.module_utils import snmp as snmp_engine
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

    import asyncio  # pylint: disable=import-outside-toplevel  # only a poll needs the event loop
    loop = asyncio.get_running_loop()
    rpc_future = loop.run_in_executor(None, rpc_part)
    snmp_res, sip_res, (entries, rpc_error) = await asyncio.gather(snmp_part(), sip_part(), rpc_future)
    return snmp_res, sip_res, entries, rpc_error


def gather_gateways(gateways, snmp_defaults=None, groups=DEFAULT_GATHER, rpc_url=None, rpc_timeout=5.0,
                    validate_certs=True, sip_timeout=2.0, snmp_timeout=None, snmp_retries=None, concurrency=64,
                    probe_sip=True, platform=None):
    """Collect the evidence for every gateway and merge it.  Returns ``(records, summary, callserver)``.

    ``snmp_timeout``/``snmp_retries`` None = the SNMP engine's defaults."""
    if snmp_timeout is None or snmp_retries is None:
        from ansible_collections.voipops.voip.plugins.module_utils import snmp as snmp_engine
        snmp_timeout = snmp_engine.DEFAULT_TIMEOUT if snmp_timeout is None else snmp_timeout
        snmp_retries = snmp_engine.DEFAULT_RETRIES if snmp_retries is None else snmp_retries
    import asyncio  # pylint: disable=import-outside-toplevel  # only a poll needs the event loop
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


@base.register
class GenericGateways(base.GatewayFamily):
    """SNMP (IF-MIB, DS1-MIB, ISDN-MIB) + SIP OPTIONS + the callserver's dispatcher."""

    family = "generic"

    def state(self, gateways, **options):
        return gather_gateways(gateways, **options)

    def snmp_target(self, gw, defaults):
        return snmp_target(gw, defaults)

    def version(self, record):
        """What the gateway says it runs: its SIP Server/User-Agent header, else its SNMP sysDescr."""
        sip = record.get("sip") or {}
        system = (record.get("snmp") or {}).get("system") or {}
        return sip.get("server") or sip.get("user_agent") or system.get("descr") or None
