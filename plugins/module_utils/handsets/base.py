# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Handset vendor profiles: the interface every vendor file implements, plus shared helpers.

A profile (one file per vendor: ``yealink.py``, ``poly.py``, ...) knows, as its vendor documents it:

- how to read vendor, model, firmware version and MAC from its SIP and HTTP User-Agent
  (``UA_PATTERNS``; :func:`.registrations.parse_user_agent` tries every registered profile);
- the provisioning file names it renders (``device_files``/``common_files``; the names a simulated phone asks
  for at boot, and its generated User-Agents, live with the lab's simulator: ``roles/lab/files/phonesim/vendors.py``);
- how to render its configuration (Jinja2 templates kept as Python string constants, because
  AnsiballZ ships only ``.py`` files) and how to read it back (``parse_config``, used by the
  simulated fleet so that a phone only knows what its file says);
- its NOTIFY events for re-sync and reboot (``NOTIFY_EVENTS``);
- its firmware naming (``firmware_path``/``firmware_from_path``) and default firmware per family.

Profiles are registered in :mod:`.registry` (one import line per vendor file).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import traceback

try:
    import jinja2
    HAS_JINJA2 = True
    JINJA2_IMPORT_ERROR = None
except ImportError:  # pragma: no cover
    HAS_JINJA2 = False
    JINJA2_IMPORT_ERROR = traceback.format_exc()


PROFILES = {}

LANGUAGES = ("en", "nl", "de", "fr", "es", "it")
TRANSPORTS = ("udp", "tcp", "tls")

# Characters that would let a value break out of a key=value or XML line.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


class ProfileError(ValueError):
    """A handset, model or value that a vendor profile cannot handle."""


def register(cls):
    """Class decorator: make a profile known under its ``vendor`` key."""
    PROFILES[cls.vendor] = cls()
    return cls


def check_safe(value):
    """True when a text value has no control characters (no line breaks to inject settings)."""
    return not _UNSAFE.search(str(value))


_TZ_DIRS = ("/usr/share/zoneinfo", "/usr/lib/python3/dist-packages/tzdata/zoneinfo")


def timezone_info(name):
    """IANA zone name -> {name, offset_seconds (standard time), posix}.  ProfileError if unknown."""
    if not name or not re.match(r"^[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*$", name):
        raise ProfileError("'%s' is not an IANA time zone name" % name)
    data = None
    for base in _TZ_DIRS:
        path = os.path.join(base, name)
        if os.path.isfile(path):
            with open(path, "rb") as handle:
                data = handle.read()
            break
    if data is None or not data.startswith(b"TZif"):
        raise ProfileError("unknown time zone '%s'" % name)
    posix = data.rstrip(b"\n").rsplit(b"\n", 1)[-1].decode("ascii", "replace")
    offset = _posix_std_offset(posix)
    if offset is None:
        raise ProfileError("time zone '%s' has no usable POSIX rule" % name)
    return {"name": name, "offset_seconds": offset, "posix": posix}


def _posix_std_offset(posix):
    # POSIX TZ 'CET-1CEST,M3.5.0,M10.5.0/3': std name, then offset WEST of UTC.
    m = re.match(r"^(?:<[^>]+>|[A-Za-z]{3,})([+-]?)(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?", posix)
    if not m:
        return None
    sign = -1 if m.group(1) == "-" else 1
    seconds = int(m.group(2)) * 3600 + int(m.group(3) or 0) * 60 + int(m.group(4) or 0)
    return -sign * seconds


def format_offset(seconds, fmt="hours"):
    """Render an UTC offset the way vendors ask: 'hours' (+1, +5.5), 'hhmm' (+01:00)."""
    sign = "-" if seconds < 0 else "+"
    seconds = abs(seconds)
    if fmt == "hhmm":
        return "%s%02d:%02d" % (sign, seconds // 3600, (seconds % 3600) // 60)
    hours = seconds / 3600.0
    text = ("%d" % hours) if seconds % 3600 == 0 else ("%g" % hours)
    return sign + text


_ENV = None


def jinja_env():
    """One shared Jinja2 environment over every profile's templates (compiled once per process)."""
    global _ENV
    if _ENV is None:
        if not HAS_JINJA2:  # pragma: no cover
            raise ProfileError("the jinja2 Python library is required to render handset files")
        templates = {}
        for profile in PROFILES.values():
            for name, text in profile.TEMPLATES.items():
                templates["%s/%s" % (profile.vendor, name)] = text
        _ENV = jinja2.Environment(
            loader=jinja2.DictLoader(templates),
            autoescape=lambda name: bool(name) and name.endswith(".xml"),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
    return _ENV


class HandsetProfile(object):
    """Interface of a vendor profile.  Subclasses fill the constants and the file-name methods."""

    vendor = None            # registry key, lower case: "yealink"
    display_name = None      # as the vendor writes itself: "Yealink"
    MODELS = {}              # model as written in the estate (e.g. "T54W") -> family key
    FIRMWARE = {}            # family -> {"version": ..., "file": ...}  (default release per family)
    UA_PATTERNS = ()         # compiled regexes with named groups model, version and optionally mac
    NOTIFY_EVENTS = {}       # {"resync": "...", "reboot": "..."}
    TEMPLATES = {}           # template name -> Jinja2 text; names ending in .xml are autoescaped
    LANGUAGE_NAMES = {}      # ISO 639-1 -> the vendor's value
    MAX_LINES = {}           # model -> lines (SIP accounts) one device registers, when more than one: a DECT base's
    #                          handsets, an ATA's ports; its templates render ``accounts`` (``account`` = line 1)

    # -- models ---------------------------------------------------------------------------
    def canonical_model(self, model):
        """The profile's spelling of ``model`` (case/spacing/prefix-insensitive) or None."""
        if model is None:
            return None
        key = re.sub(r"[\s_\-]", "", str(model)).upper()
        for known in self.MODELS:
            if re.sub(r"[\s_\-]", "", known).upper() == key:
                return known
        return None

    def family(self, model):
        return self.MODELS[model]

    def max_lines(self, model):
        """How many lines (accounts, each registering its own user) one device of ``model`` takes."""
        return self.MAX_LINES.get(model, 1)

    # -- user agent -----------------------------------------------------------------------
    def parse_user_agent(self, ua):
        """Return {vendor, model, firmware, mac} when ``ua`` is one of this vendor's, else None.

        The MAC is as the User-Agent writes it: :func:`.registrations.parse_user_agent` (the one entry point)
        applies the MAC rule to it.
        """
        if not ua:
            return None
        for pattern in self.UA_PATTERNS:
            m = pattern.search(ua)
            if not m:
                continue
            groups = m.groupdict()
            model = self.ua_model(groups.get("model"))
            return {"vendor": self.vendor, "model": model, "firmware": groups.get("version"), "mac": groups.get("mac") or None}
        return None

    def ua_model(self, raw):
        """Map the model as written in a User-Agent to the profile's model name."""
        if raw is None:
            return None
        return self.canonical_model(raw) or raw

    # -- files ----------------------------------------------------------------------------
    def device_files(self, ctx):  # pragma: no cover - abstract
        """[(file name, template name)] for one handset."""
        raise NotImplementedError

    def common_files(self, model, ctx):
        """[(file name, template name)] shared by every handset of ``model`` (deduplicated by name)."""
        return []

    def parse_config(self, files):  # pragma: no cover - abstract
        """Read back what a phone takes from its files ({name: text}).

        Returns {username, auth_user, password, display_name, registrar, port, transport, firmware_url} of line 1,
        and ``accounts``: [{line, username, auth_user, password, display_name}] of every line.
        """
        raise NotImplementedError

    # -- firmware -------------------------------------------------------------------------
    def firmware_path(self, family, version):  # pragma: no cover - abstract
        """Path under ``firmware/<vendor>/`` of the image of ``family`` at ``version``."""
        raise NotImplementedError

    def firmware_from_path(self, relpath):  # pragma: no cover - abstract
        """(family, version) when ``relpath`` (under ``firmware/<vendor>/``) is one of our images, else None."""
        raise NotImplementedError

    # -- helpers for templates ------------------------------------------------------------
    def extra_context(self, ctx):
        """Add vendor-specific values (codes, names) to a handset's template context, in place."""
    def language(self, code):
        return self.LANGUAGE_NAMES[code]

    def notify_event(self, action):
        return self.NOTIFY_EVENTS[action]

    NOTIFY_ALSO = {}         # other Event values the vendor documents: event -> "resync" | "reboot"

    def notify_action(self, event):
        """What a phone of this vendor does on ``Event: <event>``: "resync", "reboot" or None (489 Bad Event)."""
        key = re.sub(r"\s+", "", str(event or "")).lower()
        for action, value in self.NOTIFY_EVENTS.items():
            if key == value.lower():
                return action
        return self.NOTIFY_ALSO.get(key)


def _load():
    # Imported here, not at module level, because the vendor files import this module.
    from ansible_collections.voipops.voip.plugins.module_utils.handsets import registry  # noqa: F401 pylint: disable=unused-import


def get_profile(vendor):
    """The profile registered as ``vendor`` (case-insensitive) or None."""
    _load()
    if vendor is None:
        return None
    key = str(vendor).strip().lower()
    key = VENDOR_ALIASES.get(key, key)
    return PROFILES.get(key)


def all_profiles():
    _load()
    return [PROFILES[k] for k in sorted(PROFILES)]


VENDOR_ALIASES = {"polycom": "poly", "cisco-mpp": "cisco", "cisco_mpp": "cisco", "mpp": "cisco"}
