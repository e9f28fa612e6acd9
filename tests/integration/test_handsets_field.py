# -*- coding: utf-8 -*-
"""Handsets as they are in the field, on the lab: a DECT base with two handsets and an ATA with two ports register
each line with the device's genuine User-Agent, and a handset whose User-Agent no profile reads is "registered,
User-Agent not recognised" -- the same answer from handset_info, the registrations inventory and the audit."""
import os

import pytest
import yaml

from ansible_collections.voipops.voip.plugins.inventory.registrations import registration_hosts
from ansible_collections.voipops.voip.plugins.module_utils import estate as estate_mod
from ansible_collections.voipops.voip.plugins.module_utils.audit import checks
from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio import KamailioRPC
from ansible_collections.voipops.voip.roles.lab.files.phonesim import sim as phonesim, vendors

from conftest import ROOT, wait_for

pytestmark = [pytest.mark.lab]

ESTATE = os.path.join(ROOT, "inventories", "lab", "estate.yml")


@pytest.fixture(scope="module")
def estate():
    return estate_mod.load_estate(ESTATE)


def info(ansible, lab, estate):
    handsets = [dict((k, h.get(k)) for k in ("name", "mac", "vendor", "model", "user", "lines")) for h in estate.handsets]
    result = ansible.module("voipops.voip.handset_info", {"rpc_url": lab["callserver"]["rpc_url"], "handsets": handsets})
    assert not result.get("failed"), result
    return result


def by_name(result):
    return dict((h["name"], h) for h in result["handsets"])


def test_a_dect_base_and_an_ata_register_every_line_with_their_genuine_user_agent(ansible, lab, estate):
    def all_lines():
        found = by_name(info(ansible, lab, estate))
        return found if all(line["registered"] for n in ("dect-1010", "ata-1020") for line in found[n]["lines"]) else None
    found = wait_for(all_lines, 30, what="every line of the DECT base and the ATA registered")
    table = vendors.forms()
    for name, sample in (("dect-1010", "Yealink W70B 146.85.0.20"), ("ata-1020", "Cisco ATA191-MPP/12.0.1")):
        dev, rec = found[name], estate.component(name)
        assert dev["status"] == "matched" and [line["user"] for line in dev["lines"]] == [l["user"] for l in rec["lines"]]
        # one device: one User-Agent (the table's form for its model, on its firmware) on every line's contact
        assert sorted(c["user"] for c in dev["contacts"]) == [l["user"] for l in rec["lines"]]
        assert set(c["user_agent"] for c in dev["contacts"]) == {sample} and sample in [f["ua"] for f in table]
        assert len(set(c["address"] for c in dev["contacts"])) == 1
    # the audit on the same live registrations: nothing to report on either device
    res = checks.from_registrations(KamailioRPC(lab["callserver"]["rpc_url"]).registrations(), estate, callserver="cs1")
    assert [f for f in res["findings"] if f["component"] in ("dect-1010", "ata-1020")] == []


def _password(lab, user):
    with open(os.path.join(lab["state_dir"], "secrets", user)) as handle:
        return handle.read().split()[0]


def test_an_unreadable_user_agent_is_registered_not_recognised_everywhere(ansible, lab, estate):
    with open(vendors.TABLE) as handle:
        unreadable = [f["ua"] for f in yaml.safe_load(handle)["unrecognised"] if "snom lid" in f["ua"]][0]
    state_dir = lab["phones"]["state_dir"]
    rpc = KamailioRPC(lab["callserver"]["rpc_url"])
    phonesim.control(state_dir, "stop", name="hs-1003")
    try:
        dev = phonesim.control(state_dir, "add", name="odd-1003", user="1003", password=_password(lab, "1003"),
                               user_agent=unreadable)
        assert dev["state"] == "registered", dev
        found = wait_for(lambda: [h for h in info(ansible, lab, estate)["handsets"]
                                  if h["name"] == "hs-1003" and h["registered"]], 30, what="hs-1003 registered again")
        assert found[0]["status"] == "ua_unrecognised" and found[0]["contacts"][0]["user_agent"] == unreadable
        joined = info(ansible, lab, estate)
        assert "hs-1003" not in joined["unregistered"] and not [u for u in joined["unknown"] if u["user"] == "1003"]
        contacts = rpc.registrations()
        hosts = registration_hosts(contacts, estate)
        assert hosts["hs-1003"]["voipops_registration"] == "ua_unrecognised" and hosts["hs-1003"]["voipops_known"]
        for result in (checks.from_registrations(contacts, estate, callserver="cs1"),
                       checks.from_handset_info(joined, estate, callserver="cs1")):
            mine = [(f["kind"], f["severity"]) for f in result["findings"] if f["component"] == "hs-1003"]
            assert mine == [("user_agent_not_recognised", "info")], result["findings"]
    finally:
        phonesim.control(state_dir, "remove", name="odd-1003")
        phonesim.control(state_dir, "start", name="hs-1003")
    wait_for(lambda: by_name(info(ansible, lab, estate))["hs-1003"]["status"] == "matched", 30,
             what="hs-1003 back on its own User-Agent")
