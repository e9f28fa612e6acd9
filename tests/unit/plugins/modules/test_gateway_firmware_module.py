# -*- coding: utf-8 -*-
"""gateway_firmware's module code path in check mode against the lab's gateway simulator (roles/lab/files/gwsim,
served in-process): the version diff only in diff mode, no release record in check mode."""
import importlib.util
import json
import os
import threading
from http.server import ThreadingHTTPServer

import pytest
from tests.support.modargs import patch_module_args

from ansible_collections.voipops.voip.plugins.modules import gateway_firmware

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


def load_gwsim():
    spec = importlib.util.spec_from_file_location("gwsim", os.path.join(ROOT, "roles/lab/files/gwsim/gwsim.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def serve_gateway(credentials):
    gwsim = load_gwsim()
    server = ThreadingHTTPServer(("127.0.0.1", 0), gwsim.Handler)
    server.daemon_threads = True
    server.device = gwsim.Device("7.40A.100.001")
    server.verbose, server.credentials, server.sip_port = False, credentials, None
    thread = threading.Thread(target=server.serve_forever, args=(0.05,))
    thread.daemon = True
    thread.start()
    yield "http://127.0.0.1:%d/api/v1" % server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def gateway():
    yield from serve_gateway(None)


@pytest.fixture
def gateway_with_login():
    """A gateway whose management API wants HTTP Basic authentication (Admin / gw-Secret-1)."""
    yield from serve_gateway(("Admin", "gw-Secret-1"))


def call(capsys, args, diff):
    args = dict(args, _ansible_check_mode=True, _ansible_diff=diff)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            gateway_firmware.main()
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("diff", [False, True])
def test_the_version_diff_only_in_diff_mode(capsys, gateway, tmp_path, diff):
    args = {"rpc_url": "http://127.0.0.1:9/RPC", "image": str(tmp_path / "new.cmp"), "version": "7.40A.250.001",
            "gateways": [{"name": "mgw1", "api_url": gateway}], "release_id": "gw-1",
            "record_dir": str(tmp_path / "releases")}
    out = call(capsys, args, diff)
    assert out["changed"] and out["gateways"][0]["status"] == "would upgrade"
    assert ("diff" in out) is diff
    if diff:
        assert out["diff"] == {"before": {"mgw1": "7.40A.100.001"}, "after": {"mgw1": "7.40A.250.001"}}
    assert out["record"] is None and not (tmp_path / "releases").exists()  # check mode writes no record


def test_user_and_password_come_from_the_environment_when_the_task_has_none(
        capsys, gateway_with_login, tmp_path, monkeypatch):
    """What the AWX credential "VoIP gateway management" injects (awx/credential_types.yml)."""
    args = {"rpc_url": "http://127.0.0.1:9/RPC", "image": str(tmp_path / "new.cmp"), "version": "7.40A.250.001",
            "gateways": [{"name": "mgw1", "api_url": gateway_with_login}]}
    out = call(capsys, args, False)
    assert out["failed"] and "401" in out["msg"], out
    monkeypatch.setenv("VOIPOPS_GATEWAY_USERNAME", "Admin")
    monkeypatch.setenv("VOIPOPS_GATEWAY_PASSWORD", "gw-Secret-1")
    out = call(capsys, args, False)
    assert out["changed"] and out["gateways"][0]["status"] == "would upgrade", out
    assert "gw-Secret-1" not in json.dumps(out)
    # a task's own values win over the environment
    out = call(capsys, dict(args, password="wrong-one"), False)
    assert out["failed"] and "401" in out["msg"], out
