# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The handset-registration domain: one rule each, used by every caller.

- **MAC**: :func:`normalize_mac` (the estate, provisioning inputs, User-Agents, inventory, findings) and
  :func:`mac_hex` (file names);
- **AoR -> user**: :func:`aor_user`;
- **User-Agent -> vendor/model/firmware/MAC**: :func:`parse_user_agent` dispatches to the vendor profiles'
  patterns (``handsets/<vendor>.py``) and applies the MAC rule to what they find;
- **firmware version order**: :func:`version_key` / :func:`compare_versions`;
- **registrations -> estate handsets**: :func:`match`, the one pairing used by ``handsets/fleet.join``
  (handset_info, handset_resync), the health audit's registrations check and the ``registrations``
  inventory plugin.  Each caller keeps its own output shape; all take the pairing's one verdict
  (``status``: matched, ua_unrecognised, device_mismatch, user_mismatch, unknown; see :func:`match`), so they
  agree.  A multi-line device (a DECT base's handsets, an ATA's ports: ``lines``) is one handset with several
  users (:func:`handset_users`).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import traceback

from ansible_collections.voipops.voip.plugins.module_utils.handsets import base

try:
    import netaddr
    HAS_NETADDR = True
    NETADDR_IMPORT_ERROR = None
except ImportError:  # pragma: no cover
    HAS_NETADDR = False
    NETADDR_IMPORT_ERROR = traceback.format_exc()


# --------------------------------------------------------------------------------------------
# MAC
# --------------------------------------------------------------------------------------------

_CANONICAL_MAC = re.compile(r"^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$")


def normalize_mac(value):
    """Return the EUI-48 in canonical unix-expanded form (``00:15:65:aa:bb:cc``); ValueError if not a device MAC.

    Every notation netaddr reads (``00:15:65:AA:BB:CC``, ``00-15-65-aa-bb-cc``, ``0015.65aa.bbcc``,
    ``001565AABBCC``) gives the same MAC; all-zero, broadcast and multicast addresses are refused.
    """
    if not HAS_NETADDR:  # pragma: no cover
        raise base.ProfileError("the netaddr Python library is required to normalise MAC addresses")
    text = str(value).strip() if value is not None else ""
    if not text:
        raise ValueError("empty MAC")
    if _CANONICAL_MAC.match(text):  # already canonical (the estate's own records): the same checks without a parse
        first = int(text[:2], 16)
        if text in ("00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"):
            raise ValueError("'%s' is not a device MAC address" % text)
        if first & 1:
            raise ValueError("'%s' is a multicast MAC address, not a device" % text)
        return text
    try:
        eui = netaddr.EUI(text, version=48)
    except (netaddr.AddrFormatError, TypeError, ValueError):
        raise ValueError("'%s' is not a MAC address (EUI-48)" % text)
    eui.dialect = netaddr.mac_unix_expanded
    mac = str(eui).lower()
    if mac in ("00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"):
        raise ValueError("'%s' is not a device MAC address" % text)
    if int(eui) & (1 << 40):
        raise ValueError("'%s' is a multicast MAC address, not a device" % text)
    return mac


def mac_hex(mac, upper=False):
    """``00:15:65:aa:bb:cc`` -> ``001565aabbcc`` (or upper case)."""
    digits = mac.replace(":", "")
    return digits.upper() if upper else digits.lower()


def _lenient_mac(value):
    """The MAC rule for what devices and loose inputs say: None instead of an error."""
    if not value:
        return None
    try:
        return normalize_mac(value)
    except (ValueError, base.ProfileError):
        return None


# --------------------------------------------------------------------------------------------
# AoR, User-Agent, firmware versions
# --------------------------------------------------------------------------------------------

def aor_user(aor):
    """``sip:1001@voip.lab`` / ``1001@voip.lab`` / ``1001`` -> ``1001``."""
    text = str(aor or "")
    if text.startswith(("sip:", "sips:")):
        text = text.split(":", 1)[1]
    return text.split("@", 1)[0]


def parse_user_agent(ua):
    """User-Agent -> {vendor, model, firmware, mac} (MAC normalised, None when absent or invalid), or None."""
    for profile in base.all_profiles():
        found = profile.parse_user_agent(ua)
        if found:
            found["mac"] = _lenient_mac(found.get("mac"))
            return found
    return None


_VERSION_SPLIT_RE = re.compile(r"[.\-_+ ]")
_VERSION_PART_RE = re.compile(r"(\d+)|([A-Za-z]+)")
_VERSION_KEYS = {}


def version_key(version):
    """Sort key for firmware versions: numeric parts compare as numbers (``96.86.0.9 < 96.86.0.100``).

    Memoised: an estate has a handful of firmware strings and an audit compares them thousands of times."""
    text = str(version or "").strip()
    key = _VERSION_KEYS.get(text)
    if key is None:
        key = []
        for part in _VERSION_SPLIT_RE.split(text):
            for num, word in _VERSION_PART_RE.findall(part):
                key.append((1, int(num), "") if num else (0, 0, word.lower()))
        key = tuple(key)
        if len(_VERSION_KEYS) < 4096:  # bounded: a fleet's distinct firmware strings, not every input ever seen
            _VERSION_KEYS[text] = key
    return key


def compare_versions(a, b):
    """-1, 0 or 1."""
    ka, kb = version_key(a), version_key(b)
    return (ka > kb) - (ka < kb)


# --------------------------------------------------------------------------------------------
# Registrations <-> estate handsets
# --------------------------------------------------------------------------------------------

def _norm_model(model):
    return re.sub(r"[\s_\-]", "", str(model or "")).upper()


_CANONICAL = {}


def _canonical(vendor, model):
    """(profile vendor or None, the profile's spelling of ``model`` or None); memoised: a fleet has few models."""
    key = (vendor, model)
    found = _CANONICAL.get(key)
    if found is None:
        profile = base.get_profile(vendor)
        found = _CANONICAL[key] = (profile.vendor if profile else None,
                                   profile.canonical_model(model) if profile else None)
    return found


def model_key(vendor, model):
    """A model as its vendor profile spells it (case/spacing-insensitive), for comparisons."""
    return _canonical(vendor, model)[1] or _norm_model(model)


def handset_users(rec):
    """The users (AoR users) a device registers, in line order: its ``lines`` (a DECT base's handsets, an ATA's
    ports: ``{user}`` mappings, users, or ``a|b``), else its one ``user``."""
    lines = rec.get("lines") or []
    if isinstance(lines, str):  # CSV "a|b"
        lines = [u for u in re.split(r"[\s|]+", lines) if u]
    if lines:
        users = [line.get("user") if isinstance(line, dict) else line for line in lines]
        return [str(u) for u in users if u not in (None, "")]
    return [str(rec["user"])] if rec.get("user") not in (None, "") else []


def normalise_handsets(handsets):
    """Estate handset dicts -> [{name, vendor, model, mac, user, users, address, site}] with vendor/model/MAC normalised
    (lenient).  ``users`` lists every line's user (one for a desk phone); ``user`` is the first."""
    out = []
    for rec in handsets or []:
        vendor, model = _canonical(rec.get("vendor"), rec.get("model"))
        users = handset_users(rec)
        out.append({"name": str(rec.get("name")), "vendor": vendor or rec.get("vendor"),
                    "model": model or rec.get("model"),
                    "mac": _lenient_mac(rec.get("mac")),
                    "user": users[0] if users else None, "users": users,
                    "address": rec.get("address"), "site": rec.get("site")})
    return out


def differences(handset, ua, user=None):
    """Where a registration disagrees with its estate handset (a normalised handset, see :func:`normalise_handsets`).

    A list of: ``unidentified`` (no vendor profile recognises the User-Agent), ``vendor``, ``model`` (only
    when the User-Agent names one), ``mac`` (only when the User-Agent shows one), ``user`` (the AoR is none of
    the handset's line users; only when ``user`` is given).  Empty = the registration is that handset.
    """
    ua = ua or {}
    out = []
    if not ua.get("vendor"):
        out.append("unidentified")
    elif ua["vendor"] != handset.get("vendor"):
        out.append("vendor")
    vendor = handset.get("vendor")
    if ua.get("model") and model_key(vendor, ua["model"]) != model_key(vendor, handset.get("model")):
        out.append("model")
    if ua.get("mac") and handset.get("mac") and ua["mac"] != handset["mac"]:
        out.append("mac")
    users = handset.get("users") or ([handset["user"]] if handset.get("user") else [])
    if user is not None and user not in users:
        out.append("user")
    return out


#: what a registered contact is to the estate (``status`` of a pairing), most trusted first.  Every status but
#: ``unknown`` means the handset IS registered; the others say what is odd about it.
MATCHED = "matched"                    # the User-Agent agrees with the estate in every respect
UA_UNRECOGNISED = "ua_unrecognised"    # no vendor profile reads the User-Agent: matched by user (MAC when known)
DEVICE_MISMATCH = "device_mismatch"    # the User-Agent names another vendor/model than the estate
USER_MISMATCH = "user_mismatch"        # the device (by its MAC) registers an account that is none of its lines
UNKNOWN = "unknown"                    # no estate handset: nobody's account, another MAC, or another device on a line
REGISTERED = (MATCHED, UA_UNRECOGNISED, DEVICE_MISMATCH, USER_MISMATCH)
#: a handset's overall status: the most telling of its contacts'
_HANDSET_ORDER = (DEVICE_MISMATCH, USER_MISMATCH, UA_UNRECOGNISED, MATCHED)


def _pick(candidates, ua):
    """Among the handsets of one user, the one this User-Agent fits (vendor, then model), or None."""
    if len(candidates) == 1:
        return candidates[0]
    vendor = ua.get("vendor")
    fitting = [h for h in candidates if h["vendor"] == vendor] if vendor else []
    if len(fitting) > 1 and ua.get("model"):
        fitting = [h for h in fitting if "model" not in differences(h, ua)]
    return fitting[0] if len(fitting) == 1 else None


def _status(diffs):
    if "mac" in diffs:
        return UNKNOWN
    if "vendor" in diffs or "model" in diffs:
        return DEVICE_MISMATCH
    if "user" in diffs:
        return USER_MISMATCH
    if "unidentified" in diffs:
        return UA_UNRECOGNISED
    return MATCHED


def _reason(status, handset, user, bound_users):
    if status == MATCHED:
        return None
    if status == UA_UNRECOGNISED:
        return "registered as %s, User-Agent not recognised" % user
    if status == DEVICE_MISMATCH:
        return "registered as %s by a device whose User-Agent names another vendor/model than the estate's" % user
    if status == USER_MISMATCH:
        return "the device's MAC registers %s, which is none of its lines (%s)" % (user, ", ".join(handset["users"]))
    if handset is not None:
        return "registered as %s, but its User-Agent shows another MAC than the estate's handset %s" % (user, handset["name"])
    if user in bound_users:
        return "registered as %s, but its User-Agent does not fit the estate's handsets of that user" % user
    return "registered as %s, which no handset of the estate uses" % user


def match(handsets, contacts, parse=None):
    """Pair each registered contact with its estate handset: the MAC the User-Agent shows first, then the AoR's user.

    ``handsets``: estate handset dicts (name, vendor, model, mac, user or lines); ``contacts``: registration records
    (``aor``, ``user_agent``, ...).  Returns one pairing per contact, in contact order:
    ``{"contact": record, "ua": parsed User-Agent ({} when unknown), "user": AoR user,
    "handset": normalised handset or None, "line": 1-based line of the AoR's user on that handset or None,
    "differences": see :func:`differences`, "status": one of :data:`REGISTERED` or ``unknown``,
    "reason": why the pairing is not plainly ``matched`` (None when it is)}``.

    One rule for every caller (handset_info and handset_resync through ``fleet.join``, the audit, the inventory):

    - a User-Agent no profile reads is matched by the AoR's user: the handset is registered, ``ua_unrecognised``
      (never "not registered") -- unless that line of the handset is already registered by a device that is
      recognised, then it is another device on the account (``unknown``);
    - a User-Agent showing another MAC than the estate's is another device (``unknown``);
    - another vendor/model than the estate says is the handset, registered by the wrong device (``device_mismatch``);
    - a device (found by MAC) registering an account that is none of its lines: ``user_mismatch``.
    """
    parse = parse or parse_user_agent
    known = normalise_handsets(handsets)
    by_mac = dict((h["mac"], h) for h in known if h["mac"])
    by_user = {}
    for h in known:
        for user in h["users"]:
            by_user.setdefault(user, []).append(h)
    bound_users = set(by_user)
    pairs = []
    for contact in contacts or []:
        ua = parse(contact.get("user_agent")) or {}
        user = aor_user(contact.get("aor"))
        handset = by_mac.get(ua.get("mac")) if ua.get("mac") else None
        if handset is None:
            handset = _pick(by_user.get(user, []), ua)
        pairs.append(_pair(contact, ua, user, handset))
    # second pass, for User-Agents no profile reads: a line already registered by a recognised device is that
    # device's (the unreadable contact is another device on the account); among several handsets of the user,
    # the one left without a recognised registration is the one
    recognised = set((p["handset"]["name"], p["user"]) for p in pairs if p["status"] in (MATCHED, DEVICE_MISMATCH))
    for i, p in enumerate(pairs):
        if p["ua"].get("vendor") or not by_user.get(p["user"]):
            continue
        free = [h for h in by_user.get(p["user"], []) if (h["name"], p["user"]) not in recognised]
        if len(free) == 1:
            pairs[i] = _pair(p["contact"], p["ua"], p["user"], free[0])
        else:
            taken = p["candidate"] or by_user[p["user"]][0]
            pairs[i] = dict(p, status=UNKNOWN, handset=None, line=None, candidate=None, reason=(
                "registered as %s, whose handset %s is registered by its own device" % (p["user"], taken["name"])
                if not free else "registered as %s, User-Agent not recognised, and %s share that user: cannot tell "
                "which" % (p["user"], ", ".join(h["name"] for h in free))))
    for p in pairs:
        candidate = p.pop("candidate")
        if "reason" not in p:
            p["reason"] = _reason(p["status"], candidate, p["user"], bound_users)
    return pairs


def _pair(contact, ua, user, handset):
    diffs = differences(handset, ua, user) if handset else []
    status = _status(diffs) if handset else UNKNOWN
    return {"contact": contact, "ua": ua, "user": user, "handset": handset if status != UNKNOWN else None,
            "line": handset["users"].index(user) + 1 if handset and user in handset["users"] else None,
            "differences": diffs, "status": status, "candidate": handset}


def handset_status(statuses):
    """The status of a handset from its contacts' (:data:`REGISTERED` values); ``None`` when it has none."""
    for status in _HANDSET_ORDER:
        if status in statuses:
            return status
    return None


def match_by_handset(handsets, contacts, parse=None):
    """:func:`match` grouped: ``(matched, unknown)``; matched = {handset name: [contact + ``ua``, ``status``, ``line``,
    ``reason``]}, unknown = [contact + ``ua``, ``status``, ``reason``].  A handset is registered when it has a contact
    here, whatever its status (see :func:`match`)."""
    matched, unknown = {}, []
    for pair in match(handsets, contacts, parse):
        entry = dict(pair["contact"], ua=pair["ua"], status=pair["status"], reason=pair["reason"], line=pair["line"])
        if pair["handset"] is None:
            unknown.append(entry)
        else:
            matched.setdefault(pair["handset"]["name"], []).append(entry)
    return matched, unknown
