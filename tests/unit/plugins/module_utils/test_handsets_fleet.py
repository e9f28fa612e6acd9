# -*- coding: utf-8 -*-
"""handsets/fleet.py on its own: registrations joined with the estate, NOTIFY targets, bulk re-sync."""
from __future__ import absolute_import, division, print_function

import asyncio

from ansible_collections.voipops.voip.plugins.module_utils import sip
from ansible_collections.voipops.voip.plugins.module_utils.callservers import kamailio
from ansible_collections.voipops.voip.plugins.module_utils.handsets import base, fleet, registrations
from ansible_collections.voipops.voip.roles.lab.files.phonesim import vendors

ESTATE = [
    {"name": "hs-1", "vendor": "Yealink", "model": "T54W", "mac": "00-15-65-00-00-01", "user": "1001", "site": "ams"},
    {"name": "hs-2", "vendor": "poly", "model": "VVX450", "mac": "64:16:7f:00:00:02", "user": 1002},
    {"name": "hs-3", "vendor": "snom", "model": "D785", "mac": "00:04:13:00:00:03", "user": "1003"},
    {"name": "hs-4", "vendor": "cisco", "model": "CP-8841-3PCC", "mac": "00:56:2b:00:00:04", "user": "1004",
     "address": "127.0.0.1:5999"},
]


def ua(vendor, model, version, mac):
    return vendors.user_agent(vendor, model, version, registrations.normalize_mac(mac))


def reg(user, port, user_agent, received=None, last=None):
    return {"aor": "sip:%s@voip.lab" % user, "contact": "sip:%s@127.0.0.1:%d" % (user, port), "user_agent": user_agent,
            "expires": 100, "received": received or "[not set]", "last_modified": last}


REGS = [
    reg("1001", 40001, ua("yealink", "T54W", "96.86.0.110", "00:15:65:00:00:01"), last=1000),
    reg("1002", 40002, ua("poly", "VVX450", "6.4.6.2410", "64:16:7f:00:00:02"), received="sip:10.0.0.2:5062"),
    reg("1003", 40003, "Linphone/5.2"),                      # a User-Agent no profile reads, on the desk phone's line
    reg("2999", 40004, ua("yealink", "T46S", "66.86.0.15", "80:5e:c0:00:00:09")),   # nobody's handset
]


def test_join_matches_by_user_and_user_agent():
    out = fleet.join(ESTATE, REGS, now=1010)
    by = dict((h["name"], h) for h in out["handsets"])
    assert by["hs-1"]["registered"] and by["hs-1"]["firmware"] == "96.86.0.110"
    assert by["hs-1"]["vendor"] == "yealink" and by["hs-1"]["mac"] == "00:15:65:00:00:01"
    assert by["hs-1"]["registered_for_s"] == 10
    assert by["hs-2"]["registered"] and by["hs-2"]["address"] == "10.0.0.2:5062"     # NAT: Kamailio's received
    # registered, User-Agent not recognised: never "not registered"
    assert by["hs-3"]["registered"] and by["hs-3"]["status"] == "ua_unrecognised" and by["hs-3"]["firmware"] is None
    assert by["hs-3"]["contacts"][0]["reason"] == "registered as 1003, User-Agent not recognised"
    assert by["hs-1"]["status"] == "matched" and by["hs-1"]["lines"] == [{"line": 1, "user": "1001", "registered": True}]
    assert not by["hs-4"]["registered"] and by["hs-4"]["status"] is None
    assert out["unregistered"] == ["hs-4"]
    unknown = dict((u["user"], u) for u in out["unknown"])
    assert set(unknown) == set(["2999"])
    assert "which no handset of the estate uses" in unknown["2999"]["reason"]
    assert out["summary"] == {"handsets": 4, "registered": 3, "unregistered": 1, "unknown_devices": 1,
                              "registrations": 4, "ua_unrecognised": 1, "device_mismatch": 0,
                              "firmware": {"yealink T54W 96.86.0.110": 1, "poly VVX450 6.4.6.2410": 1}}


def test_a_device_of_another_mac_is_not_the_handset_another_model_is_a_mismatch():
    # SIP User-Agents rarely show the MAC; when one does (HTTP-style UA) it must be the estate's
    other = vendors.user_agent("yealink", "T54W", "96.86.0.110", "00:15:65:00:00:99", kind="http")
    assert registrations.parse_user_agent(other)["mac"] == "00:15:65:00:00:99"
    out = fleet.join(ESTATE[:1], [reg("1001", 40001, other)])
    assert out["unregistered"] == ["hs-1"] and len(out["unknown"]) == 1
    assert "another MAC than the estate's handset hs-1" in out["unknown"][0]["reason"]
    # another model on the handset's line: the line is registered, by the wrong device (the audit's device_mismatch)
    out = fleet.join(ESTATE[:1], [reg("1001", 40001, ua("yealink", "T46S", "66.86.0.15", "00:15:65:00:00:01"))])
    assert out["unregistered"] == [] and out["unknown"] == []
    assert out["handsets"][0]["status"] == "device_mismatch" and out["summary"]["device_mismatch"] == 1


def test_resync_targets_contacts_addresses_and_skips():
    targets, skipped = fleet.resync_targets(ESTATE, REGS)
    by = dict((t["name"], t) for t in targets)
    assert by["hs-1"]["uri"] == "sip:1001@127.0.0.1:40001"
    assert by["hs-1"]["event"] == base.get_profile("yealink").notify_event("resync")
    assert by["hs-2"]["dest"] == "10.0.0.2:5062"
    assert by["hs-4"]["uri"] == "sip:1004@127.0.0.1:5999" and by["hs-4"]["dest"] is None   # not registered: its address
    assert by["hs-3"]["uri"] == "sip:1003@127.0.0.1:40003"     # registered with a User-Agent no profile reads
    assert skipped == []
    targets, skipped = fleet.resync_targets(ESTATE[2:3], [])
    assert skipped == [{"name": "hs-3", "reason": "not registered and no address given"}]
    targets, skipped = fleet.resync_targets(ESTATE, REGS, action="reboot", names=["hs-1", "hs-9"])
    assert [t["name"] for t in targets] == ["hs-1"]
    assert targets[0]["event"] == base.get_profile("yealink").notify_event("reboot")
    assert skipped == [{"name": "hs-9", "reason": "not in the handsets given"}]


def test_resync_sends_each_vendor_its_event():
    """Two real SIP endpoints on loopback: a Yealink-like one accepts only its event, the other is silent."""
    seen = []

    def handler(req, _source):
        seen.append(req.headers.get("event"))
        return sip.SipResponse.for_request(req, 200 if req.headers.get("event") == "check-sync" else 489)

    async def setup():
        return await sip.SipEndpoint.create("127.0.0.1", 0, handler=handler)

    loop = asyncio.new_event_loop()
    try:
        ep = loop.run_until_complete(setup())
        port = ep.local_addr[1]
        targets = [{"name": "a", "vendor": "yealink", "event": "check-sync", "uri": "sip:1@127.0.0.1:%d" % port, "dest": None},
                   {"name": "b", "vendor": "snom", "event": "bogus", "uri": "sip:2@127.0.0.1:%d" % port,
                    "dest": "127.0.0.1:%d" % port}]
        # resync runs its own loop: run it from a thread so this loop keeps serving the endpoint
        fut = loop.run_in_executor(None, fleet.resync, targets, 10, 2.0)
        results = loop.run_until_complete(fut)
        ep.close()
    finally:
        loop.close()
    assert [(r["name"], r["status"], r["code"]) for r in results][0] == ("a", "ok", 200)
    assert results[1]["code"] == 489 and results[1]["status"] != "ok"
    assert sorted(seen) == ["bogus", "check-sync"]
    assert fleet.resync([]) == []


def test_a_contact_kamailio_marks_deleted_is_not_registered():
    """What handset_info and handset_resync get: ul.dump through the driver (KamailioRPC.registrations())."""
    dump = {"Domains": [{"Domain": {"Domain": "location", "AoRs": [{"Info": {"AoR": "1001", "Contacts": [
        {"Contact": {"Address": REGS[0]["contact"], "Expires": "deleted", "User-Agent": REGS[0]["user_agent"]}}]}}]}}]}
    gone = kamailio.parse_ul_dump(dump)
    out = fleet.join(ESTATE[:1], gone)
    assert out["unregistered"] == ["hs-1"] and out["unknown"] == [] and out["summary"]["registrations"] == 0
    targets, skipped = fleet.resync_targets(ESTATE[:1], gone)
    assert targets == [] and skipped[0]["name"] == "hs-1"
