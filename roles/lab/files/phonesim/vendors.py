# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a simulated phone of each vendor sends: its User-Agent and the files it asks for when it boots.

The product side (``plugins/module_utils/handsets/<vendor>.py``) only reads these: it parses User-Agents and
renders files.  Only the simulator sends them, so they live here.

User-Agents come from the table of genuine forms, ``user_agents.yml`` beside this file (each form with the source
it was read from; the unit tests parse every one): a phone sends its model's form of that kind (SIP or HTTP) with
its own firmware and MAC in place of the sample's, else its model's form of the other kind; only a model the
table does not list falls back to its vendor's desk-phone form below (the profiles' ``UA_PATTERNS`` read every
one back).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import yaml

from ansible_collections.voipops.voip.plugins.module_utils.handsets.base import get_profile
from ansible_collections.voipops.voip.plugins.module_utils.handsets.registrations import mac_hex

TABLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "user_agents.yml")
_FORMS = None


def forms():
    """The table's genuine forms (``user_agents.yml`` ``forms``), read once."""
    global _FORMS
    if _FORMS is None:
        with open(TABLE) as handle:
            _FORMS = yaml.safe_load(handle)["forms"]
    return _FORMS


def _mac_notations(mac):
    """The ways a User-Agent writes ``mac`` (canonical ``00:15:65:aa:bb:cc``): colons or bare hex, either case."""
    return [mac, mac.upper(), mac_hex(mac), mac_hex(mac, upper=True)]


def table_form(vendor, model, kind):
    """The table's form of ``model`` for ``kind`` (else of the other kind), or None when the table has no form of it."""
    mine = [f for f in forms() if f["vendor"] == vendor and str(f["model"]) == model]
    for form in [f for f in mine if f["kind"] == kind] + [f for f in mine if f["kind"] != kind]:
        return form
    return None


def from_table(form, version, mac):
    """A table form with the phone's firmware and MAC in place of the sample's (same notation)."""
    ua = form["ua"].replace(str(form["firmware"]), str(version), 1)
    if form.get("mac") and mac:
        for sample, mine in zip(_mac_notations(form["mac"]), _mac_notations(mac)):
            if sample in ua:
                return ua.replace(sample, mine, 1)
    return ua


def _yealink(model, version, mac, kind):
    ua = "Yealink SIP-%s %s" % (model, version)
    return ua + " " + mac if kind == "http" else ua


def _yealink_files(mac, model):
    # the common file of the model's hardware id (y0000000000XX.cfg) first, then the MAC-oriented one
    common = [name for name, _template in get_profile("yealink").common_files(model, {})]
    return common + ["%s.cfg" % mac_hex(mac)]


def _poly(model, version, mac, kind):
    if model.startswith("Edge"):
        ua = "Poly/%s-UA/%s" % (model.replace(" ", "_"), version)
    else:
        ua = "PolycomVVX-%s-UA/%s" % (model.replace("VVX", "VVX_"), version)
    return "FileTransport %s Type/Application" % ua if kind == "http" else ua


def _snom(model, version, mac, kind):
    if kind == "http":
        return "Mozilla/4.0 (compatible; snom%s-SIP %s 2010.12-00004-g9ba52f5 %s SXM:0 UXM:0)" % (
            model, version, mac_hex(mac, upper=True))
    return "snom%s/%s" % (model, version)


def _grandstream(model, version, mac, kind):
    if kind == "http":
        return "Grandstream Model HW %s SW %s DevId %s" % (model, version, mac_hex(mac))
    return "Grandstream %s %s" % (model, version)


def _cisco(model, version, mac, kind):
    if kind == "http":
        return "Cisco-%s/%s (%s)" % (model, version, mac_hex(mac))
    return "Cisco/%s-%s" % (model, version)


# vendor -> (User-Agent(model, version, mac, kind), files requested at boot(mac, model), in order; missing ones 404)
VENDORS = {
    "yealink": (_yealink, _yealink_files),
    "poly": (_poly, lambda mac, model: ["%s.cfg" % mac_hex(mac), "phone%s.cfg" % mac_hex(mac)]),
    "snom": (_snom, lambda mac, model: ["snom%s-%s.htm" % (model, mac_hex(mac, upper=True)),
                                        "%s.xml" % mac_hex(mac, upper=True)]),
    "grandstream": (_grandstream, lambda mac, model: ["cfg%s.xml" % mac_hex(mac)]),
    "cisco": (_cisco, lambda mac, model: ["%s.xml" % mac_hex(mac)]),
}


def _entry(vendor):
    profile = get_profile(vendor)
    if profile is None or profile.vendor not in VENDORS:
        raise ValueError("the phone simulator does not know vendor %r (known: %s)" % (vendor, ", ".join(sorted(VENDORS))))
    return VENDORS[profile.vendor]


def user_agent(vendor, model, version, mac, kind="sip"):
    """The User-Agent a ``vendor`` phone sends over SIP (``kind="sip"``) or HTTP (``kind="http"``)."""
    entry = _entry(vendor)
    form = table_form(get_profile(vendor).vendor, model, kind)
    if form is not None:
        return from_table(form, version, mac)
    return entry[0](model, version, mac, kind)


def boot_requests(vendor, mac, model):
    """File names a booting ``vendor`` phone requests over HTTP, in order."""
    return _entry(vendor)[1](mac, model)
