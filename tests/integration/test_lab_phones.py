# -*- coding: utf-8 -*-
"""The lab's simulated phone fleet: every handset of the lab estate is provisioned by handset_provision,
runs as a simulated phone (tools/phonesim) and registers to the lab's Kamailio on an approved firmware;
the lab keeps it running (idempotent lab_up, restart after a crash) and tests can inject faults through
the phonesim control."""
import os

import pytest

from ansible_collections.voipops.voip.plugins.module_utils import estate as estate_mod
from ansible_collections.voipops.voip.roles.lab.files.phonesim import sim as phonesim, vendors
from ansible_collections.voipops.voip.plugins.module_utils.handsets import base, registrations

from conftest import ROOT, lab_up, read_endpoints, wait_for

pytestmark = [pytest.mark.lab]

ESTATE = os.path.join(ROOT, "inventories", "lab", "estate.yml")


@pytest.fixture(scope="module")
def estate():
    return estate_mod.load_estate(ESTATE)


def handsets_of(estate):
    return [dict((k, h.get(k)) for k in ("name", "mac", "vendor", "model", "user", "lines")) for h in estate.handsets]


def fleet_info(ansible, lab, estate):
    result = ansible.module("voipops.voip.handset_info", {"rpc_url": lab["callserver"]["rpc_url"],
                                                          "handsets": handsets_of(estate)})
    assert not result.get("failed"), result
    return result


def registered_names(ansible, lab, estate):
    return sorted(h["name"] for h in fleet_info(ansible, lab, estate)["handsets"] if h["registered"])


def test_every_estate_handset_registers_with_its_vendors_user_agent_on_an_approved_firmware(ansible, lab, estate):
    assert lab["phones"]["count"] == len(estate.handsets) and lab["pids"]["phones"]
    assert sorted(lab["phones"]["names"]) == sorted(h["name"] for h in estate.handsets)
    names = sorted(h["name"] for h in estate.handsets)
    wait_for(lambda: registered_names(ansible, lab, estate) == names, 30, what="every estate handset registered")
    info = fleet_info(ansible, lab, estate)
    assert info["unregistered"] == []
    for h in info["handsets"]:
        rec = estate.component(h["name"])
        parsed = registrations.parse_user_agent(h["user_agent"])
        # the User-Agent is the vendor's own, naming the estate's model (and MAC where the vendor shows it)
        assert parsed and parsed["vendor"] == rec["vendor"], h
        profile = base.get_profile(rec["vendor"])
        assert profile.canonical_model(parsed["model"]) == profile.canonical_model(rec["model"]), h
        approved = estate.approved_versions(rec["vendor"], rec["model"])
        if approved is not None:
            assert h["firmware"] in approved, h
    # the phones fetched their files from the lab's nginx with their vendors' HTTP User-Agents
    with open(lab["provisioning"]["access_log"]) as handle:
        log = handle.read()
    for rec in estate.handsets:
        profile = base.get_profile(rec["vendor"])
        assert vendors.user_agent(rec["vendor"], profile.canonical_model(rec["model"]), info_firmware(info, rec["name"]),
                                  rec["mac"], kind="http") in log, rec["name"]


def info_firmware(info, name):
    return [h for h in info["handsets"] if h["name"] == name][0]["firmware"]


def test_lab_up_again_changes_nothing(ansible, lab):
    recap = lab_up(ansible)
    assert recap["localhost"]["changed"] == 0, recap
    assert read_endpoints()["pids"]["phones"] == lab["pids"]["phones"]


def test_control_stop_start_firmware_and_an_unknown_device(ansible, lab, estate):
    state_dir = lab["phones"]["state_dir"]
    victim = estate.handsets[0]
    others = sorted(h["name"] for h in estate.handsets[1:])
    phone = phonesim.control(state_dir, "stop", name=victim["name"])
    assert phone["state"] == "stopped"
    try:
        wait_for(lambda: registered_names(ansible, lab, estate) == others, 30,
                 what="%s unregistered, the others still registered" % victim["name"])
        # a stopped phone stays silent: it does not answer OPTIONS
        from ansible_collections.voipops.voip.plugins.module_utils import sip
        port = phonesim.read_status(state_dir) and [p for p in phonesim.read_status(state_dir)["phones"]
                                                    if p["name"] == victim["name"]][0]["port"]
        res = sip.run_sync(sip.probe_many(["sip:127.0.0.1:%d" % port], timeout=1.0))
        assert res[0]["status"] != "ok", res
    finally:
        phone = phonesim.control(state_dir, "start", name=victim["name"])
    assert phone["state"] == "registered"
    wait_for(lambda: victim["name"] in registered_names(ansible, lab, estate), 30, what="%s back" % victim["name"])

    # another firmware: the phone re-registers with the new User-Agent, the callserver sees the version
    profile = base.get_profile(victim["vendor"])
    before = info_firmware(fleet_info(ansible, lab, estate), victim["name"])
    other = "9.9.9.9" if profile.vendor != "yealink" else "96.86.0.99"
    try:
        phone = phonesim.control(state_dir, "firmware", name=victim["name"], version=other)
        assert phone["state"] == "registered" and other in phone["user_agent"]
        wait_for(lambda: info_firmware(fleet_info(ansible, lab, estate), victim["name"]) == other, 30,
                 what="firmware %s seen by the callserver" % other)
    finally:
        phonesim.control(state_dir, "firmware", name=victim["name"], version=before)
    wait_for(lambda: info_firmware(fleet_info(ansible, lab, estate), victim["name"]) == before, 30,
             what="firmware back to %s" % before)

    # an extra device the estate does not know, with valid credentials of a lab subscriber
    sub = lab["subscribers"][0]
    try:
        dev = phonesim.control(state_dir, "add", name="stray-softphone", user=sub["username"], password=sub["password"],
                               user_agent="Linphone/5.2.0 (belle-sip/5.2.0)")
        assert dev["state"] == "registered", dev
        unknown = wait_for(lambda: [u for u in fleet_info(ansible, lab, estate)["unknown"]
                                    if "Linphone" in (u.get("user_agent") or "")], 30, what="the unknown device")
        assert unknown[0]["user"] == sub["username"]
    finally:
        phonesim.control(state_dir, "remove", name="stray-softphone")
    wait_for(lambda: not fleet_info(ansible, lab, estate)["unknown"], 30, what="the unknown device gone")
    with pytest.raises(phonesim.ControlError, match="no phone named"):
        phonesim.control(state_dir, "stop", name="no-such-phone")


def test_a_killed_fleet_is_restarted_by_lab_up_and_registers_again(ansible, lab, estate, lab_component):
    old = lab_component.stop("phones")
    assert phonesim.running_pid(lab["phones"]["state_dir"]) is None
    lab_component.restore()
    new = read_endpoints()["pids"]["phones"]
    assert new and new != old
    names = sorted(h["name"] for h in estate.handsets)
    wait_for(lambda: registered_names(ansible, lab, estate) == names, 30, what="every handset registered again")
    # the phones came back on their old ports: one contact per line, none left over from before the crash
    info = fleet_info(ansible, lab, estate)
    assert all(len(h["contacts"]) == len(h["lines"]) for h in info["handsets"]), info["handsets"]
    assert info["unknown"] == []
