# -*- coding: utf-8 -*-
"""Vendor profiles: User-Agent parsing, file names, NOTIFY events, render/read-back, firmware names."""
from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.voipops.voip.plugins.module_utils.handsets import base, registrations
from ansible_collections.voipops.voip.plugins.module_utils import provision
from ansible_collections.voipops.voip.roles.lab.files.phonesim import vendors

# Real strings as each vendor documents / sends them.
UA_CASES = [
    ("Yealink SIP-T54W 96.86.0.100", ("yealink", "T54W", "96.86.0.100", None)),
    ("Yealink SIP-T46S 66.86.0.15 00:15:65:5e:16:7c", ("yealink", "T46S", "66.86.0.15", "00:15:65:5e:16:7c")),
    ("PolycomVVX-VVX_450-UA/6.4.3.5018", ("poly", "VVX450", "6.4.3.5018", None)),
    ("FileTransport PolycomVVX-VVX_450-UA/6.4.3.5018 Type/Application", ("poly", "VVX450", "6.4.3.5018", None)),
    ("Poly/Edge_E450-UA/8.0.2.3267", ("poly", "Edge E450", "8.0.2.3267", None)),
    ("snomD785/10.1.73.16", ("snom", "D785", "10.1.73.16", None)),
    ("Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 000413922D24 SXM:0 UXM:0)",
     ("snom", "D785", "10.1.33.33", "00:04:13:92:2d:24")),
    ("Grandstream GRP2614 1.0.5.67", ("grandstream", "GRP2614", "1.0.5.67", None)),
    ("Grandstream Model HW GRP2614 SW 1.0.5.15 DevId c074ad0b63ee", ("grandstream", "GRP2614", "1.0.5.15", "c0:74:ad:0b:63:ee")),
    ("Cisco/CP-8841-3PCC-11.3.7", ("cisco", "CP-8841-3PCC", "11.3.7", None)),
    ("Cisco-CP-8841-3PCC/11.0 (00562b043615)", ("cisco", "CP-8841-3PCC", "11.0", "00:56:2b:04:36:15")),
]


@pytest.mark.parametrize("ua,expected", UA_CASES)
def test_user_agent_parsing(ua, expected):
    found = registrations.parse_user_agent(ua)
    assert (found["vendor"], found["model"], found["firmware"], found["mac"]) == expected


@pytest.mark.parametrize("ua", ["friendly-scanner", "Linphone/4.5.0 (belle-sip/4.5)", "", None, "sipsak 0.9.8"])
def test_unknown_devices_are_not_claimed(ua):
    assert registrations.parse_user_agent(ua) is None


def _all_models():
    return [(p.vendor, m) for p in base.all_profiles() for m in sorted(p.MODELS)]


@pytest.mark.parametrize("vendor,model", _all_models())
@pytest.mark.parametrize("kind", ["sip", "http"])
def test_generated_user_agent_parses_back(vendor, model, kind):
    ua = vendors.user_agent(vendor, model, "1.2.3.4", "00:15:65:12:34:56", kind=kind)
    found = registrations.parse_user_agent(ua)
    assert found["vendor"] == vendor and found["model"] == model and found["firmware"] == "1.2.3.4"
    if found["mac"]:
        assert found["mac"] == "00:15:65:12:34:56"


def test_notify_events_per_vendor():
    events = dict((p.vendor, (p.notify_event("resync"), p.notify_event("reboot"))) for p in base.all_profiles())
    assert events == {
        "yealink": ("check-sync", "check-sync;reboot=true"),
        "poly": ("check-sync", "check-sync;reboot=true"),
        "snom": ("check-sync;reboot=false", "check-sync;reboot=true"),
        "grandstream": ("check-sync", "reboot"),
        "cisco": ("resync", "reboot"),
    }


@pytest.mark.parametrize("vendor,model,expected", [
    ("yealink", "T54W", ["y000000000096.cfg", "805ec0d57d72.cfg"]),
    ("yealink", "T46S", ["y000000000066.cfg", "805ec0d57d72.cfg"]),
    ("poly", "VVX450", ["805ec0d57d72.cfg", "phone805ec0d57d72.cfg"]),
    ("snom", "D785", ["snomD785-805EC0D57D72.htm", "805EC0D57D72.xml"]),
    ("grandstream", "GRP2614", ["cfg805ec0d57d72.xml"]),
    ("cisco", "CP-8841-3PCC", ["805ec0d57d72.xml"]),
])
def test_boot_file_names(vendor, model, expected):
    assert vendors.boot_requests(vendor, "80:5e:c0:d5:7d:72", model) == expected


@pytest.mark.parametrize("vendor,model", _all_models())
def test_rendered_files_read_back_as_the_phone_sees_them(vendor, model, tmp_path):
    """What we write is exactly what a phone of that vendor would take: account, registrar, name."""
    hs = [{"name": "hs-1", "mac": "80:5e:c0:d5:7d:72", "vendor": vendor, "model": model, "user": "1001"}]
    users = [{"extension": "1001", "display_name": "Zoë O'Brien & <Co>", "sip_password": "s3cr\"t&<x>"}]
    settings = {"registrar": "127.0.0.1", "registrar_port": 5999, "provisioning_url": "http://127.0.0.1:8/",
                "transport": "tcp", "expires": 120, "timezone": "Europe/Amsterdam", "language": "de"}
    records, by_ext, s = provision.validate(hs, users, settings)
    want = provision.build_want(records, by_ext, s)
    profile = base.get_profile(vendor)
    files = dict((name, want.get(name)) for name in vendors.boot_requests(vendor, "80:5e:c0:d5:7d:72", model))
    assert all(files.values()), "every file the phone asks for is rendered"
    got = profile.parse_config(files)
    assert got["username"] == "1001"
    assert got["password"] == "s3cr\"t&<x>"
    assert got["display_name"] == "Zoë O'Brien & <Co>"
    assert (got["registrar"], got["port"], got["transport"]) == ("127.0.0.1", 5999, "tcp")
    assert got["expires"] == 120


@pytest.mark.parametrize("vendor", ["yealink", "poly", "snom", "grandstream", "cisco"])
def test_firmware_names_round_trip(vendor):
    profile = base.get_profile(vendor)
    for family, info in profile.FIRMWARE.items():
        rel = profile.firmware_path(family, info["version"])
        assert profile.firmware_from_path(rel) == (family, info["version"])
    assert profile.firmware_from_path("README.txt") is None


@pytest.mark.parametrize("raw", ["00:15:65:AA:BB:CC", "0015.65aa.bbcc", "00-15-65-aa-bb-cc", "001565aabbcc"])
def test_mac_normalisation(raw):
    assert registrations.normalize_mac(raw) == "00:15:65:aa:bb:cc"


@pytest.mark.parametrize("raw", ["00:15:65:zz:bb:cc", "00:00:00:00:00:00", "01:00:5e:00:00:01", "", "00:15:65:aa:bb"])
def test_bad_macs_rejected(raw):
    with pytest.raises(ValueError):
        registrations.normalize_mac(raw)


def test_timezone_rendering():
    tz = base.timezone_info("Europe/Amsterdam")
    assert tz["offset_seconds"] == 3600 and tz["posix"].startswith("CET-1CEST")
    assert base.timezone_info("America/New_York")["offset_seconds"] == -5 * 3600
    assert base.timezone_info("Asia/Kolkata")["offset_seconds"] == 19800
    with pytest.raises(base.ProfileError):
        base.timezone_info("Mars/Olympus_Mons")
    with pytest.raises(base.ProfileError):
        base.timezone_info("../../etc/passwd")


def test_model_spelling_is_forgiving_but_unknown_models_are_not():
    assert base.get_profile("Yealink").canonical_model("t54w") == "T54W"
    assert base.get_profile("polycom").canonical_model("E450") == "Edge E450"
    assert base.get_profile("cisco").canonical_model("8841") == "CP-8841-3PCC"
    assert base.get_profile("yealink").canonical_model("T99X") is None
