# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""snmp_info module: target validation (all errors at once), per-target errors, fail_on_error, secrets hidden.

Answers from real agents are covered in tests/integration/test_snmp_info.py.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import socket

import pytest
from tests.support.modargs import patch_module_args

from ansible_collections.voipops.voip.plugins.modules import snmp_info


def run(capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            snmp_info.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def silent_port():
    """A loopback UDP port with a socket that never answers (the agent is 'down')."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    yield s.getsockname()[1]
    s.close()


def test_every_bad_target_is_reported_at_once(capsys):
    out = run(capsys, {"targets": [{"host": "gw1", "version": "3"}, {"hots": "gw2"}, 42,
                                   {"host": "gw3", "community": "community-3", "port": 0}],
                       "community": "community-default"})
    assert out["failed"] is True
    errors = out["errors"]
    assert len(errors) == 4
    assert errors[0].startswith("targets[0]") and "user is required for SNMP v3" in errors[0]
    assert errors[1].startswith("targets[1]") and "unknown keys hots" in errors[1]
    assert errors[2].startswith("targets[2]") and "expected a host or a dict" in errors[2]
    assert errors[3].startswith("targets[3]") and "port 0" in errors[3]


def test_silent_agent_is_a_result_not_a_failure_and_community_is_hidden(capsys, silent_port):
    out = run(capsys, {"targets": ["127.0.0.1:%d" % silent_port,
                                   {"name": "gw-b", "host": "127.0.0.1", "port": silent_port, "community": "s3cr3t-gw-b"}],
                       "community": "s3cr3t-default", "timeout": 0.2, "retries": 1, "gather": ["system", "ds1"]})
    assert out.get("failed") is not True and out["changed"] is False
    assert out["summary"] == {"total": 2, "ok": 0, "failed": 2}
    a, b = out["results"]
    assert (a["name"], a["port"], a["ok"]) == ("127.0.0.1:%d" % silent_port, silent_port, False)
    assert "no SNMP response within 0.2s x 2 tries" in a["error"] and a["requests"] == 2
    assert b["name"] == "gw-b" and b["ok"] is False
    text = json.dumps(out)
    assert "s3cr3t-gw-b" not in text and "s3cr3t-default" not in text


def test_fail_on_error_fails_naming_the_target(capsys, silent_port):
    out = run(capsys, {"targets": [{"name": "mgw-ams-01", "host": "127.0.0.1", "port": silent_port}],
                       "community": "x", "timeout": 0.1, "retries": 0, "fail_on_error": True})
    assert out["failed"] is True
    assert out["msg"].startswith("1 of 1 SNMP targets failed: mgw-ams-01:")


def test_non_numeric_oids_are_refused(capsys):
    out = run(capsys, {"targets": ["127.0.0.1"], "community": "x", "walk": ["IF-MIB::ifDescr"]})
    assert out["failed"] is True and "not a numeric OID" in out["msg"]


def test_snmpv3_credentials_come_from_the_environment_an_awx_credential_sets(capsys, monkeypatch, silent_port):
    """The VOIPOPS_SNMP_* variables (awx/credential_types.yml injects them) are the module-level v3 options."""
    monkeypatch.setenv("VOIPOPS_SNMP_VERSION", "3")
    monkeypatch.setenv("VOIPOPS_SNMP_USER", "awx-audit")
    monkeypatch.setenv("VOIPOPS_SNMP_AUTH_KEY", "short")
    out = run(capsys, {"targets": [{"host": "127.0.0.1", "port": silent_port}]})
    assert out["failed"] is True and "auth_key must be at least 8 characters" in out["errors"][0]

    monkeypatch.setenv("VOIPOPS_SNMP_AUTH_KEY", "env-auth-s3cr3t")
    monkeypatch.setenv("VOIPOPS_SNMP_PRIV_KEY", "env-priv-s3cr3t")
    monkeypatch.setenv("VOIPOPS_SNMP_PRIV_PROTOCOL", "aes256")
    out = run(capsys, {"targets": [{"name": "v3", "host": "127.0.0.1", "port": silent_port},
                                   {"name": "own", "host": "127.0.0.1", "port": silent_port, "version": "2c",
                                    "community": "own-community"}],
                       "timeout": 0.1, "retries": 0})
    assert out.get("failed") is not True and out["summary"] == {"total": 2, "ok": 0, "failed": 2}
    assert "env-auth-s3cr3t" not in json.dumps(out) and "env-priv-s3cr3t" not in json.dumps(out)
    # a target's own options win over the environment
    monkeypatch.setenv("VOIPOPS_SNMP_PRIV_PROTOCOL", "rot13")
    out = run(capsys, {"targets": [{"host": "127.0.0.1", "port": silent_port}]})
    assert out["failed"] is True and "rot13" in out["msg"]
