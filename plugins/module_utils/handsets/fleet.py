# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The live handset fleet: registrations joined with the estate (pure), and bulk re-sync (NOTIFY).

- :func:`join` takes the estate's handsets and the callserver's registrations (``KamailioRPC.registrations()``
  records), pairs them with the one matcher of :mod:`.registrations`, and returns, per handset, its contacts
  with vendor/model/firmware/MAC read from the User-Agent, the handsets that are provisioned but not
  registered, and the registered devices the estate does not know.
- :func:`info_result` is handset_info's result: the joined fleet, or - with a results file - the joined fleet written
  to that file (0600, atomically) and only its summary returned, so that thousands of handsets stay out of the job's
  events; beside it the first N registered handsets a test call needs (:func:`registered_sample`).
- :func:`resync_targets` picks, per handset, where to send the NOTIFY (its registered contacts, or a given
  address) and its vendor's event; :func:`resync` sends them all concurrently with ``sip.notify_many``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

from ansible_collections.voipops.voip.plugins.module_utils.fileio import atomic_write
from ansible_collections.voipops.voip.plugins.module_utils.handsets import base
from ansible_collections.voipops.voip.plugins.module_utils.handsets import registrations as hreg


def _address(reg):
    """The address the device is reachable at: Kamailio's received (NAT) else the contact's host:port."""
    received = reg.get("received") or ""
    if received and received != "[not set]":
        return received.split(":", 1)[1] if received.startswith("sip:") else received
    contact = str(reg.get("contact") or "")
    hostport = contact.split("@", 1)[-1].split(";", 1)[0].split(">", 1)[0]
    return hostport.replace("sip:", "").replace("sips:", "")


def _describe(reg, ua, now):
    last = reg.get("last_modified")
    age = None
    try:
        if last:
            age = max(0, int(now - float(last)))
    except (TypeError, ValueError):
        age = None
    try:
        expires = int(reg.get("expires")) if reg.get("expires") not in (None, "") else None
    except (TypeError, ValueError):
        expires = None
    return {"aor": reg.get("aor"), "contact": reg.get("contact"), "address": _address(reg),
            "user_agent": reg.get("user_agent") or "", "vendor": ua.get("vendor"), "model": ua.get("model"),
            "firmware": ua.get("firmware"), "mac": ua.get("mac"), "registered_for_s": age, "expires_in_s": expires}


def join(handsets, registrations, now=None):
    """Registered handsets joined with the estate (the pairing and its status are :func:`.registrations.match`'s).

    A handset is registered when any contact is paired with it, whatever the pairing's status (``matched``,
    ``ua_unrecognised``, ``device_mismatch``, ``user_mismatch``): the same answer as the audit and the
    ``registrations`` inventory.  Contacts paired with no handset are unknown devices, with the reason.
    Returns {"handsets": [...], "unregistered": [names], "unknown": [...], "summary": {...}}; each handset has
    ``status`` (the most telling of its contacts') and ``lines`` (per line user: registered or not).
    """
    now = time.time() if now is None else now
    estate = hreg.normalise_handsets(handsets)
    mine, unknown = {}, []
    for pair in hreg.match(handsets, registrations):
        dev = dict(_describe(pair["contact"], pair["ua"], now), user=pair["user"], status=pair["status"])
        if pair["reason"]:
            dev["reason"] = pair["reason"]
        if pair["handset"] is not None:
            dev["line"] = pair["line"]
            mine.setdefault(pair["handset"]["name"], []).append(dev)
        else:
            unknown.append(dev)
    unknown.sort(key=lambda d: d["user"])
    out = []
    for h in estate:
        contacts = mine.get(h["name"], [])
        matched = [c for c in contacts if c["status"] == hreg.MATCHED]
        first = (matched or contacts or [{}])[0]
        lines = [{"line": i + 1, "user": user, "registered": any(c["user"] == user for c in contacts)}
                 for i, user in enumerate(h["users"])]
        out.append(dict(h, registered=bool(contacts), status=hreg.handset_status([c["status"] for c in contacts]),
                        contacts=contacts, lines=lines,
                        firmware=first.get("firmware"), user_agent=first.get("user_agent"),
                        address=first.get("address") or h.get("address"),
                        registered_for_s=first.get("registered_for_s")))
    unregistered = [h["name"] for h in out if not h["registered"]]
    summary = {"handsets": len(out), "registered": len(out) - len(unregistered), "unregistered": len(unregistered),
               "unknown_devices": len(unknown), "registrations": len(registrations or []),
               "ua_unrecognised": sum(1 for h in out if h["status"] == hreg.UA_UNRECOGNISED),
               "device_mismatch": sum(1 for h in out if h["status"] == hreg.DEVICE_MISMATCH)}
    by_vendor = {}
    for h in out:
        if h["status"] == hreg.MATCHED:
            key = "%s %s %s" % (h["vendor"], h["model"], h["firmware"])
            by_vendor[key] = by_vendor.get(key, 0) + 1
    summary["firmware"] = by_vendor
    return {"handsets": out, "unregistered": unregistered, "unknown": unknown, "summary": summary}


def registered_sample(joined, count):
    """The first ``count`` registered handsets of :func:`join`'s result, in estate order: ``[{name, user}]`` (a
    multi-line device gives its first registered line's user) - what a test call to a phone needs."""
    out = []
    for h in joined["handsets"]:
        if len(out) >= (count or 0):
            break
        if h["registered"]:
            user = next((ln["user"] for ln in h["lines"] if ln["registered"]), h.get("user"))
            out.append({"name": h["name"], "user": user})
    return out


def info_result(joined, dest=None, sample=0):
    """handset_info's result from :func:`join`'s: all of it, or with ``dest`` the whole of it written to ``dest`` (JSON,
    mode 0600, atomically) and only ``summary`` and ``dest`` returned; ``registered_sample`` either way."""
    result = {"summary": joined["summary"], "registered_sample": registered_sample(joined, sample)}
    if dest is None:
        result.update(joined)
        return result
    atomic_write(dest, json.dumps(joined), mode=0o600)
    result["dest"] = dest
    return result


def resync_targets(handsets, registrations, action="resync", names=None, now=None):
    """Per handset: the NOTIFY targets (contact URI + address) and its vendor's event for ``action``.

    Returns (targets, skipped): targets = [{name, vendor, event, uri, dest}], skipped = [{name, reason}].
    """
    joined = join(handsets, registrations, now)
    wanted = set(names) if names is not None else None
    targets, skipped = [], []
    for h in joined["handsets"]:
        if wanted is not None and h["name"] not in wanted:
            continue
        profile = base.get_profile(h["vendor"])
        if profile is None:
            skipped.append({"name": h["name"], "reason": "unknown vendor '%s'" % h["vendor"]})
            continue
        event = profile.notify_event(action)
        if h["contacts"]:
            seen = set()
            for d in h["contacts"]:
                if d["address"] in seen:   # a DECT base or an ATA: one device, one re-sync for all its lines
                    continue
                seen.add(d["address"])
                targets.append({"name": h["name"], "vendor": h["vendor"], "event": event, "uri": d["contact"],
                                "dest": d["address"]})
        elif h.get("address"):
            addr = str(h["address"])
            uri = addr if addr.startswith("sip") else "sip:%s@%s" % (h["user"] or "", addr) if h["user"] else "sip:%s" % addr
            targets.append({"name": h["name"], "vendor": h["vendor"], "event": event, "uri": uri, "dest": None})
        else:
            skipped.append({"name": h["name"], "reason": "not registered and no address given"})
    if wanted is not None:
        known = set(h["name"] for h in joined["handsets"])
        for name in sorted(wanted - known):
            skipped.append({"name": name, "reason": "not in the handsets given"})
    return targets, skipped


def resync(targets, concurrency=500, timeout=5.0):
    """Send every NOTIFY concurrently; one result per target: name, vendor, event, uri, status, code, reason, rtt_ms, error."""
    from ansible_collections.voipops.voip.plugins.module_utils import sip

    specs = []
    for t in targets:
        spec = {"uri": t["uri"], "event": t["event"]}
        if t.get("dest"):
            spec["dest"] = t["dest"]
        specs.append(spec)
    raw = sip.run_sync(sip.notify_many(specs, concurrency=concurrency, timeout=timeout)) if specs else []
    results = []
    for t, r in zip(targets, raw):
        results.append({"name": t["name"], "vendor": t["vendor"], "event": t["event"], "uri": t["uri"],
                        "status": r["status"], "code": r["code"], "reason": r["reason"], "rtt_ms": r["rtt_ms"],
                        "user_agent": r.get("user_agent"), "error": r["error"]})
    return results
