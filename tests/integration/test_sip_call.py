# -*- coding: utf-8 -*-
"""Test calls against the real lab: sip_call through Kamailio (digest auth, the dispatcher's gateways, the
location service, DND from the callserver's own features) and straight to gateways; the triage's test call to
phones that answer, say busy, reject or ring (the phone simulator's answer modes)."""
import json
import os
import sqlite3

import pytest
import requests

from ansible_collections.voipops.voip.roles.lab.files.phonesim import sim as phonesim
from conftest import ROOT, free_udp_port

pytestmark = [pytest.mark.lab]


@pytest.fixture
def caller(lab, extra_subscriber):
    """A test-call account no phone uses, and the module arguments that call through the lab's callserver."""
    acct = extra_subscriber("1098")
    cs = lab["callserver"]
    return {"proxy": "%s:%d" % (cs["host"], cs["sip_port"]), "domain": lab["domain"], "username": acct["username"],
            "password": acct["password"], "hold": 0.2, "ring_timeout": 4.0}


@pytest.fixture
def answer_mode(lab):
    """``answer_mode("hs-1002", "busy")``: how a simulated phone answers INVITEs; back to ``answer`` after the test."""
    changed = []

    def set_mode(name, mode, **kw):
        phonesim.control(lab["phones"]["state_dir"], "answer_mode", name=name, mode=mode, **kw)
        changed.append(name)
    yield set_mode
    for name in changed:
        phonesim.control(lab["phones"]["state_dir"], "answer_mode", name=name, mode="answer")


def calls(ansible, args, check=False):
    result = ansible.module("sip_call", args, check=check)
    assert not result.get("failed"), result.get("msg") or result.get("_stderr")
    return result


def test_calls_through_the_callserver_reach_gateways_and_phones_and_an_unknown_number_is_404(ansible, lab, caller):
    gw = lab["gateways"][0]
    targets = ["90001", "1001", "7777", {"target": gw["sip_uri"].replace("sip:", "sip:90002@"), "name": gw["name"],
                                         "kind": "gateway", "direct": True}]
    result = calls(ansible, dict(caller, targets=targets), check=True)
    assert result["changed"] is False
    gwcall, phone, unknown, direct = result["calls"]
    # 9xxx: dispatcher set 1 -> a lab gateway (sipp) answers; the INVITE was challenged and re-sent with credentials
    assert (gwcall["classification"], gwcall["code"], gwcall["authenticated"], gwcall["bye_code"]) == ("answered", 200, True, 200)
    assert gwcall["via"] == "proxy" and gwcall["post_dial_delay_ms"] > 0 and gwcall["hangup"] == "local"
    # an extension: location lookup -> the simulated phone rings and answers
    assert phone["answered"] and phone["ringing"] and phone["bye_code"] == 200
    assert phone["server"].startswith("Yealink")
    assert (unknown["classification"], unknown["code"]) == ("rejected", 404)
    assert direct["answered"] and direct["via"] == "direct" and direct["name"] == gw["name"] and not direct["authenticated"]
    assert result["summary"]["answered"] == 3 and result["summary"]["by_classification"]["rejected"] == 1
    assert caller["password"] not in str(result)


def test_dnd_on_the_callserver_is_busy(ansible, lab, caller):
    with sqlite3.connect(lab["callserver"]["db_path"], timeout=10) as db:
        db.execute("INSERT INTO usr_preferences (uuid, username, domain, attribute, type, value) VALUES (?,?,?,?,0,?)",
                   ("h14b-dnd", "1003", lab["domain"], "dnd", "1"))
    try:
        (call,) = calls(ansible, dict(caller, targets=["1003"]))["calls"]
    finally:
        with sqlite3.connect(lab["callserver"]["db_path"], timeout=10) as db:
            db.execute("DELETE FROM usr_preferences WHERE uuid = 'h14b-dnd'")
    assert (call["classification"], call["code"]) == ("busy", 486) and "Do Not Disturb" in call["reason"]


def test_phone_answer_modes_and_a_dead_gateway(ansible, lab, caller, answer_mode):
    answer_mode("hs-1002", "busy")
    answer_mode("hs-1003", "reject", code=603)
    answer_mode("hs-1004", "noanswer")
    dead = free_udp_port()
    targets = ["1002", "1003", "1004", {"target": "sip:90001@127.0.0.1:%d" % dead, "name": "mgw9", "kind": "gateway",
                                        "direct": True}]
    busy, reject, ring, gone = calls(ansible, dict(caller, targets=targets, ring_timeout=1.5))["calls"]
    assert (busy["classification"], busy["code"]) == ("busy", 486)
    assert (reject["classification"], reject["code"]) == ("rejected", 603)
    assert (ring["classification"], ring["code"], ring["cancelled"], ring["ringing"]) == ("no_answer", 487, True, True)
    assert gone["classification"] == "unreachable" and gone["name"] == "mgw9"
    assert "127.0.0.1:%d refused" % dead in gone["error"]


def test_wrong_password_is_auth_failed_and_bad_input_names_the_target(ansible, lab, caller):
    (call,) = calls(ansible, dict(caller, password="not-the-password", targets=["90001"]))["calls"]
    assert call["classification"] == "auth_failed" and call["code"] in (401, 407)
    bad = ansible.module("sip_call", dict(caller, targets=["90001", {"target": "1001", "colour": "red"}]))
    assert bad["failed"] and "targets[1]: unknown key(s) colour" in bad["msg"]


# ---------------------------------------------------------------------------------------- triage step 4
def diagnose(ansible, lab, caller, extension):
    args = {"estate": os.path.join(ROOT, "inventories", "lab", "estate.yml"),
            "endpoints_file": os.path.join(lab["state_dir"], "endpoints.json"),
            "provisioning_root": lab["provisioning"]["root"], "access_log": lab["provisioning"]["access_log"],
            "sip_timeout": 1.0, "extension": extension, "test_call_username": caller["username"],
            "test_call_password": caller["password"], "test_call_ring_timeout": 2.0}
    result = ansible.module("extension_diagnose", args, check=True)
    assert not result.get("failed"), result.get("msg") or result.get("_stderr")
    assert caller["password"] not in str(result)
    return result


def step4(result):
    return [o for s in result["steps"] if s["name"] == "reachability" for o in s["observations"]]


def test_triage_test_call_answered_is_no_fault(ansible, lab, caller):
    result = diagnose(ansible, lab, caller, "1001")
    assert result["verdict"] == "no_fault_found", result["card"]
    kinds = [o["kind"] for o in step4(result)]
    assert kinds == ["options_answered", "test_call_answered"]
    assert result["evidence"]["test_call"]["call"]["code"] == 200 and result["not_done"] == []


def test_triage_phone_that_rejects_or_says_busy_is_the_cause(ansible, lab, caller, answer_mode):
    answer_mode("hs-1002", "reject", code=603)
    answer_mode("hs-1004", "busy")
    rejected = diagnose(ansible, lab, caller, "1002")
    assert rejected["cause"]["kind"] == "test_call_rejected", rejected["card"]
    assert "rejected by the phone with 603" in rejected["cause"]["summary"] and rejected["stopped_at"] == "reachability"
    assert rejected["cause"]["component"] == "hs-1002" and rejected["responsible"]["supplier"]
    busy = diagnose(ansible, lab, caller, "1004")
    assert busy["cause"]["kind"] == "test_call_busy", busy["card"]


def test_triage_without_a_test_call_account_says_so(ansible, lab):
    args = {"estate": os.path.join(ROOT, "inventories", "lab", "estate.yml"),
            "endpoints_file": os.path.join(lab["state_dir"], "endpoints.json"), "extension": "1001", "sip_timeout": 1.0}
    result = ansible.module("extension_diagnose", args)
    assert any("no test-call account" in n for n in result["not_done"])


# ---------------------------------------------------------------------------------------- the health audit
@pytest.fixture
def rtp_loss(lab):
    """``rtp_loss("mgw1", 0.2)``: the lab gateway simulator drops that share of the RTP it echoes; 0 after the test."""
    urls = []

    def set_loss(name, share):
        urls.append(lab["gateway_management"]["gateways"][name]["sim_url"])
        requests.post(urls[-1] + "/control", json={"rtp_loss": share}, timeout=5).raise_for_status()
    yield set_loss
    for url in urls:
        requests.post(url + "/control", json={"rtp_loss": 0}, timeout=5).raise_for_status()


def test_health_audit_test_calls(ansible, lab, caller, answer_mode, rtp_loss, tmp_path):
    """One audit with test calls: both gateways answer straight, with RTP (health_audit_test_call_media's default),
    and mgw1 drops a fifth of it (the simulator's rtp_loss); gateway group "external" (9xxx) answers through the
    callserver, group "national" (0xxx) fails because the test account has no national class of service (403); of the
    two phones sampled, hs-1001 rejects calls."""
    answer_mode("hs-1001", "reject", code=603)
    rtp_loss("mgw1", 0.2)
    inv = tmp_path / "lab.estate.yml"
    inv.write_text("plugin: voipops.voip.estate\nestate_file: %s\nendpoints_file: %s\nhandsets: none\n" % (
        os.path.join(ROOT, "inventories", "lab", "estate.yml"), os.path.join(lab["state_dir"], "endpoints.json")))
    dest = tmp_path / "audit"
    extra = {"health_audit_dest": str(dest), "health_audit_fail_on_priority": "none", "health_audit_history": "",
             # a busy test machine can delay packets: this test is about loss, so jitter may be anything
             "health_audit_thresholds": {"cpu_warning": 101, "cpu_critical": 101, "media_jitter_warning_ms": 1000},
             "health_audit_test_call_username": caller["username"], "health_audit_test_call_password": caller["password"],
             "health_audit_test_call_groups": [{"name": "external", "number": "90001"},
                                               {"name": "national", "number": "0201234567"}],
             "health_audit_test_call_phones": 2, "health_audit_test_call_ring_timeout": 2.0,
             "health_audit_test_call_hold": 0.2}
    rc, out, _recap = ansible.playbook("playbooks/health_audit.yml", extra_vars=extra,
                                       inventory=[str(inv), os.path.join(ROOT, "inventories/lab/hosts.yml")])
    assert rc == 0, out[-4000:]
    with open(os.path.join(str(dest), "health_audit.json")) as handle:
        report = json.load(handle)
    check = [c for c in report["checks"] if c["name"] == "test_calls"][0]
    assert set(check["checked"]) >= {"mgw1", "mgw2", "cs1", "hs-1001", "hs-1002"}, check
    found = sorted((f["component"], f["kind"]) for f in report["findings"] if f["check"] == "test_calls")
    assert found == [("cs1", "group_call_failed_national"), ("hs-1001", "call_failed"), ("mgw1", "media_degraded")], found
    media = [f for f in report["findings"] if f["kind"] == "media_degraded"][0]
    assert 15.0 <= media["details"]["media"]["loss_pct"] <= 25.0 and media["details"]["media"]["echoed"] is True, media
    assert "loss " in media["summary"] and "MOS" in media["summary"] and media["severity"] == "minor"
    national = [f for f in report["findings"] if f["kind"] == "group_call_failed_national"][0]
    assert "403" in national["summary"] and national["severity"] == "critical"
    phone = [f for f in report["findings"] if f["component"] == "hs-1001" and f["check"] == "test_calls"][0]
    assert "603" in phone["summary"]
    for name in os.listdir(str(dest)):
        with open(os.path.join(str(dest), name), "rb") as handle:
            assert caller["password"].encode() not in handle.read(), name
    assert caller["password"] not in out


def test_health_audit_without_a_test_call_account_places_no_call(ansible, lab, tmp_path):
    inv = tmp_path / "lab.estate.yml"
    inv.write_text("plugin: voipops.voip.estate\nestate_file: %s\nendpoints_file: %s\nhandsets: none\n" % (
        os.path.join(ROOT, "inventories", "lab", "estate.yml"), os.path.join(lab["state_dir"], "endpoints.json")))
    dest = tmp_path / "audit"
    rc, out, _recap = ansible.playbook("playbooks/health_audit.yml", extra_vars={
        "health_audit_dest": str(dest), "health_audit_fail_on_priority": "none", "health_audit_history": ""},
        inventory=[str(inv), os.path.join(ROOT, "inventories/lab/hosts.yml")], env={"VOIPOPS_TEST_CALL_USERNAME": ""})
    assert rc == 0, out[-4000:]
    assert "skipping: [localhost]" in out.split("TASK [voipops.voip.health_audit : Test calls")[1].split("TASK [")[0]
    with open(os.path.join(str(dest), "health_audit.json")) as handle:
        assert "test_calls" not in [c["name"] for c in json.load(handle)["checks"]]


class _RecordingProxy(object):
    """A SIP "proxy" on a UDP port of the test's own: it records each request and answers an INVITE 503 (RFC 3261
    8.2.6: the response copies Via, From, To, Call-ID and CSeq), so the audit's calls through it fail at once."""

    def __init__(self):
        import socket
        import threading
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.requests = []
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        import socket
        while not self.stop:
            try:
                data, peer = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            text = data.decode("utf-8", "replace")
            self.requests.append(text)
            if not text.startswith("INVITE "):
                continue
            head = text.split("\r\n\r\n", 1)[0].split("\r\n")
            copied = [h for h in head[1:]
                      if h.split(":", 1)[0].strip().lower() in ("via", "v", "from", "f", "to", "t", "call-id", "i", "cseq")]
            self.sock.sendto(("SIP/2.0 503 Service Unavailable\r\n%s\r\nContent-Length: 0\r\n\r\n"
                              % "\r\n".join(copied)).encode(), peer)

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.sock.close()


def test_the_audit_takes_the_test_call_account_and_proxy_from_the_environment(ansible, lab, caller, tmp_path):
    """The AWX test-call credential injects VOIPOPS_TEST_CALL_USERNAME/_PASSWORD/_PROXY: the audit's calls through the
    callserver go to that proxy (here a recording one that answers 503), the gateways are still called straight, and
    the password reaches neither the job output nor the reports."""
    proxy = _RecordingProxy()
    try:
        inv = tmp_path / "lab.estate.yml"
        inv.write_text("plugin: voipops.voip.estate\nestate_file: %s\nendpoints_file: %s\nhandsets: none\n" % (
            os.path.join(ROOT, "inventories", "lab", "estate.yml"), os.path.join(lab["state_dir"], "endpoints.json")))
        dest = tmp_path / "audit"
        extra = {"health_audit_dest": str(dest), "health_audit_fail_on_priority": "none", "health_audit_history": "",
                 "health_audit_thresholds": {"cpu_warning": 101, "cpu_critical": 101, "media_jitter_warning_ms": 1000},
                 "health_audit_test_call_groups": [{"name": "external", "number": "90001"}],
                 "health_audit_test_call_phones": 1, "health_audit_test_call_ring_timeout": 2.0,
                 "health_audit_test_call_hold": 0.2, "health_audit_test_call_media": False}
        rc, out, _recap = ansible.playbook(
            "playbooks/health_audit.yml", extra_vars=extra,
            inventory=[str(inv), os.path.join(ROOT, "inventories/lab/hosts.yml")],
            env={"VOIPOPS_TEST_CALL_USERNAME": caller["username"], "VOIPOPS_TEST_CALL_PASSWORD": caller["password"],
                 "VOIPOPS_TEST_CALL_PROXY": "127.0.0.1:%d" % proxy.port})
    finally:
        proxy.close()
    assert rc == 0, out[-4000:]
    invites = [r for r in proxy.requests if r.startswith("INVITE ")]
    # the group and the sampled phone were called through the proxy from the environment, as the account from it
    assert any(r.startswith("INVITE sip:90001@") for r in invites), proxy.requests[:3]
    assert len(invites) >= 2 and all(caller["username"] in r.split("\r\nFrom:", 1)[1].split("\r\n")[0]
                                     for r in invites if "\r\nFrom:" in r), invites[:2]
    with open(os.path.join(str(dest), "health_audit.json")) as handle:
        report = json.load(handle)
    found = sorted((f["component"], f["kind"]) for f in report["findings"] if f["check"] == "test_calls")
    # through the recording proxy every call got 503; the gateways, called straight, answered
    assert [c for c, _k in found if c in ("mgw1", "mgw2")] == [], found
    assert any(c == "cs1" and "external" in k for c, k in found), found
    assert caller["password"] not in out
    for name in os.listdir(str(dest)):
        with open(os.path.join(str(dest), name), "rb") as handle:
            assert caller["password"].encode() not in handle.read(), name
