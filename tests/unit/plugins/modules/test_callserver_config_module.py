# -*- coding: utf-8 -*-
"""callserver_config's module code path for a candidate identical to the live file (nothing to check or restart):
the diff only in diff mode, and the release record of the run."""
import json

import pytest
from tests.support.modargs import patch_module_args

from ansible_collections.voipops.voip.plugins.modules import callserver_config


def call(capsys, args, check=False, diff=False):
    args = dict(args, _ansible_check_mode=check, _ansible_diff=diff)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            callserver_config.main()
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("diff", [False, True])
def test_the_diff_only_in_diff_mode_and_the_record_of_an_unchanged_release(capsys, tmp_path, diff):
    live = tmp_path / "kamailio.cfg"
    live.write_text("#!KAMAILIO\nlisten=udp:127.0.0.1:5060\n")
    args = {"rpc_url": "http://127.0.0.1:9/RPC", "path": str(live), "content": live.read_text(),
            "release_id": "cfg-1", "record_dir": str(tmp_path / "releases")}
    out = call(capsys, args, diff=diff)
    assert not out["changed"] and not out["restarted"]
    assert ("diff" in out) is diff
    with open(out["record"]) as handle:
        rec = json.load(handle)
    assert rec["summary"]["verdict"] == "unchanged" and rec["targets"][str(live)]["after"] == out["checksum"]


def test_check_mode_writes_no_record(capsys, tmp_path):
    live = tmp_path / "kamailio.cfg"
    live.write_text("#!KAMAILIO\n")
    out = call(capsys, {"rpc_url": "http://127.0.0.1:9/RPC", "path": str(live), "content": "#!KAMAILIO\n",
                        "release_id": "cfg-1", "record_dir": str(tmp_path / "releases")}, check=True)
    assert out["record"] is None and not (tmp_path / "releases").exists()
