# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A user profile on a callserver as a field table, walked by ``source.Validator``.

``users.normalize_user`` walks :data:`USER` over one desired-state mapping, HR row or parsed running
config entry.  Unknown attributes and the employee id are reported under the caller's name for the
record (``users[3]``, ``employee 'E1'``); everything after under ``user '<id>'``.  ``extension``,
``site`` and ``class_of_service`` are required unless the record is partial (merged/deleted states,
HR change rows); they are checked after the other fields, at the record's line.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.voipops.voip.plugins.module_utils.schema.values import EMAIL_RE, parse_until
from ansible_collections.voipops.voip.plugins.module_utils.source import Field, Table, line_of

CLASSES = ("internal", "national", "international")
# feature name -> needs a target?
FEATURES = {
    "cfu": "target",          # call forward unconditional -> number/extension
    "cfb": "target",          # call forward on busy
    "cfnr": "target",         # call forward on no answer
    "dnd": None,              # do not disturb (486)
    "voicemail": None,        # voicemail box enabled
    "hunt_group": "group",    # member of hunt group <target>
}
USER_KEYS = ("id", "name", "email", "site", "extension", "aliases", "class_of_service",
             "class_of_service_grant", "features")

E164_RE = re.compile(r"^\+[1-9][0-9]{6,14}$")
EXT_RE = re.compile(r"^[1-8][0-9]{1,7}$")
TARGET_RE = re.compile(r"^(\+[1-9][0-9]{6,14}|0[0-9]{5,17}|[1-8][0-9]{1,7})$")
GROUP_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,19}$")
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,40}$")


def parse_item(text, first):
    """``cfu:1002@2026-12-31T23:59:00Z`` -> {"name": "cfu", "target": "1002", "until": "..."}."""
    text = text.strip()
    until = None
    if "@" in text:
        text, until = text.split("@", 1)
    target = None
    if ":" in text:
        text, target = text.split(":", 1)
    item = {first: text.strip()}
    if first == "class_of_service":
        item["until"] = until
        return item
    item["target"] = target
    item["until"] = until
    return item


def _employee_id(value, ctx):
    uid = None if value is None else str(value).strip()
    if not uid or not ID_RE.match(uid):
        raise ValueError("employee id is required (letters, digits, _ . -)" if not uid
                         else "'%s' is not a valid employee id" % uid)
    return uid


def _label(rec, where):
    uid = rec.get("id")
    uid = None if uid is None else str(uid).strip()
    return "user '%s'" % uid if uid else where


def _email(value, ctx):
    if value and not EMAIL_RE.match(value):
        raise ValueError("'%s' is not an e-mail address" % value)
    return value or None


def _or_none(value, ctx):
    return value or None


def _extension(value, ctx):
    if not EXT_RE.match(value):
        raise ValueError("'%s' is not an extension (2-8 digits, not starting with 0 or 9)" % value)
    return value


def _aliases(value, ctx):
    """E.164 numbers (a list, or one text with ``|``, ``,`` or blanks between), each once; sorted."""
    raw = value
    if isinstance(value, str):
        value = [a for a in re.split(r"[\s|,]+", value) if a]
    if not isinstance(value, list):
        raise ValueError("must be a list of E.164 numbers")
    clean = []
    for i, alias in enumerate(value):
        alias = str(alias).strip().replace(" ", "")
        if not E164_RE.match(alias):
            ctx.error("'%s' is not an E.164 number like +31201234567" % alias, line=line_of(raw, i))
        elif alias in clean:
            ctx.error("alias '%s' listed twice" % alias)
        else:
            clean.append(alias)
    return sorted(clean)


def _grant(value, ctx):
    """A temporary class of service: {class_of_service, until} or ``international@2026-12-31T23:59:00Z``."""
    if isinstance(value, str):
        value = parse_item(value, "class_of_service")
    if not isinstance(value, dict) or set(value) - {"class_of_service", "until"}:
        raise ValueError("must be a mapping with class_of_service and until")
    cos = str(value.get("class_of_service") or "").strip()
    if cos not in CLASSES:
        ctx.error("unknown class of service '%s' (allowed: %s)" % (cos, ", ".join(CLASSES)),
                  field="class_of_service_grant.class_of_service")
    until = value.get("until")
    if until is None:
        ctx.error("a class of service grant needs 'until' (absolute UTC time)", field="class_of_service_grant.until")
    else:
        try:
            until = parse_until(until)[0]
        except ValueError as exc:
            ctx.error(str(exc), field="class_of_service_grant.until")
            until = None
    return {"class_of_service": cos, "until": until}


def _feature(f, line, seen, ctx):
    """One feature (a name, or {name, target, until}); None when it is wrong (reported at ``line``)."""
    if isinstance(f, str):
        f = {"name": f}
    if not isinstance(f, dict) or set(f) - {"name", "target", "until"}:
        ctx.error("feature must be a mapping with name, target, until", line=line)
        return None
    name = str(f.get("name") or "").strip()
    target = f.get("target")
    target = None if target in (None, "") else str(target).strip()
    until = f.get("until")
    if name not in FEATURES:
        ctx.error("unknown feature '%s' (allowed: %s)" % (name, ", ".join(sorted(FEATURES))), line=line)
        return None
    need = FEATURES[name]
    if need == "target" and (not target or not TARGET_RE.match(target)):
        ctx.error("feature %s needs a target number (extension, 0..., or +E.164), got '%s'" % (name, target or ""),
                  line=line, field="features.%s.target" % name)
    elif need == "group" and (not target or not GROUP_RE.match(target)):
        ctx.error("feature hunt_group needs a group name as target, got '%s'" % (target or ""), line=line,
                  field="features.hunt_group.target")
    elif need is None and target:
        ctx.error("feature %s takes no target" % name, line=line, field="features.%s.target" % name)
    if until is not None:
        try:
            until = parse_until(until)[0]
        except ValueError as exc:
            ctx.error(str(exc), line=line, field="features.%s.until" % name)
            until = None
    key = (name, target if name == "hunt_group" else None)
    if key in seen:
        ctx.error("feature %s listed twice" % name, line=line)
        return None
    seen.add(key)
    return {"name": name, "target": target, "until": until}


def _features(value, ctx):
    """Features (a list, or one text ``cfu:1002|dnd@2026-01-01T00:00:00Z``), each once."""
    raw = value
    if isinstance(value, str):
        value = [parse_item(f, "name") for f in re.split(r"[|]+", value) if f.strip()]
    if not isinstance(value, list):
        raise ValueError("must be a list of features")
    clean, seen = [], set()
    for i, f in enumerate(value):
        feature = _feature(f, line_of(raw, i), seen, ctx)
        if feature is not None:
            clean.append(feature)
    return clean


USER = Table("user", [
    Field("id", "any", always=True, check=_employee_id),
    Field("name", "text", check=_or_none),
    Field("email", "text", check=_email),
    Field("site", "text", required=True, check=_or_none),
    Field("extension", "text", required=True, check=_extension),
    Field("aliases", "any", check=_aliases),
    Field("class_of_service", "text", required=True, choices=CLASSES,
          messages={"choice": "unknown class of service '{value}' (allowed: {choices})"}),
    Field("class_of_service_grant", "any", check=_grant),
    Field("features", "any", check=_features),
], required=("extension", "site", "class_of_service"), required_at_end=True, sort_allowed=False,
    unknown="unknown attribute (allowed: {allowed})", label=_label, where_fields=("id",))
