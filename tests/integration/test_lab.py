"""The embedded lab comes up, answers on every endpoint, is idempotent, heals and goes down cleanly."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading

import pytest

from conftest import ROOT, LAB_DIR, read_endpoints, wait_for, lab_up, free_udp_port
from ansible_collections.voipops.voip.roles.lab.module_utils import lab_supervisor as labmod
from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio import KamailioRPC

pytestmark = pytest.mark.lab

LAB_FILES = os.path.join(ROOT, "roles", "lab", "files")


def snmpget(agent, oid):
    env = dict(os.environ, MIBS="", SNMP_PERSISTENT_DIR=os.path.join(LAB_DIR, "snmp-client"))
    out = subprocess.run(["snmpget", "-v2c", "-c", agent["community"], "-On", "-Oqv", "-t", "2", "-r", "1",
                          "%s:%d" % (agent["host"], agent["port"]), oid], capture_output=True, text=True, env=env, check=False)
    return out.returncode, out.stdout.strip().strip('"'), out.stderr


def sip_options(host, port, timeout=3.0):
    """Send one OPTIONS over UDP and return the status line of the answer ('' on timeout).

    (sipsak 0.9.8 cuts the last digit of a 5-digit port in the request URI, so it cannot probe the lab.)
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(timeout)
    lport = sock.getsockname()[1]
    msg = ("OPTIONS sip:%s:%d SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-lab-%d;rport\r\n"
           "Max-Forwards: 70\r\nFrom: <sip:labtest@voip.lab>;tag=%d\r\nTo: <sip:%s:%d>\r\n"
           "Call-ID: labtest-%d@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
           % (host, port, lport, lport, lport, host, port, lport))
    try:
        sock.sendto(msg.encode(), (host, port))
        data = sock.recv(65535).decode("utf-8", "replace")
        return data.split("\r\n", 1)[0]
    except socket.timeout:
        return ""
    finally:
        sock.close()


def sipp_register(lab, subscriber, tmp_path, user_agent=None):
    csv = tmp_path / "users.csv"
    csv.write_text("SEQUENTIAL\n%s;%s;[authentication username=%s password=%s]\n" % (
        subscriber["username"], lab["domain"], subscriber["username"], subscriber["password"]))
    scenario = os.path.join(LAB_FILES, "register.xml")
    if user_agent:
        text = open(scenario).read().replace("Yealink SIP-T54W 96.86.0.100", user_agent)
        scenario = str(tmp_path / "register.xml")
        open(scenario, "w").write(text)
    port = free_udp_port()
    cmd = ["sipp", "127.0.0.1:%d" % lab["callserver"]["sip_port"], "-sf", scenario, "-inf", str(csv),
           "-m", "1", "-i", "127.0.0.1", "-p", str(port), "-nostdin", "-timeout", "15s", "-timeout_error",
           "-trace_err", "-error_file", str(tmp_path / "sipp-errors.log")]
    proc = subprocess.run(cmd, cwd=str(tmp_path), capture_output=True, text=True, timeout=30, check=False)
    return proc.returncode, port, proc.stdout[-2000:] + proc.stderr[-2000:]


def test_kamailio_answers_json_rpc(lab, ansible):
    res = ansible.module("callserver_info", {"rpc_url": lab["callserver"]["rpc_url"]})
    assert res["_rc"] == 0, res
    cs = res["callserver"]
    assert cs["version"].startswith("kamailio 5.")
    assert cs["uptime_seconds"] >= 0
    assert "core.rcv_requests" in cs["statistics"]


def test_kamailio_answers_options(lab):
    assert sip_options("127.0.0.1", lab["callserver"]["sip_port"]) == "SIP/2.0 200 OK"


def test_nginx_serves_provisioning_root(lab):
    from urllib.request import urlopen
    marker = os.path.join(lab["provisioning"]["root"], "lab-probe.txt")
    with open(marker, "w") as handle:
        handle.write("hello phone\n")
    try:
        body = urlopen(lab["provisioning"]["url"] + "lab-probe.txt", timeout=5).read()
        assert body == b"hello phone\n"
    finally:
        os.unlink(marker)
    with open(lab["provisioning"]["access_log"]) as handle:
        assert "GET /lab-probe.txt" in handle.read()


def test_callserver_host_snmpd_answers(lab):
    rc, value, err = snmpget(lab["callserver"]["snmp"], "1.3.6.1.2.1.1.5.0")
    assert rc == 0, err
    assert value == "cs1"


def test_snmpd_counts_kamailio_processes(lab):
    # UCD prTable row 1 is 'proc kamailio': prCount must see the real Kamailio's processes
    rc, value, err = snmpget(lab["callserver"]["snmp"], "1.3.6.1.4.1.2021.2.1.5.1")
    assert rc == 0, err
    assert int(value) >= 4


@pytest.mark.parametrize("index", [0, 1])
def test_each_gateway_snmp_agent_answers(lab, index):
    gw = lab["gateways"][index]
    rc, value, err = snmpget(gw["snmp"], "1.3.6.1.2.1.1.5.0")
    assert rc == 0, err
    assert value == gw["name"]
    # E1 line status (DS1-MIB dsx1LineStatus) of the first E1: no alarm on a clean lab
    rc, value, err = snmpget(gw["snmp"], "1.3.6.1.2.1.10.18.6.1.10.2")
    assert rc == 0, err
    assert value == "1"


@pytest.mark.parametrize("index", [0, 1])
def test_each_gateway_answers_options(lab, index):
    assert sip_options("127.0.0.1", lab["gateways"][index]["sip_port"]) == "SIP/2.0 200 OK"


def test_gateways_become_active_in_dispatcher(lab, ansible):
    def states():
        res = ansible.module("callserver_info", {"rpc_url": lab["callserver"]["rpc_url"], "gather": ["gateways"]})
        gws = res["callserver"]["gateways"]
        flags = dict((g["duid"], g["flags"]) for g in gws)
        return flags if flags and all(f == "AP" for f in flags.values()) else None
    flags = wait_for(states, timeout=30, interval=1, what="both gateways AP in the dispatcher")
    assert set(flags) == set(g["name"] for g in lab["gateways"])


def test_sipp_register_then_callserver_info_shows_contact_and_user_agent(lab, ansible, tmp_path):
    sub = lab["subscribers"][0]
    ua = "Yealink SIP-T46U 108.86.0.45"
    rc, port, out = sipp_register(lab, sub, tmp_path, user_agent=ua)
    assert rc == 0, out
    res = ansible.module("callserver_info", {"rpc_url": lab["callserver"]["rpc_url"], "gather": ["registrations"]})
    regs = res["callserver"]["registrations"]
    contacts = regs["by_aor"][sub["username"]]
    mine = [c for c in contacts if c["contact"].endswith("127.0.0.1:%d" % port)]
    try:
        assert len(mine) == 1, contacts
        assert mine[0]["user_agent"] == ua
        assert regs["contacts"] >= 1
    finally:  # only this test's contact: the lab's phone registered on the same account stays
        for c in mine:
            assert KamailioRPC(lab["callserver"]["rpc_url"]).unregister_contact(sub["username"], c["contact"])
    after = ansible.module("callserver_info", {"rpc_url": lab["callserver"]["rpc_url"], "gather": ["registrations"]})
    left = after["callserver"]["registrations"]["by_aor"].get(sub["username"], [])
    assert not [c for c in left if c["contact"] == mine[0]["contact"]]
    assert len(left) == len(contacts) - 1


def test_register_with_wrong_password_is_refused(lab, tmp_path):
    sub = dict(lab["subscribers"][1], password="not-the-password")
    rc, _port, out = sipp_register(lab, sub, tmp_path)
    assert rc != 0, "REGISTER with a wrong password must not succeed:\n" + out


def test_lab_up_twice_changes_nothing(lab, ansible):
    before = read_endpoints()["pids"]
    recap = lab_up(ansible)
    assert recap["localhost"]["changed"] == 0, recap
    assert read_endpoints()["pids"] == before


def test_lab_up_verbose_shows_no_ha1_and_the_database_is_owner_only(lab, ansible):
    import sqlite3
    conn = sqlite3.connect(lab["callserver"]["db_path"])
    try:
        hashes = [h for row in conn.execute("SELECT ha1, ha1b FROM subscriber") for h in row]
    finally:
        conn.close()
    assert hashes
    rc, out, _recap = ansible.playbook("playbooks/lab_up.yml", env={"ANSIBLE_VERBOSITY": "2"})
    assert rc == 0, out[-3000:]
    assert [h for h in hashes if h in out] == []
    assert oct(os.stat(lab["callserver"]["db_path"]).st_mode & 0o777) == "0o600"


def test_crashed_component_is_restarted_by_lab_up(lab, lab_component, ansible):
    old = lab_component.stop("mgw2-snmp")
    rc, _value, _err = snmpget(lab["gateways"][1]["snmp"], "1.3.6.1.2.1.1.5.0")
    assert rc != 0, "the killed agent must not answer"
    recap = lab_up(ansible)
    lab_component.stopped = []
    assert recap["localhost"]["changed"] >= 1
    new = read_endpoints()["pids"]["mgw2-snmp"]
    assert new != old
    rc, value, err = snmpget(lab["gateways"][1]["snmp"], "1.3.6.1.2.1.1.5.0")
    assert rc == 0 and value == "mgw2", err


def test_callserver_info_against_dead_port_names_the_url(ansible):
    port = labmod.pick_free_port()
    url = "http://127.0.0.1:%d/RPC" % port
    res = ansible.module("callserver_info", {"rpc_url": url, "timeout": 2})
    assert res["_rc"] != 0
    assert res.get("failed") is True
    assert url in res["msg"]
    assert "Connection refused" in res["msg"]


def test_callserver_info_against_silent_server_times_out_naming_the_url(ansible):
    # A TCP server that accepts and never answers, like a hung callserver.
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(5)
    conns = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except socket.timeout:
                continue
            except OSError:
                break
    t = threading.Thread(target=accept, daemon=True)
    t.start()
    url = "http://127.0.0.1:%d/RPC" % srv.getsockname()[1]
    try:
        res = ansible.module("callserver_info", {"rpc_url": url, "timeout": 1.5})
    finally:
        stop.set()
        t.join(2)
        for c in conns:
            c.close()
        srv.close()
    assert res["_rc"] != 0
    assert url in res["msg"]
    assert "did not answer" in res["msg"] and "1.5 s" in res["msg"]


def test_a_second_lab_comes_up_and_goes_down_cleanly(ansible):
    """lab_down stops every lab process by pid and frees every port (on a separate lab directory)."""
    workdir = tempfile.mkdtemp(prefix="voipops-lab-", dir=os.path.join(ROOT, ".state"))
    env = {"VOIPOPS_LAB_DIR": workdir}
    try:
        rc, out, _recap = ansible.playbook("playbooks/lab_up.yml", env=env)
        assert rc == 0, out[-4000:]
        with open(os.path.join(workdir, "endpoints.json")) as handle:
            eps = json.load(handle)
        with open(os.path.join(workdir, "ports.json")) as handle:
            ports = json.load(handle)
        pids = [p for p in eps["pids"].values() if p]
        # kamailio, snmpd, nginx, slapd (the directory), an snmpsim agent and a gateway simulator (REST + SIP) per
        # gateway, and the phone fleet
        assert sorted(eps["pids"]) == sorted(["kamailio", "snmpd", "nginx", "slapd", "phones"] + [
            "%s-%s" % (g["name"], part) for g in eps["gateways"] for part in ("snmp", "sip")])
        assert len(pids) == len(eps["pids"])
        assert all(labmod.pid_alive(p) for p in pids)
        rc, out, recap = ansible.playbook("playbooks/lab_down.yml", env=env)
        assert rc == 0, out[-4000:]
        assert recap["localhost"]["changed"] >= 1
        assert not [p for p in pids if labmod.pid_alive(p)], "lab processes left running"
        busy = [(n, p) for n, p in ports.items() if not n.endswith("_media") and not labmod.port_is_free(p)]
        assert not busy, "ports still in use after lab_down: %s" % busy
        assert not os.path.exists(os.path.join(workdir, "endpoints.json"))
        # down twice: nothing left to do
        rc, out, recap = ansible.playbook("playbooks/lab_down.yml", env=env)
        assert rc == 0 and recap["localhost"]["changed"] == 0, out[-3000:]
    finally:
        ansible.playbook("playbooks/lab_down.yml", env=env)
        shutil.rmtree(workdir, ignore_errors=True)
