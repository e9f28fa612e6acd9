# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The evidence of each triage step, gathered through the existing drivers and readers (the package's only I/O).

- the callserver through its driver (``callservers/base.get_driver``): ``read_users`` (profile, cooling),
  ``registrations``, ``dispatcher``, ``journal_rows``;
- the estate (``estate.load_estate``, live ports overlaid from an endpoints file);
- the provisioning files through the vendor profiles (``handsets/base.get_profile``: file names, ``parse_config``);
- the provisioning server's access log (:mod:`.accesslog`);
- registrations paired with the estate by the ONE matcher (``handsets/registrations.match``);
- SIP OPTIONS through ``sip.probe_many``;
- the mutation journal (the driver's ``journal_rows``, and the JSON-lines export of ``journal.py`` when given), the
  last audit JSON report and release records (files), when given.

What a step needs and cannot read is recorded as ``checked: false`` with the reason, never guessed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import ipaddress
import json
import os

from ansible_collections.voipops.voip.plugins.module_utils import journal
from ansible_collections.voipops.voip.plugins.module_utils.callservers.base import DriverError
from ansible_collections.voipops.voip.plugins.module_utils.diagnose.accesslog import AccessLog
from ansible_collections.voipops.voip.plugins.module_utils.handsets import base as hbase
from ansible_collections.voipops.voip.plugins.module_utils.handsets import fleet
from ansible_collections.voipops.voip.plugins.module_utils.handsets import registrations as hreg

UTC = datetime.timezone.utc


def _iso(when):
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if when else None


def contact_address(reg):
    """Where a registered device is reachable (received address, else the contact's host:port): the fleet's rule."""
    return fleet._address(reg)  # pylint: disable=protected-access  # one rule, kept in handsets/fleet.py


class TargetError(ValueError):
    """The extension, employee id, MAC or handset asked for is not known anywhere."""


class Gatherer(object):
    """Evidence of one triage run.  ``driver`` may be None (then callserver evidence is ``checked: false``)."""

    def __init__(self, estate, driver=None, now=None, provisioning_root=None, access_log=None, sip_timeout=2.0,
                 audit_report=None, release_records=None, changes_days=14, sip_options=True, audit_log=None,
                 test_call=None):
        self.estate = estate
        self.driver = driver
        self.now = now or datetime.datetime.now(UTC).replace(microsecond=0)
        self.provisioning_root = provisioning_root
        self.access_log = access_log
        self.sip_timeout = sip_timeout
        self.audit_report = audit_report
        self.release_records = release_records or []
        self.changes_days = changes_days
        self.sip_options = sip_options
        self.audit_log = audit_log
        # {proxy, domain, username, password, ring_timeout, hold}: the test-call account, or None (no test call)
        self.test_call = test_call
        self._snapshot = None
        self._snapshot_error = None
        self._contacts = None
        self._contacts_error = None
        self._log = None

    # ------------------------------------------------------------------ shared reads (once each)
    def snapshot(self):
        if self._snapshot is None and self._snapshot_error is None:
            if self.driver is None or not getattr(self.driver, "db_url", None):
                self._snapshot_error = "no callserver database (db_url) given"
            else:
                try:
                    self._snapshot = self.driver.read_users(now=self.now)
                except DriverError as exc:
                    self._snapshot_error = str(exc)
        return self._snapshot

    def contacts(self):
        if self._contacts is None and self._contacts_error is None:
            if self.driver is None or not getattr(self.driver, "rpc_url", None):
                self._contacts_error = "no callserver management API (rpc_url) given"
            else:
                try:
                    self._contacts = self.driver.registrations()
                except DriverError as exc:
                    self._contacts_error = str(exc)
        return self._contacts

    # ------------------------------------------------------------------ the target
    def target(self, extension=None, employee_id=None, mac=None, handset=None):
        """Resolve what was asked for into {by, value, extension, employee_id, handset} (TargetError when unknown)."""
        handsets = self.estate.handsets
        found = None
        if handset:
            by, value = "handset", handset
            found = self.estate.component(handset)
            if found is None or found["type"] != "handset":
                raise TargetError("the estate has no handset named '%s'" % handset)
            extension = found.get("user")
        elif mac:
            by, value = "mac", mac
            try:
                norm = hreg.normalize_mac(mac)
            except ValueError as exc:
                raise TargetError("mac: %s" % exc)
            found = self.estate.handset_by_mac().get(norm)
            if found is None:
                raise TargetError("the estate has no handset with MAC %s" % norm)
            extension = found.get("user")
        elif employee_id:
            by, value = "employee_id", employee_id
            snap = self.snapshot()
            if snap is None:
                raise TargetError("employee id %s: the callserver's users cannot be read (%s)" % (employee_id, self._snapshot_error))
            user = [u for u in snap.users if u["id"] == employee_id]
            if not user:
                cooled = [n for n, c in snap.cooling.items() if c.get("employee_id") == employee_id]
                if not cooled:
                    raise TargetError("no user with employee id %s on the callserver" % employee_id)
                extension = cooled[0]
            else:
                extension = user[0]["extension"]
        elif extension:
            by, value = "extension", extension
        else:
            raise TargetError("give one of extension, employee_id, mac or handset")
        extension = str(extension) if extension not in (None, "") else None
        if found is None and extension:
            mine = [h for h in handsets if h.get("user") == extension]
            found = mine[0] if mine else None
        return {"by": by, "value": value, "extension": extension, "employee_id": employee_id if by == "employee_id" else None,
                "handset": found["name"] if found else None}

    # ------------------------------------------------------------------ 1. profile
    def profile(self, ev):
        ext = ev["target"]["extension"]
        snap = self.snapshot()
        if snap is None:
            return {"checked": False, "reason": self._snapshot_error}
        if not ext:
            return {"checked": True, "user": None, "subscriber": False, "cooling": None}
        user = [u for u in snap.users if u["extension"] == ext or ext in (u.get("aliases") or [])]
        if user and not ev["target"].get("employee_id"):
            ev["target"]["employee_id"] = user[0]["id"]
        if user and user[0]["extension"] != ext:   # asked by an alias (a DID): the rest is about the extension
            ev["target"]["alias"], ev["target"]["extension"] = ext, user[0]["extension"]
            if not ev["target"].get("handset"):
                mine = [h for h in self.estate.handsets if h.get("user") == user[0]["extension"]]
                if mine:
                    ev["target"]["handset"] = mine[0]["name"]
                    ev["handset"] = self.handset_record(mine[0]["name"])
        return {"checked": True, "user": user[0] if user else None, "subscriber": ext in snap.unmanaged,
                "cooling": snap.cooling.get(ext)}

    # ------------------------------------------------------------------ 2. handset
    def handset_record(self, name):
        comp = self.estate.component(name) if name else None
        if comp is None:
            return None
        keys = ("name", "vendor", "model", "mac", "site", "user", "address", "maintainer")
        return dict((k, comp.get(k)) for k in keys)

    def provisioning(self, h, ext):
        if not self.provisioning_root:
            return {"checked": False, "reason": "no provisioning root given"}
        profile = hbase.get_profile(h.get("vendor"))
        if profile is None:
            return {"checked": False, "reason": "no vendor profile for '%s'" % h.get("vendor")}
        mac = h.get("mac")
        if not mac:
            return {"checked": False, "reason": "the estate has no MAC for %s" % h["name"]}
        model = profile.canonical_model(h.get("model")) or h.get("model")
        ctx = {"handset": {"name": h["name"], "mac": mac, "mac_hex": hreg.mac_hex(mac), "mac_hex_upper": hreg.mac_hex(mac, True),
                           "model": model, "vendor": profile.vendor, "site": h.get("site")}}
        files = []
        for fname, _template in profile.device_files(ctx):
            path = os.path.join(self.provisioning_root, fname)
            rec = {"name": fname, "present": os.path.isfile(path)}
            if rec["present"]:
                rec["mtime"] = _iso(datetime.datetime.fromtimestamp(os.path.getmtime(path), UTC))
                try:
                    with open(path, "r") as handle:
                        parsed = profile.parse_config({fname: handle.read()})
                    rec["username"] = parsed.get("username") or parsed.get("auth_user")
                except (IOError, OSError, ValueError) as exc:
                    rec["error"] = str(exc)
            files.append(rec)
        # a vendor that splits the account over several files: the account is in one of them
        known_user = [f for f in files if f.get("username")]
        if known_user:
            for f in files:
                f.setdefault("username", None)
        out = {"checked": True, "root": self.provisioning_root, "files": files, "last_ok": None, "fetches": 0,
               "unknown": [], "log_start": None}
        if not self.access_log:
            out["log"] = "no access log given"
            return out
        try:
            log = self._log or AccessLog.read(self.access_log, names=[f["name"] for f in files], macs=[hreg.mac_hex(mac)])
        except (IOError, OSError) as exc:
            out["log"] = "cannot read %s: %s" % (self.access_log, exc)
            return out
        self._log = log
        out["log"] = self.access_log
        out["log_start"] = _iso(log.first)
        fetches = log.fetches([f["name"] for f in files])
        out["fetches"] = len(fetches)
        ok = [r for r in fetches if r["status"] in (200, 304)]
        last = ok[-1] if ok else None
        if last:
            out["last_ok"] = {"time": _iso(last["time"]), "addr": last["addr"], "path": last["path"],
                              "status": last["status"], "user_agent": last["user_agent"]}
        known = set(hreg.mac_hex(m) for m in self.estate.handset_by_mac() if m)
        site = self.estate.sites.get(h.get("site")) or {}
        out["unknown"] = unknown_devices(log.records, known, profile.vendor, last["time"] if last else None,
                                         site.get("subnets"))
        return out

    def handset(self, ev):
        h = self.handset_record(ev["target"]["handset"])
        ev["handset"] = h
        if h is None:
            return
        ev["provisioning"] = self.provisioning(h, ev["target"]["extension"])
        running, source = None, None
        regs = self.registration(ev)
        own = [c for c in regs.get("contacts") or [] if c.get("handset") == h["name"] and c.get("firmware")]
        if own:
            running, source = own[0]["firmware"], "the User-Agent of its registration"
        else:
            last = (ev["provisioning"] or {}).get("last_ok")
            ua = hreg.parse_user_agent(last["user_agent"]) if last else None
            if ua and ua.get("firmware"):
                running, source = ua["firmware"], "the User-Agent of its last provisioning fetch (%s)" % last["time"]
        ev["firmware"] = {"running": running, "source": source,
                          "approved": self.estate.approved_versions(h.get("vendor"), h.get("model"))}

    # ------------------------------------------------------------------ 3. registration
    def registration(self, ev):
        if ev.get("registrations") is not None:
            return ev["registrations"]
        contacts = self.contacts()
        if contacts is None:
            ev["registrations"] = {"checked": False, "reason": self._contacts_error}
            return ev["registrations"]
        ext = ev["target"]["extension"]
        mine = [c for c in contacts if hreg.aor_user(c.get("aor")) == ext]
        out = []
        for pair in hreg.match(self.estate.handsets, mine):
            c, ua = pair["contact"], pair["ua"]
            try:
                expires = int(c.get("expires"))
            except (TypeError, ValueError):
                expires = None
            out.append({"aor": c.get("aor"), "contact": c.get("contact"), "address": contact_address(c),
                        "user_agent": c.get("user_agent") or "", "expires": expires, "vendor": ua.get("vendor"),
                        "model": ua.get("model"), "firmware": ua.get("firmware"), "mac": ua.get("mac"),
                        "handset": pair["handset"]["name"] if pair["handset"] else None,
                        "differences": pair["differences"]})
        ev["registrations"] = {"checked": True, "contacts": out}
        return ev["registrations"]

    # ------------------------------------------------------------------ 4. reachability
    def reachability(self, ev):
        regs = self.registration(ev)
        if not self.sip_options:
            return {"checked": False, "reason": "OPTIONS switched off (options: false)"}
        contacts = regs.get("contacts") or []
        name = (ev.get("handset") or {}).get("name")
        own = [c for c in contacts if c.get("handset") == name and not c.get("differences")] if name else contacts
        if not own:
            return {"checked": False, "reason": "no registered contact of this handset"}
        from ansible_collections.voipops.voip.plugins.module_utils import sip
        specs = [{"uri": c["contact"], "dest": c["address"]} if c.get("address") else c["contact"] for c in own]
        results = sip.run_sync(sip.probe_many(specs, timeout=self.sip_timeout, concurrency=len(specs)))
        keys = ("target", "status", "reachable", "code", "reason", "rtt_ms", "user_agent", "error")
        return {"checked": True, "results": [dict((k, r.get(k)) for k in keys) for r in results]}

    def call(self, ev):
        """A test call to the extension through the callserver (``sip_call``), when a test-call account is given and
        the registered contact answered OPTIONS (or OPTIONS were not sent)."""
        tc = self.test_call
        if not tc or not tc.get("username"):
            return {"checked": False, "reason": "no test-call account configured (test_call_username, or "
                                                "VOIPOPS_TEST_CALL_USERNAME / VOIPOPS_TEST_CALL_PASSWORD)"}
        if not tc.get("proxy"):
            return {"checked": False, "reason": "no callserver SIP address to call through (test_call_proxy)"}
        ext = ev["target"].get("extension")
        if not ext:
            return {"checked": False, "reason": "no extension to call"}
        opt = ev.get("options") or {}
        if opt.get("checked") and not any(r.get("reachable") for r in opt.get("results") or []):
            return {"checked": False, "reason": "the registered contact does not answer OPTIONS"}
        from ansible_collections.voipops.voip.plugins.module_utils import sip_call
        try:
            out = sip_call.run_calls(targets=[ext], proxy=tc["proxy"], domain=tc.get("domain") or self.estate.domain,
                                     username=tc["username"], password=tc.get("password"),
                                     ring_timeout=tc.get("ring_timeout") or 8.0, hold=tc.get("hold") or 0.5)
        except sip_call.CallError as exc:
            return {"checked": False, "reason": str(exc)}
        return {"checked": True, "from": tc["username"], "via": tc["proxy"], "ring_timeout": tc.get("ring_timeout") or 8.0,
                "call": out["calls"][0]}

    # ------------------------------------------------------------------ 5. path
    def path(self, ev):
        h = ev.get("handset")
        ext = ev["target"]["extension"]
        site = (h or {}).get("site") or (self.estate.site_for_number(ext) if ext else None)
        comps = set(self.estate.ancestors(h["name"])) if h else set()
        gateways = [c for c in self.estate.of_type("gateway") if c.get("site") == site or c["name"] in comps]
        for gw in gateways:
            comps.add(gw["name"])
            comps.update(self.estate.ancestors(gw["name"]))
        out = {"site": site, "components": sorted(comps), "gateways": [], "tickets": []}
        dispatcher, dispatcher_error = {}, None
        if gateways and self.driver is not None and getattr(self.driver, "rpc_url", None):
            try:
                for d in self.driver.dispatcher():
                    dispatcher[_hostport(d.get("uri"))] = d.get("state")
            except DriverError as exc:
                dispatcher_error = str(exc)
        targets = []
        for gw in sorted(gateways, key=lambda g: g["name"]):
            port = gw.get("sip_port") or 5060
            rec = {"name": gw["name"], "address": gw.get("address"), "sip_port": port, "maintainer": gw.get("maintainer"),
                   "dispatcher": dispatcher.get("%s:%s" % (gw.get("address"), port)), "options": None}
            if dispatcher_error:
                rec["dispatcher_error"] = dispatcher_error
            out["gateways"].append(rec)
            if gw.get("address") and self.sip_options:
                targets.append("sip:%s:%s" % (gw["address"], port))
        if targets:
            from ansible_collections.voipops.voip.plugins.module_utils import sip
            results = sip.run_sync(sip.probe_many(targets, timeout=self.sip_timeout, concurrency=len(targets)))
            for rec, res in zip([g for g in out["gateways"] if g.get("address")], results):
                rec["options"] = res["status"]
                rec["options_code"] = res.get("code")
        if self.audit_report:
            out["tickets"] = open_tickets(_read_json(self.audit_report), comps | ({h["name"]} if h else set()))
        return out

    # ------------------------------------------------------------------ 6. changes
    def changes(self, ev):
        since = self.now - datetime.timedelta(days=self.changes_days)
        out = {"since": _iso(since), "journal": [], "releases": []}
        ext = ev["target"]["extension"]
        emp = ev["target"].get("employee_id")
        h = ev.get("handset") or {}
        rows = []
        if self.driver is not None and getattr(self.driver, "db_url", None):
            try:
                rows = list(self.driver.journal_rows())
            except DriverError as exc:
                out["journal_error"] = str(exc)
        else:
            out["journal_error"] = "no callserver database (db_url) given"
        if self.audit_log:
            # the journal exported by callserver_users (audit_log): the same rows, also after the database moved on
            seen = set((r.get("id"), r.get("when"), r.get("what")) for r in rows)
            rows.extend(r for r in journal.read(self.audit_log) if (r.get("id"), r.get("when"), r.get("what")) not in seen)
            out.pop("journal_error", None)
        out["journal"] = journal_touching(rows, ext, emp, since)
        words = [w for w in (h.get("name"), h.get("mac"), ext) if w]
        for path in self.release_records:
            out["releases"].extend(records_touching(_read_records(path), words, since))
        return out


def unknown_devices(records, known_macs, vendor, after=None, subnets=None):
    """Failed requests of MAC-named files by devices the estate does not know: a replacement phone asking for its
    files (pure).  Kept: an unknown MAC, a User-Agent of ``vendor`` (or none recognised), after ``after`` (the estate
    phone's last good fetch), from an address in ``subnets`` (the site's, when it has any)."""
    networks = []
    for net in subnets or []:
        try:
            networks.append(ipaddress.ip_network(str(net), strict=False))
        except ValueError:
            continue
    out = []
    for r in records:
        if r["status"] < 400 or not r.get("mac_hex") or r["mac_hex"] in known_macs:
            continue
        if after is not None and r["time"] <= after:
            continue   # before the estate's phone last fetched its file: not its replacement
        if networks:
            try:
                addr = ipaddress.ip_address(r["addr"])
            except ValueError:
                addr = None
            if addr is not None and not any(addr in n for n in networks):
                continue
        ua = hreg.parse_user_agent(r["user_agent"]) or {}
        if ua.get("vendor") and ua["vendor"] != vendor:
            continue
        mac_text = ":".join(r["mac_hex"][i:i + 2] for i in range(0, 12, 2))
        out.append({"mac": mac_text, "time": _iso(r["time"]), "path": r["path"], "status": r["status"],
                    "addr": r["addr"], "user_agent": r["user_agent"], "vendor": ua.get("vendor"), "model": ua.get("model")})
    return out


def _hostport(uri):
    text = str(uri or "")
    if text.startswith(("sip:", "sips:")):
        text = text.split(":", 1)[1]
    return text.split(";", 1)[0].split("@", 1)[-1]


def _read_json(path):
    try:
        with open(path, "r") as handle:
            return json.load(handle)
    except (IOError, OSError, ValueError):
        return {}


def _read_records(path):
    """Release records: a JSON document (a list, or a dict with ``records``/``waves``), JSON lines, or a directory of them."""
    if os.path.isdir(path):
        out = []
        for name in sorted(os.listdir(path)):
            if name.endswith((".json", ".jsonl")):
                out.extend(_read_records(os.path.join(path, name)))
        return out
    try:
        with open(path, "r") as handle:
            text = handle.read()
    except (IOError, OSError):
        return []
    try:
        data = json.loads(text)
    except ValueError:
        data = []
        for line in text.splitlines():
            try:
                data.append(json.loads(line))
            except ValueError:
                continue
    if isinstance(data, dict):
        data = data.get("records") or data.get("waves") or [data]
    return [d for d in data if isinstance(d, dict)]


def open_tickets(audit, components):
    """Tickets (root findings) of an audit report whose component is one of ``components`` (pure)."""
    findings = dict((f.get("id"), f) for f in (audit or {}).get("findings") or [])
    keys = ("id", "component", "kind", "severity", "priority", "summary", "supplier", "site", "first_seen",
            "response_due", "resolve_due", "availability", "check")
    out = []
    for tid in (audit or {}).get("tickets") or []:
        f = findings.get(tid)
        if f and f.get("component") in components:
            rec = dict((k, f.get(k)) for k in keys)
            rec["audit"] = audit.get("generated_at")
            out.append(rec)
    return out


def journal_touching(rows, extension, employee_id, since):
    """Journal rows (``driver.journal_rows()``) of this employee or extension at or after ``since``, oldest first (pure)."""
    out = []
    for r in rows or []:
        try:
            when = datetime.datetime.fromisoformat(str(r.get("when")).replace("Z", "+00:00"))
        except ValueError:
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        if when < since:
            continue
        exts = set()
        for side in (r.get("before"), r.get("after")):
            if isinstance(side, dict):
                exts.add(str(side.get("extension")))
                exts.update(str(a) for a in side.get("aliases") or [])
        if (employee_id and r.get("employee_id") == employee_id) or (extension and extension in exts):
            out.append({"id": r.get("id"), "when": r.get("when"), "who": r.get("who"), "op": r.get("op"),
                        "employee_id": r.get("employee_id"), "what": r.get("what"), "run_id": r.get("run_id"),
                        "_at": when})
    out.sort(key=lambda r: (r["_at"], str(r["id"])))   # oldest first: the newest change is the last
    for r in out:
        del r["_at"]
    return out


def records_touching(records, words, since):
    """Release records that name one of ``words`` (handset name, MAC, extension) at or after ``since`` (pure)."""
    out = []
    for rec in records:
        when = rec.get("when") or rec.get("time") or rec.get("ts") or rec.get("finished_at") or rec.get("started_at")
        if when:
            try:
                at = datetime.datetime.fromisoformat(str(when).replace("Z", "+00:00"))
                if at.tzinfo is None:
                    at = at.replace(tzinfo=UTC)
                if at < since:
                    continue
            except ValueError:
                pass
        leaves = set(_norm_word(v) for v in _leaves(rec))
        hit = [w for w in words if w and _norm_word(w) in leaves]
        if hit:
            text = json.dumps(rec, sort_keys=True)
            out.append({"when": when, "summary": rec.get("summary") or rec.get("what") or rec.get("name") or text[:120],
                        "matched": hit})
    out.sort(key=lambda r: str(r.get("when") or ""))   # oldest first, like the journal
    return out


def _leaves(value):
    """Every scalar of a JSON document (strings and numbers), recursively."""
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    elif value is not None and not isinstance(value, bool):
        yield value


def _norm_word(value):
    """A whole value as compared: case-insensitive, a MAC in any notation as its 12 hex digits."""
    text = str(value).strip().lower()
    digits = text.replace(":", "").replace("-", "").replace(".", "")
    if len(digits) == 12 and all(c in "0123456789abcdef" for c in digits) and len(text) > 12:
        return digits
    return text
