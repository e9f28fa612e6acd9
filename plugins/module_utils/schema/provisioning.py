# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inputs of handset provisioning as field tables, walked by ``source.Validator``.

``provision.validate`` walks :data:`SETTINGS` over the module's settings (defaults applied),
:data:`USER` over each SIP account and :data:`HANDSET` over each handset.  Rows may carry other
columns (an inventory export), so the record tables are open.  What spans records (a duplicate
extension, handset name or MAC; a handset's user that is not among the accounts) is checked against
``ctx.state``: the validation run's ``names``, ``macs`` and ``users`` (extension -> account).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.voipops.voip.plugins.module_utils.handsets import base, registrations
from ansible_collections.voipops.voip.plugins.module_utils.source import Field, Table, line_of


def _falsy(value):
    return not value


def _safe(value, ctx):
    """No control characters (no line breaks to inject settings into a phone's file)."""
    if value and not base.check_safe(value):
        raise ValueError("contains control characters")
    return value


def _safe_text(value, ctx):
    if not base.check_safe(value):
        raise ValueError("contains control characters")
    return value


def _timezone(value, ctx):
    return base.timezone_info(value)  # ProfileError is a ValueError: reported at the field


def _positive(limit=None):
    def check(value, ctx):
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ValueError("'%s' is not a valid number" % value)
        if number <= 0 or (limit and number > limit):
            raise ValueError("'%s' is not a valid number" % number)
        return number
    return check


SETTINGS = Table("settings", [
    Field("registrar", "any", required=True, check=_safe),
    Field("provisioning_url", "any", required=True, check=_safe),
    Field("transport", "any", choices=base.TRANSPORTS, messages={"choice": "must be one of {choices}"}),
    Field("language", "any", choices=base.LANGUAGES,
          messages={"choice": "'{value}' is not a supported language ({choices})"}),
    Field("timezone", "any", always=True, check=_timezone),
    Field("registrar_port", "any", always=True, check=_positive(65535)),
    Field("expires", "any", always=True, check=_positive()),
    Field("ntp_server", "any", check=_safe),
    Field("domain", "any", check=_safe),
    Field("firmware", "any", choices=("latest", "none"), messages={"choice": "must be 'latest' or 'none'"}),
], closed=False, missing=_falsy)


USER = Table("account", [
    Field("extension", "any", check=_safe_text),
    Field("display_name", "any", check=_safe_text),
    Field("sip_password", "any", required=True, check=_safe_text,
          messages={"required": "is required (the SIP password the handset registers with)"}),
    Field("username", "any", check=_safe_text),
    Field("auth_user", "any", check=_safe_text),
], closed=False, required_at_end=True, missing=_falsy)


def _name(value, ctx):
    """Required, safe, unique among the handsets."""
    names, rec = ctx.state.names, ctx.rec
    if not value:
        ctx.error("is required", rec, None, "name")
        return None
    if not base.check_safe(value):
        raise ValueError("contains control characters")
    if value in names:
        raise ValueError("duplicate handset name (also at %s)" % names[value])
    names[value] = ("line %s" % line_of(rec, "name")) if line_of(rec, "name") else "#%d" % (ctx.state.index + 1)
    return value


def _mac(value, ctx):
    """The one MAC rule; a MAC belongs to one handset."""
    try:
        mac = registrations.normalize_mac(value)
    except ValueError as exc:
        raise ValueError("%s" % exc if value else "is required")
    macs = ctx.state.macs
    if mac in macs:
        raise ValueError("MAC %s is already used by handset '%s'" % (mac, macs[mac]))
    macs[mac] = ctx.rec.get("name")
    return mac


def _vendor(value, ctx):
    profile = base.get_profile(value)
    if profile is None:
        raise ValueError("unknown vendor '%s' (known: %s)" % (value, ", ".join(p.vendor for p in base.all_profiles())))
    return profile


def _model(value, ctx):
    profile = ctx.out.get("vendor")
    if profile is None:
        return None
    model = profile.canonical_model(value)
    if model is None:
        raise ValueError("unknown %s model '%s' (known: %s)" % (profile.display_name, value, ", ".join(sorted(profile.MODELS))))
    return model


def _user(value, ctx):
    if value in (None, ""):
        if ctx.rec.get("lines") in (None, "", []):
            ctx.error("is required (the extension this handset registers as; or 'lines' for a DECT base or an ATA)",
                      ctx.rec, None, "user")
        return None
    if ctx.rec.get("lines") not in (None, "", []):
        raise ValueError("give either 'user' (one line) or 'lines' (a DECT base's handsets, an ATA's ports), not both")
    if str(value) not in ctx.state.users:
        raise ValueError("user '%s' does not exist on the callserver (no such extension in users)" % value)
    return str(value)


def _lines(value, ctx):
    """A multi-line device's users in line order: a list of users or of ``{user, label}``, or ``a|b`` (CSV)."""
    if value in (None, "", []):
        return []
    items = [v for v in re.split(r"[\s|]+", value) if v] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ValueError("must be a list of the lines' users")
    users = []
    for idx, item in enumerate(items):
        user = item.get("user") if isinstance(item, dict) else item
        where = "lines[%d]" % (idx + 1)
        if user in (None, "") or isinstance(user, (dict, list, bool)):
            ctx.error("each line needs its user (the extension it registers as)", field=where)
            continue
        user = str(user)
        if user in users:
            ctx.error("user '%s' is already line %d of this device" % (user, users.index(user) + 1), field=where)
        elif user not in ctx.state.users:
            ctx.error("user '%s' does not exist on the callserver (no such extension in users)" % user, field=where)
        users.append(user)
    return users


def _line_count(out, ctx):
    """A device takes at most as many lines as its model has (a desk phone here: one)."""
    profile, model, lines = out.get("vendor"), out.get("model"), out.get("lines") or []
    if profile is None or model is None or len(lines) <= 1:
        return
    most = profile.max_lines(model)
    if len(lines) > most:
        ctx.error("%s %s takes %d line%s, %d given" % (profile.display_name, model, most, "" if most == 1 else "s",
                                                       len(lines)), ctx.rec, "lines", "lines")


HANDSET = Table("handset", [
    Field("name", "any", always=True, check=_name),
    Field("mac", "any", always=True, check=_mac),
    Field("vendor", "any", always=True, check=_vendor),
    Field("model", "any", always=True, check=_model),
    Field("user", "any", always=True, check=_user),
    Field("lines", "any", default=[], check=_lines),
], closed=False, rules=[_line_count])


def handsets_from_estate(estate):
    """The estate's handsets (``estate.Estate``) as the records :data:`HANDSET` reads, the input of handset_provision.

    Each is ``{name, mac, vendor, model, site}`` with, for a desk phone, its extension ``user``, or for a
    multi-line device (a DECT base's handsets, an ATA's ports) ``lines``: its lines' users in line order, and no
    ``user``; a ``firmware`` pin is kept when the record has one.  The one conversion from the estate: the handset
    release (``release/handset.py``) and the lab's phone fleet (``roles/lab/files/phonesim``, ``estate``) use it.
    """
    out = []
    for h in estate.handsets:
        rec = dict((k, h.get(k)) for k in ("name", "mac", "vendor", "model", "site"))
        if h.get("lines"):
            rec["lines"] = registrations.handset_users(h)
        else:
            rec["user"] = h.get("user")
        if h.get("firmware"):
            rec["firmware"] = h["firmware"]
        out.append(rec)
    return out
