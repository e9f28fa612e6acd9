# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Release records of gateway_firmware and callserver_config runs (release/run_record.py over release/record.py)."""
from __future__ import absolute_import, division, print_function

import json
import os
import stat

import pytest

from ansible_collections.voipops.voip.plugins.module_utils.release import run_record
from ansible_collections.voipops.voip.plugins.module_utils.release.record import RecordError


def gateways_result(second_status="upgraded", failed_gateway=None):
    second = {"name": "mgw2", "status": second_status, "before": "1.0", "after": "2.0" if second_status == "upgraded"
              else "1.0", "drained": second_status == "failed", "gate": None, "steps": []}
    if second_status == "failed":
        second["error"] = "the gateway came back on version 1.0, not 2.0"
    return {"changed": True, "target_version": "2.0", "failed_gateway": failed_gateway, "gateways": [
        {"name": "mgw1", "status": "upgraded", "before": "1.0", "after": "2.0", "drained": False,
         "gate": {"passed": True, "options": True, "dispatcher": "active"}, "steps": []}, second]}


def load(path):
    with open(path) as handle:
        return json.load(handle)


def test_a_failed_gateway_rollout_is_recorded_halted_with_the_gateway_named(tmp_path):
    path, page = run_record.record_gateways(str(tmp_path), "gw-2026-12", gateways_result("failed", "mgw2"),
                                            "2026-12-07T10:00:00Z", "gateway mgw2: did not boot (left drained)")
    assert path == str(tmp_path / "gw-2026-12.json") and page == str(tmp_path / "gw-2026-12.md")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and stat.S_IMODE(os.stat(page).st_mode) == 0o600
    data = load(path)
    assert data["kind"] == "gateway_firmware" and data["status"] == "halted"
    assert [w["names"] for w in data["waves"]] == [["mgw1"], ["mgw2"]]
    assert (data["targets"]["mgw1"]["state"], data["targets"]["mgw1"]["after"]) == ("done", "2.0")
    mgw2 = data["targets"]["mgw2"]
    assert (mgw2["state"], mgw2["before"], mgw2["after"], mgw2["drained"]) == ("failed", "1.0", "1.0", True)
    assert "came back on version 1.0" in mgw2["outcome"] and "left drained" in mgw2["outcome"]
    summary = data["summary"]
    assert (summary["verdict"], summary["failed_gateway"]) == ("failed", "mgw2")
    assert summary["started"] == "2026-12-07T10:00:00Z"
    assert summary["finished"] >= summary["started"] and data["gates"]["mgw1"]["passed"] is True
    text = (tmp_path / "gw-2026-12.md").read_text()
    assert "| mgw2 | failed | 1.0 | 1.0 |" in text and "failed gateway: mgw2" in text


def test_a_rerun_keeps_every_run_and_ends_done(tmp_path):
    run_record.record_gateways(str(tmp_path), "gw-1", gateways_result("failed", "mgw2"), "2026-12-07T10:00:00Z", "x")
    done = dict(gateways_result(), changed=True)
    done["gateways"][0]["status"] = "current"
    path, _page = run_record.record_gateways(str(tmp_path), "gw-1", done, "2026-12-07T11:00:00Z")
    data = load(path)
    assert data["status"] == "done" and [r["verdict"] for r in data["runs"]] == ["failed", "upgraded"]
    assert data["targets"]["mgw2"]["state"] == "done" and data["summary"]["failed_gateway"] is None
    assert [h["state"] for h in data["targets"]["mgw2"]["history"]] == ["failed", "done"]


def test_a_callserver_config_release_records_checksums_gate_and_gap(tmp_path):
    result = {"changed": True, "path": "/etc/kamailio/kamailio.cfg", "checksum": "bbb", "previous_checksum": "aaa",
              "backup": "/etc/kamailio/backups/x", "rolled_back": False, "restarted": True, "service_gap_ms": 1130,
              "gate": {"passed": True, "registrations": 20}, "validation": {"check": "passed", "log": "noise"},
              "msg": "released"}
    path, page = run_record.record_config(str(tmp_path), "cfg-7", result, "2026-12-07T10:00:00Z")
    data = load(path)
    target = data["targets"]["/etc/kamailio/kamailio.cfg"]
    assert (target["before"], target["after"], target["state"]) == ("aaa", "bbb", "done")
    assert "log" not in target["validation"] and data["summary"]["service_gap_ms"] == 1130
    assert data["status"] == "done" and data["summary"]["verdict"] == "released"
    assert "service gap ms: 1130" in open(page).read()


def test_a_rolled_back_configuration_keeps_the_old_checksum_and_halts(tmp_path):
    result = {"changed": True, "path": "/k.cfg", "checksum": "bbb", "previous_checksum": "aaa", "rolled_back": True,
              "restarted": True, "service_gap_ms": 900, "gate": {"passed": False, "reasons": ["registrations 0"]},
              "validation": {}}
    path, _page = run_record.record_config(str(tmp_path), "cfg-8", result, "2026-12-07T10:00:00Z", "gate failed")
    data = load(path)
    assert data["status"] == "halted" and data["summary"]["verdict"] == "rolled_back"
    assert (data["targets"]["/k.cfg"]["after"], data["targets"]["/k.cfg"]["state"]) == ("aaa", "rolled_back")


def test_a_release_id_of_another_kind_is_refused(tmp_path):
    run_record.record_gateways(str(tmp_path), "same", gateways_result(), "2026-12-07T10:00:00Z")
    with pytest.raises(RecordError, match="gateway_firmware"):
        run_record.record_config(str(tmp_path), "same", {"path": "/k.cfg", "validation": {}}, "t")
