# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""User profiles on a callserver: model, validation of a whole batch, and pure planning.

Everything here is pure data in, data out (no I/O except reading source files through
``source.py``), so it is tested without any server.

A user in canonical form (what ``gathered`` returns and what ``config`` accepts)::

    {"id": "E1001", "name": "Ada Lovelace", "email": "ada@example.org", "site": "ams",
     "extension": "1001", "aliases": ["+31201231001"], "class_of_service": "national",
     "class_of_service_grant": {"class_of_service": "international", "until": "2026-12-31T23:59:00Z"},
     "features": [{"name": "cfu", "target": "1002"}, {"name": "dnd", "until": "2026-01-01T00:00:00Z"},
                  {"name": "hunt_group", "target": "sales"}, {"name": "voicemail"}]}

Keys whose value is ``None`` are left out of the canonical form.  ``features`` is sorted by
(name, target).  ``until`` is always ``YYYY-MM-DDTHH:MM:SSZ`` (UTC).

A plan is an ordered list of operations (dicts), see :func:`plan_users`.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import datetime
import hashlib
import re

from ansible_collections.voipops.voip.plugins.module_utils.schema import user as user_schema
from ansible_collections.voipops.voip.plugins.module_utils.schema.user import CLASSES, FEATURES, USER_KEYS  # noqa: F401
from ansible_collections.voipops.voip.plugins.module_utils.schema.values import (  # noqa: F401 (parse_until re-exported)
    UTC, parse_number_range, parse_until,
)
from ansible_collections.voipops.voip.plugins.module_utils.source import (
    ErrorCollector, SourceError, SourceErrors, Validator, line_of, load_yaml, parse_csv, parse_yaml,
    unknown_columns,
)

CLASS_RANK = dict((c, i) for i, c in enumerate(CLASSES))
STATES = ("merged", "replaced", "overridden", "deleted", "gathered", "rendered", "parsed")
HR_ACTIONS = ("join", "move", "leave", "change", "reissue")
PROFILE_COLUMNS = ("display_name", "email", "site", "extension", "aliases", "class_of_service",
                   "class_of_service_grant", "features")
HR_COLUMNS = ("action", "effective_date", "employee_id", "display_name", "email", "site", "extension",
              "aliases", "class_of_service", "class_of_service_grant", "features")
DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


# --------------------------------------------------------------------------- time helpers
def utcnow():
    return datetime.datetime.now(UTC).replace(microsecond=0)


def until_epoch(until):
    return int(parse_until(until)[1].timestamp())


def epoch_until(epoch):
    return datetime.datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_date(value):
    text = str(value).strip()
    m = DATE_RE.match(text)
    if not m:
        raise ValueError("'%s' is not a date like 2026-03-01" % text)
    try:
        return datetime.date(*[int(x) for x in m.groups()])
    except ValueError as exc:
        raise ValueError("'%s' is not a valid date: %s" % (text, exc))


def is_expired(until, now):
    return until is not None and parse_until(until)[1] <= now


# --------------------------------------------------------------------------- number plan
class NumberPlan(object):
    """Extension ranges per site, taken from the estate (one source of truth, docs/estate.md).

    The source is the estate itself (a file path, or its data): each site's ``extensions``, e.g.
    ``{"sites": [{"name": "ams", "extensions": ["1000-1099", "2000-2999"]}]}``.  Only the sites' names
    and extension ranges are read here (the estate inventory validates the rest of the file).
    Backward compatible: a number plan of the old, separate format ``{"sites": {"ams": {"ranges":
    ["1000-1999"]}}}`` (a mapping of sites) is still accepted.
    """

    def __init__(self, sites):
        self.sites = sites  # name -> list of (lo, hi, width)

    @classmethod
    def from_data(cls, data, path=None):
        if isinstance(data, dict) and isinstance(data.get("sites"), list):
            return cls.from_estate(data, path=path)
        errors = ErrorCollector(path)
        sites = {}
        if not isinstance(data, dict) or not isinstance(data.get("sites"), dict) or not data.get("sites"):
            errors.add("number plan must be a mapping with a non-empty 'sites' mapping",
                       line=line_of(data), field="sites")
            errors.raise_if_any()
        for name, site in data["sites"].items():
            ranges = site.get("ranges") if isinstance(site, dict) else None
            line = line_of(data["sites"], name)
            if not isinstance(ranges, list) or not ranges:
                errors.add("needs a non-empty list 'ranges' like ['1000-1999']", line=line,
                           obj="site '%s'" % name, field="ranges")
                continue
            parsed = []
            for i, r in enumerate(ranges):
                m = re.match(r"^\s*([0-9]+)\s*-\s*([0-9]+)\s*$", str(r))
                rline = line_of(ranges, i) or line
                if not m or len(m.group(1)) != len(m.group(2)) or int(m.group(1)) > int(m.group(2)):
                    errors.add("'%s' is not a range like 1000-1999 (same number of digits, low <= high)" % r,
                               line=rline, obj="site '%s'" % name, field="ranges")
                    continue
                parsed.append((int(m.group(1)), int(m.group(2)), len(m.group(1))))
            sites[str(name)] = parsed
        return cls._checked(sites, errors, dict((str(n), line_of(data["sites"], n)) for n in data["sites"]), "ranges")

    @classmethod
    def from_estate(cls, data, path=None):
        """The number plan of an estate: every named site with its ``extensions`` (local ranges)."""
        errors = ErrorCollector(path)
        sites, lines = {}, {}
        for site in data["sites"]:
            if not isinstance(site, dict) or site.get("name") in (None, ""):
                continue  # the estate's own validation reports these
            name = str(site["name"]).strip()
            values = site.get("extensions") or []
            parsed = []
            for i, value in enumerate([values] if isinstance(values, str) else values):
                where = dict(line=line_of(values, i) if isinstance(values, list) else line_of(site, "extensions"),
                             obj="site '%s'" % name, field="extensions")
                try:
                    rng = parse_number_range(value)
                except ValueError as exc:
                    errors.add(str(exc), **where)
                    continue
                if rng.plus:
                    errors.add("%s is an E.164 range: extensions are local numbers (DIDs go in 'dids')" % rng, **where)
                    continue
                parsed.append((rng.start, rng.end, rng.width))
            sites[name], lines[name] = parsed, line_of(site, "extensions")
        if not sites:
            errors.add("the estate has no named sites", line=line_of(data, "sites"), field="sites")
        return cls._checked(sites, errors, lines, "extensions")

    @classmethod
    def _checked(cls, sites, errors, lines, field):
        # overlapping ranges between sites are an error: a number must belong to one site
        flat = sorted((lo, hi, w, s) for s, rs in sites.items() for lo, hi, w in rs)
        for a, b in zip(flat, flat[1:]):
            if a[2] == b[2] and b[0] <= a[1]:
                errors.add("range %d-%d of site '%s' overlaps %d-%d of site '%s'" % (b[0], b[1], b[3], a[0], a[1], a[3]),
                           line=lines.get(b[3]), obj="site '%s'" % b[3], field=field)
        errors.raise_if_any()
        return cls(sites)

    @classmethod
    def load(cls, value):
        """``value`` is the estate (or an old-format number plan): its data, or the path of its YAML file."""
        if isinstance(value, NumberPlan):
            return value
        if isinstance(value, str):
            return cls.from_data(load_yaml(value), path=value)
        return cls.from_data(value)

    def contains(self, site, extension):
        for lo, hi, width in self.sites.get(site, ()):
            if len(extension) == width and lo <= int(extension) <= hi:
                return True
        return False

    def ranges_text(self, site):
        return ", ".join("%0*d-%0*d" % (w, lo, w, hi) for lo, hi, w in self.sites.get(site, ()))


# --------------------------------------------------------------------------- normalisation
def _clean(d):
    return dict((k, v) for k, v in d.items() if v is not None and v != [] and v != "")


def canonical(user):
    """Canonical, comparable form of a user dict (drops None/empty, sorts lists)."""
    out = {}
    for key in USER_KEYS:
        value = user.get(key)
        if key == "aliases":
            value = sorted(set(value or [])) or None
        elif key == "features":
            feats = [_clean(dict(name=f.get("name"), target=f.get("target"), until=f.get("until")))
                     for f in (value or [])]
            value = sorted(feats, key=lambda f: (f["name"], f.get("target") or "")) or None
        elif key == "class_of_service_grant":
            value = _clean(dict(value)) if value else None
        if value is not None and value != "":
            out[key] = value
    return out


def normalize_user(raw, errors, where, line=None, path=None, partial=False):
    """Validate one user mapping against the user table (``schema/user.py``).  Returns a canonical dict or None.

    ``where`` names the object in messages (e.g. ``users[3]``); ``partial`` allows missing
    attributes (merged/deleted states, HR change rows).
    """
    if not isinstance(raw, dict):
        errors.add("must be a mapping", line=line, obj=where, path=path)
        return None
    walker = Validator(errors, path=path, node_paths=False)
    out, ok = walker.walk(raw, user_schema.USER, where, line=line, partial=partial)
    return canonical(out) if ok else None


def expire_user(user, now):
    """Return (user without grants whose ``until`` has passed, list of revoked descriptions)."""
    grant = user.get("class_of_service_grant")
    if not grant and not any(f.get("until") for f in user.get("features") or ()):
        return user, []          # nothing can expire: no copy (hot path for 20,000-user runs)
    user = copy.deepcopy(user)
    revoked = []
    grant = user.get("class_of_service_grant")
    if grant and is_expired(grant.get("until"), now):
        revoked.append("class_of_service_grant %s (until %s)" % (grant.get("class_of_service"), grant["until"]))
        user.pop("class_of_service_grant")
    feats = []
    for f in user.get("features") or []:
        if is_expired(f.get("until"), now):
            revoked.append("%s%s (until %s)" % (f["name"], ":" + f["target"] if f.get("target") else "", f["until"]))
        else:
            feats.append(f)
    if "features" in user:
        if feats:
            user["features"] = feats
        else:
            user.pop("features")
    return user, revoked


def merge_user(have, given):
    """Merged state: given attributes win; lists of features are merged by (name, target)."""
    out = copy.deepcopy(have)
    for key, value in given.items():
        if key == "features":
            byname = dict(((f["name"], f.get("target") if f["name"] == "hunt_group" else None), f)
                          for f in have.get("features") or [])
            for f in value:
                byname[(f["name"], f.get("target") if f["name"] == "hunt_group" else None)] = f
            out["features"] = list(byname.values())
        elif key == "aliases":
            out["aliases"] = sorted(set(have.get("aliases") or []) | set(value))
        else:
            out[key] = value
    return canonical(out)


# --------------------------------------------------------------------------- validation
class Context(object):
    """What validation needs to know about the callserver: current users, cooling numbers,
    unmanaged subscribers (extensions owned by nobody we manage)."""

    def __init__(self, have=None, cooling=None, unmanaged=(), now=None):
        self.have = dict((u["id"], u) for u in (have or []))
        self.cooling = dict(cooling or {})      # number -> {"until": iso, "employee_id": id}
        self.unmanaged = set(unmanaged)
        self.now = now or utcnow()


def validate_want(want, numberplan, ctx, errors, where_of=None, check_past=True):
    """Cross-record checks on a full desired set (list of canonical users with ``_line``/``_path``).

    Duplicate ids/extensions/aliases, extension inside its site's range, unknown site, number in
    cooling, past ``until``, grant not above the permanent class.
    """
    seen_ids = {}
    seen_numbers = {}
    for u in want:
        line, path = u.get("_line"), u.get("_path")
        label = "user '%s'" % u["id"]
        if u["id"] in seen_ids:
            errors.add("employee id is also used at line %s" % seen_ids[u["id"]], line=line, obj=label, field="id", path=path)
        seen_ids.setdefault(u["id"], line)
        site = u.get("site")
        if site and site not in numberplan.sites:
            errors.add("unknown site '%s' (number plan has: %s)" % (site, ", ".join(sorted(numberplan.sites))),
                       line=line, obj=label, field="site", path=path)
        elif site and u.get("extension") and not numberplan.contains(site, u["extension"]):
            errors.add("extension %s is outside site %s's range(s) %s" % (u["extension"], site, numberplan.ranges_text(site)),
                       line=line, obj=label, field="extension", path=path)
        numbers = [("extension", u.get("extension"))] + [("aliases", a) for a in u.get("aliases") or []]
        old = ctx.have.get(u["id"]) or {}
        old_numbers = set([old.get("extension")] + list(old.get("aliases") or []))
        for field, num in numbers:
            if not num:
                continue
            if num in seen_numbers and seen_numbers[num][0] != u["id"]:
                other = seen_numbers[num]
                errors.add("number %s is already used by user '%s' (%s)" % (
                    num, other[0], "line %s" % other[1] if other[1] else "on the callserver"),
                    line=line, obj=label, field=field, path=path)
            seen_numbers.setdefault(num, (u["id"], line))
            if num in ctx.unmanaged:
                errors.add("number %s belongs to a subscriber on the callserver that is not managed here" % num,
                           line=line, obj=label, field=field, path=path)
            cool = ctx.cooling.get(num)
            if cool and num not in old_numbers and cool.get("employee_id") != u["id"]:
                errors.add("number %s is in cooling until %s (released by '%s'); it cannot be reused before then"
                           % (num, cool["until"], cool.get("employee_id") or "?"), line=line, obj=label, field=field, path=path)
        grant = u.get("class_of_service_grant")
        if grant and u.get("class_of_service") and CLASS_RANK[grant["class_of_service"]] <= CLASS_RANK[u["class_of_service"]]:
            errors.add("grant of '%s' is not above the permanent class '%s'" % (grant["class_of_service"], u["class_of_service"]),
                       line=line, obj=label, field="class_of_service_grant", path=path)
        if check_past:
            if grant and is_expired(grant["until"], ctx.now):
                errors.add("until %s is in the past" % grant["until"], line=line, obj=label,
                           field="class_of_service_grant.until", path=path)
            for f in u.get("features") or []:
                if is_expired(f.get("until"), ctx.now):
                    errors.add("until %s is in the past" % f["until"], line=line, obj=label,
                               field="features.%s.until" % f["name"], path=path)
        for f in u.get("features") or []:
            if f["name"] in ("cfu", "cfb", "cfnr") and f.get("target") == u.get("extension"):
                errors.add("forwards to its own extension", line=line, obj=label, field="features.%s.target" % f["name"], path=path)


def strip_meta(user):
    return dict((k, v) for k, v in user.items() if not k.startswith("_"))


def load_config(config, path=None, partial=False, errors=None):
    """Normalise a list of user mappings (from YAML with lines, or from module params)."""
    errors = errors if errors is not None else ErrorCollector(path)
    out = []
    if config is None:
        return out
    if isinstance(config, dict) and "users" in config:
        config = config["users"]
    if not isinstance(config, list):
        errors.add("must be a list of users (or a mapping with 'users:')", line=line_of(config), path=path)
        return out
    for i, raw in enumerate(config):
        line = line_of(config, i) if hasattr(config, "line_of") else None
        where = "users[%d]" % i
        u = normalize_user(raw, errors, where, line=line, path=path, partial=partial)
        if u is not None:
            u["_line"] = line_of(raw) or line
            u["_path"] = path
            out.append(u)
    return out


# --------------------------------------------------------------------------- HR batch
def hr_row_key(row):
    """Stable identity of an HR row: the same row in a re-run is recognised as already applied."""
    text = "\x1f".join("%s=%s" % (c, row.get(c, "")) for c in HR_COLUMNS)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def reissue_key(employee_id, reason):
    """Stable identity of one ``reissue_password`` entry: the same (id, reason) is applied once."""
    text = "reissue\x1f%s\x1f%s" % (employee_id, reason)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def parse_hr_csv(text, path="<hr>"):
    """Parse an HR export; returns rows (CsvRow) with ``action`` and ``effective_date`` checked."""
    rows = parse_csv(text, path=path, required=("action", "effective_date", "employee_id"))
    errors = ErrorCollector(path)
    errors.extend(unknown_columns(rows, HR_COLUMNS, path))
    for row in rows:
        if row["action"].lower() not in HR_ACTIONS:
            errors.add("unknown action '%s' (allowed: %s)" % (row["action"], ", ".join(HR_ACTIONS)),
                       line=row.line, obj="employee '%s'" % row["employee_id"], field="action")
        try:
            row["_date"] = parse_date(row["effective_date"])
        except ValueError as exc:
            errors.add(str(exc), line=row.line, obj="employee '%s'" % row["employee_id"], field="effective_date")
        row["action"] = row["action"].lower()
        row["_key"] = hr_row_key(row)
    errors.raise_if_any()
    return rows


def apply_hr_rows(rows, ctx, numberplan, today=None, applied_keys=(), path=None):
    # over 80 lines: one pass in date order, each HR action a branch on the same running state of the batch
    """Turn an HR batch into a desired state for the employees it touches.

    Returns ``(want, deleted_ids, info)``: ``want`` is the list of full canonical users for the
    employees that join/move/change, ``deleted_ids`` the leavers, ``info`` has ``pending``
    (future rows), ``already_applied`` and ``applied`` (row keys in this run).  Raises
    SourceErrors with every problem of the batch; nothing is planned then.
    """
    today = today or ctx.now.date()
    errors = ErrorCollector(path)
    state = dict((k, expire_user(v, ctx.now)[0]) for k, v in ctx.have.items())
    touched = set()
    info = {"pending": [], "already_applied": [], "applied": []}
    applied_keys = set(applied_keys)
    work = sorted(rows, key=lambda r: (r.get("_date") or datetime.date.min, r.line))
    for row in work:
        eid = row.get("employee_id", "")
        label = "employee '%s'" % eid
        if row["_key"] in applied_keys:
            info["already_applied"].append({"line": row.line, "employee_id": eid, "action": row["action"]})
            continue
        if row["_date"] > today:
            info["pending"].append({"line": row.line, "employee_id": eid, "action": row["action"],
                                    "effective_date": row["effective_date"]})
            continue
        raw = {"id": eid}
        for col, key in (("display_name", "name"), ("email", "email"), ("site", "site"), ("extension", "extension"),
                         ("aliases", "aliases"), ("class_of_service", "class_of_service"),
                         ("class_of_service_grant", "class_of_service_grant"), ("features", "features")):
            v = row.get(col, "")
            if v != "":
                raw[key] = None if v == "-" and key in ("aliases", "features", "class_of_service_grant") else v
        clears = [k for k, v in raw.items() if v is None]
        for k in clears:
            raw.pop(k)
        sub = ErrorCollector(path)
        given = normalize_user(raw, sub, label, line=row.line, path=path, partial=row["action"] != "join")
        if sub:
            errors.extend(sub.errors)
            continue
        action = row["action"]
        cur = state.get(eid)
        if action == "reissue":
            # a new SIP password for an employee who stays as they are: the row's profile cells must be empty
            filled = [c for c in PROFILE_COLUMNS if row.get(c, "") != ""]
            if filled:
                errors.add("a reissue row only re-issues the SIP password: leave %s empty (use a change row)"
                           % ", ".join(filled), line=row.line, obj=label, field=filled[0], path=path)
            elif cur is None:
                errors.add("reissue of an employee who does not exist on the callserver", line=row.line, obj=label,
                           field="employee_id", path=path)
            else:
                info.setdefault("reissue", {})[eid] = "HR row %s line %s" % (path or "", row.line)
                touched.add(eid)
                info["applied"].append(row["_key"])
            continue
        if action == "join":
            if cur is not None:
                errors.add("joiner already exists on the callserver (extension %s)" % cur.get("extension"),
                           line=row.line, obj=label, field="employee_id", path=path)
                continue
            new = given
        elif action == "leave":
            if cur is None:
                errors.add("leaver does not exist on the callserver", line=row.line, obj=label, field="employee_id", path=path)
                continue
            state.pop(eid)
            touched.add(eid)
            info["applied"].append(row["_key"])
            continue
        else:
            if cur is None:
                errors.add("%s of an employee who does not exist on the callserver" % ("mover" if action == "move" else "change"),
                           line=row.line, obj=label, field="employee_id", path=path)
                continue
            if action == "move" and not (given.get("extension") or given.get("site")):
                errors.add("a move needs a new site and/or extension", line=row.line, obj=label, field="extension", path=path)
                continue
            base = dict(cur)
            for k in clears:
                base.pop(k, None)
            for k, v in given.items():
                if k != "id":
                    base[k] = v
            new = canonical(base)
        new["_line"] = row.line
        new["_path"] = path
        new["_action"] = action
        state[eid] = new
        touched.add(eid)
        info["applied"].append(row["_key"])
    # cross-record validation on the resulting full state (extension taken, range, cooling, ...)
    full = []
    for eid, u in state.items():
        if "_line" not in u:
            u = dict(u)
            u["_line"] = None
            u["_path"] = "callserver"
        full.append(u)
    sub = ErrorCollector(path)
    validate_want(full, numberplan, ctx, sub, check_past=True)
    for e in sub.errors:
        # report only problems caused by this batch; a mover to a taken extension is named as such
        obj_id = e.obj[len("user '"):-1] if e.obj and e.obj.startswith("user '") else None
        if obj_id in touched:
            errors.errors.append(e)
    errors.errors.sort(key=lambda e: (e.line or 0))
    errors.raise_if_any()
    want = [state[e] for e in sorted(touched) if e in state]
    deleted = [e for e in sorted(touched) if e not in state]
    return want, deleted, info


def validate_batch(state, want, ctx, numberplan, path=None, deleted_ids=()):
    """Validate a whole desired batch against the callserver's current users.

    Builds the user set as it will be after the run and checks it; reports only problems of
    the users in this batch (with their file/line).  Raises SourceErrors; returns nothing.
    """
    errors = ErrorCollector(path)
    result = dict((k, expire_user(v, ctx.now)[0]) for k, v in ctx.have.items())
    want_ids = set()
    batch = []
    for w in want:
        want_ids.add(w["id"])
        meta = dict((k, v) for k, v in w.items() if k.startswith("_"))
        if state == "merged" and w["id"] in ctx.have:
            u = merge_user(result[w["id"]], strip_meta(w))
        else:
            u = strip_meta(w)
            if state in ("merged", "replaced", "overridden"):
                for key in ("extension", "site", "class_of_service"):
                    if not u.get(key):
                        errors.add("is required for a new or replaced user", line=meta.get("_line"),
                                   obj="user '%s'" % u["id"], field=key, path=meta.get("_path") or path)
        u.update(meta)
        batch.append(u)
    if state == "deleted":
        return
    keep = [u for uid, u in result.items() if uid not in want_ids and uid not in deleted_ids]
    if state == "overridden":
        keep = []
    sub = ErrorCollector(path)
    validate_want(keep + batch, numberplan, ctx, sub)
    for e in sub.errors:
        obj_id = e.obj[len("user '"):-1] if e.obj and e.obj.startswith("user '") else None
        if obj_id in want_ids:
            errors.errors.append(e)
    errors.raise_if_any()


# --------------------------------------------------------------------------- planning
def _diff_keys(old, new):
    keys = []
    for k in USER_KEYS:
        if old.get(k) != new.get(k):
            keys.append(k)
    return keys


def plan_users(state, want, have, now=None, cooling_days=90, deleted_ids=(), reissue=None):
    """Pure planner: desired users vs users on the callserver -> ordered operations.

    ``want``: canonical users (may carry ``_line``); ``have``: canonical users read from the callserver.
    ``state``: merged | replaced | overridden | deleted.  ``deleted_ids`` adds explicit removals
    (HR leavers).  ``reissue`` maps employee ids to the reason their SIP password is re-issued (a user who
    stays gets a ``reissue`` operation; one who also changes gets ``new_password`` and ``reissue`` on the update;
    a joiner or a leaver is left to its add or delete).  Expired temporary grants in ``have`` are always revoked.

    Operations (in this order: deletes, updates, adds, so freed numbers are never reused in one run)::

        {"op": "delete", "id", "before"}
        {"op": "update", "id", "before", "after", "changes": [keys], "revoked": [...], "new_password": bool}
        {"op": "reissue", "id", "before", "after", "changes": [], "new_password": True, "reissue": reason}
        {"op": "add", "id", "after"}
    Deletes and extension moves carry ``cool``: numbers put in cooling until ``cool_until``.
    """
    now = now or utcnow()
    have_by = dict((u["id"], u) for u in have)
    want_by = dict((u["id"], strip_meta(u)) for u in want)
    targets = {}  # id -> desired full user (after expiry) or None for delete
    if state == "merged":
        for uid, w in want_by.items():
            targets[uid] = merge_user(have_by[uid], w) if uid in have_by else canonical(w)
    elif state == "replaced":
        for uid, w in want_by.items():
            targets[uid] = canonical(w)
    elif state == "overridden":
        for uid, w in want_by.items():
            targets[uid] = canonical(w)
        for uid in have_by:
            if uid not in want_by:
                targets[uid] = None
    elif state == "deleted":
        if want_by:
            for uid in want_by:
                if uid in have_by:
                    targets[uid] = None
        else:
            for uid in have_by:
                targets[uid] = None
    else:
        raise ValueError("state %s does not plan changes" % state)
    for uid in deleted_ids:
        targets[uid] = None
    # every run revokes expired grants of all users it is not otherwise rewriting
    for uid, h in have_by.items():
        if uid not in targets:
            targets[uid] = h
    cool_until = (now + datetime.timedelta(days=cooling_days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    deletes, updates, adds = [], [], []
    for uid in sorted(targets):
        target = targets[uid]
        old = have_by.get(uid)
        if target is None:
            if old is not None:
                deletes.append({"op": "delete", "id": uid, "before": old,
                                "cool": _numbers(old), "cool_until": cool_until})
            continue
        target, revoked = expire_user(target, now)
        if old is None:
            adds.append({"op": "add", "id": uid, "after": target, "new_password": True})
            continue
        changes = _diff_keys(old, target)
        reason = (reissue or {}).get(uid)
        if not changes:
            if reason is not None:
                updates.append({"op": "reissue", "id": uid, "before": old, "after": target, "changes": [],
                                "new_password": True, "reissue": reason})
            continue
        freed = sorted(set(_numbers(old)) - set(_numbers(target)))
        op = {"op": "update", "id": uid, "before": old, "after": target, "changes": changes,
              "new_password": old.get("extension") != target.get("extension") or reason is not None}
        if reason is not None:
            op["reissue"] = reason
        if revoked:
            op["revoked"] = revoked
        if freed:
            op["cool"] = freed
            op["cool_until"] = cool_until
        updates.append(op)
    return deletes + updates + adds


def _numbers(user):
    return [n for n in [user.get("extension")] + list(user.get("aliases") or []) if n]


def describe(op):
    """One human line per operation (what ``commands`` returns).  Never contains a secret."""
    if op["op"] == "delete":
        b = op["before"]
        return "delete user %s ext %s (numbers %s cooling until %s; registrations flushed)" % (
            op["id"], b.get("extension"), ",".join(op.get("cool") or []), op.get("cool_until"))
    if op["op"] == "add":
        a = op["after"]
        return "add user %s ext %s site %s class %s%s password ********" % (
            op["id"], a.get("extension"), a.get("site"), a.get("class_of_service"), _feat_text(a))
    if op["op"] == "reissue":
        return "re-issue the SIP password of user %s ext %s (%s): new password ********" % (
            op["id"], op["after"].get("extension"), op["reissue"])
    parts = []
    for k in op["changes"]:
        parts.append("%s %s -> %s" % (k, _short(op["before"].get(k)), _short(op["after"].get(k))))
    text = "update user %s: %s" % (op["id"], "; ".join(parts))
    if op.get("revoked"):
        text += " (expired: %s)" % ", ".join(op["revoked"])
    if op.get("new_password"):
        text += "; new password ********" + (" (re-issued: %s)" % op["reissue"] if op.get("reissue") else "")
    return text


def _feat_text(u):
    bits = []
    if u.get("class_of_service_grant"):
        g = u["class_of_service_grant"]
        bits.append("grant %s until %s" % (g["class_of_service"], g["until"]))
    for f in u.get("features") or []:
        bits.append(f["name"] + (":" + f["target"] if f.get("target") else "") + (" until " + f["until"] if f.get("until") else ""))
    return (" features " + ", ".join(bits)) if bits else ""


def _short(v):
    if v is None:
        return "-"
    if isinstance(v, list):
        return "[" + ", ".join(_short(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join("%s=%s" % (k, v[k]) for k in sorted(v)) + "}"
    return str(v)


def apply_plan_to(have, plan):
    """What the user set will be after ``plan`` (used for ``after`` in check mode and rendered)."""
    by = dict((u["id"], u) for u in have)
    for op in plan:
        if op["op"] == "delete":
            by.pop(op["id"], None)
        else:
            by[op["id"]] = op["after"]
    return [by[k] for k in sorted(by)]


def parse_running_config(text, path="running_config"):
    """``parsed`` state: an HR CSV (header with ``action``) or a YAML desired state -> users."""
    first = text.lstrip().split("\n", 1)[0].lower()
    if "employee_id" in first and "action" in first:
        rows = parse_hr_csv(text, path=path)
        out = []
        for r in rows:
            item = {"action": r["action"], "effective_date": r["effective_date"], "line": r.line}
            errors = ErrorCollector(path)
            raw = {"id": r["employee_id"]}
            for col, key in (("display_name", "name"), ("email", "email"), ("site", "site"), ("extension", "extension"),
                             ("aliases", "aliases"), ("class_of_service", "class_of_service"),
                             ("class_of_service_grant", "class_of_service_grant"), ("features", "features")):
                if r.get(col, "") not in ("", "-"):
                    raw[key] = r[col]
            u = normalize_user(raw, errors, "employee '%s'" % r["employee_id"], line=r.line, path=path, partial=True)
            errors.raise_if_any()
            item["user"] = u
            out.append(item)
        return out
    data = parse_yaml(text, path=path)
    errors = ErrorCollector(path)
    users = load_config(data, path=path, partial=False, errors=errors)
    errors.raise_if_any()
    return [strip_meta(u) for u in users]


__all__ = ["CLASSES", "FEATURES", "STATES", "HR_COLUMNS", "NumberPlan", "Context", "SourceError", "SourceErrors",
           "canonical", "normalize_user", "load_config", "validate_want", "parse_hr_csv", "apply_hr_rows",
           "plan_users", "describe", "apply_plan_to", "expire_user", "parse_until", "until_epoch", "epoch_until",
           "parse_running_config", "strip_meta", "utcnow", "reissue_key"]
