# -*- coding: utf-8 -*-
"""handset_provision module: argument handling, check mode, idempotence, failure output."""
from __future__ import absolute_import, division, print_function

import json
import os

import pytest
from tests.support.modargs import patch_module_args

from ansible_collections.voipops.voip.plugins.modules import handset_provision


def run(capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            handset_provision.main()
    return json.loads(capsys.readouterr().out)


def base_args(root):
    return {
        "root": str(root), "provisioning_url": "http://127.0.0.1:8080/", "registrar": "127.0.0.1",
        "handsets": [{"name": "desk-1", "mac": "0015.65aa.bb01", "vendor": "Yealink", "model": "T54W", "user": "1001"},
                     {"name": "desk-2", "mac": "00:04:13:aa:bb:02", "vendor": "snom", "model": "D785", "user": "1002"}],
        "users": [{"extension": "1001", "display_name": "Ann", "sip_password": "ann-Secret-1"},
                  {"extension": "1002", "display_name": "Bob", "sip_password": "bob-Secret-2"}],
    }


def test_check_mode_then_apply_then_idempotent(tmp_path, capsys):
    args = base_args(tmp_path)
    out = run(capsys, dict(args, _ansible_check_mode=True, _ansible_diff=True))
    assert out["changed"] and os.listdir(str(tmp_path)) == []
    assert "ann-Secret-1" not in json.dumps(out)
    out = run(capsys, args)
    assert out["changed"] and out["changed_handsets"] == ["desk-1", "desk-2"]
    assert (tmp_path / "001565aabb01.cfg").exists() and (tmp_path / "000413AABB02.xml").exists()
    out = run(capsys, args)
    assert not out["changed"]


def test_failure_lists_every_error(tmp_path, capsys):
    args = base_args(tmp_path)
    args["handsets"][0]["model"] = "T99"
    args["handsets"][1]["user"] = "4040"
    out = run(capsys, args)
    assert out["failed"]
    assert sorted(e["field"] for e in out["errors"]) == ["model", "user"]
    assert os.listdir(str(tmp_path)) == []


def test_bad_json_input_file_reports_file_and_line(tmp_path, capsys):
    args = base_args(tmp_path / "root")
    hfile = tmp_path / "handsets.json"
    handsets = args.pop("handsets")
    handsets[1]["mac"] = "00:04:13:aa:bb"
    hfile.write_text(json.dumps({"handsets": handsets}, indent=2))
    out = run(capsys, dict(args, handsets_file=str(hfile)))
    assert out["failed"]
    line = [n for n, text in enumerate(hfile.read_text().splitlines(), 1) if "00:04:13:aa:bb" in text][0]
    assert any(e["file"] == str(hfile) and e["line"] == line and e["field"] == "mac" for e in out["errors"]), out["errors"]
    assert not (tmp_path / "root").exists()
    handsets[1]["mac"] = "00:04:13:aa:bb:02"
    hfile.write_text(json.dumps({"handsets": handsets}, indent=2))
    assert run(capsys, dict(args, handsets_file=str(hfile)))["changed"]
