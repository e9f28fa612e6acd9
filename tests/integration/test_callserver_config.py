# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""callserver_config against the lab's real Kamailio: a good release (check mode, swap, gate, service gap,
idempotence), candidates that ``kamailio -c`` accepts but that cannot start (refused by the trial start, the running
Kamailio never restarts) and a candidate that starts but loses the registrations (rolled back by the gate).

The tests restart only the Kamailio of the test lab (``VOIPOPS_TEST_LAB_DIR``) through the lab's restart hook; the
module's end-of-tests fixture runs ``lab_up`` again, which puts the lab's own configuration back."""
from __future__ import absolute_import, division, print_function

import json
import os
import sys

import pytest

from tests.integration.conftest import LAB_DIR, ROOT, lab_up, wait_for
from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio import KamailioRPC

pytestmark = pytest.mark.lab

RESTART = [sys.executable, os.path.join(ROOT, "roles/lab/files/lab_restart.py"), os.path.join(LAB_DIR, "run/kamailio.pid")]


@pytest.fixture(scope="module")
def cs(lab, ansible):
    """The lab callserver; after the module's tests the lab's own configuration is rendered and started again."""
    with open(lab["callserver"]["cfg"]) as handle:
        original = handle.read()
    yield dict(lab["callserver"], original=original)
    lab_up(ansible)


def kamailio_pid():
    with open(os.path.join(LAB_DIR, "run/kamailio.pid.json")) as handle:
        return json.load(handle)["pid"]


def live_text(cs):
    with open(cs["cfg"]) as handle:
        return handle.read()


def release(ansible, cs, content, check=False, diff=False, **extra):
    args = dict(rpc_url=cs["rpc_url"], path=cs["cfg"], content=content, restart_command=RESTART,
                backup_dir=os.path.join(LAB_DIR, "kamailio/backups-test"), keep=2, gate_timeout=10)
    args.update(extra)
    return ansible.module("callserver_config", args, check=check, diff=diff)


def call_account(lab):
    """The gate's test call: a lab subscriber's account, a number the lab routes to the gateway group (9XXXX)."""
    acct = lab["subscribers"][0]
    return dict(test_call_number="90001", test_call_username=acct["username"], test_call_password=acct["password"],
                test_call_domain=lab["domain"])


def registrations(cs):
    return len(KamailioRPC(cs["rpc_url"]).registrations())


def test_good_release_check_mode_swap_gate_and_second_run(ansible, cs, lab, tmp_path):
    live = live_text(cs)
    candidate = live + "\n# release test: a good configuration\n"
    pid = kamailio_pid()

    checked = release(ansible, cs, candidate, check=True, diff=True)
    assert not checked["failed"], checked["msg"]
    assert checked["changed"] and checked["validation"]["check"] == "passed" and checked["validation"]["trial"]["ok"]
    assert live_text(cs) == live and kamailio_pid() == pid and not checked["restarted"]

    before = registrations(cs)
    records = tmp_path / "releases"
    done = release(ansible, cs, candidate, release_id="cfg-good", record_dir=str(records), **call_account(lab))
    assert not done["failed"], done["msg"]
    # the gate's test call went through the restarted callserver to a lab gateway, which answered it
    call = done["test_call"]
    assert call["placed"] and call["answered"] and (call["code"], call["target"]) == (200, "90001"), call
    assert done["gate"]["test_call"]["answered"] and "test call to 90001 answered" in done["msg"]
    assert lab["subscribers"][0]["password"] not in json.dumps(done)
    assert done["changed"] and done["restarted"] and done["gate"]["passed"] and not done["rolled_back"]
    assert live_text(cs) == candidate and kamailio_pid() != pid
    assert done["registrations_before"] == before and done["gate"]["registrations"] >= done["gate"]["registrations_needed"]
    assert done["service_gap_ms"] > 0  # a restart is a real gap: the probe measured it
    with open(done["backup"]) as handle:
        assert handle.read() == live
    # the release record: checksums before and after, the gate, the measured gap, 0600, and its page
    assert done["record"] == str(records / "cfg-good.json") and os.stat(done["record"]).st_mode & 0o777 == 0o600
    with open(done["record"]) as handle:
        rec = json.load(handle)
    target = rec["targets"][cs["cfg"]]
    assert (rec["kind"], rec["status"], target["before"], target["after"]) == (
        "callserver_config", "done", done["previous_checksum"], done["checksum"])
    assert rec["summary"]["service_gap_ms"] == done["service_gap_ms"] and rec["summary"]["gate"]["passed"]
    assert "service gap ms: %d" % done["service_gap_ms"] in (records / "cfg-good.md").read_text()
    assert rec["summary"]["test_call"]["answered"] and target["test_call"]["code"] == 200

    again = release(ansible, cs, candidate)
    assert not again["failed"] and not again["changed"] and not again["restarted"] and again["service_gap_ms"] == 0
    assert again["test_call"]["placed"] is False and "no test call configured" in again["test_call"]["reason"]


@pytest.mark.parametrize("breakage", ["missing database", "undefined route"])
def test_candidate_that_cannot_start_is_refused_before_the_live_instance(ansible, cs, breakage):
    live = live_text(cs)
    if breakage == "missing database":
        candidate = live.replace('#!define DBURL "sqlite://%s"' % cs["db_path"],
                                 '#!define DBURL "sqlite:///%s/no-such-dir/kamailio.db"' % LAB_DIR)
    else:
        candidate = live.replace("route(REQINIT);", "route(REQINIT);\n\troute(NO_SUCH_ROUTE);", 1)
    assert candidate != live
    pid = kamailio_pid()
    res = release(ansible, cs, candidate)
    assert res["failed"] and not res["changed"] and not res["restarted"]
    assert res["validation"]["check"] == "passed"  # kamailio -c accepts it ...
    assert res["validation"]["trial"] == "failed"  # ... the trial start does not
    assert ("no-such-dir" if breakage == "missing database" else 'route "NO_SUCH_ROUTE" not found') in res["msg"]
    assert res["service_gap_ms"] == 0 and res["backup"] is None
    assert live_text(cs) == live and kamailio_pid() == pid


def test_candidate_that_loses_registrations_is_rolled_back(ansible, cs):
    live = live_text(cs)
    before = wait_for(lambda: registrations(cs), what="registrations in the lab")
    # starts fine, but usrloc in db_mode 0 does not load the registrations from the database
    candidate = live.replace('modparam("usrloc", "db_mode", 2)', 'modparam("usrloc", "db_mode", 0)')
    assert candidate != live
    res = release(ansible, cs, candidate, gate_timeout=3)
    assert res["failed"] and res["restarted"] and res["rolled_back"]
    assert res["gate"]["passed"] is False and res["gate"]["registrations"] < res["gate"]["registrations_needed"]
    assert "rolled back" in res["msg"]
    assert res["rollback_gate"]["passed"]
    assert live_text(cs) == live
    assert registrations(cs) >= before


def test_candidate_that_breaks_routing_to_the_gateways_is_rolled_back_by_the_test_call(ansible, cs, lab, tmp_path):
    """Starts, answers OPTIONS and keeps every registration, but calls to the gateway group get 503 (dispatcher set
    7 does not exist): only the gate's test call sees it, and the previous configuration comes back by itself."""
    live = live_text(cs)
    candidate = live.replace('ds_select_dst("1", "4")', 'ds_select_dst("7", "4")')
    assert candidate != live
    records = tmp_path / "releases"
    res = release(ansible, cs, candidate, gate_timeout=3, release_id="cfg-routing", record_dir=str(records),
                  **call_account(lab))
    assert res["failed"] and res["restarted"] and res["rolled_back"], res["msg"]
    gate = res["gate"]
    assert gate["passed"] is False and gate["rpc"] and gate["options"]
    assert gate["registrations"] >= gate["registrations_needed"]  # registrations alone would have passed it
    assert (res["test_call"]["placed"], res["test_call"]["answered"], res["test_call"]["code"]) == (True, False, 503)
    assert "test call to 90001 not answered: rejected 503" in res["msg"] and "rolled back" in res["msg"]
    assert res["rollback_gate"]["passed"] and live_text(cs) == live
    with open(res["record"]) as handle:
        rec = json.load(handle)
    assert (rec["status"], rec["summary"]["verdict"], rec["summary"]["test_call"]["code"]) == ("halted", "rolled_back", 503)
    assert lab["subscribers"][0]["password"] not in json.dumps(res) + (records / "cfg-routing.md").read_text()
    # the previous configuration routes again: the same test call through the rolled-back callserver is answered
    from ansible_collections.voipops.voip.plugins.module_utils.release import config
    args = call_account(lab)
    call = config.test_caller(args["test_call_number"], args["test_call_username"], args["test_call_password"],
                              domain=args["test_call_domain"])("sip:%s:%d" % (cs["host"], cs["sip_port"]))
    assert call["answered"], call


def test_role_task_file(ansible, cs, tmp_path):
    """The role's callserver_config kind, as a play runs it: check mode validates and changes nothing; a refused
    candidate fails the play through the rescue that publishes the verdict."""
    live = live_text(cs)
    pid = kamailio_pid()
    good, bad = tmp_path / "good.cfg", tmp_path / "bad.cfg"
    good.write_text(live + "\n# role test\n")
    bad.write_text(live.replace("route(REQINIT);", "route(REQINIT);\n\troute(ROLE_NO_SUCH_ROUTE);", 1))
    play = tmp_path / "play.yml"
    play.write_text(json.dumps([{
        "hosts": "localhost", "gather_facts": False,
        "tasks": [{"ansible.builtin.include_role": {"name": "voipops.voip.release_rollout",
                                                    "tasks_from": "callserver_config"},
                   "vars": {"release_rollout_callserver_rpc_url": cs["rpc_url"],
                            "release_rollout_callserver_config_path": cs["cfg"],
                            "release_rollout_callserver_config_src": "{{ candidate }}",
                            "release_rollout_callserver_restart_command": RESTART,
                            "release_rollout_release": {"id": "cfg-role", "kind": "callserver_config"},
                            "release_rollout_record_dir": str(tmp_path / "releases")}}]}]))
    rc, out, recap = ansible.playbook(str(play), extra_vars={"candidate": str(good)}, check=True)
    assert rc == 0 and recap["localhost"]["changed"] == 1, out[-3000:]
    rc, out, recap = ansible.playbook(str(play), extra_vars={"candidate": str(bad)})
    assert rc != 0 and recap["localhost"]["failed"] == 1, out[-3000:]
    assert 'route \\"ROLE_NO_SUCH_ROUTE\\" not found' in out or 'route "ROLE_NO_SUCH_ROUTE" not found' in out
    assert live_text(cs) == live and kamailio_pid() == pid
    with open(str(tmp_path / "releases" / "cfg-role.json")) as handle:
        rec = json.load(handle)
    assert (rec["status"], rec["summary"]["verdict"], rec["summary"]["service_gap_ms"]) == ("halted", "refused", 0)
