# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cisco IP Phone 6800/7800/8800 Multiplatform (MPP, "3PCC") desk phones.

- Files: the Profile Rule we set resyncs to ``$MA.xml`` (``$MA`` = MAC in lower-case hex), an XML
  ``<flat-profile>`` whose elements are the parameter names (``Display_Name_1_``, ``User_ID_1_``, ...).
  ``Upgrade_Rule`` holds the firmware URL.
- User-Agent: HTTP ``Cisco-CP-8841-3PCC/11.3.7 (00562b043615)``; SIP ``Cisco/CP-8841-3PCC-11.3.7``.
- NOTIFY: ``Event: resync`` (enabled by ``Resync_From_SIP``), ``Event: reboot``.
- Firmware: ``sip<family>.<version with dashes>MPP.loads`` e.g. ``sip88xx.11-3-7MPP.loads``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import xml.etree.ElementTree as ET

from ansible_collections.voipops.voip.plugins.module_utils.handsets.base import HandsetProfile, register

_PROFILE = """<?xml version="1.0" encoding="UTF-8"?>
<!-- voipops.voip: {{ handset.name }} ({{ handset.model }} {{ handset.mac }}) -->
<flat-profile>
  <Provision_Enable ua="na">Yes</Provision_Enable>
  <Resync_From_SIP ua="na">Yes</Resync_From_SIP>
  <Profile_Rule ua="na">{{ prov_url }}$MA.xml</Profile_Rule>
{% if firmware %}
  <Upgrade_Rule ua="na">{{ firmware.url }}</Upgrade_Rule>
{% endif %}
{% for a in accounts %}
  <Line_Enable_{{ a.line }}_ ua="na">Yes</Line_Enable_{{ a.line }}_>
{% if a.line == 1 %}
  <Station_Display_Name ua="na">{{ account.label }}</Station_Display_Name>
{% endif %}
  <Display_Name_{{ a.line }}_ ua="na">{{ a.display_name }}</Display_Name_{{ a.line }}_>
  <User_ID_{{ a.line }}_ ua="na">{{ a.username }}</User_ID_{{ a.line }}_>
  <Auth_ID_{{ a.line }}_ ua="na">{{ a.auth_user }}</Auth_ID_{{ a.line }}_>
  <Password_{{ a.line }}_ ua="na">{{ a.password }}</Password_{{ a.line }}_>
  <Proxy_{{ a.line }}_ ua="na">{{ registrar.host }}:{{ registrar.port }}</Proxy_{{ a.line }}_>
  <SIP_Transport_{{ a.line }}_ ua="na">{{ registrar.transport | upper }}</SIP_Transport_{{ a.line }}_>
  <Register_Expires_{{ a.line }}_ ua="na">{{ registrar.expires }}</Register_Expires_{{ a.line }}_>
{% endfor %}
  <Primary_NTP_Server ua="na">{{ ntp_server }}</Primary_NTP_Server>
  <Time_Zone ua="na">GMT{{ tz_hhmm }}</Time_Zone>
  <Language_Selection ua="na">{{ language_name }}</Language_Selection>
</flat-profile>
"""

# a firmware as Cisco writes it: 11.3.7, 12.0.1SR1, 7.6.2b, 1.4.1(SR5)
_FW = r"\d+(?:\.\d+)+[A-Za-z0-9]*(?:\([A-Za-z0-9]+\))?"

_LOADS = re.compile(r"^(?:sip(?P<family>\d\dxx)|(?P<ata>ata19x))\.(?P<version>\d+(?:-\d+)+)MPP\.loads$")


@register
class CiscoProfile(HandsetProfile):
    vendor = "cisco"
    display_name = "Cisco"
    MODELS = {"CP-6841-3PCC": "68xx", "CP-6851-3PCC": "68xx", "CP-7821-3PCC": "78xx", "CP-7841-3PCC": "78xx",
              "CP-7861-3PCC": "78xx", "CP-8811-3PCC": "88xx", "CP-8841-3PCC": "88xx", "CP-8845-3PCC": "88xx",
              "CP-8851-3PCC": "88xx", "CP-8861-3PCC": "88xx", "ATA191": "ata19x"}
    FIRMWARE = {"68xx": {"version": "11.3.7"}, "78xx": {"version": "11.3.7"}, "88xx": {"version": "11.3.7"},
                "ata19x": {"version": "12.0.1"}}
    MAX_LINES = {"ATA191": 2}   # two FXS ports, one line each
    # MPP phones: HTTP "Cisco-CP-8841-3PCC/<fw> (<mac>)", SIP "Cisco/CP-8841-3PCC-<fw>" or "Cisco-CP8845-3PCC/<fw>"
    # (the SIP form is not confirmed by a vendor document: see docs/handsets.md); ATA 191/192 MPP;
    # the SPA line under its three brands: "Cisco/SPA504G-7.6.2b", "Linksys/SPA-942-6.1.5(a) (<serial>)",
    # "Sipura/SPA841-3.1.4(a0714sec)", HTTP "Cisco/SPA501G-7.4.4 (<MAC>)(<serial>)" (one group alone is the serial);
    # the oldest SIP phones "Cisco-CP7905/<fw>".
    UA_PATTERNS = (
        re.compile(r"^Cisco[-/](?P<model>CP-?\d{4}-3PCC)[/-](?P<version>" + _FW + r")(?:\s+\((?P<mac>[0-9a-fA-F]{12})\))?"),
        re.compile(r"^Cisco[-/ ](?P<model>ATA ?19\d(?:-MPP)?)[/-](?P<version>" + _FW + r")(?:\s+\((?P<mac>[0-9a-fA-F]{12})\))?"),
        re.compile(r"^(?:Cisco|Linksys|Sipura)/(?P<model>SPA-?\d+[A-Za-z]*\d*|PAP2\w*)-(?P<version>\d[^\s]*)"
                   r"(?:\s+\((?P<mac>[0-9a-fA-F]{12})\)\(\w+\))?"),
        re.compile(r"^Cisco-(?P<model>CP\d{4}G?)/(?P<version>\d[^\s]*)"),
    )
    NOTIFY_EVENTS = {"resync": "resync", "reboot": "reboot"}
    LANGUAGE_NAMES = {"en": "English", "nl": "Dutch", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian"}
    TEMPLATES = {"profile.xml": _PROFILE}

    def canonical_model(self, model):
        found = super(CiscoProfile, self).canonical_model(model)
        if found is None and model is not None:
            text = str(model).upper().replace("CP-", "").replace("CP", "").replace("-3PCC", "").replace("3PCC", "")
            found = super(CiscoProfile, self).canonical_model("CP-%s-3PCC" % text.strip("- "))
        return found

    def ua_model(self, raw):
        # "SPA-942" is Cisco's "SPA942"; "ATA191-MPP" the "ATA191" with MPP firmware
        if raw is None:
            return None
        found = self.canonical_model(raw)
        if found:
            return found
        text = str(raw).upper().replace(" ", "")
        if text.startswith("SPA-"):
            text = "SPA" + text[4:]
        return text[:-len("-MPP")] if text.endswith("-MPP") else text

    def extra_context(self, ctx):
        offset = ctx["timezone"]["offset_seconds"]
        sign = "-" if offset < 0 else "+"
        offset = abs(offset)
        ctx["tz_hhmm"] = "%s%02d:%02d" % (sign, offset // 3600, (offset % 3600) // 60)
        ctx["language_name"] = self.language(ctx["language"])

    def device_files(self, ctx):
        return [("%s.xml" % ctx["handset"]["mac_hex"], "profile.xml")]

    def parse_config(self, files):
        values = {}
        for text in files.values():
            if not text:
                continue
            root = ET.fromstring(text.encode("utf-8"))
            for node in root:
                values[node.tag] = (node.text or "").strip()
        host, _sep, port = values.get("Proxy_1_", "").partition(":")
        accounts = []
        for line in sorted(set(int(k.split("_")[-2]) for k in values if re.match(r"^User_ID_\d+_$", k))):
            accounts.append({"line": line, "username": values.get("User_ID_%d_" % line),
                             "auth_user": values.get("Auth_ID_%d_" % line) or values.get("User_ID_%d_" % line),
                             "password": values.get("Password_%d_" % line),
                             "display_name": values.get("Display_Name_%d_" % line)})
        return {
            "accounts": accounts,
            "username": values.get("User_ID_1_"),
            "auth_user": values.get("Auth_ID_1_") or values.get("User_ID_1_"),
            "password": values.get("Password_1_"),
            "display_name": values.get("Display_Name_1_"),
            "registrar": host or None,
            "port": int(port or 5060),
            "transport": (values.get("SIP_Transport_1_") or "UDP").lower(),
            "expires": int(values.get("Register_Expires_1_") or 3600),
            "firmware_url": values.get("Upgrade_Rule") or None,
        }

    def firmware_path(self, family, version):
        if family.startswith("ata"):
            return "%s.%sMPP.loads" % (family, version.replace(".", "-"))   # (ours: the ATA image name)
        return "sip%s.%sMPP.loads" % (family, version.replace(".", "-"))

    def firmware_from_path(self, relpath):
        m = _LOADS.match(relpath)
        family = m and (m.group("family") or m.group("ata"))
        if not m or family not in self.FIRMWARE:
            return None
        return family, m.group("version").replace("-", ".")
