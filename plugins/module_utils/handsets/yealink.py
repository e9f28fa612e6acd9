# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Yealink T4x/T5x (and T3x/T2x) desk phones.

- Files: a common ``y0000000000XX.cfg`` per hardware id (XX = the model's device id, e.g. 96 for T54W)
  carrying site settings, then ``<mac lower-case>.cfg`` carrying the account and the firmware URL
  (MAC-oriented settings override common ones, so a handset can be pinned to its own firmware).
  Both start with the ``#!version:1.0.0.1`` header and hold ``key = value`` lines.
- User-Agent: SIP ``Yealink SIP-T54W 96.86.0.100``; HTTP adds the MAC: ``Yealink SIP-T54W 96.86.0.100 80:5e:c0:d5:7d:72``.
- NOTIFY: ``Event: check-sync`` re-syncs (with ``sip.notify_reboot_enable = 0``); ``check-sync;reboot=true`` reboots.
- Firmware: ``<models>-<version>.rom``; the first number of the version is the firmware id of the family.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.voipops.voip.plugins.module_utils.handsets.base import HandsetProfile, register

# model -> (family, device id of the common y0000000000XX.cfg)
_MODELS = {
    "T31G": ("T3x", "124"),
    "T33G": ("T3x", "124"),
    "T41S": ("T4xS", "68"),
    "T42S": ("T4xS", "67"),
    "T46S": ("T4xS", "66"),
    "T48S": ("T4xS", "65"),
    "T46U": ("T4xU", "108"),
    "T48U": ("T4xU", "108"),
    "T53W": ("T5xW", "95"),
    "T54W": ("T5xW", "96"),
    "T57W": ("T5xW", "97"),
    "W70B": ("W7xB", "146"),
}

_FAMILY_FILE = {
    "T3x": ("124", "T31(T30,T30P,T31G,T31P,T33P,T33G)"),
    "T4xS": ("66", "T46S(T48S,T42S,T41S)"),
    "T4xU": ("108", "T46U(T43U,T46U,T41U,T48U,T42U)"),
    "T5xW": ("96", "T54W(T57W,T53W,T53,T53C,T54,T57)"),
    "W7xB": ("146", "W70B"),   # (ours: the DECT base's image name)
}
_FW_ID_FAMILY = dict((fw_id, fam) for fam, (fw_id, _image) in _FAMILY_FILE.items())
_ROM = re.compile(r"^(?P<models>[^/]+)-(?P<version>(?P<fwid>\d+)\.\d+\.\d+\.\d+)\.rom$")

_COMMON = """#!version:1.0.0.1
## voipops.voip: common file for Yealink {{ handset.model }} (device id {{ device_id }})
static.auto_provision.server.url = {{ prov_url }}
sip.notify_reboot_enable = 0
local_time.ntp_server1 = {{ ntp_server }}
local_time.time_zone = {{ tz_hours }}
lang.gui = {{ language_name }}
lang.wui = {{ language_name }}
"""

_DEVICE = """#!version:1.0.0.1
## voipops.voip: {{ handset.name }} ({{ handset.model }} {{ handset.mac }})
{% for a in accounts %}
account.{{ a.line }}.enable = 1
account.{{ a.line }}.label = {{ a.label }}
account.{{ a.line }}.display_name = {{ a.display_name }}
account.{{ a.line }}.user_name = {{ a.username }}
account.{{ a.line }}.auth_name = {{ a.auth_user }}
account.{{ a.line }}.password = {{ a.password }}
account.{{ a.line }}.sip_server.1.address = {{ registrar.host }}
account.{{ a.line }}.sip_server.1.port = {{ registrar.port }}
account.{{ a.line }}.sip_server.1.transport_type = {{ transport_code }}
account.{{ a.line }}.sip_server.1.expires = {{ registrar.expires }}
{% endfor %}
{% if firmware %}
static.firmware.url = {{ firmware.url }}
{% endif %}
"""

_UA_VERSION = r"(?P<version>\d+(?:\.\d+)+)"
_UA_MAC = r"(?:\s+(?P<mac>[\da-fA-F]{2}(?::[\da-fA-F]{2}){5}))?(?:\s|$)"

_TRANSPORT = {"udp": "0", "tcp": "1", "tls": "2"}
_TRANSPORT_BACK = dict((v, k) for k, v in _TRANSPORT.items())


@register
class YealinkProfile(HandsetProfile):
    vendor = "yealink"
    display_name = "Yealink"
    MODELS = dict((model, fam) for model, (fam, _device_id) in _MODELS.items())
    FIRMWARE = {
        "T3x": {"version": "124.86.0.40"},
        "T4xS": {"version": "66.86.0.15"},
        "T4xU": {"version": "108.86.0.45"},
        "T5xW": {"version": "96.86.0.100"},
        "W7xB": {"version": "146.85.0.20"},
    }
    MAX_LINES = {"W70B": 10}   # the W70B DECT base: up to 10 handsets, one account each
    # desk phones "Yealink SIP-T54W <fw>", video "Yealink SIP VP-T49G", DECT bases and conference phones without the
    # "SIP-" ("Yealink W70B <fw>", "Yealink CP960 <fw>"), the oldest firmware "Yealink-T46G <fw> <hw>", and old units
    # without the brand ("W52P <fw> <mac>", "VP530P <fw> <mac>"); HTTP adds the MAC with colons.
    UA_PATTERNS = (
        re.compile(r"^[Yy]ealink\s+SIP(?:\s+VP)?-(?P<model>\w+)\s+" + _UA_VERSION + _UA_MAC),
        re.compile(r"^[Yy]ealink[\s-]+(?P<model>[A-Z]+\d+\w*)\s+" + _UA_VERSION + _UA_MAC),
        re.compile(r"^(?P<model>VP530P?|W52P|W60B)\s+" + _UA_VERSION + _UA_MAC),
    )
    NOTIFY_EVENTS = {"resync": "check-sync", "reboot": "check-sync;reboot=true"}
    LANGUAGE_NAMES = {"en": "English", "nl": "Dutch", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian"}
    TEMPLATES = {"common.cfg": _COMMON, "device.cfg": _DEVICE}

    def ua_model(self, raw):
        # "T21P_E2" is Yealink's "T21P E2"
        return None if raw is None else (self.canonical_model(raw) or str(raw).replace("_", " "))

    def extra_context(self, ctx):
        ctx["device_id"] = _MODELS[ctx["handset"]["model"]][1]
        ctx["transport_code"] = _TRANSPORT[ctx["registrar"]["transport"]]
        offset = ctx["timezone"]["offset_seconds"]
        ctx["tz_hours"] = ("%+d" % (offset // 3600)) if offset % 3600 == 0 else ("%+g" % (offset / 3600.0))
        ctx["language_name"] = self.language(ctx["language"])

    def common_files(self, model, ctx):
        return [("y%012d.cfg" % int(_MODELS[model][1]), "common.cfg")]

    def device_files(self, ctx):
        return [("%s.cfg" % ctx["handset"]["mac_hex"], "device.cfg")]

    def parse_config(self, files):
        values = {}
        for text in files.values():
            if text is None:
                continue
            for line in text.splitlines():
                line = line.strip()
                if not line or line.startswith("#") or "=" not in line:
                    continue
                key, value = line.split("=", 1)
                values[key.strip()] = value.strip()
        accounts = []
        for line in sorted(set(int(k.split(".")[1]) for k in values if re.match(r"^account\.\d+\.user_name$", k))):
            key = "account.%d." % line
            accounts.append({"line": line, "username": values.get(key + "user_name"),
                             "auth_user": values.get(key + "auth_name"), "password": values.get(key + "password"),
                             "display_name": values.get(key + "display_name")})
        return {
            "accounts": accounts,
            "username": values.get("account.1.user_name"),
            "auth_user": values.get("account.1.auth_name"),
            "password": values.get("account.1.password"),
            "display_name": values.get("account.1.display_name"),
            "registrar": values.get("account.1.sip_server.1.address"),
            "port": int(values.get("account.1.sip_server.1.port") or 5060),
            "transport": _TRANSPORT_BACK.get(values.get("account.1.sip_server.1.transport_type"), "udp"),
            "expires": int(values.get("account.1.sip_server.1.expires") or 3600),
            "firmware_url": values.get("static.firmware.url"),
        }

    def firmware_path(self, family, version):
        return "%s-%s.rom" % (_FAMILY_FILE[family][1], version)

    def firmware_from_path(self, relpath):
        m = _ROM.match(relpath)
        if not m or m.group("fwid") not in _FW_ID_FAMILY:
            return None
        family = _FW_ID_FAMILY[m.group("fwid")]
        if m.group("models") != _FAMILY_FILE[family][1]:
            return None
        return family, m.group("version")
