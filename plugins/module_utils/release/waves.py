# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure planning of a handset firmware release: scope, waves, maintenance window, gate verdict.

Nothing here talks to a server; every function takes data and returns data, so the whole plan can be shown in
check mode and tested without a lab.

- :func:`select` picks the handsets of the scope that have a target image (in the order of the scope's
  ``handsets`` list when it gives one, else families interleaved so a canary covers as many as it can).
- :func:`split` cuts that list into waves: a canary of N, then each size of ``then`` (a count, or a share of
  the scope rounded up); what is left after the listed sizes is one more wave.
- :func:`window_open` says whether an instant is inside a maintenance window in a given time zone
  (``start == end`` is the whole day; ``start > end`` runs past midnight into the next day).
- :func:`outcome` names what happened to one phone of a wave; :func:`judge` is the gate: the share of the wave
  registered again on the target version, and no rise in unregistered phones outside the wave.
- :func:`phones_in_calls` says which phones are in a call, from the callserver's calls (``active_calls`` of the
  driver) and the contacts the phones registered: a phone is in a call when it is a party of an answered call, or
  the caller of one being set up (a phone that only rings is not: the vendors hold an update for an active line).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import math

from ansible_collections.voipops.voip.plugins.module_utils import sla

# what happened to a phone of a wave (the gate's vocabulary; docs/release_rollout.md)
ON_TARGET = "on_target"
REFUSED = "image_refused"              # stayed registered on its old version: it refused (or never applied) the image
CAME_BACK_OLD = "came_back_on_old_version"   # went down and came back on the old version (dual-partition revert)
NOT_BACK = "did_not_come_back"         # not registered when the gate timed out
DEFERRED = "deferred"                  # in a call: not rebooted, retried within the window (counted apart)


def select(handsets, targets, scope, groups=None):
    """(names in release order, excluded [{name, reason}]).

    ``handsets``: [{name, vendor, model, family, site}]; ``targets``: {(vendor, family): image};
    ``scope``: {sites, vendors, models, groups, handsets} (each an empty list = no filter);
    ``groups``: {group: [names]}.
    """
    groups = groups or {}
    by_name = dict((h["name"], h) for h in handsets)
    wanted_groups = set()
    for g in scope.get("groups") or []:
        wanted_groups.update(groups.get(g, []))
    listed = scope.get("handsets") or []

    def in_scope(h):
        return ((not scope.get("sites") or h.get("site") in scope["sites"])
                and (not scope.get("vendors") or h["vendor"] in scope["vendors"])
                and (not scope.get("models") or h["model"] in scope["models"])
                and (not scope.get("groups") or h["name"] in wanted_groups)
                and (not listed or h["name"] in listed))

    chosen, excluded = [], []
    candidates = [by_name[n] for n in listed if n in by_name] if listed else sorted(handsets, key=lambda h: h["name"])
    seen = set()
    for h in candidates:
        if h["name"] in seen or not in_scope(h):
            continue
        seen.add(h["name"])
        if (h["vendor"], h["family"]) not in targets:
            excluded.append({"name": h["name"], "reason": "no target image for %s %s" % (h["vendor"], h["family"])})
            continue
        chosen.append(h)
    if listed:
        return [h["name"] for h in chosen], excluded
    # families interleaved: the canary and every wave carry as many families as they can
    per_family = {}
    for h in chosen:
        per_family.setdefault((h["vendor"], h["family"]), []).append(h["name"])
    order, queues = [], [per_family[k] for k in sorted(per_family)]
    while any(queues):
        for q in queues:
            if q:
                order.append(q.pop(0))
    return order, excluded


def split(names, canary, sizes):
    """Waves (lists of names) of a canary of ``canary`` then ``sizes`` [("count", n) | ("share", f)] of len(names)."""
    total, waves, pos = len(names), [], 0

    def take(count):
        chunk = names[pos:pos + count]
        if chunk:
            waves.append(list(chunk))
        return len(chunk)

    if canary:
        pos += take(int(canary))
    for kind, value in sizes:
        if pos >= total:
            break
        count = int(value) if kind == "count" else max(1, int(math.ceil(value * total - 1e-9)))
        pos += take(count)
    if pos < total:
        take(total - pos)
    return waves


def _hm(text):
    hour, minute = text.split(":")
    return int(hour) * 60 + int(minute)


def window_open(window, when, zone_name=None):
    """Whether ``when`` (an aware datetime) is inside ``window`` ({days, start, end, timezone}) in its time zone
    (``window['timezone']``, else ``zone_name``, else UTC).  No window = always open."""
    if not window:
        return True
    local = when.astimezone(sla.get_zone(window.get("timezone") or zone_name or "UTC"))
    days = window.get("days") or list(range(7))
    start, end = _hm(window["start"]), _hm(window["end"])
    minute, day = local.hour * 60 + local.minute, local.weekday()
    if start == end:
        return day in days
    if start < end:
        return day in days and start <= minute < end
    return (day in days and minute >= start) or ((day - 1) % 7 in days and minute < end)


def window_check(window, when, zones):
    """(open, detail) for the time zones of a wave's sites (``zones``: set of names; None = UTC)."""
    closed = []
    for zone in sorted(set(z or "UTC" for z in zones) or ["UTC"]):
        if not window_open(window, when, zone):
            closed.append(zone)
    if not closed:
        return True, None
    local = when.astimezone(sla.get_zone((window or {}).get("timezone") or closed[0]))
    days = ",".join(sla.DAY_NAMES[d] for d in (window.get("days") or range(7)))
    return False, "%s %s is outside the maintenance window (%s %s-%s, %s)" % (
        local.strftime("%a %Y-%m-%d %H:%M"), (window or {}).get("timezone") or closed[0], days,
        window["start"], window["end"], ", ".join(closed))


def outcome(observed, target, seen_down):
    """What happened to one phone: ``observed`` = {registered, firmware} now; ``seen_down`` = it was seen
    unregistered (rebooting) since the wave began."""
    if observed.get("deferred"):
        return DEFERRED
    if not observed.get("registered"):
        return NOT_BACK
    if observed.get("firmware") == target:
        return ON_TARGET
    return CAME_BACK_OLD if seen_down else REFUSED


def judge(outcomes, gate, newly_unregistered_outside):
    """The gate: {passed, share, required, on_target, counted, deferred, rise, allowed_rise, failed: {name: how}}.

    ``outcomes``: {name: outcome}; deferred phones are counted apart (not in the share's denominator).
    """
    counted = [n for n, o in outcomes.items() if o != DEFERRED]
    on_target = [n for n in counted if outcomes[n] == ON_TARGET]
    share = (float(len(on_target)) / len(counted)) if counted else 1.0
    rise = len(newly_unregistered_outside)
    passed = share + 1e-9 >= gate["registered"] and rise <= gate["unregistered_rise"]
    return {"passed": passed, "share": round(share, 4), "required": gate["registered"],
            "on_target": len(on_target), "counted": len(counted),
            "deferred": sorted(n for n, o in outcomes.items() if o == DEFERRED),
            "rise": rise, "allowed_rise": gate["unregistered_rise"],
            "newly_unregistered_outside": sorted(newly_unregistered_outside),
            "failed": dict((n, o) for n, o in sorted(outcomes.items()) if o not in (ON_TARGET, DEFERRED))}


def _hostport(uri):
    """``host:port`` of a SIP URI (``sip:1001@127.0.0.1:5062;transport=udp`` -> ``127.0.0.1:5062``), lower case."""
    text = str(uri or "").strip().strip("<>")
    if ":" not in text:
        return None
    text = text.split(":", 1)[1].split(";", 1)[0].split("?", 1)[0]
    text = text.rsplit("@", 1)[-1].lower()
    return text if ":" in text.rstrip("]") else text + ":5060"


def phones_in_calls(contacts, calls):
    """{name: [call ids]} of the phones in a call.  ``contacts``: {name: [registered contact URIs]};
    ``calls``: the driver's ``active_calls()`` ([{call_id, state, caller: {contact}, callee: {contact}}])."""
    owner = {}
    for name, uris in contacts.items():
        for uri in uris or []:
            key = _hostport(uri)
            if key:
                owner[key] = name
    busy = {}
    for call in calls or []:
        parties = [call.get("caller") or {}]
        if call.get("state") == "confirmed":
            parties.append(call.get("callee") or {})
        for party in parties:
            name = owner.get(_hostport(party.get("contact")))
            if name is not None and call.get("call_id") not in busy.get(name, []):
                busy.setdefault(name, []).append(call.get("call_id"))
    return busy


def utcnow():
    return datetime.datetime.now(sla.UTC)
