# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reasoning of the triage steps (pure: evidence in, observations out; no I/O).

Every step function takes the evidence dict that :mod:`.gather` builds (``ev``) and returns a list of
observations::

    {"step": "registration", "kind": "not_registered", "level": "cause" | "warning" | "ok" | "info",
     "severity": "major", "component": "hs-1001", "summary": "...", "action": "...", "evidence": {...}}

A ``cause`` is a fault the evidence proves and that explains the report; the engine stops at the first step that
has one.  ``component`` names the estate component the fault is on (None for the user's profile, which is the
administration's own job, not a supplier's).  Steps, in dependency order: :data:`STEPS`.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.voipops.voip.plugins.module_utils.handsets.registrations import compare_versions

STEPS = ("profile", "handset", "registration", "reachability", "path", "changes")
#: steps that are context, not diagnosis: they run even after a cause is proven (and never prove one)
CONTEXT_STEPS = ("changes",)
UTC = datetime.timezone.utc


def _iso(when):
    if when is None:
        return None
    if isinstance(when, str):
        return when
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(when):
    if when is None or isinstance(when, datetime.datetime):
        return when
    text = str(when).replace("Z", "+00:00")
    return datetime.datetime.fromisoformat(text)


def obs(step, kind, level, summary, severity=None, component=None, action=None, evidence=None):
    return {"step": step, "kind": kind, "level": level, "severity": severity, "component": component,
            "summary": summary, "action": action, "evidence": evidence or {}}


def _active(until, now):
    """A feature or grant without ``until``, or with ``until`` after ``now``."""
    return until is None or _parse(until) > now


# --------------------------------------------------------------------------------------------- 1. profile
def profile(ev):
    """The user's profile on the callserver: exists, class of service, grants and features with their expiry,
    number in cooling, DND or unconditional forward (which explain "I get no calls")."""
    p = ev.get("profile") or {}
    now = ev["now"]
    ext = (ev.get("target") or {}).get("extension")
    out = []
    if not p.get("checked"):
        return [obs("profile", "not_checked", "info", "profile not checked: %s" % p.get("reason", "no callserver database"))]
    user = p.get("user")
    if user is None and not p.get("subscriber"):
        cooling = p.get("cooling")
        if cooling:
            return [obs("profile", "number_in_cooling", "cause",
                        "extension %s has no account: the number was released (employee %s) and is held in cooling until %s"
                        % (ext, cooling.get("employee_id") or "?", cooling.get("until")), severity="major",
                        action="the number belongs to a leaver: give the caller their own extension, or re-assign it "
                               "deliberately (callserver_users) once the cooling period is over",
                        evidence={"cooling": cooling})]
        return [obs("profile", "user_missing", "cause",
                    "extension %s has no account on the callserver (no subscriber, no managed profile)" % (ext or "?"),
                    severity="major",
                    action="create the user with callserver_users (an HR join) if this person should have %s; "
                           "check the recent changes below for a leaver or mover that removed it" % (ext or "the number"))]
    if user is None:
        return [obs("profile", "unmanaged", "info",
                    "extension %s is a subscriber without a managed profile (no employee id): class of service and "
                    "features are not known to voipops" % ext)]
    cos = user.get("class_of_service")
    out.append(obs("profile", "exists", "ok", "%s (%s), extension %s, class of service %s"
                   % (user.get("name") or user["id"], user["id"], user["extension"], cos),
                   evidence={"employee_id": user["id"], "class_of_service": cos, "site": user.get("site")}))
    grant = user.get("class_of_service_grant")
    if grant:
        if _active(grant.get("until"), now):
            out.append(obs("profile", "grant_active", "ok", "granted class of service %s until %s"
                           % (grant["class_of_service"], grant.get("until") or "further notice"), evidence={"grant": grant}))
        else:
            out.append(obs("profile", "grant_expired", "cause",
                           "the grant of class of service %s expired at %s: calls that need it are refused (the user "
                           "is back on %s)" % (grant["class_of_service"], grant["until"], cos), severity="minor",
                           action="renew the grant with a new until (callserver_users merged, class_of_service_grant) "
                                  "if it is still approved; otherwise tell the user it ended",
                           evidence={"grant": grant}))
    for f in user.get("features") or []:
        name, until = f["name"], f.get("until")
        if not _active(until, now):
            out.append(obs("profile", "feature_expired", "info", "feature %s expired at %s (ignored by the callserver)"
                           % (name, until), evidence={"feature": f}))
            continue
        if name == "dnd":
            out.append(obs("profile", "dnd_on", "cause",
                           "do-not-disturb is on%s: the callserver refuses every incoming call"
                           % (" until %s" % until if until else ""), severity="minor",
                           action="switch do-not-disturb off (callserver_users: drop the dnd feature) or tell the user "
                                  "how to switch it off on the handset", evidence={"feature": f}))
        elif name == "cfu":
            out.append(obs("profile", "forward_all", "cause",
                           "unconditional call forward to %s is on%s: incoming calls never ring this phone"
                           % (f.get("target"), " until %s" % until if until else ""), severity="minor",
                           action="remove the cfu feature (callserver_users) if the forward is not wanted",
                           evidence={"feature": f}))
        else:
            out.append(obs("profile", "feature", "ok", "feature %s%s%s" % (
                name, " -> %s" % f["target"] if f.get("target") else "", " until %s" % until if until else ""),
                evidence={"feature": f}))
    return out


# --------------------------------------------------------------------------------------------- 2. handset
def handset(ev):
    """The handset record in the estate, its provisioning file (present, rendered for this user, fetched by the
    phone since it last changed), and its firmware against the approved list."""
    h = ev.get("handset")
    ext = (ev.get("target") or {}).get("extension")
    if h is None:
        return [obs("handset", "no_handset", "info", "the estate has no handset for extension %s (a softphone or a "
                    "handset missing from the estate)" % ext)]
    name = h["name"]
    what = "%s: %s %s, MAC %s, site %s" % (name, h.get("vendor"), h.get("model"), h.get("mac"), h.get("site"))
    out = [obs("handset", "record", "ok", what, component=name, evidence={"handset": h})]
    prov = ev.get("provisioning") or {}
    if not prov.get("checked"):
        out.append(obs("handset", "provisioning_not_checked", "info", "provisioning not checked: %s"
                       % prov.get("reason", "no provisioning root given"), component=name))
    else:
        out.extend(_provisioning(prov, h, ext))
    out.extend(_firmware(ev.get("firmware") or {}, h))
    return out


def _provisioning(prov, h, ext):
    name = h["name"]
    files = prov.get("files") or []
    missing = [f["name"] for f in files if not f.get("present")]
    if missing or not files:
        return [obs("handset", "provisioning_missing", "cause",
                    "the provisioning server has no file %s for %s (MAC %s): the phone cannot get its account"
                    % (", ".join(missing) or "(none known for this vendor)", name, h.get("mac")), severity="major",
                    component=name, action="render the handset's files with handset_provision (is the estate's MAC right?)",
                    evidence={"files": files})]
    out = []
    users = set(f.get("username") for f in files if f.get("username"))
    if users and ext not in users:
        return [obs("handset", "provisioning_wrong_user", "cause",
                    "the provisioning file of %s carries account %s, not extension %s" % (name, ", ".join(sorted(users)), ext),
                    severity="major", component=name,
                    action="re-render the handset's files (handset_provision) with this user, then re-sync the phone",
                    evidence={"files": files})]
    out.append(obs("handset", "provisioning_file", "ok", "%s rendered for %s" % (", ".join(f["name"] for f in files), ext),
                   component=name, evidence={"files": files}))
    changed = max(_parse(f["mtime"]) for f in files if f.get("mtime"))
    last = prov.get("last_ok")
    log_start = _parse(prov.get("log_start"))
    if last is None:
        if log_start is not None and changed > log_start:
            return out + [obs("handset", "provisioning_stale", "cause",
                              "%s never fetched its file since it changed at %s (log from %s): the phone runs an old "
                              "configuration" % (name, _iso(changed), _iso(log_start)), severity="minor", component=name,
                              action="re-sync the phone (handset_resync) or reboot it; if it does not fetch, check its "
                                     "provisioning URL (DHCP option 66) and the LAN",
                              evidence={"file_changed": _iso(changed), "last_fetch": None, "log_start": _iso(log_start)})]
        return out + [obs("handset", "no_fetch_in_log", "warning", "no fetch of %s in the access log" % name, component=name)]
    fetched = _parse(last["time"])
    if changed > fetched:
        return out + [obs("handset", "provisioning_stale", "cause",
                          "%s last fetched its file at %s, before it changed at %s: the phone runs an old configuration"
                          % (name, _iso(fetched), _iso(changed)), severity="minor", component=name,
                          action="re-sync the phone (handset_resync) so it fetches the current file",
                          evidence={"file_changed": _iso(changed), "last_fetch": last})]
    out.append(obs("handset", "fetched", "ok", "fetched at %s from %s" % (_iso(fetched), last.get("addr")),
                   component=name, evidence={"last_fetch": last}))
    return out


def _firmware(fw, h):
    name = h["name"]
    running, approved = fw.get("running"), fw.get("approved")
    if not running:
        return [obs("handset", "firmware_unknown", "info", "running firmware unknown (no registration or fetch shows it)",
                    component=name)]
    if approved is None:
        return [obs("handset", "firmware_no_policy", "info", "firmware %s (the estate approves no list for %s %s)"
                    % (running, h.get("vendor"), h.get("model")), component=name)]
    if any(compare_versions(running, a) == 0 for a in approved):
        return [obs("handset", "firmware_approved", "ok", "firmware %s is approved" % running, component=name,
                    evidence=fw)]
    return [obs("handset", "firmware_not_approved", "cause",
                "%s runs firmware %s (seen in %s), not an approved one (%s)" % (
                    name, running, fw.get("source"), ", ".join(approved)),
                severity="minor", component=name,
                action="upgrade the phone to %s (handset_provision with the approved firmware, then handset_resync)"
                       % approved[-1], evidence=fw)]


# --------------------------------------------------------------------------------------------- 3. registration
def registration(ev):
    """Live registrations of the extension, paired with the estate by the one matcher: none, stale, from another
    device or User-Agent than the estate says, several."""
    regs = ev.get("registrations") or {}
    h = ev.get("handset")
    ext = (ev.get("target") or {}).get("extension")
    name = h["name"] if h else None
    if not regs.get("checked"):
        return [obs("registration", "not_checked", "info", "registrations not read: %s" % regs.get("reason", "no rpc_url"))]
    contacts = regs.get("contacts") or []
    if not contacts:
        swap = (ev.get("provisioning") or {}).get("unknown") or []
        if h is not None and swap:
            newest = swap[-1]
            return [obs("registration", "mac_swap", "cause",
                        "%s is not registered, and a %s phone with MAC %s the estate does not know asked for its file "
                        "at %s and got %s: the handset was swapped without updating the estate"
                        % (name, newest.get("vendor") or h.get("vendor"), newest["mac"], newest["time"], newest["status"]),
                        severity="major", component=name,
                        action="set MAC %s in the estate for %s (or put the old phone back), render its files "
                               "(handset_provision) and let the new phone boot again" % (newest["mac"], name),
                        evidence={"unknown_devices": swap})]
        return [obs("registration", "not_registered", "cause",
                    "no device is registered for extension %s%s" % (ext, " (%s)" % name if name else ""),
                    severity="major", component=name,
                    action="check that the phone has power and network at its desk (link light, PoE port); if it "
                           "shows an error, note it (the steps before this one found nothing wrong with its account and its file)")]
    own = [c for c in contacts if c.get("handset") == name and not c.get("differences")] if name else list(contacts)
    others = [c for c in contacts if c not in own]
    out = []
    if h is not None and not own:
        c = others[0]
        return [obs("registration", "other_device", "cause",
                    "extension %s is registered from a device the estate does not know as %s: %s (%s)"
                    % (ext, name, c.get("user_agent") or "no User-Agent",
                       ", ".join(c.get("differences") or ["not the estate's handset"])),
                    severity="minor", component=name,
                    action="find out who registers with this account (a softphone, a swapped phone); fix the estate "
                           "record or remove the device and change the SIP password if it is not wanted",
                    evidence={"contacts": others})]
    stale = [c for c in own if c.get("expires") is not None and c["expires"] <= 0]
    if own and len(stale) == len(own):
        return [obs("registration", "registration_stale", "cause",
                    "the registration of %s has expired (%s) and was not refreshed" % (ext, own[0].get("contact")),
                    severity="major", component=name, action="check the phone's network: it stopped refreshing",
                    evidence={"contacts": own})]
    out.append(obs("registration", "registered", "ok", "registered from %s (%s)" % (
        ", ".join(c.get("address") or c.get("contact") or "?" for c in own), own[0].get("user_agent") or "no User-Agent"),
        component=name, evidence={"contacts": own}))
    if others:
        out.append(obs("registration", "several_devices", "warning",
                       "%d other device(s) registered with the same account: %s" % (
                           len(others), ", ".join(c.get("user_agent") or "?" for c in others)),
                       component=name, evidence={"contacts": others}))
    return out


# --------------------------------------------------------------------------------------------- 4. reachability
def reachability(ev):
    """SIP OPTIONS to the registered contact(s), then a test call to the extension through the callserver."""
    opt = ev.get("options") or {}
    h = ev.get("handset")
    name = h["name"] if h else None
    out = []
    results = opt.get("results") or []
    if not opt.get("checked") or not results:
        out.append(obs("reachability", "options_not_sent", "info", "no OPTIONS sent: %s" % opt.get("reason", "no contact")))
    elif not any(r.get("reachable") for r in results):
        r = results[0]
        return [obs("reachability", "contact_unreachable", "cause",
                    "the registered contact %s does not answer OPTIONS (%s): the registration is stale, the phone hangs "
                    "or a NAT/firewall drops requests to it" % (r.get("target"), r.get("status")),
                    severity="major", component=name,
                    action="power-cycle the phone; if it keeps happening, check NAT keep-alives and the firewall "
                           "between the callserver and the phone's network", evidence={"options": results})]
    else:
        r = [x for x in results if x.get("reachable")][0]
        out.append(obs("reachability", "options_answered", "ok", "OPTIONS answered %s %s in %s ms" % (
            r.get("code"), r.get("reason") or "", r.get("rtt_ms")), component=name, evidence={"options": results}))
    out.extend(test_call(ev))
    return out


def _answer(call):
    if call.get("code"):
        return "%s %s" % (call["code"], call.get("reason") or "")
    return call.get("error") or "no answer"


def test_call(ev):
    """The test call to the extension through the callserver (``sip_call``): answered, busy, no answer (it rang),
    rejected with which code, unreachable; a refused test-call account is the triage's own problem (info)."""
    tc = ev.get("test_call") or {}
    h = ev.get("handset")
    name = h["name"] if h else None
    ext = (ev.get("target") or {}).get("extension")
    if not tc.get("checked"):
        return [obs("reachability", "test_call_not_done", "info", "no test call placed: %s" % tc.get("reason", "not configured"))]
    call = tc["call"]
    cls = call.get("classification")
    ev_call = {"test_call": call}
    by = " (answered by %s)" % call["server"] if call.get("server") else ""
    uas = set(c.get("user_agent") for c in (ev.get("registrations") or {}).get("contacts") or [] if c.get("user_agent"))
    from_phone = bool(call.get("server")) and call["server"] in uas
    if cls == "answered":
        return [obs("reachability", "test_call_answered", "ok", "a test call to %s was answered in %s ms%s" % (
            ext, call.get("setup_ms"), by), component=name, evidence=ev_call)]
    if cls == "no_answer" and call.get("ringing"):
        return [obs("reachability", "test_call_rang", "ok", "a test call to %s rang (after %s ms) and was not picked up "
                    "within %gs: the phone rings" % (ext, call.get("post_dial_delay_ms"), tc.get("ring_timeout") or 0),
                    component=name, evidence=ev_call)]
    if cls == "auth_failed":
        return [obs("reachability", "test_call_refused_account", "info",
                    "the callserver refuses the triage's test-call account %s (%s): no test call placed" % (
                        tc.get("from"), _answer(call)), evidence=ev_call)]
    if cls == "busy" and from_phone:
        return [obs("reachability", "test_call_busy", "cause",
                    "a test call to %s gets busy (%s)%s: the phone itself refuses calls (its own do-not-disturb, or "
                    "all its lines busy)" % (ext, _answer(call), by),
                    severity="minor", component=name,
                    action="switch do-not-disturb off on the handset (or end the call that keeps its line busy); if it "
                           "persists, factory-reset its settings and re-provision it", evidence=ev_call)]
    if cls == "unreachable":
        return [obs("reachability", "test_call_unanswered", "cause",
                    "a test call to %s through the callserver got no answer at all (%s): the phone answers OPTIONS "
                    "but not INVITEs" % (ext, call.get("error") or "no final answer"), severity="major", component=name,
                    action="power-cycle the phone; if it keeps happening, replace it", evidence=ev_call)]
    if from_phone:
        return [obs("reachability", "test_call_rejected", "cause",
                    "a test call to %s is rejected by the phone with %s%s" % (ext, _answer(call), by), severity="major",
                    component=name,
                    action="the phone refuses calls with %s: check its call settings (re-provision it with "
                           "handset_provision, then handset_resync); if it persists, replace it" % call.get("code"),
                    evidence=ev_call)]
    return [obs("reachability", "test_call_rejected", "cause",
                "a test call to %s is %s by the callserver with %s%s, although the phone is registered and answers "
                "OPTIONS" % (ext, "refused as busy" if cls == "busy" else "rejected", _answer(call), by),
                severity="major", component=None,
                action="the callserver's routing refuses calls to this extension: check its features and call routing "
                       "(an unmanaged do-not-disturb or forward, a routing rule)", evidence=ev_call)]


# --------------------------------------------------------------------------------------------- 5. path
def path(ev):
    """The site's path: the gateways the site depends on (dispatcher state and OPTIONS), the components the
    handset depends on, and open tickets of the last audit on any of them."""
    pth = ev.get("path") or {}
    out = []
    for gw in pth.get("gateways") or []:
        dispatcher = gw.get("dispatcher")
        options = gw.get("options")
        down = (options not in (None, "ok")) or dispatcher in ("inactive", "disabled")
        detail = "dispatcher %s, OPTIONS %s" % (dispatcher or "not listed", options or "not sent")
        if down:
            out.append(obs("path", "gateway_down", "cause",
                           "gateway %s of site %s is down (%s): calls in and out of the site through it fail"
                           % (gw["name"], pth.get("site"), detail), severity="critical", component=gw["name"],
                           action="the gateway's maintainer restores it; calls move to the other gateways of the "
                                  "dispatcher set if there are any", evidence={"gateway": gw}))
        else:
            out.append(obs("path", "gateway_up", "ok", "gateway %s up (%s)" % (gw["name"], detail), component=gw["name"],
                           evidence={"gateway": gw}))
    for t in pth.get("tickets") or []:
        out.append(obs("path", "open_ticket", "cause" if t.get("availability") else "warning",
                       "open audit ticket on %s: %s (%s, %s, since %s)" % (
                           t.get("component"), t.get("summary"), t.get("priority"), t.get("supplier"), t.get("first_seen")),
                       severity=t.get("severity"), component=t.get("component"),
                       action="follow the audit ticket %s with %s" % (t.get("id"), t.get("supplier")),
                       evidence={"ticket": t}))
    if not out:
        out.append(obs("path", "no_path", "info", "no gateways or audit tickets to check for site %s" % pth.get("site")))
    return out


# --------------------------------------------------------------------------------------------- 6. changes
def changes(ev):
    """Recent changes that touched this user or phone: the mutation journal and release records."""
    ch = ev.get("changes") or {}
    rows = ch.get("journal") or []
    releases = ch.get("releases") or []
    if not rows and not releases:
        return [obs("changes", "no_changes", "ok", "no recorded change of this user or phone since %s" % ch.get("since"))]
    out = []
    for r in rows:
        out.append(obs("changes", "journal", "suspect", "%s %s by %s: %s" % (r.get("when"), r.get("op"), r.get("who"), r.get("what")),
                       evidence={"journal": r}))
    for r in releases:
        out.append(obs("changes", "release", "suspect", "release record %s: %s" % (r.get("when") or "", r.get("summary")),
                       evidence={"release": r}))
    return out


RULES = {"profile": profile, "handset": handset, "registration": registration, "reachability": reachability,
         "path": path, "changes": changes}


def conclude(observations):
    """The first cause in step order, else the newest suspect change, else None."""
    for o in observations:
        if o["level"] == "cause":
            return o
    suspects = [o for o in observations if o["level"] == "suspect"]
    return suspects[-1] if suspects else None
