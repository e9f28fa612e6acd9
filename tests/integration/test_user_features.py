# -*- coding: utf-8 -*-
"""User mutations against the real lab: Kamailio enforces what callserver_users wrote, proven with sipp calls.

Users live in 27xx (site ams) so they never collide with the lab's seed subscribers or other tests.
"""
import datetime
import json
import os
import subprocess
import time

import pytest

from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio import KamailioRPC
from conftest import free_udp_port

pytestmark = pytest.mark.lab
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NUMBERPLAN = os.path.join(ROOT, "inventories/lab/estate.yml")

INVITE_HEAD = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="voipops uac expecting %(code)s">
  <send retrans="500"><![CDATA[

      INVITE sip:[service]@[field1] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[field1]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[field1]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:[field0]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=phone 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8

    ]]></send>
  <recv response="100" optional="true"/>
  <recv response="407" auth="true"/>
  <send><![CDATA[

      ACK sip:[service]@[field1] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-1]
      From: <sip:[field0]@[field1]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[field1]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]></send>
  <send retrans="500"><![CDATA[

      INVITE sip:[service]@[field1] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[field1]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[field1]>
      Call-ID: [call_id]
      CSeq: 2 INVITE
      Contact: <sip:[field0]@[local_ip]:[local_port]>
      [field2]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=phone 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8

    ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
"""

FINAL_OK = """  <recv response="200" rrs="true"/>
  <send><![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: <sip:[field0]@[field1]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[field1]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]></send>
  <pause milliseconds="200"/>
  <send retrans="500"><![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: <sip:[field0]@[field1]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[field1]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 3 BYE
      Max-Forwards: 70
      Content-Length: 0

    ]]></send>
  <recv response="200"/>
</scenario>
"""

FINAL_ERR = """  <recv response="%(code)s">%(check)s</recv>
  <send><![CDATA[

      ACK sip:[service]@[field1] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-1]
      From: <sip:[field0]@[field1]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[field1]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]></send>
</scenario>
"""


def call(lab, tmp_path, caller, password, number, expect, contact_has=None):
    """One real call with sipp from ``caller`` to ``number``; True when the final answer is ``expect``."""
    check = ""
    tail = ""
    if contact_has:
        check = ('<action><ereg regexp="%s" search_in="hdr" header="Contact:" check_it="true" assign_to="1"/></action>'
                 % contact_has)
    tail = '  <Reference variables="1"/>\n' if contact_has else ""
    xml = INVITE_HEAD % {"code": expect} + (FINAL_OK if expect == 200 else FINAL_ERR % {"code": expect, "check": check})
    xml = xml.replace("</scenario>", tail + "</scenario>")
    scen = tmp_path / ("uac_%s_%s.xml" % (number, expect))
    scen.write_text(xml)
    inf = tmp_path / "caller.csv"
    inf.write_text("SEQUENTIAL\n%s;%s;[authentication username=%s password=%s]\n" % (caller, lab["domain"], caller, password))
    cmd = ["sipp", "127.0.0.1:%d" % lab["callserver"]["sip_port"], "-sf", str(scen), "-inf", str(inf), "-s", number,
           "-m", "1", "-i", "127.0.0.1", "-p", str(free_udp_port()), "-nostdin", "-timeout", "15s", "-timeout_error",
           "-trace_err", "-error_file", str(tmp_path / "sipp-errors.log")]
    proc = subprocess.run(cmd, cwd=str(tmp_path), capture_output=True, text=True, timeout=40, check=False)
    if proc.returncode != 0:
        err = (tmp_path / "sipp-errors.log").read_text()[-3000:] if (tmp_path / "sipp-errors.log").exists() else ""
        print("sipp rc=%d calling %s expecting %s\n%s\n%s" % (proc.returncode, number, expect, proc.stdout[-1500:], err))
    return proc.returncode == 0


def register(lab, tmp_path, user, password):
    inf = tmp_path / "reg.csv"
    inf.write_text("SEQUENTIAL\n%s;%s;[authentication username=%s password=%s]\n" % (user, lab["domain"], user, password))
    cmd = ["sipp", "127.0.0.1:%d" % lab["callserver"]["sip_port"], "-sf", os.path.join(ROOT, "roles/lab/files/register.xml"),
           "-inf", str(inf), "-m", "1", "-i", "127.0.0.1", "-p", str(free_udp_port()), "-nostdin", "-timeout", "15s",
           "-timeout_error"]
    return subprocess.run(cmd, cwd=str(tmp_path), capture_output=True, text=True, timeout=40, check=False).returncode == 0


def utc(offset_s):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset_s)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def users(lab, ansible, tmp_path_factory):
    """Four managed users created with the module; their generated passwords from credentials_file."""
    tmp = tmp_path_factory.mktemp("users")
    cred = str(tmp / "cred.json")
    base = {"db_url": lab["callserver"]["db_url"], "rpc_url": lab["callserver"]["rpc_url"], "domain": lab["domain"],
            "numberplan": NUMBERPLAN, "credentials_file": cred, "audit_log": str(tmp / "audit.jsonl"), "actor": "pytest"}
    config = [
        {"id": "IT-2701", "name": "National Nina", "site": "ams", "extension": "2701", "class_of_service": "national",
         "aliases": ["+31201234701"]},
        {"id": "IT-2702", "name": "Internal Ivo", "site": "ams", "extension": "2702", "class_of_service": "internal"},
        {"id": "IT-2703", "name": "Dnd Dora", "site": "ams", "extension": "2703", "class_of_service": "internal",
         "features": [{"name": "dnd"}]},
        {"id": "IT-2704", "name": "Forward Fred", "site": "ams", "extension": "2704", "class_of_service": "internal",
         "features": [{"name": "cfu", "target": "2702"}]},
    ]
    # calls to 0... numbers need a live gateway: after a (re)start Kamailio marks them active on the first OPTIONS
    rpc = KamailioRPC(lab["callserver"]["rpc_url"])
    deadline = time.time() + 30
    while time.time() < deadline and not any(g["state"] == "active" and "P" in g["flags"] for g in rpc.dispatcher()):
        time.sleep(0.5)
    # start clean (a previous session may have left them), then create
    ansible.module("callserver_users", dict(base, state="deleted", config=[{"id": c["id"]} for c in config]))
    res = ansible.module("callserver_users", dict(base, state="merged", config=config))
    assert not res["failed"], res
    again = ansible.module("callserver_users", dict(base, state="merged", config=config))
    assert again["changed"] is False, again.get("commands")
    with open(cred) as handle:
        pw = dict((c["username"], c["password"]) for c in json.load(handle))
    yield {"base": base, "pw": pw, "config": config, "tmp": tmp}
    ansible.module("callserver_users", dict(base, state="deleted", config=[{"id": c["id"]} for c in config]))


def test_class_of_service_is_enforced_by_kamailio(lab, users, tmp_path):
    pw = users["pw"]
    assert call(lab, tmp_path, "2702", pw["2702"], "0201234567", 403)        # internal may not call national
    assert call(lab, tmp_path, "2701", pw["2701"], "0201234567", 200)        # national reaches the gateway
    assert call(lab, tmp_path, "2701", pw["2701"], "0031201234567", 403)     # ... but not international


def test_temporary_grant_works_then_expires_without_any_playbook(lab, users, ansible, tmp_path):
    pw = users["pw"]
    until = utc(10)
    res = ansible.module("callserver_users", dict(users["base"], state="merged", config=[
        {"id": "IT-2701", "class_of_service_grant": {"class_of_service": "international", "until": until}}]))
    assert res["changed"] and not res["failed"], res
    assert call(lab, tmp_path, "2701", pw["2701"], "0031201234567", 200)     # granted: reaches the gateway
    end = datetime.datetime.strptime(until, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    while datetime.datetime.now(datetime.timezone.utc) <= end + datetime.timedelta(seconds=1):
        time.sleep(0.5)   # no playbook runs while the grant's time passes
    assert call(lab, tmp_path, "2701", pw["2701"], "0031201234567", 403)     # Kamailio itself refuses after until
    assert call(lab, tmp_path, "2701", pw["2701"], "0201234567", 200)        # the permanent class still works
    # the next run revokes the expired grant from the database too
    res = ansible.module("callserver_users", dict(users["base"], state="merged", config=[]))
    assert res["changed"] and any("expired: class_of_service_grant international" in c for c in res["commands"]), res


def test_dnd_answers_486_and_cfu_redirects(lab, users, tmp_path):
    pw = users["pw"]
    assert call(lab, tmp_path, "2702", pw["2702"], "2703", 486)
    assert call(lab, tmp_path, "2702", pw["2702"], "2704", 302, contact_has="sip:2702@")


def test_alias_reaches_the_user_features(lab, users, ansible, tmp_path):
    pw = users["pw"]
    res = ansible.module("callserver_users", dict(users["base"], state="merged", config=[
        {"id": "IT-2701", "features": [{"name": "dnd"}]}]))
    assert res["changed"], res
    assert call(lab, tmp_path, "2702", pw["2702"], "+31201234701", 486)       # DID -> 2701 -> DND
    res = ansible.module("callserver_users", dict(users["base"], state="replaced", config=[
        dict(users["config"][0])]))
    assert res["changed"] and "features" not in res["after"][0]


UAS_FINAL = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="registered phone answering %(code)s">
  <recv request="INVITE" crlf="true"/>
  <send><![CDATA[

      SIP/2.0 %(code)s %(reason)s
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]></send>
  <recv request="ACK"/>
</scenario>
"""


def register_at(lab, tmp_path, user, password, port):
    inf = tmp_path / ("reg-%s.csv" % user)
    inf.write_text("SEQUENTIAL\n%s;%s;[authentication username=%s password=%s]\n" % (user, lab["domain"], user, password))
    cmd = ["sipp", "127.0.0.1:%d" % lab["callserver"]["sip_port"], "-sf", os.path.join(ROOT, "roles/lab/files/register.xml"),
           "-inf", str(inf), "-m", "1", "-i", "127.0.0.1", "-p", str(port), "-nostdin", "-timeout", "15s", "-timeout_error"]
    return subprocess.run(cmd, cwd=str(tmp_path), capture_output=True, text=True, timeout=40, check=False).returncode == 0


@pytest.mark.parametrize("code,reason,target", [(486, "Busy Here", "2702"), (480, "Temporarily Unavailable", "2704")])
def test_call_forward_busy_and_no_answer_from_a_registered_phone(lab, users, ansible, tmp_path, code, reason, target):
    pw = users["pw"]
    res = ansible.module("callserver_users", dict(users["base"], state="merged", config=[
        {"id": "IT-2701", "features": [{"name": "cfb", "target": "2702"}, {"name": "cfnr", "target": "2704"}]}]))
    assert not res["failed"], res
    port = free_udp_port()
    assert register_at(lab, tmp_path, "2701", pw["2701"], port)          # 2701's phone lives on this port
    scen = tmp_path / ("uas_%d.xml" % code)
    scen.write_text(UAS_FINAL % {"code": code, "reason": reason})
    phone = subprocess.Popen(["sipp", "-sf", str(scen), "-i", "127.0.0.1", "-p", str(port), "-m", "1", "-nostdin",
                              "-timeout", "20s"], cwd=str(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        # the phone answers busy / unavailable; Kamailio's failure route forwards to the CFB / CFNR target
        assert call(lab, tmp_path, "2704", pw["2704"], "2701", 302, contact_has="sip:%s@" % target)
        assert phone.wait(timeout=20) == 0                               # the phone really got the call
    finally:
        if phone.poll() is None:
            phone.kill()
            phone.wait()
        KamailioRPC(lab["callserver"]["rpc_url"]).unregister("2701")


def test_leaver_loses_registration_and_number_cools(lab, users, ansible, tmp_path):
    pw = users["pw"]
    assert register(lab, tmp_path, "2702", pw["2702"])
    rpc = KamailioRPC(lab["callserver"]["rpc_url"])
    assert any(r["aor"] == "2702" for r in rpc.registrations())
    res = ansible.module("callserver_users", dict(users["base"], state="deleted", config=[{"id": "IT-2702"}]))
    assert res["changed"] and res["flushed"] == ["2702"], res
    assert not any(r["aor"] == "2702" for r in rpc.registrations())
    assert not register(lab, tmp_path, "2702", pw["2702"])                 # the account is gone
    res = ansible.module("callserver_users", dict(users["base"], state="merged", config=[
        {"id": "IT-2799", "site": "ams", "extension": "2702", "class_of_service": "internal"}]))
    assert res["failed"] and "number 2702 is in cooling until" in res["msg"]
    # the same person coming back may have the number again
    res = ansible.module("callserver_users", dict(users["base"], state="merged", config=[users["config"][1]]))
    assert not res["failed"] and res["changed"], res
    with open(users["base"]["credentials_file"]) as handle:
        users["pw"]["2702"] = [c for c in json.load(handle) if c["username"] == "2702"][0]["password"]
