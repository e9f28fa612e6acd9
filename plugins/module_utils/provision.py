# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Handset provisioning files: validate -> plan (want vs have) -> apply atomically.

- :func:`validate` checks the whole input (handsets, users, settings) and raises
  :class:`~.source.SourceErrors` naming file/line (or list index), handset and field for EVERY problem.
- :func:`build_want` renders every file with the vendor profiles (pure: data in, {path: text} out).
- :func:`plan` compares with what is on disk (and with the index of files we wrote before, so files of
  handsets that are gone are removed, and nothing we did not write is ever touched).
- :func:`apply` writes each changed file atomically (temporary file in the same directory, chmod, rename),
  removes stale ones, and rewrites the index last.

The index ``.voipops-handsets.json`` in the provisioning root lists the files this module owns and caches
firmware checksums (keyed by size and mtime) so a no-change run does not re-hash images.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import hashlib
import json
import os
import re

from ansible.module_utils.common.parameters import env_fallback

from ansible_collections.voipops.voip.plugins.module_utils.source import (
    ErrorCollector, SourceError, SourceErrors, Validator, line_of, load_csv, load_yaml)
from ansible_collections.voipops.voip.plugins.module_utils.fileio import atomic_write
from ansible_collections.voipops.voip.plugins.module_utils.schema import provisioning as schema
from ansible_collections.voipops.voip.plugins.module_utils.handsets import base
from ansible_collections.voipops.voip.plugins.module_utils.handsets.registrations import mac_hex, version_key

INDEX_NAME = ".voipops-handsets.json"  # inside the root: releases before 0.1.0 only (moved out on the next run)
MANIFEST_PATH = "firmware/manifest.json"
MASK = "********"

DEFAULT_SETTINGS = {
    "registrar_port": 5060,
    "transport": "udp",
    "expires": 3600,
    "ntp_server": "pool.ntp.org",
    "timezone": "UTC",
    "language": "en",
    "firmware": "latest",
}

# The provisioning options (doc fragment voipops.voip.provisioning), shared by handset_provision and handset_release;
# defaults and choices are those of the settings above.  The environment variables let an AWX credential inject
# root and provisioning_url.
PROVISIONING_ARGSPEC = dict(
    root=dict(type="path", required=True, fallback=(env_fallback, ["VOIPOPS_PROVISIONING_ROOT"])),
    provisioning_url=dict(type="str", required=True, fallback=(env_fallback, ["VOIPOPS_PROVISIONING_URL"])),
    registrar=dict(type="str", required=True),
    registrar_port=dict(type="int", default=DEFAULT_SETTINGS["registrar_port"]),
    transport=dict(type="str", choices=list(base.TRANSPORTS), default=DEFAULT_SETTINGS["transport"]),
    expires=dict(type="int", default=DEFAULT_SETTINGS["expires"]),
    ntp_server=dict(type="str", default=DEFAULT_SETTINGS["ntp_server"]),
    timezone=dict(type="str", default=DEFAULT_SETTINGS["timezone"]),
    language=dict(type="str", choices=list(base.LANGUAGES), default=DEFAULT_SETTINGS["language"]),
    firmware=dict(type="str", choices=["latest", "none"], default=DEFAULT_SETTINGS["firmware"]),
    handsets=dict(type="list", elements="dict"),
    handsets_file=dict(type="path"),
    users_file=dict(type="path"),
    mode=dict(type="raw", default="0640"),
)
# The options that become the provisioning settings (``Provisioner``/``validate``); ``domain`` is a callserver option.
SETTING_KEYS = ("registrar", "registrar_port", "transport", "domain", "expires", "ntp_server", "timezone", "language",
                "firmware", "provisioning_url")


def provisioning_argspec(required=()):
    """A copy of PROVISIONING_ARGSPEC with ``required`` options marked required (handset_release: users_file)."""
    spec = dict((k, dict(v)) for k, v in PROVISIONING_ARGSPEC.items())
    for name in required:
        spec[name]["required"] = True
    return spec


def settings_of(params):
    """The provisioning settings out of a module's params."""
    return dict((k, params.get(k)) for k in SETTING_KEYS)


def file_mode(value):
    """The O(mode) option as an int (``'0640'``, ``640`` given as text, or an int); ValueError when not octal."""
    return value if isinstance(value, int) else int(str(value), 8)


# ------------------------------------------------------------------------------------- firmware
def scan_firmware(root, cache=None):
    """Firmware images under ``<root>/firmware/<vendor>/`` recognised by their vendor profile.

    Returns (images, cache): images = [{vendor, family, version, file, size, sha256}], sorted;
    ``cache`` maps file -> [size, mtime_ns, sha256] so unchanged images are not hashed again.
    """
    cache = dict(cache or {})
    new_cache = {}
    images = []
    fw_root = os.path.join(root, "firmware")
    for profile in base.all_profiles():
        vdir = os.path.join(fw_root, profile.vendor)
        if not os.path.isdir(vdir):
            continue
        for dirpath, _dirs, names in os.walk(vdir):
            for name in names:
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, vdir).replace(os.sep, "/")
                found = profile.firmware_from_path(rel)
                if not found:
                    continue
                family, version = found
                st = os.stat(full)
                key = "firmware/%s/%s" % (profile.vendor, rel)
                hit = cache.get(key)
                if hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
                    digest = hit[2]
                else:
                    sha = hashlib.sha256()
                    with open(full, "rb") as handle:
                        for chunk in iter(lambda: handle.read(1 << 20), b""):
                            sha.update(chunk)
                    digest = sha.hexdigest()
                new_cache[key] = [st.st_size, st.st_mtime_ns, digest]
                images.append({"vendor": profile.vendor, "family": family, "version": version,
                               "file": key, "size": st.st_size, "sha256": digest})
    images.sort(key=lambda i: (i["vendor"], i["family"], version_key(i["version"])))
    return images, new_cache


def _images_by_family(images):
    out = {}
    for img in images:
        out.setdefault((img["vendor"], img["family"]), {})[img["version"]] = img
    return out


# ------------------------------------------------------------------------------------- input
HANDSET_CSV_REQUIRED = ("name", "mac", "vendor", "model", "user")


def _load_json_fast(path):
    """A JSON document (JSON is YAML; large fleets are often exported as JSON) read with the json module:
    10x faster than the line-tracking YAML loader, but without line numbers.  None when it is not JSON."""
    try:
        with open(path, "rb") as handle:
            text = handle.read()
    except (IOError, OSError):
        return None
    if text.lstrip()[:1] not in (b"{", b"["):
        return None
    try:
        return json.loads(text.decode("utf-8"))
    except ValueError:
        return None


def _load_document(path, fast):
    data = _load_json_fast(path) if fast else None
    return load_yaml(path) if data is None else data


def load_handsets(path, fast=False):
    """Handsets from a CSV file (one row per handset) or a YAML file (``handsets:`` list or a top-level list).

    ``fast``: read a JSON file without line tracking (load again without it to report errors with lines)."""
    if str(path).lower().endswith(".csv"):
        return load_csv(path, required=HANDSET_CSV_REQUIRED)
    data = _load_document(path, fast)
    if isinstance(data, dict):
        if "handsets" not in data:
            raise SourceError("no 'handsets' list in this file", path=path, line=getattr(data, "line", None))
        data = data["handsets"]
    if not isinstance(data, list):
        raise SourceError("'handsets' must be a list", path=path, line=getattr(data, "line", None))
    return data


def load_users(path, fast=False):
    """Users from a CSV file (extension, display_name, sip_password, ...) or YAML (``users:`` list or a top-level list)."""
    if str(path).lower().endswith(".csv"):
        return load_csv(path, required=("extension", "sip_password"))
    data = _load_document(path, fast)
    if isinstance(data, dict):
        if "users" not in data:
            raise SourceError("no 'users' list in this file", path=path, line=getattr(data, "line", None))
        data = data["users"]
    if not isinstance(data, list):
        raise SourceError("'users' must be a list", path=path, line=getattr(data, "line", None))
    return data


# ------------------------------------------------------------------------------------- validate
def _where(rec, index, what):
    path = getattr(rec, "path", None)
    name = rec.get("name") if isinstance(rec, dict) else None
    obj = "%s '%s'" % (what, name) if name else "%s #%d" % (what, index + 1)
    if not path:
        obj = "%ss[%d] %s" % (what, index, ("'%s'" % name) if name else "")
        obj = obj.strip()
    return path, obj


class _Run(object):
    """One validation run: what the checks of ``schema/provisioning.py`` see as ``ctx.state``."""

    def __init__(self):
        self.names = {}   # handset name -> where it was first given
        self.macs = {}    # MAC -> handset name
        self.users = {}   # extension -> account
        self.index = 0    # of the handset being read


def validate(handsets, users, settings, images=()):
    """Validate everything; return (records, users_by_ext, settings).  Raises SourceErrors with every error.

    The settings, accounts and handsets are walked with the tables of ``schema/provisioning.py``."""
    errors = ErrorCollector()
    walker = Validator(errors, state=_Run())
    s = _settings(settings, walker)
    by_ext = _accounts(users, walker)
    records = _handsets(handsets, s, images, walker)
    if errors:
        raise SourceErrors(errors.errors)
    return records, by_ext, s


def _settings(settings, walker):
    s = dict(DEFAULT_SETTINGS)
    s.update(dict((k, v) for k, v in (settings or {}).items() if v is not None))
    checked, _ok = walker.walk(s, schema.SETTINGS, "settings")
    s["registrar_port"], s["expires"] = checked["registrar_port"], checked["expires"]
    s["timezone_info"] = checked["timezone"]
    url = str(s.get("provisioning_url") or "")
    if url and not url.endswith("/"):
        s["provisioning_url"] = url + "/"
    return s


def _accounts(users, walker):
    """SIP accounts by extension (or username); a second account for one extension is an error."""
    errors, by_ext = walker.errors, walker.state.users
    for index, rec in enumerate(users or []):
        path = getattr(rec, "path", None)
        if not isinstance(rec, dict):
            errors.add("must be a mapping", path=path, line=line_of(users, index), obj="users[%d]" % index)
            continue
        ext = rec.get("extension", rec.get("username"))
        obj = "user '%s'" % ext if ext not in (None, "") else "users[%d]" % index
        if ext in (None, ""):
            errors.add("is required", path=path, line=line_of(rec), obj=obj, field="extension")
            continue
        ext = str(ext)
        if ext in by_ext:
            errors.add("duplicate user '%s'" % ext, path=path, line=line_of(rec, "extension"), obj=obj, field="extension")
            continue
        walker.walk(rec, schema.USER, obj)
        by_ext[ext] = {
            "extension": ext,
            "username": str(rec.get("username") or ext),
            "auth_user": str(rec.get("auth_user") or rec.get("username") or ext),
            "password": str(rec.get("sip_password") or ""),
            "display_name": str(rec.get("display_name") or ext),
            "label": str(rec.get("label") or rec.get("display_name") or ext),
        }
    return by_ext


def _handsets(handsets, s, images, walker):
    """Handset records (vendor profile, canonical model, firmware image) for every valid handset."""
    errors = walker.errors
    fams = _images_by_family(images)
    records = []
    for index, rec in enumerate(handsets or []):
        if not isinstance(rec, dict):
            errors.add("must be a mapping", obj="handsets[%d]" % index)
            continue
        path, obj = _where(rec, index, "handset")
        walker.state.index = index
        out, ok = walker.walk(rec, schema.HANDSET, obj)
        name, mac, profile, model = out["name"], out["mac"], out["vendor"], out["model"]
        lines = out["lines"] or ([out["user"]] if out["user"] else [])
        firmware = None
        if ok:
            family = profile.family(model)
            available = fams.get((profile.vendor, family), {})
            pin = rec.get("firmware")
            if pin not in (None, ""):
                pin = str(pin)
                if pin not in available:
                    errors.add("firmware %s for %s %s is not on the provisioning server (have: %s)" % (
                        pin, profile.display_name, family, ", ".join(sorted(available, key=version_key)) or "none"),
                        path=path, line=line_of(rec, "firmware"), obj=obj, field="firmware")
                    ok = False
                else:
                    firmware = available[pin]
            elif s.get("firmware") == "latest" and available:
                firmware = available[max(available, key=version_key)]
        if ok:
            records.append({"name": str(name), "mac": mac, "vendor": profile.vendor, "model": model,
                            "family": profile.family(model), "user": lines[0], "site": rec.get("site"),
                            "firmware": firmware})
            if len(lines) > 1:  # a DECT base's handsets, an ATA's ports: one file, a line per user
                records[-1]["lines"] = lines
    return records


# ------------------------------------------------------------------------------------- render
def _context(rec, accounts, s):
    fw = rec["firmware"]
    firmware = None
    if fw:
        firmware = {"version": fw["version"], "path": fw["file"], "url": s["provisioning_url"] + fw["file"],
                    "size": fw["size"], "sha256": fw["sha256"]}
    mac = rec["mac"]
    return {
        "handset": {"name": rec["name"], "mac": mac, "mac_hex": mac_hex(mac), "mac_hex_upper": mac_hex(mac, True),
                    "model": rec["model"], "family": rec["family"], "vendor": rec["vendor"], "site": rec.get("site")},
        "account": accounts[0],
        "accounts": accounts,
        "registrar": {"host": s["registrar"], "port": s["registrar_port"], "transport": s["transport"],
                      "domain": s.get("domain") or s["registrar"], "expires": s["expires"]},
        "ntp_server": s["ntp_server"],
        "timezone": s["timezone_info"],
        "language": s["language"],
        "prov_url": s["provisioning_url"],
        "firmware": firmware,
    }


def build_want(records, users, s, images=(), mask=False, owners=None):
    """Render every file: returns {relative path: text} (``mask=True`` renders secrets as MASK).

    ``owners``, when a dict, receives {relative path: [handset names]} (several for a common file).
    """
    env = base.jinja_env()
    want = {}
    owners = owners if owners is not None else {}
    get_template = env.get_template
    for rec in records:
        profile = base.get_profile(rec["vendor"])
        accounts = [dict(users[user], line=i + 1) for i, user in enumerate(rec.get("lines") or [rec["user"]])]
        if mask:
            accounts = [dict(account, password=MASK) for account in accounts]
        ctx = _context(rec, accounts, s)
        profile.extra_context(ctx)
        for fname, tname in profile.common_files(rec["model"], ctx):
            text = get_template("%s/%s" % (profile.vendor, tname)).render(ctx)
            if fname in want and want[fname] != text:
                raise base.ProfileError("common file %s would differ between handsets '%s' and '%s'" % (
                    fname, owners[fname][0], rec["name"]))
            want[fname] = text
            owners.setdefault(fname, []).append(rec["name"])
        for fname, tname in profile.device_files(ctx):
            if fname in want:
                raise base.ProfileError("file %s would be written for both '%s' and '%s'" % (fname, owners[fname][0], rec["name"]))
            want[fname] = get_template("%s/%s" % (profile.vendor, tname)).render(ctx)
            owners[fname] = [rec["name"]]
    if images:
        want[MANIFEST_PATH] = json.dumps({"version": 1, "images": list(images)}, indent=1, sort_keys=True) + "\n"
    return want


# ------------------------------------------------------------------------------------- plan / apply
def index_path(root):
    """Where the run's index lives: beside the provisioning root, never in it (the web server serves the root, and
    the index lists every file of every phone).  ``/srv/prov`` -> ``/srv/.voipops-handsets.prov.json``."""
    root = os.path.abspath(root).rstrip(os.sep) or os.sep
    return os.path.join(os.path.dirname(root), ".voipops-handsets.%s.json" % (os.path.basename(root) or "root"))


def read_index(root):
    # the index of an earlier release lay inside the root (INDEX_NAME): read once, then moved out by apply()
    for path in (index_path(root), os.path.join(root, INDEX_NAME)):
        try:
            with open(path, "r") as handle:
                data = json.load(handle)
            if isinstance(data, dict):
                return data
        except (IOError, OSError, ValueError):
            pass
    return {"version": 1, "files": [], "firmware_cache": {}}


def plan(root, want, index):
    """Compare ``want`` with the disk: {create: [...], update: [...], remove: [...], unchanged: n, before: {path: text}}."""
    create, update, before = [], [], {}
    unchanged = 0
    for rel in sorted(want):
        full = os.path.join(root, rel)
        try:
            with open(full, "rb") as handle:
                have = handle.read()
        except (IOError, OSError):
            create.append(rel)
            continue
        data = want[rel].encode("utf-8")
        if have == data:
            unchanged += 1
        else:
            update.append(rel)
            before[rel] = have.decode("utf-8", "replace")
    remove = sorted(rel for rel in index.get("files", []) if rel not in want and os.path.lexists(os.path.join(root, rel)))
    return {"create": create, "update": update, "remove": remove, "unchanged": unchanged, "before": before}


def _safe_rel(rel):
    if rel.startswith("/") or ".." in rel.split("/"):
        raise base.ProfileError("refusing to write outside the provisioning root: %s" % rel)


def inputs_digest(records, users, s, images):
    """SHA-256 over everything the files are rendered from (validated input, settings, firmware images and the
    vendor templates): when it and the files on disk are as the last run left them, nothing needs rendering."""
    templates = sorted((p.vendor, sorted(p.TEMPLATES.items())) for p in base.all_profiles())
    blob = json.dumps([records, users, dict((k, v) for k, v in s.items()), images, templates],
                      sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _stat_files(root, rels):
    stats = {}
    for rel in rels:
        try:
            st = os.stat(os.path.join(root, rel))
        except OSError:
            continue
        stats[rel] = [st.st_size, st.st_mtime_ns]
    return stats


def files_intact(root, index):
    """Every file of the last run is still there, untouched (same size and modification time)."""
    recorded = index.get("stat")
    if not isinstance(recorded, dict) or sorted(recorded) != sorted(index.get("files", [])):
        return False
    return _stat_files(root, recorded) == recorded


def apply(root, want, the_plan, fw_cache, mode=0o640, gid=None, inputs=None):
    """Write created/updated files, remove stale ones, then the index.  Returns nothing."""
    for rel in the_plan["create"] + the_plan["update"]:
        _safe_rel(rel)
        # phone files are rendered again from their inputs after a crash: no fsync per file (10,000 of them)
        atomic_write(os.path.join(root, rel), want[rel].encode("utf-8"), mode=mode, gid=gid, fsync=False)
    for rel in the_plan["remove"]:
        _safe_rel(rel)
        try:
            os.unlink(os.path.join(root, rel))
        except OSError:
            pass
    index = {"version": 1, "files": sorted(want), "firmware_cache": fw_cache, "inputs": inputs,
             "stat": _stat_files(root, want)}
    atomic_write(index_path(root), (json.dumps(index, sort_keys=True) + "\n").encode("utf-8"), mode=0o600)
    legacy = os.path.join(root, INDEX_NAME)
    if os.path.exists(legacy):
        os.unlink(legacy)


def index_needs_update(index, want, fw_cache):
    return sorted(index.get("files", [])) != sorted(want) or index.get("firmware_cache", {}) != fw_cache


def unified_diffs(the_plan, masked_want, mask_before):
    """Ansible diff list for every created/updated/removed file, secrets masked."""
    diffs = []
    for rel in the_plan["create"]:
        diffs.append({"before_header": "%s (absent)" % rel, "after_header": rel, "before": "", "after": masked_want[rel]})
    for rel in the_plan["update"]:
        diffs.append({"before_header": rel, "after_header": rel, "before": mask_before(rel, the_plan["before"][rel]),
                      "after": masked_want[rel]})
    for rel in the_plan["remove"]:
        diffs.append({"before_header": rel, "after_header": "%s (absent)" % rel, "before": "(removed)\n", "after": ""})
    return diffs


_SECRET_PATTERNS = (
    re.compile(r"(account\.\d+\.password\s*=\s*)(.*)"),                    # Yealink
    re.compile(r"(reg\.\d+\.auth\.password=\")([^\"]*)(\")"),             # Poly
    re.compile(r"(<user_pass\b[^>]*>)([^<]*)(<)"),                         # Snom
    re.compile(r"(<P34>)([^<]*)(<)"),                                      # Grandstream
    re.compile(r"(<Password_\d+_\b[^>]*>)([^<]*)(<)"),                     # Cisco MPP
)


def mask_secrets(text):
    """Replace every password value we render (any vendor format) with MASK."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK + (m.group(3) if m.lastindex >= 3 else ""), text)
    return text


def text_diff(before, after, name):
    """A unified diff as one string (used in tests and docs)."""
    return "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True), name, name))


class Provisioner(object):
    """The whole run: validate, render, plan, and (unless check mode) apply."""

    def __init__(self, root, handsets, users, settings, mode=0o640, gid=None):
        self.root = root
        self.handsets = handsets
        self.users = users
        self.settings = settings
        self.mode = mode
        self.gid = gid

    def run(self, check_mode=False, want_diff=False):
        index = read_index(self.root)
        images, fw_cache = scan_firmware(self.root, index.get("firmware_cache"))
        records, users, s = validate(self.handsets, self.users, self.settings, images)
        digest = inputs_digest(records, users, s, images)
        if (index.get("inputs") == digest and index.get("firmware_cache", {}) == fw_cache and files_intact(self.root, index)
                and not os.path.exists(os.path.join(self.root, INDEX_NAME))):
            # the same inputs as the last run, and its files untouched: nothing to render
            return {"changed_handsets": [], "changed": False, "handsets": len(records),
                    "files": {"created": [], "updated": [], "removed": [], "unchanged": len(index["files"])},
                    "firmware": images}
        owners = {}
        want = build_want(records, users, s, images, owners=owners)
        the_plan = plan(self.root, want, index)
        changed = bool(the_plan["create"] or the_plan["update"] or the_plan["remove"])
        touched = set()
        for rel in the_plan["create"] + the_plan["update"]:
            touched.update(owners.get(rel, ()))
        result = {
            "changed_handsets": sorted(touched),
            "changed": changed,
            "handsets": len(records),
            "files": {"created": the_plan["create"], "updated": the_plan["update"], "removed": the_plan["remove"],
                      "unchanged": the_plan["unchanged"]},
            "firmware": images,
        }
        if want_diff and changed:
            masked = build_want(records, users, s, images, mask=True)
            result["diff"] = unified_diffs(the_plan, masked, lambda rel, text: mask_secrets(text))
        if not check_mode and (changed or index_needs_update(index, want, fw_cache) or index.get("inputs") != digest
                               or not files_intact(self.root, index)
                               or os.path.exists(os.path.join(self.root, INDEX_NAME))):
            if not os.path.isdir(self.root):
                os.makedirs(self.root, 0o755)
            apply(self.root, want, the_plan, fw_cache, mode=self.mode, gid=self.gid, inputs=digest)
        return result
