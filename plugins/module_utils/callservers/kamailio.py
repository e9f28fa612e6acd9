# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kamailio driver: JSON-RPC over HTTP (xhttp + jsonrpcs) and, for user data, Kamailio's own tables.

This is the only code that talks to Kamailio.  Everything above it (modules, roles, inventory plugins) gets a
``KamailioDriver`` from ``callservers/base.py:get_driver`` and speaks in plain records: registrations, gateways,
statistics, canonical users.  The driver's user data lives in Kamailio's tables (``kamailio_db.KamailioDB``, its
storage layer).

Kamailio facts this relies on (see docs/architecture.md):
- JSON-RPC 2.0 over HTTP POST to ``http://host:port/RPC``; errors come back as HTTP 500 with a JSON
  ``error`` object; a request Kamailio cannot parse gets NO reply, so every call has a timeout.
- ``ul.dump`` returns ``{"Domains": [{"Domain": {"Domain": "location", "AoRs": [{"Info": {"AoR": ..,
  "Contacts": [{"Contact": {...}}]}}]}}]}``.
- ``dlg.list`` (module dialog, README.dialog 5.6) returns ``[{"call-id": .., "from_uri": .., "to_uri": .., "state":
  1..5, "start_ts": .., "caller": {"tag", "contact", ...}, "callee": {...}}]``; states 1 unconfirmed, 2 early,
  3 confirmed without ACK, 4 confirmed, 5 deleted (kept until its timer frees it).  Without the dialog module
  the method is not found.
- ``dispatcher.list`` returns ``{"NRSETS": n, "RECORDS": [{"SET": {"ID": 1, "TARGETS": [{"DEST":
  {"URI": .., "FLAGS": "AP", "PRIORITY": .., "ATTRS": {"BODY": .., "DUID": ..}, "LATENCY": {...}}}]}}]}``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import itertools
import json
import re

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover - Python 2 controllers are not supported, but sanity imports this file
    from urlparse import urlsplit  # type: ignore

from ansible_collections.voipops.voip.plugins.module_utils.callservers.base import CallserverDriver, DriverError
from ansible_collections.voipops.voip.plugins.module_utils.fileio import mask_url

# Whether requests is installed, without importing it: the import costs about 60 ms, paid by every module run that
# loads this driver, while only a JSON-RPC client needs it (KamailioRPC imports it).
try:
    HAS_REQUESTS = importlib.util.find_spec("requests") is not None
except (ImportError, ValueError):  # pragma: no cover - exercised by ansible-test's import sanity
    HAS_REQUESTS = False
REQUESTS_IMPORT_ERROR = None if HAS_REQUESTS else "ImportError: No module named 'requests'"


class KamailioError(DriverError):
    """A failed exchange with Kamailio; the message always names the URL and what to do."""

    def __init__(self, message, url=None, method=None, code=None):
        self.url = url
        self.method = method
        self.code = code
        super(KamailioError, self).__init__(message)


# Dispatcher FLAGS: first letter = state, second = probing.  (Kamailio dispatcher module docs.)
_DS_STATE = {"A": "active", "I": "inactive", "D": "disabled", "T": "trying"}

# Statistics that a person reading a health report cares about (name in stats.fetch -> label).
KEY_STATS = (
    "core.rcv_requests", "core.rcv_replies", "core.fwd_requests", "core.drop_requests",
    "core.err_requests", "core.bad_msg_hdr", "core.unsupported_methods",
    "shmem.used_size", "shmem.free_size", "shmem.real_used_size", "shmem.max_used_size",
    "sl.1xx_replies", "sl.200_replies", "sl.4xx_replies", "sl.5xx_replies",
    "tmx.UAS_transactions", "tmx.active_transactions", "tmx.5xx_transactions", "tmx.4xx_transactions",
    "usrloc.registered_users", "usrloc.location_contacts", "usrloc.location_users",
    "registrar.accepted_regs", "registrar.rejected_regs",
    "dispatcher.*",
)


def _contact_record(aor, contact):
    """Flatten one ul.dump contact into a record with snake_case keys."""
    return {
        "aor": aor,
        "contact": contact.get("Address"),
        "expires": contact.get("Expires"),
        "q": contact.get("Q"),
        "call_id": contact.get("Call-ID"),
        "cseq": contact.get("CSeq"),
        "user_agent": contact.get("User-Agent") or "",
        "received": contact.get("Received") or "",
        "path": contact.get("Path") or "",
        "socket": contact.get("Socket") or "",
        "methods": contact.get("Methods"),
        "ruid": contact.get("Ruid"),
        "instance": contact.get("Instance") or "",
        "reg_id": contact.get("Reg-Id"),
        "last_keepalive": contact.get("Last-Keepalive"),
        "last_modified": contact.get("Last-Modified"),
    }


def parse_ul_dump(result, include_deleted=False):
    """``ul.dump`` result -> list of contact records (pure, for tests and re-use).

    A contact that unregistered stays in the dump as ``Expires: deleted`` until usrloc's timer purges it
    (up to ``timer_interval`` seconds): it is not registered, and is left out unless ``include_deleted``.
    """
    records = []
    for domain in (result or {}).get("Domains", []) or []:
        dom = domain.get("Domain", domain)
        for aor_entry in dom.get("AoRs", []) or []:
            info = aor_entry.get("Info", aor_entry)
            aor = info.get("AoR")
            for contact_entry in info.get("Contacts", []) or []:
                contact = contact_entry.get("Contact", contact_entry)
                if not include_deleted and str(contact.get("Expires")).lower() == "deleted":
                    continue
                records.append(_contact_record(aor, contact))
    return records


_DLG_STATES = {1: "early", 2: "early", 3: "confirmed", 4: "confirmed"}


def parse_dlg_list(result):
    """``dlg.list`` result -> the calls in progress (pure): [{call_id, state, start, caller, callee}]; ended dialogs
    (state 5) are left out."""
    calls = []
    for dlg in result or []:
        try:
            state = _DLG_STATES.get(int(dlg.get("state")))
        except (TypeError, ValueError):
            state = None
        if state is None:
            continue
        caller, callee = dlg.get("caller") or {}, dlg.get("callee") or {}
        calls.append({"call_id": dlg.get("call-id"), "state": state, "start": dlg.get("start_ts") or dlg.get("init_ts"),
                      "caller": {"aor": dlg.get("from_uri"), "contact": caller.get("contact") or None},
                      "callee": {"aor": dlg.get("to_uri"), "contact": callee.get("contact") or None}})
    return calls


def parse_dispatcher_list(result):
    """``dispatcher.list`` result -> list of gateway records (pure)."""
    gateways = []
    for rec in (result or {}).get("RECORDS", []) or []:
        dset = rec.get("SET", rec)
        setid = dset.get("ID")
        for target in dset.get("TARGETS", []) or []:
            dest = target.get("DEST", target)
            flags = str(dest.get("FLAGS", ""))
            attrs = dest.get("ATTRS") or {}
            latency = dest.get("LATENCY") or {}
            gateways.append({
                "setid": setid,
                "uri": dest.get("URI"),
                "flags": flags,
                "state": _DS_STATE.get(flags[:1], "unknown"),
                "probing": flags[1:2] == "P",
                "priority": dest.get("PRIORITY"),
                "duid": attrs.get("DUID") or "",
                "attrs": attrs.get("BODY") or "",
                "latency_avg_ms": latency.get("AVG"),
                "latency_timeouts": latency.get("TIMEOUT"),
            })
    return gateways


def parse_stats(result, wanted=KEY_STATS):
    """``stats.fetch ["all"]`` result (``{"group.name": "value"}``) -> {name: int} for the statistics people read."""
    stats = {}
    flat = result or {}
    for name, value in flat.items():
        group = name.split(".", 1)[0]
        if name in wanted or ("%s.*" % group) in wanted:
            try:
                stats[name] = int(value)
            except (TypeError, ValueError):
                stats[name] = value
    return stats


#: stats.fetch name -> where it goes in the normalised counters (one rule per counter; audit/kpi.py reads them)
COUNTER_RULES = (
    (re.compile(r"^registrar\.accepted_regs$"), lambda m: ("registrations", "accepted")),
    (re.compile(r"^registrar\.rejected_regs$"), lambda m: ("registrations", "rejected")),
    # the statistics module's script counters of a gateway group (the lab's kamailio.cfg, "KPI statistics")
    (re.compile(r"^script\.gw(\d+)_(invites|[2-6]xx|[3-6]\d\d|noroute)$"),
     lambda m: ("gateway_groups", m.group(1), m.group(2))),
)


def parse_counters(result, rules=COUNTER_RULES):
    """``stats.fetch ["all"]`` result -> the normalised counters the health audit's KPIs are computed from:
    ``{"registrations": {"accepted", "rejected"}, "gateway_groups": {set id: {"invites", "2xx", ..., "486", ...}}}``.
    A counter the callserver does not have is left out (its KPIs are then not measured)."""
    counters = {"registrations": {}, "gateway_groups": {}}
    for name, value in sorted((result or {}).items()):
        for pattern, place in rules:
            match = pattern.match(name)
            if not match:
                continue
            try:
                value = int(value)
            except (TypeError, ValueError):
                break
            node = counters
            path = place(match)
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = value
            break
    return counters


class KamailioRPC(object):
    """A JSON-RPC 2.0 client for Kamailio's jsonrpcs module over HTTP."""

    _ids = itertools.count(1)

    def __init__(self, url, timeout=5.0, validate_certs=True, session=None):
        if not HAS_REQUESTS:
            raise KamailioError("the Python library 'requests' is required to talk to Kamailio")
        self.url = url
        self.timeout = float(timeout)
        self.validate_certs = validate_certs
        import requests  # pylint: disable=import-outside-toplevel
        self._requests = requests
        self.session = session or requests.Session()

    def call(self, method, *params):
        """Call one RPC method; returns its ``result`` or raises KamailioError."""
        requests = self._requests
        payload = {"jsonrpc": "2.0", "method": method, "id": next(self._ids)}
        where = mask_url(self.url)
        if params:
            payload["params"] = list(params)
        try:
            resp = self.session.post(self.url, data=json.dumps(payload),
                                     headers={"Content-Type": "application/json"},
                                     timeout=self.timeout, verify=self.validate_certs)
        except requests.exceptions.Timeout:
            raise KamailioError("Kamailio JSON-RPC at %s did not answer %s within %.1f s: check that Kamailio runs "
                                "and that xhttp/jsonrpcs listen there" % (where, method, self.timeout),
                                url=self.url, method=method)
        except requests.exceptions.ConnectionError as exc:
            raise KamailioError("cannot connect to Kamailio JSON-RPC at %s (%s): is Kamailio running and is this "
                                "the right host and port?" % (where, _short_reason(exc)), url=self.url, method=method)
        except requests.exceptions.RequestException as exc:
            raise KamailioError("Kamailio JSON-RPC at %s failed: %s" % (where, exc), url=self.url, method=method)
        try:
            body = resp.json()
        except ValueError:
            raise KamailioError("Kamailio JSON-RPC at %s answered %s with HTTP %d and no JSON body (is this the /RPC "
                                "path of jsonrpcs?)" % (where, method, resp.status_code),
                                url=self.url, method=method, code=resp.status_code)
        if isinstance(body, dict) and body.get("error"):
            err = body["error"]
            raise KamailioError("Kamailio JSON-RPC %s at %s failed: %s %s" % (
                method, where, err.get("code", ""), err.get("message", err)),
                url=self.url, method=method, code=err.get("code"))
        if resp.status_code >= 400:
            raise KamailioError("Kamailio JSON-RPC at %s answered %s with HTTP %d" % (
                where, method, resp.status_code), url=self.url, method=method, code=resp.status_code)
        return body.get("result") if isinstance(body, dict) else body

    # ---- read helpers --------------------------------------------------------------------
    def version(self):
        return self.call("core.version")

    def uptime(self):
        return self.call("core.uptime")

    def statistics(self):
        return parse_stats(self.call("stats.fetch", "all"))

    def statistics_and_counters(self):
        """One ``stats.fetch all``: the key statistics and the normalised KPI counters."""
        raw = self.call("stats.fetch", "all")
        return parse_stats(raw), parse_counters(raw)

    def registrations(self):
        """Every registered contact (``ul.dump``), without those awaiting purge."""
        return parse_ul_dump(self.call("ul.dump"))

    def dispatcher(self):
        try:
            return parse_dispatcher_list(self.call("dispatcher.list"))
        except KamailioError as exc:
            # Kamailio answers an error when dispatcher has no destinations loaded.
            if "No Destination Sets" in str(exc) or "no destination" in str(exc).lower():
                return []
            raise

    def active_calls(self):
        """The calls in progress (``dlg.list``); a Kamailio without the dialog module raises a KamailioError saying so."""
        try:
            return parse_dlg_list(self.call("dlg.list"))
        except KamailioError as exc:
            if "not found" in str(exc).lower():
                raise KamailioError("Kamailio at %s does not track calls: load the dialog module and call dlg_manage() "
                                    "on initial INVITEs (docs/release_rollout.md, Phones in a call)"
                                    % mask_url(self.url), url=self.url, method="dlg.list", code=exc.code)
            raise

    def unregister_contact(self, aor, contact, table="location"):
        """Drop one contact of an AoR (``ul.rm_contact``), leaving its other devices registered."""
        return self._remove("ul.rm_contact", table, aor, contact)

    def unregister(self, aor, table="location"):
        """Drop every live contact of an AoR (``ul.rm``).  Returns True if there was one."""
        return self._remove("ul.rm", table, aor)

    def _remove(self, method, *params):
        try:
            self.call(method, *params)
            return True
        except KamailioError as exc:
            if exc.code in (404, "404") or "not found" in str(exc).lower():
                return False
            raise


DEFAULT_BINARY = "/usr/sbin/kamailio"
DS_SET_STATE = {"active": "ap", "inactive": "ip", "disabled": "d"}


def options_answered(sip_uri, timeout=1.0):
    """True when ``sip_uri`` answers a SIP OPTIONS (any final response: the server is up and routing)."""
    from ansible_collections.voipops.voip.plugins.module_utils import sip
    res = sip.run_sync(sip.probe_many([sip_uri], timeout=timeout, bind_host="127.0.0.1" if "127.0.0.1" in sip_uri
                                      else "0.0.0.0"))[0]
    return bool(res.get("reachable") and res.get("code"))


def _short_reason(exc):
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "No route to host", "timed out"):
        if marker in text:
            return marker
    return text.rsplit(":", maxsplit=1)[-1].strip()[:120] or exc.__class__.__name__


class KamailioDriver(CallserverDriver):
    """The callserver driver for Kamailio: JSON-RPC for the live state, Kamailio's tables for the users."""

    platform = "kamailio"

    def __init__(self, **conn):
        super(KamailioDriver, self).__init__(**conn)
        self._rpc = None
        self._db = None

    @property
    def rpc(self):
        """The JSON-RPC client (made on first use: user data alone needs no RPC)."""
        if self._rpc is None:
            if not self.rpc_url:
                raise KamailioError("this needs Kamailio's JSON-RPC: set rpc_url (or VOIPOPS_CALLSERVER_RPC_URL), "
                                    "for example http://127.0.0.1:5071/RPC")
            self._rpc = KamailioRPC(self.rpc_url, timeout=self.timeout, validate_certs=self.validate_certs)
        return self._rpc

    def info(self, gather=("version", "uptime", "statistics", "registrations", "gateways")):
        """One consistent read of the callserver's state, for callserver_info and the health audit."""
        try:
            return self._info(set(gather))
        except (AttributeError, TypeError, KeyError, ValueError) as exc:
            # a JSON-RPC service that is not Kamailio answers, but not in Kamailio's shapes
            raise KamailioError("the service at %s answers JSON-RPC but not like Kamailio (%s: %s): is rpc_url "
                                "Kamailio's /RPC endpoint (modules jsonrpcs and xhttp)?"
                                % (mask_url(self.rpc.url), type(exc).__name__, exc), url=self.rpc.url)

    def _info(self, gather):
        facts = {"platform": self.platform, "rpc_url": mask_url(self.rpc.url)}
        if "version" in gather:
            facts["version"] = (self.rpc.version() or "").strip()
        if "uptime" in gather:
            up = self.rpc.uptime()
            facts["uptime_seconds"] = int(up.get("uptime", 0)) if isinstance(up, dict) else None
            facts["started"] = up.get("now") if isinstance(up, dict) else None
        if "statistics" in gather:
            facts["statistics"], facts["counters"] = self.rpc.statistics_and_counters()
        if "registrations" in gather:
            contacts = self.rpc.registrations()
            aors = {}
            for c in contacts:
                aors.setdefault(c["aor"], []).append(c)
            facts["registrations"] = {
                "contacts": len(contacts),
                "aors": len(aors),
                "by_aor": aors,
            }
        if "gateways" in gather:
            gws = self.rpc.dispatcher()
            facts["gateways"] = gws
            facts["gateways_summary"] = {
                "total": len(gws),
                "active": sum(1 for g in gws if g["state"] == "active"),
                "inactive": sum(1 for g in gws if g["state"] == "inactive"),
                "disabled": sum(1 for g in gws if g["state"] == "disabled"),
            }
        return facts

    def registrations(self):
        return self.rpc.registrations()

    def dispatcher(self):
        return self.rpc.dispatcher()

    def unregister(self, aor):
        return self.rpc.unregister(aor)

    def active_calls(self):
        return self.rpc.active_calls()

    # --- user mutations: users in Kamailio's tables (kamailio_db.KamailioDB is this driver's storage layer) ---
    def users_db(self):
        """The SQL side of this driver for the users of ``domain`` (opened once; read-only when ``read_only``)."""
        if self._db is None:
            from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio_db import KamailioDB
            if not self.db_url:
                raise KamailioError("user data needs the Kamailio database: set db_url (or VOIPOPS_CALLSERVER_DB_URL), "
                                    "sqlite:////abs/kamailio.db or postgres://user:password@host:port/db")
            if not self.domain:
                raise KamailioError("user data needs the SIP domain (and digest realm) of the users: set domain "
                                    "(or VOIPOPS_CALLSERVER_DOMAIN)")
            self._db = KamailioDB(self.db_url, self.domain, write=not self.read_only)
        return self._db

    def read_users(self, now=None):
        """All managed users (and cooling, unmanaged numbers) in one read; see KamailioDB.read_users."""
        return self.users_db().read_users(now=now)

    def apply(self, plan, run, before_commit=None):
        """Apply a plan in ONE transaction (registrations it made obsolete are recorded for flush_registrations);
        ``before_commit(credentials)`` stores the generated passwords before COMMIT (see the interface)."""
        return self.users_db().apply(plan, run, before_commit=before_commit)

    def can_flush(self):
        return bool(self.rpc_url)

    def flush_registrations(self, aors):
        """Drop the live registrations of ``aors`` (``ul.rm``); returns those that had contacts."""
        return self.users_db().flush_registrations(aors, rpc=self.rpc)

    def lock(self, run, ttl=3600):
        return self.users_db().lock(run, ttl=ttl)

    def unlock(self, run):
        return self.users_db().unlock(run)

    def journal_rows(self):
        return self.users_db().journal_rows()

    def set_gateway_state(self, setid, uri, state):
        """``dispatcher.set_state``: active -> ``ap`` (active, probed), inactive -> ``ip``, disabled -> ``d`` (not
        probed, so OPTIONS answers cannot bring it back while it is drained; README.dispatcher 5.6)."""
        flags = DS_SET_STATE[state]
        self.rpc.call("dispatcher.set_state", flags, int(setid), uri)
        return flags

    # --- configuration releases: kamailio -c, a trial start of the candidate, the live instance's health ---
    def sip_uri_of_config(self, text):
        from ansible_collections.voipops.voip.plugins.module_utils.callservers import kamailio_config
        return kamailio_config.sip_uri_of(text)

    def check_config(self, text, live_path, binary=None):
        """``kamailio -c`` on the candidate, written beside the live file (relative includes resolve as live)."""
        import os
        import tempfile
        from ansible_collections.voipops.voip.plugins.module_utils.callservers import kamailio_config
        directory = os.path.dirname(os.path.abspath(live_path))
        if not os.path.isdir(directory):
            raise KamailioError("the directory of %s does not exist: is path the live configuration file of this "
                                "host?" % live_path)
        fd, path = tempfile.mkstemp(prefix=".candidate-", suffix=".cfg", dir=directory)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            return kamailio_config.check(binary or DEFAULT_BINARY, path)
        finally:
            os.unlink(path)

    def trial_start(self, text, live_path, binary=None, timeout=15.0):
        """Start the candidate beside the live instance (spare loopback ports, private run_dir, database copies)
        and wait until it answers ``core.version`` and OPTIONS (see kamailio_config.trial_start)."""
        import os
        from ansible_collections.voipops.voip.plugins.module_utils.callservers import kamailio_config
        rpc_port = urlsplit(self.rpc_url).port if self.rpc_url else None

        def ready(rpc_url, sip_uri):
            pending = []
            if rpc_url:
                try:
                    KamailioRPC(rpc_url, timeout=1.0).version()
                except KamailioError as exc:
                    pending.append("JSON-RPC: %s" % exc)
            if sip_uri and not options_answered(sip_uri, timeout=0.5):
                pending.append("no answer to OPTIONS at %s" % sip_uri)
            return pending

        return kamailio_config.trial_start(binary or DEFAULT_BINARY, os.path.dirname(os.path.abspath(live_path)),
                                           text, rpc_port, ready, timeout=timeout)

    def health(self, sip_uri, timeout=2.0, rpc=True):
        out = {"rpc": None, "options": None, "registrations": None, "errors": []}
        if rpc:
            try:
                out["rpc"] = False
                KamailioRPC(self.rpc_url, timeout=timeout, validate_certs=self.validate_certs).version()
                out["rpc"] = True
                out["registrations"] = len(self.rpc.registrations())
            except KamailioError as exc:
                out["errors"].append(str(exc))
        if sip_uri:
            out["options"] = options_answered(sip_uri, timeout=timeout)
            if not out["options"]:
                out["errors"].append("no answer to OPTIONS at %s" % sip_uri)
        return out

    def close(self):
        if self._db is not None:
            self._db.close()
            self._db = None
