# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Grandstream GRP26xx / GXP21xx desk phones.

- Files: ``cfg<mac lower-case>.xml``: ``<gs_provision>`` with P-value elements (P47 SIP server, P35 user id,
  P36 auth id, P34 password, P3 display name, P270 account name, P130 transport, P32 register expiry in minutes,
  P30 NTP server, P64 time zone (POSIX TZ), P1362 language, P192 firmware server path, P212 upgrade via).
- User-Agent: SIP ``Grandstream GRP2614 1.0.5.67``; HTTP ``Grandstream Model HW GRP2614 SW 1.0.5.67 DevId c074ad0b63ee``.
- NOTIFY: ``Event: check-sync`` (``resync`` is accepted too) re-provisions; ``Event: reboot`` reboots.
- Firmware: fixed image name per family (``grp2600fw.bin``, ``gxp2170fw.bin``) under a versioned folder that P192 points at.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import xml.etree.ElementTree as ET

from ansible_collections.voipops.voip.plugins.module_utils.handsets.base import HandsetProfile, register

_CFG = """<?xml version="1.0" encoding="UTF-8"?>
<!-- voipops.voip: {{ handset.name }} ({{ handset.model }} {{ handset.mac }}) -->
<gs_provision version="1">
  <mac>{{ handset.mac_hex }}</mac>
  <config version="1">
    <P271>1</P271>
    <P270>{{ account.label }}</P270>
    <P47>{{ registrar.host }}:{{ registrar.port }}</P47>
    <P35>{{ account.username }}</P35>
    <P36>{{ account.auth_user }}</P36>
    <P34>{{ account.password }}</P34>
    <P3>{{ account.display_name }}</P3>
    <P130>{{ transport_code }}</P130>
    <P32>{{ expires_minutes }}</P32>
    <P30>{{ ntp_server }}</P30>
    <P64>{{ timezone.posix }}</P64>
    <P1362>{{ language }}</P1362>
    <P212>1</P212>
{% if firmware %}
    <P192>{{ firmware_dir }}</P192>
{% endif %}
  </config>
</gs_provision>
"""

_FAMILY_IMAGE = {"GRP26xx": "grp2600fw.bin", "GXP21xx": "gxp2170fw.bin"}
_TRANSPORT = {"udp": "0", "tcp": "1", "tls": "2"}
_TRANSPORT_BACK = dict((v, k) for k, v in _TRANSPORT.items())
_IMG = re.compile(r"^(?P<version>\d+(?:\.\d+){3})/(?P<image>[a-z0-9]+fw\.bin)$")


@register
class GrandstreamProfile(HandsetProfile):
    vendor = "grandstream"
    display_name = "Grandstream"
    MODELS = {"GRP2612": "GRP26xx", "GRP2613": "GRP26xx", "GRP2614": "GRP26xx", "GRP2615": "GRP26xx",
              "GRP2616": "GRP26xx", "GXP2160": "GXP21xx", "GXP2170": "GXP21xx"}
    FIRMWARE = {"GRP26xx": {"version": "1.0.5.67"}, "GXP21xx": {"version": "1.0.11.79"}}
    # HTTP "Grandstream Model HW <model> [V<hw rev>] SW <fw> DevId <mac>" (phones, HT ATAs, DP DECT bases), the oldest
    # "Grandstream GXP2000 (<image>:<fw>/<boot>:<v>) DevId <mac>"; SIP "Grandstream <model> <fw>".
    UA_PATTERNS = (
        re.compile(r"^Grandstream Model HW (?P<model>\w+)(?:\s+V[^ ]+)?\s+SW (?P<version>\d+(?:\.\d+)+) DevId (?P<mac>[0-9a-fA-F]{12})"),
        re.compile(r"^Grandstream (?P<model>[A-Z]+\d+\w*) \([^:)]*:(?P<version>\d+(?:\.\d+)+)[^)]*\) DevId (?P<mac>[0-9a-fA-F]{12})"),
        re.compile(r"^Grandstream (?P<model>[A-Z]+\d+\w*) (?P<version>\d+(?:\.\d+)+)"),
    )
    NOTIFY_EVENTS = {"resync": "check-sync", "reboot": "reboot"}
    NOTIFY_ALSO = {"resync": "resync"}
    LANGUAGE_NAMES = dict((c, c) for c in ("en", "nl", "de", "fr", "es", "it"))
    TEMPLATES = {"cfg.xml": _CFG}

    def extra_context(self, ctx):
        ctx["transport_code"] = _TRANSPORT[ctx["registrar"]["transport"]]
        ctx["expires_minutes"] = max(1, int(ctx["registrar"]["expires"]) // 60)
        fw = ctx.get("firmware")
        if fw:
            # P192 is a server path without scheme; the phone appends the family's image name.
            ctx["firmware_dir"] = fw["url"].split("://", 1)[-1].rsplit("/", 1)[0]

    def device_files(self, ctx):
        return [("cfg%s.xml" % ctx["handset"]["mac_hex"], "cfg.xml")]

    def image_name(self, model):
        return _FAMILY_IMAGE[self.MODELS[model]]

    def parse_config(self, files):
        values = {}
        for text in files.values():
            if not text:
                continue
            root = ET.fromstring(text.encode("utf-8"))
            for node in root.iter():
                if node.text and node.text.strip():
                    values[node.tag] = node.text.strip()
        server = values.get("P47", "")
        host, _sep, port = server.partition(":")
        fw_dir = values.get("P192")
        accounts = [{"line": 1, "username": values.get("P35"), "auth_user": values.get("P36") or values.get("P35"),
                     "password": values.get("P34"), "display_name": values.get("P3")}] if values.get("P35") else []
        return {
            "accounts": accounts,
            "username": values.get("P35"),
            "auth_user": values.get("P36") or values.get("P35"),
            "password": values.get("P34"),
            "display_name": values.get("P3"),
            "registrar": host or None,
            "port": int(port or 5060),
            "transport": _TRANSPORT_BACK.get(values.get("P130"), "udp"),
            "expires": int(values.get("P32") or 60) * 60,
            # P212=1: HTTP; the phone fetches <P192>/<its family image name>
            "firmware_dir": fw_dir,
            "firmware_url": None,
        }

    def firmware_path(self, family, version):
        return "%s/%s" % (version, _FAMILY_IMAGE[family])

    def firmware_from_path(self, relpath):
        m = _IMG.match(relpath)
        if not m:
            return None
        for family, image in _FAMILY_IMAGE.items():
            if image == m.group("image"):
                return family, m.group("version")
        return None
