# -*- coding: utf-8 -*-
"""snmp_info against real agents: the lab's net-snmp snmpd (callserver host) and snmpsim gateways,
plus a net-snmp snmpd of this test with an SNMPv3 authPriv user (the lab's snmpd is v2c only)."""
from __future__ import absolute_import, division, print_function

import os
import signal
import socket
import subprocess
import tempfile

import pytest

from conftest import wait_for

pytestmark = pytest.mark.lab

V3_USER = "opsmon"
V3_AUTH = "auth-passphrase-01"
V3_PRIV = "priv-passphrase-01"


def _snmpd_conf(lab, key):
    """A value of the lab's snmpd.conf, as the agent should report it."""
    with open(os.path.join(lab["state_dir"], "snmpd", "snmpd.conf")) as handle:
        for line in handle:
            if line.split(None, 1)[:1] == [key]:
                return line.split(None, 1)[1].strip()
    raise AssertionError("%s not in the lab's snmpd.conf" % key)


def _cs_target(lab):
    s = lab["callserver"]["snmp"]
    return {"name": "cs1", "host": s["host"], "port": s["port"], "community": s["community"]}


def _gw_targets(lab):
    return [dict(g["snmp"], name="gw%d" % i) for i, g in enumerate(lab["gateways"])]


def test_callserver_host_system_host_resources_and_ucd(ansible, lab):
    out = ansible.module("snmp_info", {"targets": [_cs_target(lab)], "gather": ["system", "host", "ucd"]})
    assert out["_rc"] == 0, out
    (r,) = out["results"]
    assert r["ok"] is True and r["error"] is None
    system, host, ucd = r["facts"]["system"], r["facts"]["host"], r["facts"]["ucd"]
    assert system["descr"].startswith("Linux") and system["uptime_seconds"] >= 0
    assert system["location"] == _snmpd_conf(lab, "sysLocation")
    assert system["name"] == _snmpd_conf(lab, "sysName")
    # HOST-RESOURCES: the real filesystems of this machine, with a percentage
    root = [s for s in host["storage"] if s["descr"] == "/"]
    assert root and 0 <= root[0]["percent_used"] <= 100 and root[0]["size_bytes"] > 0
    assert host["processes"] > 0
    # UCD: snmpd.conf watches kamailio with "proc kamailio": the lab's Kamailio processes are counted
    kam = [p for p in ucd["processes"] if p["name"] == "kamailio"]
    assert kam and kam[0]["count"] >= 1 and kam[0]["error"] is False
    assert set(ucd["load"]) == {"1min", "5min", "15min"}
    assert ucd["disks"] and ucd["disks"][0]["path"] == "/" and 0 <= ucd["disks"][0]["percent_used"] <= 100
    assert 0 < ucd["memory"]["real_used_percent"] < 100


def test_gateways_interfaces_e1_and_isdn(ansible, lab):
    out = ansible.module("snmp_info", {"targets": _gw_targets(lab), "gather": ["system", "interfaces", "ds1", "isdn"]})
    assert out["_rc"] == 0, out
    assert out["summary"] == {"total": len(lab["gateways"]), "ok": len(lab["gateways"]), "failed": 0}
    for r in out["results"]:
        f = r["facts"]
        assert [i["descr"] for i in f["interfaces"]] == ["eth0", "E1 0/0", "E1 0/1"]
        eth0 = f["interfaces"][0]
        assert eth0["speed"] == "1 Gbit/s" and eth0["oper_status"] == "up" and eth0["mac"].startswith("00:15:65:")
        assert f["interfaces"][1]["speed"] == "2.048 Mbit/s"
        assert [(ln["if_index"], ln["line_type"], ln["line_coding"]) for ln in f["ds1"]] == [
            (2, "dsx1E1CRC", "dsx1HDB3"), (3, "dsx1E1CRC", "dsx1HDB3")]
        assert f["isdn"]["summary"]["total"] == 60 and len(f["isdn"]["trunks"]) == 2
        assert all(d["up"] for d in f["isdn"]["d_channels"])


def test_raw_get_and_walk(ansible, lab):
    out = ansible.module("snmp_info", {"targets": [_cs_target(lab)], "gather": [],
                                       "get": ["1.3.6.1.2.1.1.6.0"], "walk": ["1.3.6.1.4.1.2021.2.1.2"]})
    values = out["results"][0]["values"]
    assert values["1.3.6.1.2.1.1.6.0"] == _snmpd_conf(lab, "sysLocation")
    assert values["1.3.6.1.4.1.2021.2.1.2.1"] == "kamailio"


def test_wrong_community_is_a_named_per_target_error(ansible, lab):
    bad = dict(_cs_target(lab), community="not-the-community", timeout=0.3, retries=0, name="cs1-bad")
    out = ansible.module("snmp_info", {"targets": [_cs_target(lab), bad]})
    assert out["_rc"] == 0
    good, wrong = out["results"]
    assert good["ok"] is True and wrong["ok"] is False
    assert wrong["error"].startswith("cs1-bad: no SNMP response")
    assert "not-the-community" not in str(out)


@pytest.fixture(scope="module")
def snmpd_v3():
    """A real net-snmp snmpd on a free loopback port with a v3 authPriv user (SHA/AES) - stopped by pid."""
    d = tempfile.mkdtemp(prefix="snmpv3-")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with open(os.path.join(d, "snmpd.conf"), "w") as f:
        f.write("agentAddress udp:127.0.0.1:%d\n" % port)
        f.write('createUser %s SHA "%s" AES "%s"\n' % (V3_USER, V3_AUTH, V3_PRIV))
        f.write("rouser %s priv\n" % V3_USER)
        f.write("sysName snmpv3-lab\n")
    env = dict(os.environ, SNMP_PERSISTENT_DIR=d, MIBS="")
    proc = subprocess.Popen(["snmpd", "-f", "-C", "-c", os.path.join(d, "snmpd.conf"), "-Lf", os.path.join(d, "log"),
                             "-I", "-smux"], env=env, start_new_session=True)

    def answers():
        r = subprocess.run(["snmpget", "-v3", "-l", "authPriv", "-u", V3_USER, "-a", "SHA", "-A", V3_AUTH, "-x", "AES",
                            "-X", V3_PRIV, "-On", "-t", "0.3", "-r", "0", "127.0.0.1:%d" % port, "1.3.6.1.2.1.1.5.0"],
                           env=env, capture_output=True, check=False)
        return r.returncode == 0

    wait_for(answers, 15, what="snmpd v3 on port %d" % port)
    yield port
    os.kill(proc.pid, signal.SIGTERM)
    proc.wait(10)


def test_v3_auth_priv_and_wrong_key(ansible, snmpd_v3):
    base = {"host": "127.0.0.1", "port": snmpd_v3, "user": V3_USER, "auth_key": V3_AUTH, "priv_key": V3_PRIV}
    out = ansible.module("snmp_info", {
        "version": "3", "auth_protocol": "sha", "priv_protocol": "aes", "timeout": 1, "retries": 0,
        "targets": [dict(base, name="v3-ok"), dict(base, name="v3-badpriv", priv_key="wrong-priv-passphrase"),
                    dict(base, name="v3-baduser", user="nobody-here"),
                    dict(base, name="v3-md5", auth_protocol="md5")],
        "gather": ["system", "interfaces"]})
    assert out["_rc"] == 0, out
    ok, badpriv, baduser, md5 = out["results"]
    assert ok["ok"] is True and ok["version"] == "3"
    assert ok["facts"]["system"]["name"] == "snmpv3-lab"
    assert any(i["name"] == "lo" for i in ok["facts"]["interfaces"])
    assert badpriv["ok"] is False and badpriv["error"].startswith("v3-badpriv:")
    assert baduser["ok"] is False and "unknown usm user" in baduser["error"].lower()
    assert md5["ok"] is False and "digest" in md5["error"].lower()
    text = str(out)
    assert V3_AUTH not in text and V3_PRIV not in text and "wrong-priv-passphrase" not in text
