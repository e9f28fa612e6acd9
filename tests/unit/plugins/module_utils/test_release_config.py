# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure parts of a callserver configuration release: the trial rewrite of a Kamailio config, the gate's
registration threshold, the kept backups, and that a refused or unchanged candidate never touches the live file."""
from __future__ import absolute_import, division, print_function

import os

import pytest

from ansible_collections.voipops.voip.plugins.module_utils.callservers import kamailio_config as kc
from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio import KamailioDriver
from ansible_collections.voipops.voip.plugins.module_utils.release import config

CFG = """#!KAMAILIO
#!define DBURL "sqlite:////srv/lab/kamailio.db"
#!define RPC_PORT 15071
run_dir="/srv/lab/run"
listen=udp:10.0.0.5:15060
listen=tcp:10.0.0.5:15060
listen=tcp:127.0.0.1:15071
modparam("tm", "fr_inv_timer", 15060)
modparam("jsonrpcs", "fifo_name", "/srv/lab/run/kamailio_rpc.fifo")
modparam("db_sqlite", "db_set_journal_mode", "/srv/lab/kamailio.db=WAL;")
modparam("usrloc", "db_url", DBURL)
request_route {
    if ($Rp == RPC_PORT) { exit; }
}
"""


def test_listens_and_sip_uri():
    assert kc.listens(CFG) == [("udp", "10.0.0.5", 15060), ("tcp", "10.0.0.5", 15060), ("tcp", "127.0.0.1", 15071)]
    assert kc.sip_uri_of(CFG) == "sip:10.0.0.5:15060"
    assert kc.sip_uri_of("listen=tcp:127.0.0.1:5070\n") == "sip:127.0.0.1:5070"
    assert kc.sip_uri_of("debug=2\n") is None


def test_sqlite_paths_are_found_once():
    assert kc.sqlite_paths(CFG) == ["/srv/lab/kamailio.db"]
    assert kc.sqlite_paths('modparam("a", "db_url", "sqlite:////x/a.db")\n#!define D "sqlite:////x/b.db"') == \
        ["/x/a.db", "/x/b.db"]


def test_trial_text_moves_sockets_runtime_and_database():
    out = kc.trial_text(CFG, {15060: 41000, 15071: 41001}, "/tmp/trial/run", {"/srv/lab/kamailio.db": "/tmp/trial/db"})
    assert kc.listens(out) == [("udp", "127.0.0.1", 41000), ("tcp", "127.0.0.1", 41000), ("tcp", "127.0.0.1", 41001)]
    assert "#!define RPC_PORT 41001" in out
    assert 'run_dir="/tmp/trial/run"' in out and '"/tmp/trial/run/kamailio_rpc.fifo"' in out
    assert "sqlite:////tmp/trial/db" in out and '"/tmp/trial/db=WAL;"' in out
    assert "/srv/lab" not in out
    # a number that only looks like a port (a timer) is not a socket: it stays
    assert 'modparam("tm", "fr_inv_timer", 15060)' in out
    assert out.count("\n") == CFG.count("\n")  # same lines: Kamailio's file:line errors point at the candidate


def test_trial_text_adds_a_private_run_dir_when_the_config_has_none():
    out = kc.trial_text("listen=udp:127.0.0.1:5060\n", {5060: 42000}, "/tmp/t/run", {})
    assert 'run_dir="/tmp/t/run"' in out and "listen=udp:127.0.0.1:42000" in out


@pytest.mark.parametrize("before, ratio, needed", [(0, 0.95, 0), (None, 0.95, 0), (20, 0.95, 19), (100, 0.95, 95),
                                                   (1, 0.95, 1), (3, 0.5, 2), (10, 0, 0)])
def test_registrations_needed(before, ratio, needed):
    assert config.registrations_needed(before, ratio) == needed


def test_backups_keep_the_newest(tmp_path):
    live = str(tmp_path / "kamailio.cfg")
    bdir = str(tmp_path / "backups")
    made = [config.keep_backup(live, "version %d\n" % i, bdir, keep=3, now=1700000000 + i) for i in range(5)]
    kept = config.backups(live, bdir)
    assert kept == made[-3:]
    with open(kept[-1]) as handle:
        assert handle.read() == "version 4\n"
    assert oct(os.stat(kept[-1]).st_mode & 0o777) == "0o600"


def test_check_refuses_what_kamailio_refuses(tmp_path):
    if not os.path.exists("/usr/sbin/kamailio"):
        pytest.skip("kamailio is not installed")
    path = str(tmp_path / "kamailio.cfg")
    with open(path, "w") as handle:
        handle.write("#!KAMAILIO\nloadmodule \"no_such_module.so\"\nrequest_route { exit; }\n")
    with pytest.raises(kc.ConfigCheckError) as err:
        kc.check("/usr/sbin/kamailio", path)
    assert err.value.stage == "check" and "no_such_module" in str(err.value)


def test_refused_candidate_leaves_the_live_file_and_unchanged_one_does_nothing(tmp_path):
    if not os.path.exists("/usr/sbin/kamailio"):
        pytest.skip("kamailio is not installed")
    path = str(tmp_path / "kamailio.cfg")
    live = "#!KAMAILIO\nlisten=udp:127.0.0.1:5999\nrequest_route { exit; }\n"
    with open(path, "w") as handle:
        handle.write(live)
    driver = KamailioDriver(rpc_url="http://127.0.0.1:1/RPC")
    same = config.release(driver, path, live, restart_command=["false"])
    assert same["changed"] is False and same["validation"] == {} and not same["restarted"]
    bad = live.replace("exit;", "route(MISSING);")
    with pytest.raises(config.ReleaseFailed) as err:
        config.release(driver, path, bad, restart_command=["false"], backup_dir=str(tmp_path / "b"))
    res = err.value.result
    assert res["changed"] is False and res["validation"]["check"] == "passed" and res["validation"]["trial"] == "failed"
    assert 'route "MISSING" not found' in str(err.value)
    assert res["diff"]["before"] == live and res["diff"]["after"] == bad
    with open(path) as handle:
        assert handle.read() == live
    assert not os.path.exists(str(tmp_path / "b"))


class _Healthy(object):
    """A callserver that is healthy on every health read (RPC, OPTIONS, 3 registrations)."""

    def health(self, sip_uri, timeout=2.0, rpc=True):
        return {"rpc": True, "options": True, "registrations": 3, "errors": []}


def test_gate_requires_the_test_call_and_retries_it_until_the_deadline():
    placed = []

    def call(answers):
        def place(sip_uri):
            placed.append(sip_uri)
            code = answers.pop(0) if answers else 503
            return {"target": "90001", "answered": code == 200, "classification": "answered" if code == 200 else
                    "rejected", "code": code, "reason": "OK" if code == 200 else "No media gateway available",
                    "password": "never kept"}
        return place

    # first attempt 503 (gateways not probed yet after the restart), the second answered: passed after 2 attempts
    out = config.gate(_Healthy(), "sip:127.0.0.1:5060", 3, timeout=5, poll=0, test_call=call([503, 200]))
    assert out["passed"] and out["test_call_attempts"] == 2 and out["test_call"]["code"] == 200
    assert "password" not in out["test_call"] and placed == ["sip:127.0.0.1:5060"] * 2
    # always 503: failed at the deadline, the reason names the number and the answer
    out = config.gate(_Healthy(), "sip:127.0.0.1:5060", 3, timeout=0, poll=0, test_call=call([]))
    assert not out["passed"] and out["test_call"]["code"] == 503
    assert out["reasons"] == ["test call to 90001 not answered: rejected 503 No media gateway available"]
    # without a test call the same health passes at once
    assert config.gate(_Healthy(), "sip:127.0.0.1:5060", 3, timeout=0, poll=0)["passed"]


def test_no_test_call_without_a_number_or_an_account():
    assert config.test_caller(None, "1001", "pw") is None
    assert config.test_caller("90001", None, "pw") is None
    assert config.test_caller("90001", "1001", None) is None
    assert callable(config.test_caller("90001", "1001", "pw", domain="voip.lab"))


def test_the_diff_masks_database_url_passwords(tmp_path):
    """A configuration that carries a database URL with its password (PostgreSQL-backed Kamailio) never shows that
    password in the diff a --diff run prints."""
    path = str(tmp_path / "kamailio.cfg")
    live = '#!KAMAILIO\n#!define DBURL "postgres://kamailio:Liv3Secr3t@db.example.org/kamailio"\nrequest_route { exit; }\n'
    with open(path, "w") as handle:
        handle.write(live)
    driver = KamailioDriver(rpc_url="http://127.0.0.1:1/RPC")
    same = config.release(driver, path, live, restart_command=["false"])
    assert same["changed"] is False
    assert "Liv3Secr3t" not in repr(same["diff"])
    assert 'postgres://kamailio:********@db.example.org/kamailio' in same["diff"]["before"]
    if os.path.exists("/usr/sbin/kamailio"):
        bad = live.replace("exit;", "route(MISSING);").replace("Liv3Secr3t", "N3wSecr3t")
        with pytest.raises(config.ReleaseFailed) as err:
            config.release(driver, path, bad, restart_command=["false"], backup_dir=str(tmp_path / "b"))
        text = repr(err.value.result["diff"]) + str(err.value)
        assert "Liv3Secr3t" not in text and "N3wSecr3t" not in text
