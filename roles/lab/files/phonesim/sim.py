# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fleet of simulated desk phones in one asyncio process (part of the embedded lab, shipped with the lab role).

Every phone behaves as its vendor documents, using the vendor profile (``plugins/module_utils/handsets/<vendor>.py``)
to read its files and firmware names, :mod:`.vendors` for what only a simulated phone makes up (its User-Agents
and the files it asks for at boot) and ``plugins/module_utils/sip.py`` for SIP:

- boot: fetch its files over HTTP from the provisioning server, under its vendor's file names and with
  its vendor's HTTP User-Agent (so the nginx access log shows what a real phone would request);
- if its file points at another firmware than the one it runs: download the image, check size and
  SHA-256 against ``firmware/manifest.json``, unregister, "reboot" (pause) and come back on the new
  version; a bad image fails the check and the phone stays on its version;
- register to the registrar in its file with digest auth, a User-Agent carrying its firmware version,
  refresh before expiry; answer OPTIONS;
- on NOTIFY with its vendor's re-sync event: answer 200, re-fetch, and re-register when its account
  changed (or upgrade); on its reboot event: unregister, pause, boot again; other events: 489 Bad Event.

Failure injection (``failures`` in the fleet file), matched on vendor/model/target firmware:
``bad_image`` (download is corrupted: check fails, stays on the old version) and ``bricked``
(after the reboot into the new image the phone never comes back).

Command line (the lab starts it)::

    python roles/lab/files/phonesim --count 50 --config fleet.yml --state-dir .state/lab/phones
    python -m tools.phonesim ...          # the same, from a checkout (tools/phonesim runs this package)

writes ``phonesim.pid`` and, about once a second when anything changed, ``status.json`` in the state dir.
Each phone keeps its UDP port across restarts (``ports.json``), so a restarted fleet re-registers the same
contacts instead of leaving stale ones behind.

Calls (:mod:`.calls`, after the vendors' admin guides named there): a phone answers INVITEs by its answer mode
(``answer`` after a short ring, ``busy`` 486, ``noanswer`` 180 until CANCEL or timeout then 480, ``reject`` a given
code, ``dnd`` its vendor's DND code), handles ACK, BYE, CANCEL and re-INVITEs, places calls through its registrar
with digest auth, and shows ``in_call``/``calls`` in status.json.  A check-sync or reboot NOTIFY during a call is
answered 200 and deferred (``pending_update``) until the last call ends: Cisco MPP "upgrade only if all voice lines
are inactive", Poly UC Software (no reboot or update during an active call), Yealink (auto provisioning waits for
the phone to be idle).  Fleet file, per handset: ``answer_mode``, ``answer_code``, ``ring``.

Control (for tests that inject faults): :func:`control` drops a command file into ``<state-dir>/control/``;
the running simulator executes it and answers in a result file.  Commands: ``status``, ``stop`` (the phone
unregisters and stays silent), ``start`` (it boots again), ``firmware`` (it runs another version and
re-registers with the new User-Agent), ``add`` (an extra device, unknown to the estate, registers with given
credentials), ``remove``, ``answer_mode`` (name, mode, optional code and ring seconds), ``call`` (name, number,
optional duration and setup_timeout; returns once answered or refused, with ``call`` = its summary) and
``hangup`` (name, optional call_id).  CLI::

    python -m tools.phonesim ctl --state-dir D stop hs-1001
    python -m tools.phonesim ctl --state-dir D answer_mode hs-1001 busy
    python -m tools.phonesim ctl --state-dir D answer_mode hs-1001 reject --code 603
    python -m tools.phonesim ctl --state-dir D answer_mode hs-1001 noanswer --ring 5
    python -m tools.phonesim ctl --state-dir D call hs-1001 90001 --duration 30
    python -m tools.phonesim ctl --state-dir D hangup hs-1001
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import asyncio
import hashlib
import json
import os
import signal
import time
import traceback
import uuid

try:
    from urllib.parse import urljoin, urlsplit, unquote, quote
except ImportError:  # pragma: no cover
    from urlparse import urljoin, urlsplit  # type: ignore
    from urllib import unquote, quote  # type: ignore

try:
    import yaml
    HAS_YAML = True
    YAML_IMPORT_ERROR = None
except ImportError:  # pragma: no cover
    HAS_YAML = False
    YAML_IMPORT_ERROR = traceback.format_exc()

from ansible_collections.voipops.voip.plugins.module_utils.handsets import base, registrations
from ansible_collections.voipops.voip.plugins.module_utils import sip
from ansible_collections.voipops.voip.plugins.module_utils.fileio import atomic_write
from ansible_collections.voipops.voip.roles.lab.files.phonesim import calls, vendors

# vendor, model, OUI of the MACs we make up
FLEET_MIX = (
    ("yealink", "T54W", "80:5e:c0"),
    ("poly", "VVX450", "64:16:7f"),
    ("snom", "D785", "00:04:13"),
    ("grandstream", "GRP2614", "c0:74:ad"),
    ("cisco", "CP-8841-3PCC", "00:56:2b"),
    ("yealink", "T46S", "80:5e:c0"),
    ("poly", "Edge E450", "64:16:7f"),
    ("snom", "D735", "00:04:13"),
    ("grandstream", "GXP2170", "c0:74:ad"),
    ("cisco", "CP-7841-3PCC", "00:56:2b"),
)


def make_fleet(count, first_extension=1001, prefix="ph"):
    """A deterministic mix of ``count`` handsets across the vendors, each on its family's default firmware.

    Returns [{name, mac, vendor, model, user, running_firmware}] usable both as the estate's handsets
    (for ``handset_provision``, which ignores ``running_firmware``) and as the simulator's fleet.
    """
    fleet = []
    for i in range(count):
        vendor, model, oui = FLEET_MIX[i % len(FLEET_MIX)]
        profile = base.get_profile(vendor)
        fam = profile.family(model)
        fleet.append({
            "name": "%s-%05d" % (prefix, i + 1),
            "mac": "%s:%02x:%02x:%02x" % (oui, (i >> 16) & 255, (i >> 8) & 255, i & 255),
            "vendor": vendor, "model": model, "user": str(first_extension + i),
            "running_firmware": profile.FIRMWARE[fam]["version"],
        })
    return fleet


class HttpError(Exception):
    pass


async def http_get(url, user_agent, timeout=10.0):
    """Minimal HTTP/1.1 GET (one connection per request).  Returns (status, body bytes)."""
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or 80
    path = quote(parts.path or "/", safe="/(),;=:@!$&'*+-._~%")
    if parts.query:
        path += "?" + parts.query
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, asyncio.TimeoutError) as exc:
        raise HttpError("cannot connect to %s:%s: %s" % (host, port, exc))
    try:
        writer.write(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: %s\r\nAccept: */*\r\nConnection: close\r\n\r\n"
                      % (path, host, port, user_agent)).encode("latin-1"))
        data = await asyncio.wait_for(reader.read(-1), timeout)
    except (OSError, asyncio.TimeoutError) as exc:
        raise HttpError("GET %s failed: %s" % (url, exc))
    finally:
        writer.close()
    head, _sep, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        raise HttpError("GET %s: bad response" % url)
    headers = {}
    for line in lines[1:]:
        k, _sep, v = line.partition(b":")
        headers[k.strip().lower()] = v.strip()
    if b"content-length" in headers:
        body = body[:int(headers[b"content-length"])]
    return status, body


class Phone(calls.CallHandling):
    def __init__(self, sim, spec):
        self.sim = sim
        self.name = spec["name"]
        self.vendor = spec.get("vendor")
        self.profile = base.get_profile(self.vendor) if self.vendor else None
        self.model = self.profile.canonical_model(spec["model"]) if self.profile else spec.get("model")
        self.mac = registrations.normalize_mac(spec["mac"]) if spec.get("mac") else None
        default = self.profile.FIRMWARE[self.profile.family(self.model)]["version"] if self.profile else ""
        self.firmware = str(spec.get("running_firmware") or spec.get("firmware") or default)
        # an extra device (control "add"): its own User-Agent and a fixed account instead of provisioning
        self.user_agent_override = spec.get("user_agent")
        self.account = spec.get("account")
        self.extra = bool(spec.get("extra"))
        self.port = int(spec.get("port") or 0)
        self.state = "off"
        self.error = None
        self.ep = None
        self.config = None
        self.registered_at = None
        self.registrations = 0
        self.fetches = 0
        self.boots = 0
        self.events = []
        self.resyncs = 0
        self.reboots = 0
        self.upgrades = []
        self._refresh = None
        self._busy = None
        self._gen = 0
        self._reg_lock = asyncio.Lock()
        self.init_calls(spec)

    # --------------------------------------------------------------- identity
    def sip_ua(self):
        if self.user_agent_override or self.profile is None:
            return self.user_agent_override or "voipops-phonesim/1.0"
        return vendors.user_agent(self.profile.vendor, self.model, self.firmware, self.mac, kind="sip")

    def http_ua(self):
        if self.user_agent_override or self.profile is None:
            return self.user_agent_override or "voipops-phonesim/1.0"
        return vendors.user_agent(self.profile.vendor, self.model, self.firmware, self.mac, kind="http")

    def status(self):
        cfg = self.config or {}
        status = {"name": self.name, "vendor": self.vendor, "model": self.model, "mac": self.mac,
                  "firmware": self.firmware, "state": self.state, "error": self.error,
                  "user": cfg.get("username"), "display_name": cfg.get("display_name"),
                  "users": [a["username"] for a in self.lines()] if self.config else [],
                  "contact": self.ep.contact_uri(cfg.get("username")) if self.ep and cfg.get("username") else None,
                  "registered_at": self.registered_at, "registrations": self.registrations, "fetches": self.fetches,
                  "boots": self.boots, "events": list(self.events), "resyncs": self.resyncs, "reboots": self.reboots,
                  "upgrades": list(self.upgrades), "user_agent": self.sip_ua(), "port": self.port, "extra": self.extra}
        status.update(self.calls_status())
        return status

    def _set(self, state, error=None):
        self.state = state
        self.error = error
        self.sim.dirty = True

    # --------------------------------------------------------------- lifecycle
    async def start(self):
        # Keep the port of an earlier run (ports.json): the registrar then updates the same contact.
        try:
            self.ep = await sip.SipEndpoint.create("127.0.0.1", self.port, handler=self.on_request, user_agent=self.sip_ua(),
                                                   rcvbuf=self.sim.rcvbuf)
        except OSError:
            self.ep = await sip.SipEndpoint.create("127.0.0.1", 0, handler=self.on_request, user_agent=self.sip_ua(),
                                                   rcvbuf=self.sim.rcvbuf)
        self.port = self.ep.local_addr[1]
        await self.boot()

    async def halt(self):
        """Control "stop": unregister and stay silent (no answers, no refreshes) until :meth:`resume`."""
        if self._busy is not None and not self._busy.done():
            self._busy.cancel()
        for call in list(self.calls.values()):      # switched off: its calls are gone, nothing is deferred any more
            self.pending_update = None
            self._end(call, "phone_stopped")
        if self.registered_at or self.state == "registered":
            await self._unregister_quietly()
        else:
            self._gen += 1
        if self._refresh is not None:
            self._refresh.cancel()
        self._set("stopped")

    async def resume(self):
        """Control "start": boot again (fetch, register)."""
        if self.state != "stopped":
            return
        await self.boot()

    async def switch_firmware(self, version):
        """Control "firmware": run ``version`` from now on and re-register with the new User-Agent."""
        self.firmware = str(version)
        if self.ep is not None:
            self.ep.user_agent = self.sip_ua()
        self.sim.dirty = True
        if self.state in ("registered", "unregistered") and self.config:
            await self.register_and_refresh()

    async def stop(self, unregister=True):
        if unregister and self.state == "registered":
            try:
                await asyncio.wait_for(self._unregister_quietly(), 3.0)
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass
        if self._refresh:
            self._refresh.cancel()
        if self.ep:
            self.ep.close()

    async def boot(self):
        self.boots += 1
        self._set("booting")
        if self.account is not None:
            self.config = dict(self.account)
            await self.register_and_refresh()
            return
        try:
            cfg = await self.fetch_config()
        except HttpError as exc:
            self._set("failed", str(exc))
            return
        if not cfg.get("username"):
            self._set("unprovisioned", "no account in the provisioning files")
            return
        self.config = cfg
        outcome = await self.maybe_upgrade(cfg)
        if outcome in ("bricked", "rebooted"):
            return
        await self.register_and_refresh()

    async def fetch(self, url):
        async with self.sim.http_slots:
            status, body = await http_get(url, self.http_ua())
        self.fetches += 1
        return status, body

    async def fetch_config(self):
        files = {}
        prov = self.sim.prov_url
        for name in vendors.boot_requests(self.profile.vendor, self.mac, self.model):
            status, body = await self.fetch(prov + name)
            if status == 200:
                files[name] = body.decode("utf-8")
            elif status != 404:
                raise HttpError("GET %s: HTTP %d" % (name, status))
        if not files:
            return {}
        cfg = self.profile.parse_config(files)
        # Vendor indirections to the firmware image URL
        if cfg.get("firmware_status"):                       # Snom: firmware_status -> <firmware>
            status, body = await self.fetch(cfg["firmware_status"])
            if status == 200:
                cfg["firmware_url"] = self.profile.parse_config({"fw.xml": body.decode("utf-8")}).get("firmware_url")
        if cfg.get("firmware_dir"):                          # Grandstream: P192 path + family image name
            cfg["firmware_url"] = "http://%s/%s" % (cfg["firmware_dir"], self.profile.image_name(self.model))
        if cfg.get("firmware_url") and "://" not in cfg["firmware_url"]:   # Poly: relative to the server root
            cfg["firmware_url"] = urljoin(prov, cfg["firmware_url"])
        return cfg

    # --------------------------------------------------------------- firmware
    async def maybe_upgrade(self, cfg):
        url = cfg.get("firmware_url")
        if not url:
            return None
        marker = "/firmware/%s/" % self.vendor
        path = unquote(urlsplit(url).path)
        if marker not in path:
            return None
        rel = path.split(marker, 1)[1]
        found = self.profile.firmware_from_path(rel)
        if not found or found[1] == self.firmware:
            return None
        target = found[1]
        self._set("upgrading")
        status, body = await self.fetch(urljoin(self.sim.prov_url, "firmware/manifest.json"))
        entry = None
        if status == 200:
            for img in json.loads(body.decode("utf-8")).get("images", []):
                if img.get("file") == "firmware/%s/%s" % (self.vendor, rel):
                    entry = img
        status, image = await self.fetch(url)
        failure = self.sim.failure_for(self, target)
        if failure == "bad_image" and image:
            image = image[:-1] + bytes([image[-1] ^ 0xFF])
        ok = (status == 200 and entry is not None and len(image) == entry["size"]
              and hashlib.sha256(image).hexdigest() == entry["sha256"])
        if not ok:
            reason = ("HTTP %d" % status if status != 200 else "not in manifest" if entry is None
                      else "size/sha256 mismatch")
            self.upgrades.append({"from": self.firmware, "to": target, "result": "rejected", "reason": reason})
            self._set("booting")
            return "rejected"
        # Flash and reboot into the new image.
        if self.state == "registered" or self.registered_at:
            await self._unregister_quietly()
        self._set("rebooting")
        await asyncio.sleep(self.sim.reboot_delay)
        if failure == "bricked":
            self.upgrades.append({"from": self.firmware, "to": target, "result": "bricked"})
            self._set("bricked", "did not come back after flashing %s" % target)
            self.ep.close()
            return "bricked"
        self.upgrades.append({"from": self.firmware, "to": target, "result": "ok"})
        self.firmware = target
        self.ep.user_agent = self.sip_ua()
        self.reboots += 1
        await self.boot()
        return "rebooted"

    # --------------------------------------------------------------- registration
    def lines(self):
        """The accounts this device registers: one per line of a DECT base or an ATA (its file's ``accounts``), one
        for a desk phone; every line from the same endpoint, with the same User-Agent (one device, one MAC)."""
        cfg = self.config
        accounts = cfg.get("accounts") or []
        if len(accounts) < 2:
            return [cfg]
        return [dict(cfg, username=a["username"], auth_user=a.get("auth_user") or a["username"],
                     password=a.get("password"), display_name=a.get("display_name")) for a in accounts]

    async def register(self, expires, timeout=5.0):
        resp = None
        for cfg in self.lines():
            registrar = "%s:%d" % (cfg["registrar"], cfg["port"])
            async with self.sim.register_slots:
                resp = await self.ep.register(registrar, cfg["username"], registrar, password=cfg["password"],
                                              expires=expires, timeout=timeout,
                                              transport="udp" if cfg.get("transport") in (None, "udp") else cfg["transport"])
            if resp.code != 200:
                return resp
        return resp

    async def _unregister_quietly(self):
        # A newer generation makes any pending refresh give up; the lock orders us after an in-flight REGISTER,
        # so the registrar always sees the un-REGISTER last.
        self._gen += 1
        async with self._reg_lock:
            try:
                await self.register(0, timeout=2.0)
            except sip.SipTransportError:
                pass
            self.registered_at = None

    async def register_and_refresh(self, gen=None):
        async with self._reg_lock:
            if (gen is not None and gen != self._gen) or self.state == "stopped":
                return
            try:
                resp = await self.register(self.config["expires"])
            except sip.SipTransportError as exc:
                self._set("unregistered", "REGISTER %s" % exc)
                self._schedule_refresh(self.sim.retry)
                return
            if resp.code != 200:
                self._set("unregistered", "REGISTER answered %d %s" % (resp.code, resp.reason))
                self._schedule_refresh(self.sim.retry)
                return
            self.registrations += 1
            self.registered_at = time.time()
            self._set("registered")
            granted = self.config["expires"]
            for value in resp.headers.get_all("contact"):
                if "expires=" in value:
                    try:
                        granted = int(value.rsplit("expires=", 1)[1].split(";")[0].split(",")[0])
                    except ValueError:
                        pass
            self._schedule_refresh(max(1.0, granted * 0.8))

    def _schedule_refresh(self, delay):
        if self._refresh and not self._refresh.done() and self._refresh is not asyncio.current_task():
            self._refresh.cancel()
        self._refresh = asyncio.ensure_future(self._refresh_later(delay, self._gen))

    async def _refresh_later(self, delay, gen):
        await asyncio.sleep(delay)
        if gen == self._gen and self.state in ("registered", "unregistered"):
            await self.register_and_refresh(gen)

    # --------------------------------------------------------------- incoming SIP
    def on_request(self, request, source):
        if self.state in ("bricked", "stopped"):
            return None
        if request.method in ("INVITE", "ACK", "BYE", "CANCEL", "UPDATE", "INFO"):
            if self.state == "rebooting":           # switched off for the reboot: no answer at all
                return None
            return self.on_call_request(request, source)
        if request.method == "OPTIONS":
            resp = sip.SipResponse.for_request(request, 200)
            resp.headers.set("Allow", "INVITE, ACK, CANCEL, BYE, NOTIFY, OPTIONS, REFER")
            resp.headers.set("User-Agent", self.sip_ua())
            return resp
        if request.method == "NOTIFY":
            event = request.headers.get("event")
            self.events.append(event)
            self.sim.dirty = True
            action = self.profile.notify_action(event) if self.profile else None
            if action is None:
                return sip.SipResponse.for_request(request, 489)
            if self.in_call:                        # the vendors: no reboot or update during a call
                self.defer_update(action)
                return sip.SipResponse.for_request(request, 200)
            if self._busy is None or self._busy.done():
                self._busy = asyncio.ensure_future(self.on_notify(action))
            return sip.SipResponse.for_request(request, 200)
        return sip.SipResponse.for_request(request, 501)

    async def on_notify(self, action):
        if action == "reboot":
            self.reboots += 1
            await self._unregister_quietly()
            self._set("rebooting")
            await asyncio.sleep(self.sim.reboot_delay)
            await self.boot()
            return
        self.resyncs += 1
        try:
            cfg = await self.fetch_config()
        except HttpError as exc:
            self._set(self.state, str(exc))
            return
        if not cfg.get("username"):
            return
        old = self.config or {}
        self.config = cfg
        outcome = await self.maybe_upgrade(cfg)
        if outcome in ("bricked", "rebooted"):
            return
        account = ("username", "auth_user", "password", "display_name", "registrar", "port", "transport", "expires",
                   "accounts")
        if any(old.get(k) != cfg.get(k) for k in account) or self.state != "registered":
            if old.get("username") and old.get("username") != cfg.get("username"):
                self.config = old
                await self._unregister_quietly()
                self.config = cfg
            await self.register_and_refresh()


class Simulator(object):
    def __init__(self, fleet, prov_url, state_dir, failures=(), reboot_delay=1.0, retry=10.0,
                 http_concurrency=128, register_concurrency=256, rcvbuf=256 * 1024, defaults=None):
        self.prov_url = prov_url if prov_url.endswith("/") else prov_url + "/"
        self.state_dir = state_dir
        self.failures = list(failures or ())
        self.reboot_delay = float(reboot_delay)
        self.retry = float(retry)
        self.rcvbuf = rcvbuf
        # registrar/domain/expires for extra devices (control "add") that do not say
        self.defaults = dict(defaults or {})
        ports = _read_json(os.path.join(state_dir, "ports.json")) or {}
        self.phones = []
        for spec in fleet:
            if spec["name"] in ports and not spec.get("port"):
                spec = dict(spec, port=ports[spec["name"]])
            self.phones.append(Phone(self, spec))
        self.http_slots = asyncio.Semaphore(http_concurrency)
        self.register_slots = asyncio.Semaphore(register_concurrency)
        self.dirty = True
        self.started = time.time()
        self._stop = None

    def failure_for(self, phone, target_version):
        for rule in self.failures:
            if rule.get("vendor") and base.get_profile(rule["vendor"]) is not phone.profile:
                continue
            if rule.get("model") and phone.profile.canonical_model(rule["model"]) != phone.model:
                continue
            if rule.get("firmware") and str(rule["firmware"]) != target_version:
                continue
            return rule.get("mode")
        return None

    def phone(self, name):
        for p in self.phones:
            if p.name == name:
                return p
        return None

    def status(self):
        phones = [p.status() for p in self.phones]
        states = {}
        for p in phones:
            states[p["state"]] = states.get(p["state"], 0) + 1
        return {"pid": os.getpid(), "started": self.started, "updated": time.time(), "count": len(phones),
                "states": states, "provisioning_url": self.prov_url, "phones": phones}

    def write_status(self):
        path = os.path.join(self.state_dir, "status.json")
        _write_json(path, self.status())
        self.dirty = False

    def write_ports(self):
        _write_json(os.path.join(self.state_dir, "ports.json"),
                    dict((p.name, p.port) for p in self.phones if p.port and not p.extra))

    async def _status_loop(self):
        while True:
            if self.dirty:
                self.write_status()
            await asyncio.sleep(1.0)

    # --------------------------------------------------------------- control
    async def _control_loop(self):
        cdir = os.path.join(self.state_dir, "control")
        os.makedirs(cdir, exist_ok=True)
        while True:
            for entry in sorted(os.listdir(cdir)):
                if not entry.endswith(CMD_SUFFIX):
                    continue
                path = os.path.join(cdir, entry)
                cmd = _read_json(path)
                try:
                    os.unlink(path)
                except OSError:
                    pass
                if not isinstance(cmd, dict):
                    continue
                asyncio.ensure_future(self._answer(cdir, entry[:-len(CMD_SUFFIX)], cmd))
            await asyncio.sleep(0.1)

    async def _answer(self, cdir, cid, cmd):
        try:
            result = await self.execute(cmd.get("command"), **(cmd.get("args") or {}))
            answer = {"ok": True, "result": result}
        except ControlError as exc:
            answer = {"ok": False, "error": str(exc)}
        except Exception as exc:  # noqa: BLE001 - the caller must hear about any failure
            answer = {"ok": False, "error": "%s: %s" % (type(exc).__name__, exc)}
        self.dirty = True
        _write_json(os.path.join(cdir, cid + RESULT_SUFFIX), answer)

    async def execute(self, command, **args):
        """Run one control command; returns a JSON-able result (raises ControlError on bad input)."""
        if command == "status":
            return self.status()
        if command == "add":
            return await self._add(**args)
        name = args.get("name")
        phone = self.phone(name)
        if phone is None:
            raise ControlError("no phone named '%s'" % name)
        if command == "stop":
            await phone.halt()
        elif command == "start":
            await phone.resume()
        elif command == "firmware":
            if not args.get("version"):
                raise ControlError("firmware needs a version")
            await phone.switch_firmware(args["version"])
        elif command == "answer_mode":
            try:
                phone.set_answer_mode(args.get("mode"), code=args.get("code"), ring=args.get("ring"))
            except (calls.CallError, ValueError, TypeError) as exc:
                raise ControlError(str(exc))
        elif command == "call":
            if not args.get("number"):
                raise ControlError("call needs a number")
            try:
                result = await phone.place_call(str(args["number"]), duration=args.get("duration"),
                                                timeout=float(args.get("setup_timeout") or 30.0))
            except calls.CallError as exc:
                raise ControlError(str(exc))
            return dict(phone.status(), call=result)
        elif command == "hangup":
            try:
                ended = await phone.hangup_calls(args.get("call_id"))
            except calls.CallError as exc:
                raise ControlError(str(exc))
            return dict(phone.status(), ended=ended)
        elif command == "remove":
            if not phone.extra:
                raise ControlError("'%s' is a fleet phone: stop it instead" % name)
            await phone.halt()
            phone.ep.close()
            self.phones.remove(phone)
        else:
            raise ControlError("unknown command '%s' (status, stop, start, firmware, add, remove, answer_mode, call, "
                               "hangup)" % command)
        return phone.status()

    async def _add(self, name=None, user=None, password=None, registrar=None, port=None, domain=None, expires=None,
                   user_agent=None, vendor=None, model=None, mac=None, firmware=None):
        if not name or not user:
            raise ControlError("add needs a name and a user")
        if self.phone(name) is not None:
            raise ControlError("a phone named '%s' exists already" % name)
        if vendor and base.get_profile(vendor) is None:
            raise ControlError("unknown vendor '%s'" % vendor)
        registrar = registrar or self.defaults.get("registrar")
        port = port or self.defaults.get("registrar_port") or 5060
        if not registrar:
            raise ControlError("add needs a registrar (none in the fleet file)")
        account = {"username": str(user), "auth_user": str(user), "password": password, "registrar": registrar,
                   "port": int(port), "transport": "udp", "domain": domain or self.defaults.get("domain"),
                   "expires": int(expires or self.defaults.get("expires") or 3600), "display_name": name}
        spec = {"name": name, "vendor": vendor, "model": model, "mac": mac, "firmware": firmware,
                "user_agent": user_agent if user_agent or vendor else "voipops-phonesim softphone/1.0",
                "account": account, "extra": True}
        phone = Phone(self, spec)
        self.phones.append(phone)
        await phone.start()
        return phone.status()

    async def run(self):
        self._stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self._stop.set)
            except (NotImplementedError, RuntimeError):  # pragma: no cover
                pass
        writer = asyncio.ensure_future(self._status_loop())
        await asyncio.gather(*(p.start() for p in self.phones))
        self.write_ports()
        self.write_status()
        control = asyncio.ensure_future(self._control_loop())
        await self._stop.wait()
        control.cancel()
        await asyncio.gather(*(p.stop() for p in self.phones), return_exceptions=True)
        writer.cancel()
        self.write_status()


CMD_SUFFIX = ".cmd.json"
RESULT_SUFFIX = ".result.json"


class ControlError(Exception):
    pass


def _read_json(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (IOError, OSError, ValueError):
        return None


def _write_json(path, data):
    # status once a second and control files: atomic (readers poll them), no fsync (nothing to keep after a crash)
    atomic_write(path, json.dumps(data), mode=0o644, fsync=False)


def running_pid(state_dir):
    """Pid of the simulator running on ``state_dir`` (from phonesim.pid), or None when none runs."""
    try:
        with open(os.path.join(state_dir, "phonesim.pid")) as handle:
            pid = int(handle.read().strip())
        os.kill(pid, 0)
    except (IOError, OSError, ValueError):
        return None
    try:
        with open("/proc/%d/stat" % pid) as handle:
            if handle.read().rsplit(")", 1)[1].split()[0] == "Z":     # killed, not yet reaped
                return None
    except (IOError, OSError, IndexError):
        pass
    return pid


def read_status(state_dir):
    """The simulator's last ``status.json`` (None before the first one)."""
    return _read_json(os.path.join(state_dir, "status.json"))


def control(state_dir, command, timeout=30.0, **args):
    """Run a control command in the simulator running on ``state_dir``; returns its result (a phone's status,
    or the whole status for ``status``).  Raises :class:`ControlError` when it fails or nobody answers.

    ``control(d, "stop", name="hs-1001")``, ``control(d, "start", name=...)``,
    ``control(d, "firmware", name=..., version="96.86.0.100")``,
    ``control(d, "add", name="stray", user="1001", password=..., user_agent="Linphone/5.2")``,
    ``control(d, "remove", name="stray")``, ``control(d, "status")``.
    """
    if running_pid(state_dir) is None:
        raise ControlError("no phone simulator runs on %s" % state_dir)
    cdir = os.path.join(state_dir, "control")
    if not os.path.isdir(cdir):
        os.makedirs(cdir, exist_ok=True)
    cid = "%d-%s" % (int(time.time() * 1000), uuid.uuid4().hex[:8])
    _write_json(os.path.join(cdir, cid + CMD_SUFFIX), {"command": command, "args": args})
    result_path = os.path.join(cdir, cid + RESULT_SUFFIX)
    deadline = time.time() + timeout
    while time.time() < deadline:
        answer = _read_json(result_path)
        if answer is not None:
            os.unlink(result_path)
            if not answer.get("ok"):
                raise ControlError("%s: %s" % (command, answer.get("error")))
            return answer.get("result")
        time.sleep(0.05)
    try:
        os.unlink(os.path.join(cdir, cid + CMD_SUFFIX))
    except OSError:
        pass
    raise ControlError("%s: no answer from the phone simulator on %s within %ss" % (command, state_dir, timeout))


def wait_registered(state_dir, timeout=60.0, expect=None):
    """Wait until the simulator on ``state_dir`` has written a status in which every fleet phone is registered
    (or stopped by control).  Returns the status; raises :class:`ControlError` on timeout naming the stragglers."""
    deadline = time.time() + timeout
    status = None
    while True:
        pid = running_pid(state_dir)
        status = read_status(state_dir)
        if pid is not None and status and status.get("pid") == pid:
            fleet = [p for p in status["phones"] if not p.get("extra")]
            if (expect is None or len(fleet) == expect) and all(p["state"] in ("registered", "stopped") for p in fleet):
                return status
        if time.time() >= deadline:
            break
        time.sleep(0.2)
    if not status or running_pid(state_dir) is None:
        raise ControlError("no phone simulator runs on %s" % state_dir)
    late = ["%s (%s%s)" % (p["name"], p["state"], ": %s" % p["error"] if p.get("error") else "")
            for p in status["phones"] if p["state"] not in ("registered", "stopped")]
    raise ControlError("phones not registered after %ss: %s" % (timeout, ", ".join(late[:20]) or "status not current"))


def fleet_from_estate(path):
    """The estate's handsets as a simulator fleet: the records handset_provision takes (the collection's one
    conversion, ``schema.provisioning.handsets_from_estate``: ``user``, or ``lines`` for a DECT base's handsets or an
    ATA's ports), each with its vendor's and model's canonical names, every line's user (``users``) and the firmware it
    runs: the latest the estate approves for its model (``approved_firmware``), else its vendor's default release, so
    a clean lab has no audit findings."""
    from ansible_collections.voipops.voip.plugins.module_utils import estate as estate_mod
    from ansible_collections.voipops.voip.plugins.module_utils.schema.provisioning import handsets_from_estate

    est = estate_mod.load_estate(path)
    fleet = []
    for h in handsets_from_estate(est):
        profile = base.get_profile(h["vendor"])
        if profile is None:
            raise ControlError("%s: handset '%s' has vendor '%s', which the simulator does not know"
                               % (path, h["name"], h["vendor"]))
        model = profile.canonical_model(h["model"])
        approved = est.approved_versions(h["vendor"], h["model"])
        firmware = approved[-1] if approved else profile.FIRMWARE[profile.family(model)]["version"]
        fleet.append(dict(h, vendor=profile.vendor, model=model, users=registrations.handset_users(h),
                          running_firmware=str(firmware)))
    return fleet


def load_fleet_file(path):
    """The fleet file: JSON, or YAML (needs PyYAML); a top-level list is the handsets."""
    with open(path) as handle:
        text = handle.read()
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError:
        if not HAS_YAML:
            raise ControlError("%s is not JSON and PyYAML is not installed to read YAML" % path)
        data = yaml.safe_load(text) or {}
    if isinstance(data, list):
        data = {"handsets": data}
    return data


def _ctl_main(argv):
    parser = argparse.ArgumentParser(prog="phonesim ctl", description="Control a running phone simulator")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--timeout", type=float, default=30.0)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("status", help="the whole status")
    for name, text in (("stop", "the phone unregisters and stays silent"), ("start", "the phone boots again"),
                       ("remove", "remove an extra device")):
        sub.add_parser(name, help=text).add_argument("name")
    am = sub.add_parser("answer_mode", help="how the phone answers INVITEs: %s" % ", ".join(calls.ANSWER_MODES))
    am.add_argument("name")
    am.add_argument("mode", choices=calls.ANSWER_MODES)
    am.add_argument("--code", type=int, help="final code for reject (default 603), busy (486) or dnd (vendor's)")
    am.add_argument("--ring", type=float, help="seconds of ringing before answering (answer) or giving up (noanswer)")
    call = sub.add_parser("call", help="place a call through the callserver (held until hangup or --duration)")
    call.add_argument("name")
    call.add_argument("number")
    call.add_argument("--duration", type=float, help="hang up after this many seconds")
    call.add_argument("--setup-timeout", type=float, help="give up when not answered within this (default 30 s)")
    hang = sub.add_parser("hangup", help="end the phone's calls (BYE; CANCEL when still ringing)")
    hang.add_argument("name")
    hang.add_argument("--call-id")
    fw = sub.add_parser("firmware", help="switch the running firmware (re-registers with the new User-Agent)")
    fw.add_argument("name")
    fw.add_argument("version")
    add = sub.add_parser("add", help="an extra device, unknown to the estate, registers with these credentials")
    add.add_argument("name")
    add.add_argument("--user", required=True)
    add.add_argument("--password", required=True)
    for opt in ("--registrar", "--port", "--domain", "--user-agent", "--vendor", "--model", "--mac", "--firmware"):
        add.add_argument(opt)
    wait = sub.add_parser("wait", help="wait until every fleet phone is registered (exit 1 on timeout)")
    wait.add_argument("--expect", type=int, help="number of fleet phones there must be")
    args = parser.parse_args(argv)
    try:
        if args.command == "wait":
            status = wait_registered(args.state_dir, timeout=args.timeout, expect=args.expect)
            result = {"count": status["count"], "states": status["states"], "pid": status["pid"]}
        else:
            cargs = dict((k, v) for k, v in vars(args).items()
                         if k not in ("state_dir", "timeout", "command", "expect") and v is not None)
            result = control(args.state_dir, args.command, timeout=args.timeout, **cargs)
    except ControlError as exc:
        return 1, json.dumps({"failed": True, "msg": str(exc)})
    return 0, json.dumps(result, indent=1, sort_keys=True)


def _estate_main(argv):
    parser = argparse.ArgumentParser(prog="phonesim estate", description="The estate's handsets as a simulator fleet (JSON)")
    parser.add_argument("--estate", required=True, help="estate file (docs/estate.md)")
    args = parser.parse_args(argv)
    from ansible_collections.voipops.voip.plugins.module_utils.source import SourceError, SourceErrors
    try:
        return 0, json.dumps(fleet_from_estate(args.estate), indent=1)
    except (SourceError, SourceErrors, ControlError) as exc:
        return 1, json.dumps({"failed": True, "msg": str(exc)})


def main(argv=None):
    """Command line; returns (exit code, text to print).  The caller (``__main__.py`` beside this file) exits."""
    if argv and argv[0] == "ctl":
        return _ctl_main(argv[1:])
    if argv and argv[0] == "estate":
        return _estate_main(argv[1:])
    parser = argparse.ArgumentParser(prog="phonesim", description="Simulated desk-phone fleet (voipops.voip lab); "
                                     "subcommands: ctl (control a running fleet), estate (fleet from an estate file)")
    parser.add_argument("--count", type=int, default=None, help="number of phones (default: all in --config, else 50)")
    parser.add_argument("--config", help="fleet YAML/JSON: provisioning_url, handsets [{name,mac,vendor,model,running_firmware}], "
                        "failures, registrar, registrar_port, domain, expires")
    parser.add_argument("--state-dir", required=True, help="writes phonesim.pid, status.json and ports.json here")
    parser.add_argument("--provisioning-url", help="overrides provisioning_url of --config")
    parser.add_argument("--reboot-delay", type=float, default=None)
    args = parser.parse_args(argv)
    data = load_fleet_file(args.config) if args.config else {}
    fleet = data.get("handsets")
    count = args.count if args.count is not None else (len(fleet) if fleet else 50)
    if not fleet:
        fleet = make_fleet(count)
    fleet = fleet[:count]
    prov = args.provisioning_url or data.get("provisioning_url")
    if not prov:
        parser.error("a provisioning URL is required (--provisioning-url or provisioning_url in --config)")
    os.makedirs(args.state_dir, exist_ok=True)
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = min(hard, max(soft, count * 2 + 1024))
        if want > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ImportError, ValueError, OSError):  # pragma: no cover
        pass
    pidfile = os.path.join(args.state_dir, "phonesim.pid")
    with open(pidfile, "w") as handle:
        handle.write("%d\n" % os.getpid())
    reboot_delay = args.reboot_delay if args.reboot_delay is not None else data.get("reboot_delay", 1.0)
    defaults = dict((k, data[k]) for k in ("registrar", "registrar_port", "domain", "expires") if data.get(k))

    async def go():
        sim = Simulator(fleet, prov, args.state_dir, failures=data.get("failures"), reboot_delay=reboot_delay,
                        retry=data.get("retry", 10.0), defaults=defaults)
        await sim.run()

    try:
        asyncio.run(go())
    finally:
        try:
            os.unlink(pidfile)
        except OSError:
            pass
    return 0, None
