# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The handset-registration domain (handsets/registrations.py) is the one rule every caller uses.

- one MAC rule: the four usual notations give the same MAC and a multicast MAC is refused in every entry
  point (the estate, the provisioning inputs, a User-Agent, the inventory, the audit, the live fleet);
- one matcher: handset_info/handset_resync (fleet.join), the audit and the registrations inventory pair the same
  registrations with the same handsets.
"""
from __future__ import absolute_import, division, print_function

import os
import sys

import pytest

from ansible_collections.voipops.voip.plugins.inventory.registrations import registration_hosts
from ansible_collections.voipops.voip.plugins.module_utils import provision
from ansible_collections.voipops.voip.plugins.module_utils.audit import checks
from ansible_collections.voipops.voip.plugins.module_utils.estate import load_estate
from ansible_collections.voipops.voip.plugins.module_utils.handsets import fleet, registrations
from ansible_collections.voipops.voip.plugins.module_utils.source import SourceErrors

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # shared samples, also under --import-mode=importlib
from test_estate import BASE  # noqa: E402  the estate of the estate tests (same folder)

NOTATIONS = ("00:15:65:AA:BB:CC", "00-15-65-aa-bb-cc", "0015.65aa.bbcc", "001565AABBCC")
CANONICAL = "00:15:65:aa:bb:cc"
MULTICAST = "01:00:5e:aa:bb:cc"

ESTATE = BASE + "handsets_csv: handsets.csv\n"


def estate_with(tmp_path, rows):
    (tmp_path / "estate.yml").write_text(ESTATE)
    (tmp_path / "handsets.csv").write_text("name,mac,vendor,model,site,user\n" + "".join(
        "%s,%s,%s,%s,ams,%s\n" % row for row in rows))
    return str(tmp_path / "estate.yml")


# ---------------------------------------------------------------------------------------- one MAC rule

@pytest.mark.parametrize("notation", NOTATIONS)
def test_four_notations_one_mac_in_the_rule(notation):
    assert registrations.normalize_mac(notation) == CANONICAL
    assert registrations.mac_hex(registrations.normalize_mac(notation), upper=True) == "001565AABBCC"


@pytest.mark.parametrize("bad", (MULTICAST, "01-00-5E-AA-BB-CC", "0100.5eaa.bbcc", "01005EAABBCC", "33:33:00:00:00:01",
                                 "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00", "00:15:65:aa:bb", "not-a-mac", ""))
def test_the_rule_refuses_what_is_not_a_device(bad):
    with pytest.raises(ValueError):
        registrations.normalize_mac(bad)


def test_canonical_input_and_other_notations_give_the_same_verdict():
    """The canonical form is checked without a parse: same answer, same refusals, as any other notation."""
    import random
    rnd = random.Random(9)
    for _round in range(300):
        octets = [rnd.randrange(256) for _octet in range(6)]
        canonical = ":".join("%02x" % o for o in octets)
        other = "-".join("%02X" % o for o in octets)
        results = []
        for text in (canonical, other):
            try:
                results.append(registrations.normalize_mac(text))
            except ValueError as exc:
                results.append(str(exc).split("' ", 1)[1])
        assert results[0] == results[1], (canonical, results)


def test_estate_four_notations_one_mac_and_multicast_refused(tmp_path):
    rows = [("hs-%d" % i, n, "yealink", "T54W", 2001 + i) for i, n in enumerate(NOTATIONS[:1])]
    assert load_estate(estate_with(tmp_path, rows)).components["hs-0"]["mac"] == CANONICAL
    for notation in NOTATIONS[1:]:
        est = load_estate(estate_with(tmp_path, [("hs-x", notation, "yealink", "T54W", 2001)]))
        assert est.components["hs-x"]["mac"] == CANONICAL
    with pytest.raises(SourceErrors) as info:
        load_estate(estate_with(tmp_path, [("hs-m", MULTICAST, "yealink", "T54W", 2001)]))
    (err,) = info.value.errors
    assert (err.line, err.field) == (2, "mac") and "multicast" in err.message


def test_provisioning_inputs_four_notations_one_mac_and_multicast_refused():
    users = [{"extension": "2001", "display_name": "A", "sip_password": "Pw-a-verysecret"}]
    settings = {"registrar": "127.0.0.1", "provisioning_url": "http://127.0.0.1:8080/"}
    for notation in NOTATIONS:
        records, _users, _s = provision.validate(
            [{"name": "hs-1", "mac": notation, "vendor": "yealink", "model": "T54W", "user": "2001"}], users, settings)
        assert records[0]["mac"] == CANONICAL
    with pytest.raises(SourceErrors) as info:
        provision.validate([{"name": "hs-1", "mac": MULTICAST, "vendor": "yealink", "model": "T54W", "user": "2001"}],
                           users, settings)
    assert [e.field for e in info.value.errors] == ["mac"] and "multicast" in info.value.errors[0].message


def test_user_agent_macs_follow_the_rule():
    # Cisco shows the MAC as bare hex, Yealink's HTTP User-Agent with colons: the same MAC either way
    assert registrations.parse_user_agent("Cisco-CP-8841-3PCC/11.3.7 (001565AABBCC)")["mac"] == CANONICAL
    assert registrations.parse_user_agent("Yealink SIP-T54W 96.86.0.100 00:15:65:AA:BB:CC")["mac"] == CANONICAL
    # a multicast MAC in a User-Agent is no device's MAC: the device is still recognised, its MAC is not taken
    found = registrations.parse_user_agent("Yealink SIP-T54W 96.86.0.100 01:00:5e:aa:bb:cc")
    assert found["vendor"] == "yealink" and found["mac"] is None
    assert registrations.parse_user_agent("Cisco-CP-8841-3PCC/11.3.7 (01005eaabbcc)")["mac"] is None


def test_a_multicast_mac_never_pairs_a_registration(tmp_path):
    """Inventory, audit and fleet: a User-Agent showing a multicast MAC is not matched by that MAC."""
    est = load_estate(estate_with(tmp_path, [("hs-1", CANONICAL, "cisco", "CP-8841-3PCC", 2001)]))
    contact = {"aor": "sip:2999@voip.lab", "contact": "sip:2999@10.1.0.99:5060", "expires": 300,
               "user_agent": "Cisco-CP-8841-3PCC/11.3.7 (01005eaabbcc)"}
    hosts = registration_hosts([contact], est)
    assert list(hosts) == ["reg-2999"] and hosts["reg-2999"]["voipops_mac"] is None
    assert checks.from_registrations([contact], est, callserver="cs1")["findings"][-1]["kind"] == "unknown_devices"
    assert fleet.join(est.handsets, [contact])["unknown"][0]["mac"] is None
    # the loose inputs of handset_info (module arguments) follow the same rule: a multicast MAC is no MAC
    assert registrations.normalise_handsets([{"name": "x", "vendor": "cisco", "mac": MULTICAST}])[0]["mac"] is None


# ---------------------------------------------------------------------------------------- one matcher

ROWS = [
    ("hs-y", "00:15:65:00:00:01", "yealink", "T54W", 2001),
    ("hs-p", "64:16:7f:00:00:02", "poly", "VVX450", 2002),
    ("hs-c", "00:56:2b:00:00:03", "cisco", "CP-8841-3PCC", 2003),
    ("hs-s1", "00:04:13:00:00:04", "snom", "D785", 2004),     # two handsets on one line, different vendors
    ("hs-s2", "00:15:65:00:00:05", "yealink", "T46S", 2004),
    ("hs-g", "00:0b:82:00:00:06", "grandstream", "GRP2614", 2006),
]


def reg(user, ua, port):
    return {"aor": "sip:%s@voip.lab" % user, "contact": "sip:%s@10.1.0.%d:5060" % (user, port), "expires": 300,
            "received": "[not set]", "user_agent": ua}


CONTACTS = [
    reg(2001, "Yealink SIP-T54W 96.86.0.100", 1),                       # by user
    reg(2002, "Yealink SIP-T54W 96.86.0.110", 2),                       # by user, another vendor: mismatch
    reg(2777, "Cisco-CP-8841-3PCC/11.3.7 (00562b000003)", 3),           # by MAC, under another user
    reg(2004, "snomD785/10.1.159.12", 4),                               # one user, two handsets: the vendor decides
    reg(2004, "Yealink SIP-T46S 66.86.0.15", 5),
    reg(2999, "Linphone/5.2.0", 6),                                     # nobody's
]


def test_one_matcher_one_pairing_for_fleet_audit_and_inventory(tmp_path):
    est = load_estate(estate_with(tmp_path, ROWS))
    pairs = registrations.match(est.handsets, CONTACTS)
    pairing = [(p["contact"]["contact"], p["handset"]["name"] if p["handset"] else None) for p in pairs]
    assert pairing == [("sip:2001@10.1.0.1:5060", "hs-y"), ("sip:2002@10.1.0.2:5060", "hs-p"),
                       ("sip:2777@10.1.0.3:5060", "hs-c"), ("sip:2004@10.1.0.4:5060", "hs-s1"),
                       ("sip:2004@10.1.0.5:5060", "hs-s2"), ("sip:2999@10.1.0.6:5060", None)]
    assert [p["differences"] for p in pairs] == [[], ["vendor", "model"], ["user"], [], [], []]

    # the audit and the inventory take every pairing
    matched, unknown = registrations.match_by_handset(est.handsets, CONTACTS)
    audit_view = dict((name, [r["contact"] for r in regs]) for name, regs in matched.items())
    hosts = registration_hosts(CONTACTS, est)
    inventory_view = dict((name, [c["contact"] for c in hv["voipops_contacts"]]) for name, hv in hosts.items()
                          if hv["voipops_known"])
    expected = dict((name, [c for c, n in pairing if n == name]) for name in set(n for _c, n in pairing if n))
    assert audit_view == inventory_view == expected
    assert [u["contact"] for u in unknown] == ["sip:2999@10.1.0.6:5060"] and "reg-2999" in hosts
    result = checks.from_registrations(CONTACTS, est, callserver="cs1")
    kinds = sorted((f["component"], f["kind"]) for f in result["findings"])
    assert kinds == [("cs1", "unknown_devices"), ("hs-g", "not_registered"), ("hs-p", "device_mismatch")]

    # the live fleet takes the same pairings: a handset registered by the wrong device is still registered
    joined = fleet.join(est.handsets, CONTACTS, now=0)
    fleet_view = dict((h["name"], [c["contact"] for c in h["contacts"]]) for h in joined["handsets"] if h["registered"])
    assert fleet_view == expected
    assert joined["unregistered"] == ["hs-g"]
    assert [u["contact"] for u in joined["unknown"]] == ["sip:2999@10.1.0.6:5060"]
    status = dict((h["name"], h["status"]) for h in joined["handsets"])
    assert status == {"hs-y": "matched", "hs-p": "device_mismatch", "hs-c": "user_mismatch", "hs-s1": "matched",
                      "hs-s2": "matched", "hs-g": None}
    assert dict((n, hv["voipops_registration"]) for n, hv in hosts.items()) == dict(
        [(n, s) for n, s in status.items() if s] + [("reg-2999", "unknown")])


def test_version_order_is_one_rule_for_audit_and_provisioning():
    versions = ["96.86.0.9", "96.86.0.100", "96.86.0.10", "8.5.2b", "8.5.2a"]
    assert sorted(versions, key=registrations.version_key) == [
        "8.5.2a", "8.5.2b", "96.86.0.9", "96.86.0.10", "96.86.0.100"]
    assert provision.version_key is registrations.version_key
    assert registrations.compare_versions("1.0.13.3", "1.0.9") == 1


def test_aor_user():
    aors = ("sip:1001@voip.lab", "sips:1001@voip.lab", "1001@voip.lab", "1001", None)
    assert [registrations.aor_user(a) for a in aors] == ["1001", "1001", "1001", "1001", ""]


def test_no_copies_left():
    """The domain's rules are defined once: the old homes do not carry copies."""
    from ansible_collections.voipops.voip.plugins.module_utils.handsets import base
    for name in ("normalize_mac", "mac_hex", "parse_user_agent"):
        assert not hasattr(base, name), name
    assert not hasattr(fleet, "_user_of_aor")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
    assert not os.path.exists(os.path.join(root, "plugins", "module_utils", "findings.py"))


# ------------------------------------------------------------------ matching that never lies, one answer everywhere

def _three_answers(est, contacts):
    """What handset_info (fleet.join), the audit (both its inputs) and the inventory say about the same registrations."""
    joined = fleet.join(est.handsets, contacts, now=0)
    info = dict((h["name"], h["status"] or "not_registered") for h in joined["handsets"])
    info_unknown = sorted(u["contact"] for u in joined["unknown"])
    hosts = registration_hosts(contacts, est)
    inventory = dict((h["name"], "not_registered") for h in est.handsets)
    inventory.update((n, hv["voipops_registration"]) for n, hv in hosts.items() if hv["voipops_known"])
    inventory_unknown = sorted(c["contact"] for hv in hosts.values() if not hv["voipops_known"]
                               for c in hv["voipops_contacts"])
    by_regs = checks.from_registrations(contacts, est, callserver="cs1")
    by_info = checks.from_handset_info(joined, est, callserver="cs1")
    return info, info_unknown, inventory, inventory_unknown, by_regs, by_info


def _kinds(result):
    return sorted((f["component"], f["kind"]) for f in result["findings"])


UNPARSABLE = [
    reg(2001, "Linphone/5.2.0 (belle-sip/5.2.0)", 1),                  # a UA no profile reads, on a handset's line
    reg(2002, "", 2),                                                 # no User-Agent at all
    reg(2003, "Cisco-CP-8841-3PCC/11.3.7 (00562b000003)", 3),          # recognised, fine
    reg(2003, "Linphone/5.2.0 (belle-sip/5.2.0)", 7),                 # a softphone beside the recognised desk phone
    reg(2004, "snomD785/10.1.159.12", 4),                             # one of user 2004's two handsets...
    reg(2004, "Mozilla/4.0 (compatible; snom lid 3605)", 5),          # ...an unreadable form: the other one
    reg(2006, "Yealink SIP-T54W 96.86.0.100 00:15:65:00:00:99", 6),   # a Yealink with another MAC: not the Grandstream
    reg(2999, "Gigaset N870 IP PRO/83.V2.11.0+build.a546b91;7C2F80E0D605", 8),   # nobody's
]


def test_an_unparsable_user_agent_is_registered_not_recognised_and_every_caller_agrees(tmp_path):
    est = load_estate(estate_with(tmp_path, ROWS))
    info, info_unknown, inventory, inventory_unknown, by_regs, by_info = _three_answers(est, UNPARSABLE)
    assert info == inventory == {
        "hs-y": "ua_unrecognised", "hs-p": "ua_unrecognised", "hs-c": "matched",
        "hs-s1": "matched", "hs-s2": "ua_unrecognised", "hs-g": "not_registered"}
    assert info_unknown == inventory_unknown == [
        "sip:2003@10.1.0.7:5060", "sip:2006@10.1.0.6:5060", "sip:2999@10.1.0.8:5060"]
    assert _kinds(by_regs) == _kinds(by_info)
    assert [f["id"] for f in sorted(by_regs["findings"], key=lambda f: f["id"])] == \
        [f["id"] for f in sorted(by_info["findings"], key=lambda f: f["id"])]
    kinds = _kinds(by_regs)
    for name in ("hs-y", "hs-p", "hs-s2"):
        assert (name, "user_agent_not_recognised") in kinds and (name, "not_registered") not in kinds
    assert ("hs-g", "not_registered") in kinds and ("cs1", "unknown_devices") in kinds
    finding = [f for f in by_regs["findings"] if f["component"] == "hs-y"][0]
    assert finding["severity"] == "info" and "User-Agent not recognised" in finding["summary"]
    assert finding["details"]["user_agent"].startswith("Linphone/")


def test_an_unreadable_contact_of_a_user_with_two_free_handsets_is_not_guessed(tmp_path):
    est = load_estate(estate_with(tmp_path, ROWS))
    (pair,) = registrations.match(est.handsets, [reg(2004, "Linphone/5.2.0", 5)])
    assert pair["status"] == "unknown" and pair["handset"] is None
    assert "hs-s1, hs-s2 share that user: cannot tell which" in pair["reason"]
    joined = fleet.join(est.handsets, [reg(2004, "Linphone/5.2.0", 5)])
    assert joined["unknown"][0]["reason"] == pair["reason"]


# ------------------------------------------------------------------ one device, several registrations

MULTI = """\
handsets:
  - name: dect-1
    mac: "80:5e:0c:1d:65:4e"
    vendor: yealink
    model: W70B
    site: ams
    lines: ["2101", "2102"]
  - name: ata-1
    mac: "00:56:2b:00:01:91"
    vendor: cisco
    model: ATA191
    site: ams
    lines: ["2201", "2202"]
"""


def test_a_dect_base_and_an_ata_are_one_device_with_several_registrations(tmp_path):
    (tmp_path / "estate.yml").write_text(BASE + MULTI)
    est = load_estate(str(tmp_path / "estate.yml"))
    contacts = [reg(2101, "Yealink W70B 146.85.0.20", 1), reg(2102, "Yealink W70B 146.85.0.20", 1),
                reg(2201, "Cisco ATA191-MPP/12.0.1", 2),                      # port 2 is not registered
                reg(2301, "Yealink W70B 146.85.0.20 80:5e:0c:1d:65:4e", 1)]   # the base's MAC on an account it has not
    pairs = registrations.match(est.handsets, contacts)
    assert [(p["handset"]["name"], p["line"], p["status"]) for p in pairs] == [
        ("dect-1", 1, "matched"), ("dect-1", 2, "matched"), ("ata-1", 1, "matched"), ("dect-1", None, "user_mismatch")]
    joined = fleet.join(est.handsets, contacts, now=0)
    by = dict((h["name"], h) for h in joined["handsets"])
    assert by["dect-1"]["lines"] == [{"line": 1, "user": "2101", "registered": True},
                                     {"line": 2, "user": "2102", "registered": True}]
    assert by["ata-1"]["lines"][1] == {"line": 2, "user": "2202", "registered": False} and by["ata-1"]["registered"]
    assert len(by["dect-1"]["contacts"]) == 3 and joined["unknown"] == []
    hosts = registration_hosts(contacts, est)
    assert sorted(hosts) == ["ata-1", "dect-1"] and len(hosts["dect-1"]["voipops_contacts"]) == 3
    for result in (checks.from_registrations(contacts, est, callserver="cs1"), checks.from_handset_info(joined, est)):
        by_kind = dict(((f["component"], f["kind"]), f) for f in result["findings"])
        assert sorted(by_kind) == [("ata-1", "line_not_registered")]
        assert by_kind[("ata-1", "line_not_registered")]["details"] == {"users": ["2202"], "lines": [2]}
    # one device, one re-sync: a NOTIFY to one of its contacts, not one per line
    targets, skipped = fleet.resync_targets(est.handsets, contacts[:3])
    assert sorted(t["name"] for t in targets) == ["ata-1", "dect-1"] and skipped == []
    # nothing registered: the whole device is not registered, naming every line's user
    (finding,) = [f for f in checks.from_registrations([], est)["findings"] if f["component"] == "dect-1"]
    assert finding["kind"] == "not_registered" and "user 2101, 2102" in finding["summary"]
