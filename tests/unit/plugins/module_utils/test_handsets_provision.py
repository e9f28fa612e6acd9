# -*- coding: utf-8 -*-
"""handset provisioning planner/writer: idempotence, diffs without secrets, removal, bad input, firmware."""
from __future__ import absolute_import, division, print_function

import hashlib
import json
import os
import stat

import pytest

from ansible_collections.voipops.voip.plugins.module_utils import provision
from ansible_collections.voipops.voip.plugins.module_utils.source import SourceErrors

VENDORS = [("yealink", "T54W"), ("poly", "VVX450"), ("snom", "D785"), ("grandstream", "GRP2614"), ("cisco", "CP-8841-3PCC")]
SETTINGS = {"registrar": "127.0.0.1", "registrar_port": 5070, "provisioning_url": "http://127.0.0.1:8080/",
            "timezone": "Europe/Amsterdam", "language": "nl"}


def fleet(n=10):
    hs, users = [], []
    for i in range(n):
        vendor, model = VENDORS[i % len(VENDORS)]
        hs.append({"name": "hs-%03d" % i, "mac": "00:15:65:00:01:%02x" % i, "vendor": vendor, "model": model,
                   "user": str(2000 + i), "site": "ams"})
        users.append({"extension": str(2000 + i), "display_name": "User %d" % i, "sip_password": "Pw-%d-verysecret" % i})
    return hs, users


def listing(root):
    out = []
    for dirpath, _d, names in os.walk(str(root)):
        for name in names:
            out.append(os.path.relpath(os.path.join(dirpath, name), str(root)))
    return sorted(out)


def test_first_run_writes_every_file_0640_then_nothing_changes(tmp_path):
    hs, users = fleet()
    p = provision.Provisioner(str(tmp_path), hs, users, SETTINGS)
    first = p.run()
    assert first["changed"] and first["handsets"] == 10
    assert "001565000100.cfg" in first["files"]["created"]          # yealink <mac>.cfg
    assert "y000000000096.cfg" in first["files"]["created"]         # yealink common for T54W
    assert "snomD785-001565000102.htm" in first["files"]["created"]
    assert "cfg001565000103.xml" in first["files"]["created"]
    for rel in first["files"]["created"]:
        assert stat.S_IMODE(os.stat(str(tmp_path / rel)).st_mode) == 0o640
    assert not [n for n in listing(tmp_path) if ".tmp-" in n]
    second = p.run()
    assert not second["changed"]
    assert second["files"]["unchanged"] == len(first["files"]["created"])
    assert second["changed_handsets"] == []


def test_display_name_change_touches_only_that_handset_and_diff_hides_secrets(tmp_path):
    hs, users = fleet()
    provision.Provisioner(str(tmp_path), hs, users, SETTINGS).run()
    users[3]["display_name"] = "Renamed Person"
    before = dict((rel, (tmp_path / rel).read_bytes()) for rel in listing(tmp_path))
    result = provision.Provisioner(str(tmp_path), hs, users, SETTINGS).run(check_mode=True, want_diff=True)
    assert result["changed"] and result["changed_handsets"] == ["hs-003"]
    assert result["files"]["updated"] == ["cfg001565000103.xml"]
    assert dict((rel, (tmp_path / rel).read_bytes()) for rel in listing(tmp_path)) == before, "check mode wrote"
    text = json.dumps(result["diff"])
    assert "Renamed Person" in text and "User 3" in text
    for u in users:
        assert u["sip_password"] not in text
    assert provision.MASK in text
    applied = provision.Provisioner(str(tmp_path), hs, users, SETTINGS).run()
    assert applied["files"]["updated"] == ["cfg001565000103.xml"]
    assert b"Renamed Person" in (tmp_path / "cfg001565000103.xml").read_bytes()


def test_files_of_removed_handsets_go_and_foreign_files_stay(tmp_path):
    hs, users = fleet()
    (tmp_path / "README.txt").write_text("not ours")
    provision.Provisioner(str(tmp_path), hs, users, SETTINGS).run()
    result = provision.Provisioner(str(tmp_path), hs[:-1], users, SETTINGS).run(want_diff=True)
    # hs-009 is a cisco (index 9 % 5 == 4)
    assert result["files"]["removed"] == ["001565000109.xml"]
    assert not (tmp_path / "001565000109.xml").exists()
    assert (tmp_path / "README.txt").read_text() == "not ours"
    assert any(d["before_header"] == "001565000109.xml" for d in result["diff"])


def test_bad_input_reports_every_error_and_writes_nothing(tmp_path):
    hs, users = fleet()
    hs[1]["mac"] = "00:15:65:zz:00:01"
    hs[2]["model"] = "D999"
    hs[3]["user"] = "9999"
    hs[4]["mac"] = hs[0]["mac"]
    hs[5]["vendor"] = "nokia"
    with pytest.raises(SourceErrors) as info:
        provision.Provisioner(str(tmp_path), hs, users, SETTINGS).run()
    errors = info.value.errors
    fields = sorted((e.obj, e.field) for e in errors)
    assert fields == [("handsets[1] 'hs-001'", "mac"), ("handsets[2] 'hs-002'", "model"),
                      ("handsets[3] 'hs-003'", "user"), ("handsets[4] 'hs-004'", "mac"),
                      ("handsets[5] 'hs-005'", "vendor")]
    assert "not a MAC" in str(info.value) and "unknown Snom model 'D999'" in str(info.value)
    assert "user '9999' does not exist" in str(info.value)
    assert listing(tmp_path) == []


def test_csv_errors_name_file_and_line(tmp_path):
    csv = tmp_path / "handsets.csv"
    csv.write_text("name,mac,vendor,model,user\n"
                   "hs-1,00:15:65:00:00:01,yealink,T54W,2000\n"
                   "hs-2,00:15:65:00:00:0g,yealink,T54W,2001\n"
                   "hs-3,00:15:65:00:00:03,yealink,T54W,4242\n")
    hs = provision.load_handsets(str(csv))
    users = fleet(3)[1]
    root = tmp_path / "root"
    with pytest.raises(SourceErrors) as info:
        provision.Provisioner(str(root), hs, users, SETTINGS).run()
    lines = sorted((e.path, e.line, e.field) for e in info.value.errors)
    assert lines == [(str(csv), 3, "mac"), (str(csv), 4, "user")]
    assert "handsets.csv line 3, handset 'hs-2': mac:" in str(info.value)
    assert not root.exists()


def test_firmware_manifest_latest_and_pins(tmp_path):
    fw = tmp_path / "firmware" / "yealink"
    fw.mkdir(parents=True)
    old = fw / "T54W(T57W,T53W,T53,T53C,T54,T57)-96.86.0.100.rom"
    new = fw / "T54W(T57W,T53W,T53,T53C,T54,T57)-96.86.0.120.rom"
    old.write_bytes(b"A" * 4096)
    new.write_bytes(b"B" * 5000)
    hs, users = fleet(6)            # hs-000 and hs-005 are T54W
    hs[5]["firmware"] = "96.86.0.100"
    result = provision.Provisioner(str(tmp_path), hs, users, SETTINGS).run()
    images = dict((i["version"], i) for i in result["firmware"])
    assert images["96.86.0.120"]["sha256"] == hashlib.sha256(b"B" * 5000).hexdigest()
    assert images["96.86.0.120"]["size"] == 5000
    manifest = json.loads((tmp_path / "firmware" / "manifest.json").read_text())
    assert manifest["images"] == result["firmware"]
    assert "96.86.0.120.rom" in (tmp_path / "001565000100.cfg").read_text()       # latest
    assert "96.86.0.100.rom" in (tmp_path / "001565000105.cfg").read_text()       # pinned
    hs[5]["firmware"] = "96.99.0.1"
    with pytest.raises(SourceErrors) as info:
        provision.Provisioner(str(tmp_path), hs, users, SETTINGS).run()
    assert "firmware 96.99.0.1 for Yealink T5xW is not on the provisioning server" in str(info.value)


def test_settings_are_validated(tmp_path):
    hs, users = fleet(2)
    bad = dict(SETTINGS, timezone="Nowhere/Town", language="xx", transport="sctp")
    with pytest.raises(SourceErrors) as info:
        provision.Provisioner(str(tmp_path), hs, users, bad).run()
    assert sorted(e.field for e in info.value.errors) == ["language", "timezone", "transport"]


def test_injection_of_settings_through_names_is_refused(tmp_path):
    hs, users = fleet(1)
    users[0]["display_name"] = "Evil\naccount.1.password = x"
    with pytest.raises(SourceErrors) as info:
        provision.Provisioner(str(tmp_path), hs, users, SETTINGS).run()
    assert info.value.errors[0].field == "display_name"


def test_unchanged_inputs_skip_rendering_but_a_hand_edited_file_is_repaired(tmp_path, monkeypatch):
    hs, users = fleet(5)
    root = str(tmp_path / "prov")
    provision.Provisioner(root, hs, users, SETTINGS).run()
    target = [n for n in sorted(os.listdir(root)) if n.endswith(".cfg")][0]
    path = os.path.join(root, target)
    before = open(path).read()
    mtime = os.stat(path).st_mtime_ns
    rendered = []
    real = provision.build_want
    monkeypatch.setattr(provision, "build_want", lambda *a, **k: rendered.append(1) or real(*a, **k))
    out = provision.Provisioner(root, hs, users, SETTINGS).run()
    assert not out["changed"] and out["files"]["unchanged"] > 0 and rendered == []     # nothing rendered
    assert os.stat(path).st_mtime_ns == mtime
    with open(path, "w") as handle:                      # someone edits a file by hand
        handle.write(before.replace("Europe", "Elsewhere") + "# local hack\n")
    out = provision.Provisioner(root, hs, users, SETTINGS).run()
    assert out["changed"] and out["files"]["updated"] == [target] and open(path).read() == before
    users[0]["sip_password"] = "Another-Secret-0"           # an input changes: rendered and rewritten
    out = provision.Provisioner(root, hs, users, SETTINGS).run()
    assert out["changed"] and out["changed_handsets"] == ["hs-000"]


def test_json_files_load_fast_and_errors_still_name_the_line(tmp_path):
    hs, users = fleet(3)
    hs[2]["mac"] = "00:15:65:zz:00:02"
    hfile = tmp_path / "handsets.json"
    hfile.write_text(json.dumps({"handsets": hs}, indent=1))
    fast = provision.load_handsets(str(hfile), fast=True)
    assert fast == hs and not hasattr(fast[0], "line")
    with pytest.raises(SourceErrors) as err:
        provision.Provisioner(str(tmp_path / "p"), provision.load_handsets(str(hfile)), users, SETTINGS).run()
    line = [n for n, text in enumerate(hfile.read_text().splitlines(), 1) if "zz" in text][0]
    assert "%s line %d" % (hfile, line) in str(err.value) or "line %d" % line in str(err.value)


def test_the_web_root_holds_phone_files_only_and_the_index_stays_outside(tmp_path):
    # the provisioning server serves the root to anyone who asks: the run's index (every file of every phone) is
    # not in it; an index an earlier release left in the root is taken over and removed
    root = tmp_path / "prov"
    hs, users = fleet(5)
    first = provision.Provisioner(str(root), hs, users, SETTINGS).run()
    assert listing(root) == sorted(first["files"]["created"])
    index = tmp_path / ".voipops-handsets.prov.json"
    assert stat.S_IMODE(os.stat(str(index)).st_mode) == 0o600 and json.loads(index.read_text())["files"]
    os.rename(str(index), str(root / ".voipops-handsets.json"))               # as release 0.0.x left it
    again = provision.Provisioner(str(root), hs, users, SETTINGS).run()
    assert not again["changed"] and listing(root) == sorted(first["files"]["created"]) and index.exists()
