# -*- coding: utf-8 -*-
"""One device, several lines: a DECT base's handsets and an ATA's ports in one provisioning file per device."""
from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.voipops.voip.plugins.module_utils import provision
from ansible_collections.voipops.voip.plugins.module_utils.handsets import base
from ansible_collections.voipops.voip.plugins.module_utils.source import SourceErrors

SETTINGS = {"registrar": "127.0.0.1", "registrar_port": 5070, "provisioning_url": "http://127.0.0.1:8080/",
            "timezone": "Europe/Amsterdam", "language": "nl"}
USERS = [{"extension": str(ext), "display_name": "Line %d" % ext, "sip_password": "Pw-%d-verysecret" % ext}
         for ext in (2101, 2102, 2201, 2202, 2001)]
DEVICES = [
    {"name": "dect-1", "mac": "80:5e:0c:1d:65:4e", "vendor": "yealink", "model": "W70B", "lines": ["2101", "2102"]},
    {"name": "ata-1", "mac": "00:56:2b:00:01:91", "vendor": "cisco", "model": "ATA191", "lines": "2201|2202"},
    {"name": "hs-1", "mac": "00:15:65:00:00:01", "vendor": "yealink", "model": "T54W", "user": "2001"},
]


def test_one_file_per_device_with_a_line_per_user(tmp_path):
    result = provision.Provisioner(str(tmp_path), DEVICES, USERS, SETTINGS).run(want_diff=True)
    assert sorted(result["changed_handsets"]) == ["ata-1", "dect-1", "hs-1"]
    files = dict((p.name, p.read_text()) for p in tmp_path.iterdir())
    dect = files["805e0c1d654e.cfg"]
    assert "account.1.user_name = 2101" in dect and "account.2.user_name = 2102" in dect
    assert "account.3." not in dect
    ata = files["00562b000191.xml"]
    assert "<User_ID_1_ ua=\"na\">2201</User_ID_1_>" in ata and "<User_ID_2_ ua=\"na\">2202</User_ID_2_>" in ata
    # what a device takes from its file: every line's account (the simulated fleet reads it this way)
    for vendor, name, users in (("yealink", "805e0c1d654e.cfg", ["2101", "2102"]),
                                ("cisco", "00562b000191.xml", ["2201", "2202"])):
        accounts = base.get_profile(vendor).parse_config({name: files[name]})["accounts"]
        assert [(a["line"], a["username"]) for a in accounts] == [(1, users[0]), (2, users[1])]
        assert accounts[1]["password"] == "Pw-%s-verysecret" % users[1]
    # diff mode never shows a password, whichever line it is on
    text = "".join(d["after"] for d in result["diff"])
    assert "verysecret" not in text and "account.2.password = ********" in text
    # a rerun changes nothing
    again = provision.Provisioner(str(tmp_path), DEVICES, USERS, SETTINGS).run()
    assert again["changed"] is False


def test_line_errors_name_the_device_and_the_line():
    bad = [
        {"name": "dect-1", "mac": "80:5e:0c:1d:65:4e", "vendor": "yealink", "model": "W70B",
         "lines": ["2101", "2101", "2999"]},
        {"name": "hs-1", "mac": "00:15:65:00:00:01", "vendor": "yealink", "model": "T54W", "lines": ["2001", "2102"]},
        {"name": "ata-1", "mac": "00:56:2b:00:01:91", "vendor": "cisco", "model": "ATA191", "user": "2201",
         "lines": ["2201", "2202"]},
    ]
    with pytest.raises(SourceErrors) as info:
        provision.validate(bad, USERS, SETTINGS)
    got = sorted((e.obj, e.field, e.message) for e in info.value.errors)
    assert got == sorted([
        ("handsets[0] 'dect-1'", "lines[2]", "user '2101' is already line 1 of this device"),
        ("handsets[0] 'dect-1'", "lines[3]", "user '2999' does not exist on the callserver (no such extension in users)"),
        ("handsets[1] 'hs-1'", "lines", "Yealink T54W takes 1 line, 2 given"),
        ("handsets[2] 'ata-1'", "user", "give either 'user' (one line) or 'lines' (a DECT base's handsets, an ATA's "
                                        "ports), not both"),
    ])
