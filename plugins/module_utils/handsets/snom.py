# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Snom D7xx/D8xx desk phones.

- Files: the phone asks for ``snom<model>-<MAC upper-case>.htm``, a ``<setting-files>`` list pointing at
  its XML settings ``<MAC upper-case>.xml``; ``firmware_status`` in there points at the per-model firmware
  file ``snom<model>-<version>-firmware.xml`` whose ``<firmware>`` element is the image URL.
- User-Agent: SIP ``snomD785/10.1.73.16``; HTTP
  ``Mozilla/4.0 (compatible; snomD785-SIP 10.1.73.16 2010.12-00004-g9ba52f5 000413922D24 SXM:0 UXM:0)``.
- NOTIFY: ``check-sync;reboot=false`` re-syncs without reboot, ``check-sync;reboot=true`` reboots.
- Firmware: ``snom<model>-<version>-r.bin`` (images are per model).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import xml.etree.ElementTree as ET

from ansible_collections.voipops.voip.plugins.module_utils.handsets.base import HandsetProfile, register

_HTM = """<?xml version="1.0" encoding="utf-8"?>
<setting-files>
  <file url="{{ prov_url }}{{ handset.mac_hex_upper }}.xml"/>
</setting-files>
"""

_SETTINGS = """<?xml version="1.0" encoding="utf-8"?>
<!-- voipops.voip: {{ handset.name }} ({{ handset.model }} {{ handset.mac }}) -->
<settings>
  <phone-settings e="2">
{% for a in accounts %}
    <user_active idx="{{ a.line }}" perm="R">on</user_active>
    <user_realname idx="{{ a.line }}" perm="R">{{ a.display_name }}</user_realname>
    <user_name idx="{{ a.line }}" perm="R">{{ a.username }}</user_name>
    <user_pname idx="{{ a.line }}" perm="R">{{ a.auth_user }}</user_pname>
    <user_pass idx="{{ a.line }}" perm="R">{{ a.password }}</user_pass>
    <user_host idx="{{ a.line }}" perm="R">{{ registrar.host }}:{{ registrar.port }};transport={{ registrar.transport }}</user_host>
    <user_expiry idx="{{ a.line }}" perm="R">{{ registrar.expires }}</user_expiry>
{% endfor %}
    <ntp_server perm="R">{{ ntp_server }}</ntp_server>
    <utc_offset perm="R">{{ timezone.offset_seconds }}</utc_offset>
    <language perm="R">{{ language_name }}</language>
    <web_language perm="R">{{ language_name }}</web_language>
    <update_policy perm="R">auto_update</update_policy>
{% if firmware %}
    <firmware_status perm="R">{{ prov_url }}{{ firmware_status_file }}</firmware_status>
{% endif %}
  </phone-settings>
</settings>
"""

_FIRMWARE = """<?xml version="1.0" encoding="utf-8"?>
<firmware-settings>
  <firmware perm="R">{{ firmware.url }}</firmware>
</firmware-settings>
"""

_BIN = re.compile(r"^snom(?P<model>D\d{3})-(?P<version>\d+(?:\.\d+){2,3})-r\.bin$")
_HOST = re.compile(r"^(?P<host>[^:;]+)(?::(?P<port>\d+))?(?:;transport=(?P<transport>\w+))?$")


@register
class SnomProfile(HandsetProfile):
    vendor = "snom"
    display_name = "Snom"
    MODELS = dict((m, m) for m in ("D713", "D717", "D735", "D785", "D812", "D815", "D862", "D865"))
    FIRMWARE = dict((m, {"version": "10.1.73.16"}) for m in MODELS)
    # desk phones: HTTP "Mozilla/4.0 (compatible; snom<model>-SIP <fw> <build> [<MAC>] ...)", SIP "snom<model>/<fw>";
    # M-series DECT bases: HTTP "Mozilla/4.0 (compatible; Snom M900 <fw> <MAC>)", SIP "snom-m900/<fw>".
    UA_PATTERNS = (
        re.compile(r"\bsnom(?P<model>\w+?)-SIP\s+(?P<version>\d+(?:\.\d+)+)(?:\s+\S+\s+(?P<mac>[0-9A-Fa-f]{12})\b)?"),
        re.compile(r"\b[Ss]nom\s+(?P<model>M\d+\w*)\s+(?P<version>\d+(?:\.\d+)+)(?:\s+(?P<mac>[0-9A-Fa-f]{12})\b)?"),
        re.compile(r"^[Ss]nom-?(?P<model>\w+?)/(?P<version>\d+(?:\.\d+)+)"),
    )
    NOTIFY_EVENTS = {"resync": "check-sync;reboot=false", "reboot": "check-sync;reboot=true"}
    NOTIFY_ALSO = {"check-sync": "reboot"}   # without the parameter a Snom phone reboots
    LANGUAGE_NAMES = {"en": "English", "nl": "Dutch", "de": "Deutsch", "fr": "Francais", "es": "Espanol", "it": "Italiano"}
    TEMPLATES = {"phone.htm.xml": _HTM, "settings.xml": _SETTINGS, "firmware.xml": _FIRMWARE}

    def ua_model(self, raw):
        # "m900" in a SIP User-Agent is Snom's "M900"
        return None if raw is None else (self.canonical_model(raw) or str(raw).upper())

    def _fw_status_file(self, model, firmware):
        return "snom%s-%s-firmware.xml" % (model, firmware["version"])

    def extra_context(self, ctx):
        ctx["language_name"] = self.language(ctx["language"])
        if ctx.get("firmware"):
            ctx["firmware_status_file"] = self._fw_status_file(ctx["handset"]["model"], ctx["firmware"])

    def common_files(self, model, ctx):
        if not ctx.get("firmware"):
            return []
        return [(self._fw_status_file(model, ctx["firmware"]), "firmware.xml")]

    def device_files(self, ctx):
        h = ctx["handset"]
        return [("snom%s-%s.htm" % (h["model"], h["mac_hex_upper"]), "phone.htm.xml"),
                ("%s.xml" % h["mac_hex_upper"], "settings.xml")]

    def parse_config(self, files):
        values, lines = {}, {}
        for name, text in files.items():
            if not text or name.endswith(".htm"):
                continue
            root = ET.fromstring(text.encode("utf-8"))
            for node in root.iter():
                if node.text and node.text.strip():
                    idx = node.get("idx")
                    if idx:
                        lines.setdefault(int(idx), {})[node.tag] = node.text.strip()
                    if idx in (None, "1"):
                        values[node.tag] = node.text.strip()
        host = _HOST.match(values.get("user_host", "")) if values.get("user_host") else None
        accounts = [{"line": n, "username": v.get("user_name"), "auth_user": v.get("user_pname") or v.get("user_name"),
                     "password": v.get("user_pass"), "display_name": v.get("user_realname")}
                    for n, v in sorted(lines.items()) if v.get("user_name")]
        return {
            "accounts": accounts,
            "username": values.get("user_name"),
            "auth_user": values.get("user_pname") or values.get("user_name"),
            "password": values.get("user_pass"),
            "display_name": values.get("user_realname"),
            "registrar": host.group("host") if host else None,
            "port": int(host.group("port") or 5060) if host else 5060,
            "transport": (host.group("transport") or "udp") if host else "udp",
            "expires": int(values.get("user_expiry") or 3600),
            # firmware_status is the URL of another file; the image URL is in it (key 'firmware')
            "firmware_status": values.get("firmware_status"),
            "firmware_url": values.get("firmware"),
        }

    def firmware_path(self, family, version):
        return "snom%s-%s-r.bin" % (family, version)

    def firmware_from_path(self, relpath):
        m = _BIN.match(relpath)
        if not m or m.group("model") not in self.MODELS:
            return None
        return m.group("model"), m.group("version")
