# -*- coding: utf-8 -*-
"""callserver_config and gateway_firmware refuse bad input with a message that names it, before touching anything,
and an unchanged configuration needs no callserver at all."""
import json

import pytest
from tests.support.modargs import patch_module_args

from ansible_collections.voipops.voip.plugins.modules import callserver_config, gateway_firmware

DEAD_RPC = "http://127.0.0.1:9/RPC"


def run(module, args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


def test_min_registrations_must_be_a_share(tmp_path, capsys):
    res = run(callserver_config, {"rpc_url": DEAD_RPC, "path": str(tmp_path / "k.cfg"), "content": "x",
                                  "min_registrations": 95}, capsys)
    assert res["failed"] and "min_registrations must be between 0 and 1, got 95" in res["msg"]


def test_unreadable_src_is_named(tmp_path, capsys):
    res = run(callserver_config, {"rpc_url": DEAD_RPC, "path": str(tmp_path / "k.cfg"),
                                  "src": str(tmp_path / "missing.cfg")}, capsys)
    assert res["failed"] and "missing.cfg cannot be read" in res["msg"]


def test_unchanged_configuration_is_no_change_without_a_callserver(tmp_path, capsys):
    live = tmp_path / "kamailio.cfg"
    live.write_text("#!KAMAILIO\nlisten=udp:127.0.0.1:5999\n")
    res = run(callserver_config, {"rpc_url": DEAD_RPC, "path": str(live), "content": live.read_text(),
                                  "restart_command": ["false"]}, capsys)
    assert not res.get("failed") and res["changed"] is False and res["restarted"] is False
    assert res["service_gap_ms"] == 0 and res["backup"] is None and "diff" not in res


def test_gateways_listed_twice_are_refused(tmp_path, capsys):
    gw = {"name": "mgw1", "api_url": "http://127.0.0.1:9/api/v1"}
    res = run(gateway_firmware, {"rpc_url": DEAD_RPC, "gateways": [gw, dict(gw)], "image": str(tmp_path / "a.cmp"),
                                 "version": "7.40A.250.001", "password": "pw-secret-1"}, capsys)
    assert res["failed"] and res["msg"] == "gateways: mgw1 listed more than once"


def test_unreadable_image_is_named_and_the_password_never_shows(tmp_path, capsys):
    gw = {"name": "mgw1", "api_url": "http://127.0.0.1:9/api/v1"}
    res = run(gateway_firmware, {"rpc_url": DEAD_RPC, "gateways": [gw], "image": str(tmp_path / "a.cmp"),
                                 "version": "7.40A.250.001", "password": "pw-secret-1"}, capsys)
    assert res["failed"] and "image %s cannot be read" % (tmp_path / "a.cmp") in res["msg"]
    assert "pw-secret-1" not in json.dumps(res)


def test_an_unreachable_gateway_stops_the_rollout_undrained(tmp_path, capsys):
    img = tmp_path / "a.cmp"
    img.write_text("AUDIOCODES-CMP 7.40A.250.001\n")
    gws = [{"name": "mgw1", "api_url": "http://127.0.0.1:9/api/v1"}, {"name": "mgw2", "api_url": "http://127.0.0.1:9"}]
    res = run(gateway_firmware, {"rpc_url": DEAD_RPC, "gateways": gws, "image": str(img), "version": "7.40A.250.001",
                                 "api_timeout": 1}, capsys)
    assert res["failed"] and res["failed_gateway"] == "mgw1"
    assert "status not readable before the upgrade" in res["msg"] and "left drained" not in res["msg"]
    assert [g["status"] for g in res["gateways"]] == ["failed", "not started"] and res["changed"] is False
