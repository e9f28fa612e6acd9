# -*- coding: utf-8 -*-
"""Handset releases with phones in calls, at scale, and taken back, against the real lab: 54 simulated phones of
five vendors register to Kamailio (which tracks calls with its dialog module), nginx serves the files.

- A phone in a call (a real call through Kamailio between two simulated phones) when its wave runs is deferred:
  not re-pointed, never sent a re-sync, counted apart by the gate; after the hang-up the rerun completes it.
- The whole release is reverted, wave by wave in reverse (check mode previews it; a second revert changes nothing).
- A good release over 50 phones in 3 waves: every phone on the target version.
"""
import json
import os
import shutil
import sqlite3

import pytest

from ansible_collections.voipops.voip.roles.lab.files.phonesim import sim as phonesim

from conftest import wait_for
from test_handsets import _password
from test_release_rollout import ALWAYS, ReleaseFleet, _files, newer

pytestmark = [pytest.mark.lab, pytest.mark.slow]

N = 54
FIRST_EXT = 7701
SUBDIR = "it-release-calls"


class CallFleet(ReleaseFleet):
    """rb-00001 .. rb-00054 (make_fleet's vendor mix), extensions 7701..7754, each pinned to the image it runs."""

    def __init__(self, lab, ansible, tmp):  # pylint: disable=super-init-not-called
        # Fleet's attributes, with this test's phones (ReleaseFleet's constructor fixes its own six)
        self.lab, self.ansible, self.tmp = lab, ansible, tmp
        self.access_log = lab["provisioning"]["access_log"]
        self.rpc_url = lab["callserver"]["rpc_url"]
        self.state_dir = os.path.join(tmp, "phonesim")
        self.proc = None
        self.root = os.path.join(lab["provisioning"]["root"], SUBDIR)
        self.url = lab["provisioning"]["url"] + SUBDIR + "/"
        self.phones = phonesim.make_fleet(N, first_extension=FIRST_EXT, prefix="rb")
        self.users = [{"extension": str(FIRST_EXT + i), "display_name": "Calls %d" % i, "sip_password": _password()}
                      for i in range(N)]
        self.by_name = dict((p["name"], p) for p in self.phones)
        self.users_file = os.path.join(tmp, "users.json")
        with open(self.users_file, "w") as handle:
            json.dump({"users": self.users}, handle)
        self.handsets_file = os.path.join(tmp, "handsets.json")
        with open(self.handsets_file, "w") as handle:
            json.dump({"handsets": self.estate}, handle)
        self.record_dir = os.path.join(tmp, "releases")

    def ctl(self, command, **args):
        return phonesim.control(self.state_dir, command, timeout=40, **args)

    def all_on(self, names, version_of, timeout=60):
        def ok():
            now = self.phones_now()
            return all(now[n]["state"] == "registered" and now[n]["firmware"] == version_of(n) for n in names) and now
        return wait_for(ok, timeout, what="%d phones registered on their expected version" % len(names))


@pytest.fixture(scope="module")
def cfleet(lab, ansible, tmp_path_factory):
    f = CallFleet(lab, ansible, str(tmp_path_factory.mktemp("release-calls")))
    shutil.rmtree(f.root, ignore_errors=True)
    f.add_subscribers()
    f.write_images()
    out = ansible.module("handset_provision", f.provision_args())
    assert out.get("changed") and not out.get("failed"), out
    f.start()
    try:
        f.wait_registered(N, timeout=120)
        yield f
    finally:
        f.stop()
        with sqlite3.connect(lab["callserver"]["db_path"], timeout=10) as db:
            db.execute("DELETE FROM subscriber WHERE CAST(username AS INTEGER) BETWEEN ? AND ?",
                       (FIRST_EXT, FIRST_EXT + N - 1))
        shutil.rmtree(f.root, ignore_errors=True)


def test_a_phone_in_a_call_is_deferred_then_done_after_the_hangup_and_the_release_is_reverted(cfleet, ansible):
    first, busy, third, partner = "rb-00051", "rb-00052", "rb-00053", "rb-00054"
    path = cfleet.release("it-defer", [first, busy, third], canary=1, then=("100%",), timeout="30s")
    args = cfleet.release_args(path)
    before = dict((n, cfleet.by_name[n]["running_firmware"]) for n in (first, busy, third))

    # a real call through Kamailio: the partner (outside the release) calls the busy phone, which answers
    placed = cfleet.ctl("call", name=partner, number=cfleet.by_name[busy]["user"])
    assert placed["call"]["state"] == "confirmed" and placed["in_call"] is True, placed["call"]
    assert wait_for(lambda: cfleet.phones_now()[busy]["in_call"], 10, what="the callee in its call")

    out = ansible.module("handset_release", args)
    assert not out["failed"], out
    assert out["verdict"] == "passed" and out["status"] == "in_progress" and out["waves_run"] == [1, 2]
    assert out["deferred"] == [busy]
    assert out["gate"]["deferred"] == [busy] and out["gate"]["counted"] == 1 and out["gate"]["passed"] is True
    assert out["targets"][busy]["state"] == "deferred" and out["targets"][busy]["before"] == before[busy]
    phones = cfleet.all_on([first, third], lambda n: newer(before[n]))
    assert phones[busy]["firmware"] == before[busy] and phones[busy]["events"] == []      # never sent a re-sync
    assert phones[busy]["in_call"] is True and phones[busy]["reboots"] == 0
    rec = cfleet.record("it-defer")
    assert rec["targets"][busy]["state"] == "deferred" and rec["targets"][busy]["outcome"] == "deferred"
    assert rec["targets"][busy]["calls"] == [placed["call"]["call_id"]]
    assert [w["state"] for w in rec["waves"]] == ["done", "done"]
    page = open(os.path.join(cfleet.record_dir, "it-defer.md")).read()
    assert "1 deferred (in a call: %s)" % busy in page and "Status: **in_progress**" in page

    # still in the call: a rerun leaves it alone
    still = ansible.module("handset_release", args)
    assert not still["failed"] and still["changed"] is False and still["deferred"] == [busy], still
    assert cfleet.phones_now()[busy]["events"] == []

    hung = cfleet.ctl("hangup", name=partner)
    assert hung["ended"] == [placed["call"]["call_id"]] and hung["in_call"] is False
    done = ansible.module("handset_release", args)
    assert not done["failed"], done
    assert done["retried"] == [busy] and done["deferred"] == [] and done["status"] == "done"
    assert done["targets"][busy]["state"] == "done" and done["targets"][busy]["after"] == newer(before[busy])
    cfleet.all_on([busy], lambda n: newer(before[n]))
    rec = cfleet.record("it-defer")
    assert rec["waves"][1]["passes"][0]["names"] == [busy] and rec["waves"][1]["passes"][0]["passed"] is True
    again = ansible.module("handset_release", args)
    assert not again["failed"] and again["changed"] is False and again["status"] == "done"

    # the whole release taken back: check mode previews the moves (last wave first) and writes nothing
    files = _files(cfleet.root)
    revert_args = dict(args, action="revert")
    plan = ansible.module("handset_release", revert_args, check=True, diff=True)
    assert not plan["failed"] and plan["changed"] is True, plan
    assert [(m["wave"], m["name"], m["to"]) for m in plan["moves"]] == \
        [(2, busy, before[busy]), (2, third, before[third]), (1, first, before[first])]
    assert _files(cfleet.root) == files and cfleet.record("it-defer")["status"] == "done"
    back = ansible.module("handset_release", revert_args)
    assert not back["failed"], back
    assert back["verdict"] == "reverted" and back["status"] == "reverted" and back["reverted_waves"] == [2, 1]
    assert back["revert_failed"] == {}
    cfleet.all_on([first, busy, third], lambda n: before[n])
    rec = cfleet.record("it-defer")
    assert rec["status"] == "reverted" and all(rec["targets"][n]["state"] == "reverted" for n in before)
    assert [w["state"] for w in rec["waves"]] == ["reverted", "reverted"]
    twice = ansible.module("handset_release", revert_args)
    assert not twice["failed"] and twice["changed"] is False and twice["verdict"] == "reverted", twice
    rerun = ansible.module("handset_release", args)
    assert not rerun["failed"] and rerun["changed"] is False and rerun["verdict"] == "reverted"
    assert cfleet.phones_now()[partner]["events"] == []          # outside the release: never touched


def test_a_good_release_over_fifty_phones_in_three_waves_puts_every_phone_on_its_target(cfleet, ansible):
    names = ["rb-%05d" % (i + 1) for i in range(50)]
    path = cfleet.release("it-fifty", names, canary=5, then=("40%",), timeout="90s", window=ALWAYS)
    out = ansible.module("handset_release", cfleet.release_args(path), timeout=600)
    assert not out["failed"], out
    assert out["status"] == "done" and out["verdict"] == "passed" and out["waves_run"] == [1, 2, 3]
    assert [len(w["names"]) for w in out["waves"]] == [5, 20, 25]
    assert all(w["gate"]["passed"] and w["gate"]["share"] == 1.0 for w in out["waves"])
    assert out["failed_targets"] == {} and out["deferred"] == []
    assert all(t["after"] == t["to"] and t["state"] == "done" for t in out["targets"].values())
    phones = cfleet.all_on(names, lambda n: newer(cfleet.by_name[n]["running_firmware"]))
    assert all(len([u for u in phones[n]["upgrades"] if u["result"] == "ok"]) == 1 for n in names)
    assert phones["rb-00054"]["events"] == [] and phones["rb-00054"]["firmware"] == \
        cfleet.by_name["rb-00054"]["running_firmware"]                  # outside the release: never touched


def test_the_role_previews_a_whole_release_revert_in_check_mode(cfleet, ansible):
    """release_rollout_action=revert (what the AWX revert template passes) reaches the module: check mode lists every
    phone of the 50-phone release going back, last wave first, and changes nothing."""
    path = os.path.join(cfleet.tmp, "it-fifty.yml")
    extra = {"release_file": path, "release_rollout_action": "revert", "release_rollout_record_dir": cfleet.record_dir,
             "release_rollout_handsets_file": cfleet.handsets_file, "release_rollout_users_file": cfleet.users_file,
             "release_rollout_rpc_url": cfleet.rpc_url, "release_rollout_poll_interval": 0.3,
             "release_rollout_provisioning": dict((k, v) for k, v in cfleet.provision_args().items()
                                                  if k not in ("handsets", "users_file"))}
    before = cfleet.record("it-fifty")
    files = _files(cfleet.root)
    rc, out, recap = ansible.playbook("playbooks/release_rollout.yml", extra_vars=extra, check=True, diff=True)
    assert rc == 0, out[-4000:]
    last = "rb-%05d" % 50
    assert "%s: %s" % (last, cfleet.by_name[last]["running_firmware"]) in out          # the diff: back to the old one
    assert "(reverted)" in out and recap["localhost"]["failed"] == 0
    assert cfleet.record("it-fifty") == before and _files(cfleet.root) == files


def test_the_lab_s_phones_call_each_other_through_kamailio_in_every_answer_mode(lab):
    """What other tests build calls on: a lab phone calls another through Kamailio (digest auth on the INVITE); the
    callee answers by its answer mode; an answered call is a dialog in Kamailio until the hang-up."""
    from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio import KamailioRPC
    state = lab["phones"]["state_dir"]
    rpc = KamailioRPC(lab["callserver"]["rpc_url"])

    def ctl(command, **args):
        return phonesim.control(state, command, timeout=40, **args)

    phones = dict((p["name"], p) for p in phonesim.read_status(state)["phones"])
    caller, callee = "hs-1001", "hs-1002"                     # a Yealink calls a Poly
    number = phones[callee]["user"]
    seen = {}
    try:
        for mode, extra in (("busy", {}), ("reject", {}), ("reject", {"code": 404}), ("dnd", {}),
                            ("noanswer", {"ring": 0.5})):
            ctl("answer_mode", name=callee, mode=mode, **extra)
            out = ctl("call", name=caller, number=number)["call"]
            seen[(mode, extra.get("code"))] = (out["outcome"], out["code"])
        ctl("answer_mode", name=callee, mode="answer")
        call = ctl("call", name=caller, number=number)["call"]
        dialogs = dict((c["call_id"], c) for c in rpc.active_calls())
        both = ctl("status")["phones"]
        hung = ctl("hangup", name=caller)
        ended = wait_for(lambda: call["call_id"] not in [c["call_id"] for c in rpc.active_calls()], 10,
                         what="the dialog to end in Kamailio")
        log = [p for p in ctl("status")["phones"] if p["name"] == callee][0]["call_log"]
    finally:
        ctl("answer_mode", name=callee, mode="answer")
        ctl("hangup", name=caller)
    assert seen == {("busy", None): ("refused", 486), ("reject", None): ("refused", 603),
                    ("reject", 404): ("refused", 404), ("dnd", None): ("refused", 486),     # Poly: busy for DND
                    ("noanswer", None): ("refused", 480)}
    assert call["state"] == "confirmed" and call["code"] == 200
    mine = dialogs[call["call_id"]]
    assert mine["state"] == "confirmed"
    assert mine["caller"]["contact"] == phones[caller]["contact"] and mine["callee"]["contact"] == phones[callee]["contact"]
    assert [p["in_call"] for p in both if p["name"] in (caller, callee)] == [True, True]
    assert hung["ended"] == [call["call_id"]] and hung["in_call"] is False and ended
    assert [c["outcome"] for c in log][-6:] == ["busy", "reject", "reject", "dnd", "no_answer", "hangup_remote"]
