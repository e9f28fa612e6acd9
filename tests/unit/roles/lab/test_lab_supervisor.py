"""Lab port allocation: stable, free, outside the ephemeral range, not shared between labs."""
import json
import socket

from ansible_collections.voipops.voip.roles.lab.module_utils import lab_supervisor as lab


def test_ports_are_free_outside_the_ephemeral_range_and_kept(tmp_path):
    path = tmp_path / "lab1" / "ports.json"
    path.parent.mkdir()
    ports, added = lab.allocate_ports(str(path), ["a_sip", "a_rpc", "b_snmp"])
    assert sorted(added) == ["a_rpc", "a_sip", "b_snmp"]
    low, high = lab.ephemeral_port_range()
    assert all(not (low <= p <= high) for p in ports.values())
    assert len(set(ports.values())) == 3
    assert json.loads(path.read_text()) == ports
    again, added_again = lab.allocate_ports(str(path), ["a_sip", "a_rpc", "b_snmp"])
    assert again == ports and added_again == []
    more, added_more = lab.allocate_ports(str(path), ["a_sip", "c_new"])
    assert added_more == ["c_new"] and more["a_sip"] == ports["a_sip"] and more["c_new"] not in ports.values()


def test_a_second_lab_never_gets_the_ports_of_the_first_even_while_they_are_unbound(tmp_path):
    first = tmp_path / "lab1" / "ports.json"
    first.parent.mkdir()
    names = ["p%d" % i for i in range(40)]
    ports1, _added1 = lab.allocate_ports(str(first), names)
    # none of lab1's daemons runs (all its ports are free), yet lab2 must stay clear of them
    second = tmp_path / "lab2" / "ports.json"
    second.parent.mkdir()
    ports2, _added2 = lab.allocate_ports(str(second), names)
    assert not set(ports1.values()) & set(ports2.values())


def test_a_busy_port_is_never_picked(tmp_path):
    socks = []
    try:
        busy = set()
        for _round in range(20):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", lab.pick_free_port(protos=("udp",))))
            socks.append(s)
            busy.add(s.getsockname()[1])
        for _round in range(50):
            port = lab.pick_free_port()
            assert port not in busy and lab.port_is_free(port)
    finally:
        for s in socks:
            s.close()


def test_a_daemon_that_dies_at_start_up_is_reported_with_its_exit_code(tmp_path):
    rec, proc = lab.start_daemon(["sh", "-c", "echo cannot bind >&2; exit 3"], str(tmp_path / "d.pid"),
                                 str(tmp_path / "d.log"))
    ok, why = lab.wait_ready(rec, [{"file": str(tmp_path / "never")}], 10, proc=proc)
    assert not ok and "exited during start-up with code 3" in why
    assert "cannot bind" in lab.tail(str(tmp_path / "d.log"))


def test_a_daemon_that_never_gets_ready_is_stopped_with_its_whole_group(tmp_path):
    pidfile = str(tmp_path / "d.pid")
    rec, proc = lab.start_daemon(["sh", "-c", "sleep 60 & sleep 60"], pidfile, str(tmp_path / "d.log"))
    ok, why = lab.wait_ready(rec, [{"udp": 9}], 0.5, proc=proc)
    assert not ok and "not ready after" in why and "udp port 9 not bound" in why
    assert lab.stop_daemon(rec, pidfile, timeout=2.0, own=True)
    proc.wait(5)
    assert not lab.group_alive(rec["pid"])  # the background child of the group is gone too
    assert not (tmp_path / "d.pid").exists()
