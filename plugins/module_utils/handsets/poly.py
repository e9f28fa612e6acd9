# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Poly (Polycom) VVX and Edge E desk phones (UC Software / PVOS).

- Files: the phone first asks for its per-phone master configuration ``<mac>.cfg`` (lower-case MAC),
  falling back to the generic master ``000000000000.cfg``.  The master's ``APPLICATION`` element names the
  firmware (``APP_FILE_PATH``) and the configuration files to load (``CONFIG_FILES``); we put the
  registration in ``phone<mac>.cfg``.  Configuration files are XML with dotted parameter attributes.
- User-Agent: SIP ``PolycomVVX-VVX_450-UA/6.4.3.5018``, ``Poly/Edge_E450-UA/8.0.2.3267``; HTTP prefixes
  ``FileTransport `` and appends ``Type/Application``.
- NOTIFY: ``Event: check-sync`` re-syncs (with ``voIpProt.SIP.specialEvent.checkSync.alwaysReboot="0"``);
  ``check-sync;reboot=true`` asks for a reboot.
- Firmware: ``<version>/<family>.sip.ld`` (one split image per family and release).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import xml.etree.ElementTree as ET

from ansible_collections.voipops.voip.plugins.module_utils.handsets.base import HandsetProfile, register

_MASTER = """<?xml version="1.0" standalone="yes"?>
<!-- voipops.voip: master configuration -->
<APPLICATION APP_FILE_PATH="{% if firmware %}{{ firmware.path }}{% endif %}" CONFIG_FILES="{{ config_files }}"
 MISC_FILES="" LOG_FILE_DIRECTORY="" OVERRIDES_DIRECTORY="" CONTACTS_DIRECTORY="" LICENSE_DIRECTORY=""/>
"""

_GENERIC_MASTER = """<?xml version="1.0" standalone="yes"?>
<!-- voipops.voip: generic master configuration for phones without their own master -->
<APPLICATION APP_FILE_PATH="" CONFIG_FILES="" MISC_FILES="" LOG_FILE_DIRECTORY="" OVERRIDES_DIRECTORY="" CONTACTS_DIRECTORY="" LICENSE_DIRECTORY=""/>
"""

_PHONE = """<?xml version="1.0" standalone="yes"?>
<!-- voipops.voip: {{ handset.name }} ({{ handset.model }} {{ handset.mac }}) -->
<polycomConfig>
{% for a in accounts %}
  <reg reg.{{ a.line }}.address="{{ a.username }}" reg.{{ a.line }}.auth.userId="{{ a.auth_user }}" \
reg.{{ a.line }}.auth.password="{{ a.password }}" reg.{{ a.line }}.displayName="{{ a.display_name }}" \
reg.{{ a.line }}.label="{{ a.label }}" reg.{{ a.line }}.server.1.address="{{ registrar.host }}" \
reg.{{ a.line }}.server.1.port="{{ registrar.port }}" reg.{{ a.line }}.server.1.transport="{{ transport_code }}" \
reg.{{ a.line }}.server.1.expires="{{ registrar.expires }}"/>
{% endfor %}
  <tcpIpApp tcpIpApp.sntp.address="{{ ntp_server }}" tcpIpApp.sntp.gmtOffset="{{ timezone.offset_seconds }}"/>
  <lcl lcl.ml.lang="{{ language_name }}"/>
  <voIpProt voIpProt.SIP.specialEvent.checkSync.alwaysReboot="0"/>
</polycomConfig>
"""

_UA_MAC = r"(?:(?:_|\s+\(SN:)(?P<mac>[0-9a-fA-F]{12})\b)?"
# model prefixes in User-Agents -> the product line as Poly writes it
_UA_LINES = (("SPIP", "SoundPoint IP "), ("SSIP", "SoundStation IP "), ("EDGEE", "Edge E"))

_TRANSPORT = {"udp": "UDPOnly", "tcp": "TCPOnly", "tls": "TLS"}
_TRANSPORT_BACK = dict((v, k) for k, v in _TRANSPORT.items())
_LD = re.compile(r"^(?P<version>\d+(?:\.\d+){2,3})/(?P<family>VVX|EdgeE)\.sip\.ld$")


@register
class PolyProfile(HandsetProfile):
    vendor = "poly"
    display_name = "Poly"
    MODELS = {
        "VVX150": "VVX", "VVX250": "VVX", "VVX350": "VVX", "VVX450": "VVX",
        "Edge E220": "EdgeE", "Edge E350": "EdgeE", "Edge E450": "EdgeE", "Edge E550": "EdgeE",
    }
    FIRMWARE = {"VVX": {"version": "6.4.3.5018"}, "EdgeE": {"version": "8.0.2.3267"}}
    # "Polycom<line>-<model>-UA/<version>" (VVX, SoundPointIP SPIP_nnn, SoundStationIP SSIP_nnnn); the SIP form may
    # end in "_<MAC>", the HTTP form is "FileTransport <form> [(SN:<MAC>)] Type/Application".
    UA_PATTERNS = (
        re.compile(r"Polycom\w*-(?P<model>[A-Za-z]+_?\d+\w*?)-UA/(?P<version>\d+(?:\.\d+)+)" + _UA_MAC),
        re.compile(r"Poly/?(?P<model>Edge_?E\d+)-UA/(?P<version>\d+(?:\.\d+)+)" + _UA_MAC),
    )
    NOTIFY_EVENTS = {"resync": "check-sync", "reboot": "check-sync;reboot=true"}
    LANGUAGE_NAMES = {"en": "English_United_States", "nl": "Dutch_Netherlands", "de": "German_Germany",
                      "fr": "French_France", "es": "Spanish_Spain", "it": "Italian_Italy"}
    TEMPLATES = {"master.xml": _MASTER, "generic-master.xml": _GENERIC_MASTER, "phone.xml": _PHONE}

    def canonical_model(self, model):
        found = super(PolyProfile, self).canonical_model(model)
        if found is None and model is not None:
            found = super(PolyProfile, self).canonical_model("Edge" + str(model))
        return found

    def ua_model(self, raw):
        if raw is None:
            return None
        found = self.canonical_model(raw)
        if found:
            return found
        text = str(raw).replace("_", "")
        for prefix, line in _UA_LINES:
            if text.upper().startswith(prefix):
                return line + text[len(prefix):]
        return text

    def extra_context(self, ctx):
        ctx["transport_code"] = _TRANSPORT[ctx["registrar"]["transport"]]
        ctx["language_name"] = self.language(ctx["language"])
        ctx["config_files"] = "phone%s.cfg" % ctx["handset"]["mac_hex"]

    def common_files(self, model, ctx):
        return [("000000000000.cfg", "generic-master.xml")]

    def device_files(self, ctx):
        mac = ctx["handset"]["mac_hex"]
        return [("%s.cfg" % mac, "master.xml"), ("phone%s.cfg" % mac, "phone.xml")]

    def parse_config(self, files):
        attrs = {}
        for text in files.values():
            if not text:
                continue
            root = ET.fromstring(text.encode("utf-8"))
            for node in root.iter():
                attrs.update(node.attrib)
        fw = attrs.get("APP_FILE_PATH") or None
        accounts = []
        for line in sorted(set(int(k.split(".")[1]) for k in attrs if re.match(r"^reg\.\d+\.address$", k))):
            key = "reg.%d." % line
            accounts.append({"line": line, "username": attrs.get(key + "address"),
                             "auth_user": attrs.get(key + "auth.userId"), "password": attrs.get(key + "auth.password"),
                             "display_name": attrs.get(key + "displayName")})
        return {
            "accounts": accounts,
            "username": attrs.get("reg.1.address"),
            "auth_user": attrs.get("reg.1.auth.userId"),
            "password": attrs.get("reg.1.auth.password"),
            "display_name": attrs.get("reg.1.displayName"),
            "registrar": attrs.get("reg.1.server.1.address"),
            "port": int(attrs.get("reg.1.server.1.port") or 5060),
            "transport": _TRANSPORT_BACK.get(attrs.get("reg.1.server.1.transport"), "udp"),
            "expires": int(attrs.get("reg.1.server.1.expires") or 3600),
            # APP_FILE_PATH is relative to the provisioning server root
            "firmware_url": fw,
        }

    def firmware_path(self, family, version):
        return "%s/%s.sip.ld" % (version, family)

    def firmware_from_path(self, relpath):
        m = _LD.match(relpath)
        return (m.group("family"), m.group("version")) if m else None
