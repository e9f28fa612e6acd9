# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A release file as field tables, walked by ``source.Validator`` (``release/spec.py`` loads and walks them).

:data:`COMMON` is what every release has (``id``, ``kind``, ``description``); each kind adds its own sections.
:data:`HANDSET_FIRMWARE` is the kind ``handset_firmware``: ``targets`` (the image per vendor/model family),
``scope``, ``waves``, ``window`` and ``gate``.  What needs the estate or the provisioning server (a site, a
handset, a target image that is not there) is checked against ``ctx.state``, a :class:`ReleaseContext`.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.voipops.voip.plugins.module_utils.source import Field, Table
from ansible_collections.voipops.voip.plugins.module_utils import sla

KINDS = ("handset_firmware", "callserver_config", "gateway_firmware")
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_SECONDS_RE = re.compile(r"^\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*(?:(\d+)\s*s)?\s*$")
_SHARE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


class ReleaseContext(object):
    """What the checks see as ``ctx.state``: the estate's sites, the handsets, the firmware images, groups."""

    def __init__(self, sites=None, handsets=None, images=None, groups=None):
        self.sites = dict(sites or {})            # site name -> {"timezone": ...}
        self.handsets = dict(handsets or {})      # handset name -> record (vendor, model, family, site)
        self.images = list(images or [])          # firmware manifest entries {vendor, family, version, file}
        self.groups = dict(groups or {})          # group name -> [handset names]


# ----------------------------------------------------------------------------------------------- values
def release_id(value, ctx=None):
    text = str(value).strip()
    if not ID_RE.match(text):
        raise ValueError("'%s' is not a release id (letters, digits, '.', '_', '-'; at most 100)" % text)
    return text


def seconds(value, ctx=None):
    """``90`` (seconds), ``"90s"``, ``"5m"``, ``"1h30m"`` -> seconds (int > 0)."""
    if isinstance(value, bool):
        raise ValueError("%r is not a duration like '90s', '5m', '1h'" % (value,))
    if isinstance(value, int):
        number = value
    else:
        match = _SECONDS_RE.match(str(value))
        if not str(value).strip() or not match or not any(match.groups()):
            raise ValueError("%r is not a duration like '90s', '5m', '1h'" % (value,))
        h, m, s = (int(g) if g else 0 for g in match.groups())
        number = h * 3600 + m * 60 + s
    if number <= 0:
        raise ValueError("must be more than 0 seconds")
    return number


def share(value, ctx=None):
    """``"95%"`` or ``0.95`` -> a fraction in (0, 1]."""
    if isinstance(value, bool):
        raise ValueError("%r is not a share like '95%%'" % (value,))
    match = _SHARE_RE.match(str(value))
    if match:
        number = float(match.group(1)) / 100.0
    else:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError("%r is not a share like '95%%' or 0.95" % (value,))
    if not 0 < number <= 1:
        raise ValueError("%r must be above 0%% and at most 100%%" % (value,))
    return number


def wave_size(value, ctx=None):
    """A wave's size: a count of phones (``10``) or a share of the scope (``"25%"``) -> ("count", n) | ("share", f)."""
    if isinstance(value, bool):
        raise ValueError("%r is not a wave size (a count like 10 or a share like '25%%')" % (value,))
    if isinstance(value, int) or str(value).strip().isdigit():
        number = int(value)
        if number <= 0:
            raise ValueError("a wave of %d phones: give at least 1" % number)
        return ("count", number)
    try:
        return ("share", share(value))
    except ValueError:
        raise ValueError("%r is not a wave size (a count like 10 or a share like '25%%')" % (value,))


def non_negative(value, ctx=None):
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError("%r is not a number" % (value,))
    if isinstance(value, bool) or number < 0:
        raise ValueError("%r must be 0 or more" % (value,))
    return number


def _days(value, ctx):
    return sla.parse_days(value)


def _time(value, ctx):
    return sla.parse_time(value)


def _zone(value, ctx):
    try:
        sla.get_zone(value)
    except ValueError as exc:
        raise ValueError(str(exc))
    return value


def _known(what, attr):
    def check(value, ctx):
        known = getattr(ctx.state, attr)
        text = str(value).strip()
        if text not in known:
            raise ValueError("unknown %s '%s' (known: %s)" % (what, text, ", ".join(sorted(known)[:20]) or "none"))
        return text
    return check


def _model(value, ctx):
    text = str(value).strip()
    models = set(h["model"] for h in ctx.state.handsets.values())
    if text not in models:
        raise ValueError("no handset of model '%s' (models: %s)" % (text, ", ".join(sorted(models)) or "none"))
    return text


def _vendor(value, ctx):
    text = str(value).strip().lower()
    vendors = set(h["vendor"] for h in ctx.state.handsets.values())
    if text not in vendors:
        raise ValueError("no handset of vendor '%s' (vendors: %s)" % (text, ", ".join(sorted(vendors)) or "none"))
    return text


def _target_rule(out, ctx):
    """A target names a vendor, a family (or a model of it) and a version whose image is on the server."""
    from ansible_collections.voipops.voip.plugins.module_utils.handsets import base
    vendor, family, model, version = out.get("vendor"), out.get("family"), out.get("model"), out.get("version")
    if not vendor or not version:
        return
    profile = base.get_profile(vendor)
    if profile is None:
        ctx.error("unknown vendor '%s' (known: %s)" % (vendor, ", ".join(p.vendor for p in base.all_profiles())),
                  key="vendor")
        return
    out["vendor"] = profile.vendor
    if model and not family:
        canonical = profile.canonical_model(model)
        if canonical is None:
            ctx.error("unknown %s model '%s'" % (profile.display_name, model), key="model")
            return
        family = profile.family(canonical)
    if not family:
        ctx.error("give the family (or a model of it) of the image", key="family")
        return
    if family not in profile.FIRMWARE:
        ctx.error("unknown %s family '%s' (known: %s)" % (profile.display_name, family, ", ".join(sorted(profile.FIRMWARE))),
                  key="family" if out.get("family") else "model")
        return
    out["family"] = family
    have = sorted(i["version"] for i in ctx.state.images if i["vendor"] == profile.vendor and i["family"] == family)
    if version not in have:
        ctx.error("firmware %s for %s %s is not in the firmware manifest of the provisioning server (have: %s)" % (
            version, profile.display_name, family, ", ".join(have) or "none"), key="version")
        return
    out["image"] = next(i for i in ctx.state.images
                        if i["vendor"] == profile.vendor and i["family"] == family and i["version"] == version)


# ----------------------------------------------------------------------------------------------- tables
COMMON = Table("release", [
    Field("id", "str", required=True, check=release_id),
    Field("kind", "str", required=True, lower=True, choices=KINDS,
          messages={"choice": "'{value}' is not a release kind ({choices})"}),
    Field("description", "text"),
], closed=False)

TARGET = Table("target", [
    Field("vendor", "str", required=True, lower=True),
    Field("family", "str"),
    Field("model", "str"),
    Field("version", "str", required=True),
], rules=(_target_rule,))

SCOPE = Table("scope", [
    Field("sites", "list", check=_known("site", "sites"), item_line=True),
    Field("vendors", "list", check=_vendor, item_line=True),
    Field("models", "list", check=_model, item_line=True),
    Field("groups", "list", check=_known("group", "groups"), item_line=True),
    Field("handsets", "list", check=_known("handset", "handsets"), item_line=True),
])

WAVES = Table("waves", [
    Field("canary", "any", default=1, check=non_negative),
    Field("then", "list", default=[("share", 1.0)], check=wave_size, item_line=True),
])

WINDOW = Table("window", [
    Field("days", "any", default=[0, 1, 2, 3, 4, 5, 6], check=_days),
    Field("start", "any", required=True, check=_time),
    Field("end", "any", required=True, check=_time),
    Field("timezone", "str", check=_zone),
])

GATE = Table("gate", [
    Field("registered", "any", default=1.0, check=share),
    Field("timeout", "any", default=600, check=seconds),
    Field("unregistered_rise", "any", default=0, check=non_negative),
])

HANDSET_FIRMWARE = Table("release", [
    Field("id", "skip"),
    Field("kind", "skip"),
    Field("description", "skip"),
    Field("targets", "skip", required=True),
    Field("scope", "map", default={}, table=SCOPE),
    Field("waves", "map", default={}, table=WAVES),
    Field("window", "map", table=WINDOW),
    Field("gate", "map", default={}, table=GATE),
])
