# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""registration_hosts: ul.dump contacts -> inventory hosts, with and without the estate."""
import os

from ansible_collections.voipops.voip.plugins.inventory.registrations import registration_hosts
from ansible_collections.voipops.voip.plugins.module_utils.estate import load_estate

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))

CONTACTS = [
    {"aor": "1001@voip.lab", "contact": "sip:1001@10.31.5.21:5062", "expires": 3540, "received": "[not set]",
     "user_agent": "Yealink SIP-T54W 96.86.0.100"},
    {"aor": "1003@voip.lab", "contact": "sip:1003@10.31.5.23:5060", "expires": 280, "received": "sip:192.0.2.7:40123",
     "user_agent": "snomD785/10.1.159.12"},
    {"aor": "1003@voip.lab", "contact": "sip:1003@10.31.5.99:5060", "expires": 1200, "received": "",
     "user_agent": "snomD785/10.1.159.12"},
    {"aor": "2999@voip.lab", "contact": "sip:2999@10.31.9.9", "expires": 60, "received": "",
     "user_agent": "friendly-scanner"},
]


def test_without_estate_one_host_per_aor():
    hosts = registration_hosts(CONTACTS)
    assert sorted(hosts) == ["reg-1001", "reg-1003", "reg-2999"]
    h = hosts["reg-1001"]
    assert (h["voipops_vendor"], h["voipops_model"], h["voipops_firmware"]) == ("yealink", "T54W", "96.86.0.100")
    assert h["ansible_host"] == "10.31.5.21" and h["voipops_known"] is None
    # received (NAT source) wins over the Contact address; both contacts of the AoR are kept
    assert hosts["reg-1003"]["ansible_host"] == "192.0.2.7" and len(hosts["reg-1003"]["voipops_contacts"]) == 2
    assert hosts["reg-2999"]["voipops_vendor"] is None


def test_with_estate_matched_hosts_take_the_handset_name():
    estate = load_estate(os.path.join(ROOT, "inventories", "lab", "estate.yml"))
    hosts = registration_hosts(CONTACTS, estate)
    assert sorted(hosts) == ["hs-1001", "hs-1003", "reg-2999"]
    assert hosts["hs-1001"]["voipops_known"] is True and hosts["hs-1001"]["voipops_mac"] == "00:15:65:10:01:01"
    assert hosts["hs-1001"]["voipops_handset"]["site"] == "ams"
    assert hosts["reg-2999"]["voipops_known"] is False and hosts["reg-2999"]["voipops_handset"] is None
