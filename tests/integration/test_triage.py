# -*- coding: utf-8 -*-
"""Triage of one extension against the real lab: one injected fault per step, each diagnosed right.

One lab for all of them (the session's); each test breaks one small thing and puts it back:
removed user, expired grant, DND on (callserver tables), phone switched off, wrong firmware, unregistered after a
MAC swap (phone simulator control; the new phone's boot requests to nginx), stale provisioning (the file changes
after the phone fetched it), gateway down (``lab_component.stop``).
"""
import datetime
import json
import os
import sqlite3
import time
import urllib.error
import urllib.request

import pytest

from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio import KamailioRPC
from ansible_collections.voipops.voip.roles.lab.files.phonesim import sim as phonesim, vendors

from conftest import ROOT, wait_for

pytestmark = [pytest.mark.lab]


def diagnose(ansible, lab, check=False, **target):
    args = {"estate": os.path.join(ROOT, "inventories", "lab", "estate.yml"),
            "endpoints_file": os.path.join(lab["state_dir"], "endpoints.json"),
            "provisioning_root": lab["provisioning"]["root"], "access_log": lab["provisioning"]["access_log"],
            "sip_timeout": 1.0}
    args.update(target)
    result = ansible.module("extension_diagnose", args, check=check)
    assert not result.get("failed"), result.get("msg") or result.get("_stderr")
    return result


def phone(lab, name):
    return [p for p in phonesim.control(lab["phones"]["state_dir"], "status")["phones"] if p["name"] == name][0]


def restart_phone(lab, name):
    """Boot a stopped phone again and wait until it is registered (it fetches its files on the way)."""
    phonesim.control(lab["phones"]["state_dir"], "start", name=name)
    wait_for(lambda: phone(lab, name)["state"] == "registered", 30, what="%s to register again" % name)


def status(result):
    return dict((s["name"], s["status"]) for s in result["steps"])


@pytest.fixture
def db(lab):
    conn = sqlite3.connect(lab["callserver"]["db_path"], timeout=10)
    yield conn
    conn.close()


@pytest.fixture
def managed_user(lab, db):
    """``managed_user("1002", "E1002", dnd="1")``: a lab subscriber gets a managed profile (the rows callserver_users
    writes: usr_preferences with the employee id) plus the given attributes; removed after the test."""
    made = []

    def make(extension, employee_id, **attrs):
        rows = [("voipops_id", employee_id), ("display_name", "Triage " + extension), ("cos", "national")]
        rows += sorted(attrs.items())
        with db:
            db.executemany("INSERT INTO usr_preferences (uuid, username, domain, attribute, type, value) VALUES (?,?,?,?,0,?)",
                           [(employee_id, extension, lab["domain"], a, str(v)) for a, v in rows])
        made.append(employee_id)
    yield make
    with db:
        for employee_id in made:
            db.execute("DELETE FROM usr_preferences WHERE uuid = ?", (employee_id,))


def test_a_healthy_extension_has_no_fault(ansible, lab):
    result = diagnose(ansible, lab, check=True, extension="1001")
    assert result["changed"] is False
    assert result["verdict"] == "no_fault_found", result["card"]
    assert result["handset"]["name"] == "hs-1001"
    assert set(status(result).values()) <= {"ok", "info"}
    assert result["evidence"]["firmware"]["running"] in ("96.86.0.100", "96.86.0.110")
    assert result["evidence"]["options"]["results"][0]["code"] == 200


# ---------------------------------------------------------------------------------------- 1. profile
def test_removed_user(ansible, lab, db):
    row = db.execute("SELECT username, domain, password, ha1, ha1b FROM subscriber WHERE username = '3001'").fetchone()
    assert row, "the lab has no subscriber 3001"
    with db:
        db.execute("DELETE FROM subscriber WHERE username = '3001'")
    try:
        result = diagnose(ansible, lab, handset="hs-3001")
    finally:
        with db:
            db.execute("INSERT INTO subscriber (username, domain, password, ha1, ha1b) VALUES (?,?,?,?,?)", row)
    assert result["cause"]["kind"] == "user_missing", result["card"]
    assert result["stopped_at"] == "profile" and status(result)["registration"] == "not_run"
    assert result["responsible"]["supplier"] == "administration"


def test_expired_grant(ansible, lab, managed_user):
    expired = int(time.time()) - 3600
    managed_user("1002", "E1002", cos_grant="international", cos_grant_until=expired)
    result = diagnose(ansible, lab, employee_id="E1002")
    assert result["target"]["extension"] == "1002"
    assert result["cause"]["kind"] == "grant_expired", result["card"]
    until = datetime.datetime.fromtimestamp(expired, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert until in result["cause"]["summary"]


def test_dnd_on(ansible, lab, managed_user):
    managed_user("1003", "E1003", dnd="1")
    result = diagnose(ansible, lab, extension="1003")
    assert result["cause"]["kind"] == "dnd_on", result["card"]
    assert any(line.startswith("Cause: [dnd_on]") for line in result["card"])


# ---------------------------------------------------------------------------------------- 2. handset
def test_phone_on_wrong_firmware(ansible, lab):
    before = phone(lab, "hs-1001")["firmware"]
    phonesim.control(lab["phones"]["state_dir"], "firmware", name="hs-1001", version="96.86.0.50")
    try:
        wait_for(lambda: any("96.86.0.50" in (c.get("user_agent") or "") for c in _contacts(lab, "1001")), 15,
                 what="the new User-Agent in the registration")
        result = diagnose(ansible, lab, mac="00-15-65-10-01-01")
    finally:
        phonesim.control(lab["phones"]["state_dir"], "firmware", name="hs-1001", version=before)
    assert result["cause"]["kind"] == "firmware_not_approved", result["card"]
    assert result["cause"]["component"] == "hs-1001" and "96.86.0.50" in result["cause"]["summary"]
    assert result["responsible"]["supplier"] == "phonecare" and result["responsible"]["priority"] == "P4"


def test_stale_provisioning(ansible, lab):
    path = os.path.join(lab["provisioning"]["root"], "000413100103.xml")   # hs-1003 (snom), account file
    st = os.stat(path)
    os.utime(path, None)            # the file changed now: after the phone last fetched it
    try:
        result = diagnose(ansible, lab, extension="1003")
    finally:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert result["cause"]["kind"] == "provisioning_stale", result["card"]
    assert result["stopped_at"] == "handset"
    assert result["evidence"]["provisioning"]["last_ok"]["user_agent"].startswith("Mozilla/4.0 (compatible; snomD785")


# ---------------------------------------------------------------------------------------- 3. registration
def test_phone_switched_off(ansible, lab):
    phonesim.control(lab["phones"]["state_dir"], "stop", name="hs-1002")
    try:
        result = diagnose(ansible, lab, extension="1002")
    finally:
        restart_phone(lab, "hs-1002")
    assert result["cause"]["kind"] == "not_registered", result["card"]
    assert result["cause"]["component"] == "hs-1002"
    assert status(result)["handset"] == "ok" and status(result)["reachability"] == "not_run"
    assert result["responsible"]["supplier"] == "phonecare" and result["responsible"]["priority"] == "P3"


def test_unregistered_after_a_mac_swap(ansible, lab):
    new_mac = "c0:74:ad:99:aa:01"
    phonesim.control(lab["phones"]["state_dir"], "stop", name="hs-1004")
    try:
        # the replacement phone boots: it asks the provisioning server for its own files, which do not exist
        ua = vendors.user_agent("grandstream", "GRP2614", "1.0.13.3", new_mac, kind="http")
        for name in vendors.boot_requests("grandstream", new_mac, "GRP2614"):
            req = urllib.request.Request(lab["provisioning"]["url"] + name, headers={"User-Agent": ua})
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(req, timeout=5)
            assert err.value.code == 404
        result = diagnose(ansible, lab, extension="1004")
    finally:
        restart_phone(lab, "hs-1004")
    assert result["cause"]["kind"] == "mac_swap", result["card"]
    assert new_mac in result["cause"]["summary"] and result["cause"]["component"] == "hs-1004"
    # the old phone back: it fetched its file after the stranger's request, which no longer counts
    again = diagnose(ansible, lab, extension="1004")
    assert again["verdict"] == "no_fault_found", again["card"]


# ---------------------------------------------------------------------------------------- 5. path
def test_gateway_down(ansible, lab, lab_component):
    lab_component.stop("mgw1-sip")
    result = diagnose(ansible, lab, extension="1001")
    assert result["cause"]["kind"] == "gateway_down", result["card"]
    assert result["cause"]["component"] == "mgw1"
    assert result["responsible"]["supplier"] == "acme" and result["responsible"]["priority"] == "P1"
    assert status(result)["registration"] == "ok" and status(result)["reachability"] == "ok"


# ---------------------------------------------------------------------------------------- the playbook
def test_playbook_prints_the_card_and_writes_json_in_check_mode(ansible, lab, tmp_path, managed_user):
    managed_user("1003", "E1003", dnd="1")
    rc, out, recap = ansible.playbook("playbooks/triage.yml", extra_vars={"extension": "1003", "triage_dest": str(tmp_path)},
                                      check=True, env={"ANSIBLE_VERBOSITY": "1"})
    assert rc == 0, out[-3000:]
    assert "Cause: [dnd_on]" in out and "1 profile      cause" in out      # the card, at -v
    assert "[dnd_on] do-not-disturb is on" in " ".join(out.split()) and "-> administration" in " ".join(out.split())
    with open(os.path.join(str(tmp_path), "triage-extension-1003.json")) as handle:
        data = json.load(handle)
    assert data["cause"]["kind"] == "dnd_on" and data["verdict"] == "cause" and "card" not in data
    both = {"extension": "1003", "mac": "x", "triage_dest": str(tmp_path)}
    rc, out, _recap = ansible.playbook("playbooks/triage.yml", extra_vars=both)
    assert rc != 0 and "give exactly one of" in out


def _contacts(lab, user):
    return [c for c in KamailioRPC(lab["callserver"]["rpc_url"]).registrations() if c["aor"].split("@")[0] == user]
