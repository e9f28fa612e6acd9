# -*- coding: utf-8 -*-
"""Decoders: raw varbinds (as the engine hands them over) -> facts people read."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.voipops.voip.plugins.module_utils import snmp_decode as d


def test_duration_reads_like_people_write_it():
    assert d.duration(49 * 86400 + 3600 + 20 * 60 + 59) == "49d 1h 20m"
    assert d.duration(3 * 3600 + 5 * 60) == "3h 5m"
    assert d.duration(4 * 60 + 2) == "4m 2s"
    assert d.duration(12) == "12s"
    assert d.duration(None) is None


@pytest.mark.parametrize("bps, text", [
    (1000000000, "1 Gbit/s"), (2048000, "2.048 Mbit/s"), (100000000, "100 Mbit/s"), (64000, "64 kbit/s"),
    (1544000, "1.544 Mbit/s"), (10 ** 10, "10 Gbit/s"), (300, "300 bit/s"),
])
def test_speed(bps, text):
    assert d.speed(bps) == text


def test_system_group_with_uptime_as_duration():
    vb = {
        d.SYS_DESCR: b"Cisco IOS Software, C2900 Software (C2900-UNIVERSALK9-M), Version 15.7(3)M4",
        d.SYS_OBJECT_ID: "1.3.6.1.4.1.9.1.1047",
        d.SYS_UPTIME: (49 * 86400 + 3600 + 20 * 60) * 100 + 57,
        d.SYS_NAME: b"mgw-ams-01",
        d.SYS_LOCATION: b"AMS DC1 rack 12\x00",
        d.SYS_CONTACT: b"noc@example.net",
        d.SYS_SERVICES: 78,
    }
    facts = d.decode_system(vb)
    assert facts["uptime"] == "49d 1h 20m"
    assert facts["uptime_seconds"] == 49 * 86400 + 3600 + 20 * 60
    assert facts["name"] == "mgw-ams-01"
    assert facts["location"] == "AMS DC1 rack 12"  # trailing NUL some agents send is dropped
    assert facts["object_id"] == "1.3.6.1.4.1.9.1.1047"
    assert d.decode_system({}) == {}


def _if(index, descr, iftype, speed, admin, oper, **extra):
    e = d.IF_ENTRY
    vb = {"%s.2.%d" % (e, index): descr, "%s.3.%d" % (e, index): iftype, "%s.5.%d" % (e, index): speed,
          "%s.7.%d" % (e, index): admin, "%s.8.%d" % (e, index): oper}
    for col, value in extra.items():
        vb["%s.%s.%d" % (e if not col.startswith("x") else d.IFX_ENTRY, col.lstrip("x"), index)] = value
    return vb


def test_interfaces_speed_status_errors_and_64bit_counters():
    vb = {}
    vb.update(_if(1, b"GigabitEthernet0/0", 6, 1000000000, 1, 1, **{"6": b"\x00\x1e\xbd\x12\x34\x56", "14": 3,
                                                                    "10": 4000000000, "x6": 123456789012}))
    vb.update(_if(2, b"TenGigabitEthernet0/1", 6, 4294967295, 1, 1, **{"x15": 10000, "x1": b"Te0/1"}))
    vb.update(_if(10, b"E1 0/0/0", 18, 2048000, 1, 2))
    vb.update(_if(11, b"E1 0/0/1", 18, 2048000, 2, 2, **{"x18": b"spare"}))
    vb.update(_if(12, b"E1 0/1/0", 18, 2048000, 1, 7))
    facts = d.decode_interfaces(vb)
    assert [i["index"] for i in facts] == [1, 2, 10, 11, 12]  # numeric order, not text order
    ge, te, e1a, e1b, e1c = facts
    assert ge["speed"] == "1 Gbit/s" and ge["mac"] == "00:1e:bd:12:34:56" and ge["in_errors"] == 3
    assert ge["in_octets"] == 123456789012  # ifHCInOctets wins over the wrapped 32-bit counter
    assert te["speed"] == "10 Gbit/s" and te["speed_bps"] == 10 ** 10  # ifSpeed saturated: ifHighSpeed
    assert te["name"] == "Te0/1" and te["descr"] == "TenGigabitEthernet0/1"
    assert e1a["speed"] == "2.048 Mbit/s" and e1a["type"] == "ds1" and e1a["name"] == "E1 0/0/0"
    assert e1a["oper_status"] == "down" and e1a["fault"] is True
    assert e1b["admin_status"] == "down" and e1b["fault"] is False  # shut on purpose is no fault
    assert e1b["alias"] == "spare"
    assert e1c["oper_status"] == "lowerLayerDown" and e1c["fault"] is True
    assert not any(i["fault"] for i in (ge, te))


def test_host_resources_storage_percent_and_cpu():
    s, t = d.HR_STORAGE_ENTRY, "1.3.6.1.2.1.25.2.1."
    vb = {
        d.HR_SYSTEM_UPTIME: 8640000, d.HR_SYSTEM_PROCESSES: 187, d.HR_MEMORY_SIZE: 8041276,
        s + ".2.1": t + "2", s + ".3.1": b"Physical memory", s + ".4.1": 1024, s + ".5.1": 8041276, s + ".6.1": 6030957,
        s + ".2.31": t + "4", s + ".3.31": b"/", s + ".4.31": 4096, s + ".5.31": 2000000, s + ".6.31": 500000,
        s + ".2.32": t + "4", s + ".3.32": b"/var/log", s + ".4.32": 4096, s + ".5.32": 0, s + ".6.32": 0,
        d.HR_PROCESSOR_LOAD + ".196608": 12, d.HR_PROCESSOR_LOAD + ".196609": 31,
    }
    facts = d.decode_host(vb)
    assert facts["uptime"] == "1d 0h 0m" and facts["processes"] == 187
    mem, root, empty = facts["storage"]
    assert mem["type"] == "ram" and mem["percent_used"] == 75.0
    assert root["descr"] == "/" and root["type"] == "fixedDisk" and root["percent_used"] == 25.0
    assert root["size_bytes"] == 2000000 * 4096 and root["size"] == "7.6 GiB"
    assert empty["percent_used"] is None  # a 0-sized filesystem has no percentage, not a ZeroDivisionError
    assert facts["processor_load"] == [12, 31] and facts["processor_load_avg"] == 21.5
    assert d.decode_host({}) == {}


def test_ucd_load_memory_disk_processes():
    u = d.UCD
    vb = {
        u + ".10.1.2.1": b"Load-1", u + ".10.1.3.1": b"0.42", u + ".10.1.2.2": b"Load-5", u + ".10.1.3.2": b"0.30",
        u + ".10.1.2.3": b"Load-15", u + ".10.1.3.3": b"0.25",
        u + ".4.5.0": 4000000, u + ".4.6.0": 500000, u + ".4.14.0": 250000, u + ".4.15.0": 1250000,
        u + ".4.3.0": 1000000, u + ".4.4.0": 900000,
        u + ".9.1.2.1": b"/", u + ".9.1.3.1": b"/dev/sda1", u + ".9.1.6.1": 2000000, u + ".9.1.7.1": 200000,
        u + ".9.1.8.1": 1800000, u + ".9.1.9.1": 90, u + ".9.1.100.1": 1, u + ".9.1.101.1": b"/: less than 10% free",
        u + ".2.1.2.1": b"kamailio", u + ".2.1.5.1": 0, u + ".2.1.3.1": 1, u + ".2.1.100.1": 1,
        u + ".2.1.101.1": b"Too few kamailio running (# = 0)",
        u + ".11.9.0": 7, u + ".11.10.0": 3, u + ".11.11.0": 90,
    }
    f = d.decode_ucd(vb)
    assert f["load"] == {"1min": 0.42, "5min": 0.30, "15min": 0.25}
    assert f["memory"]["real_used_percent"] == 50.0  # (4.0G - 0.5G free - 0.25G buffers - 1.25G cache) / 4.0G
    assert f["memory"]["swap_used_percent"] == 10.0
    disk = f["disks"][0]
    assert disk["path"] == "/" and disk["percent_used"] == 90 and disk["error"] is True
    assert "less than 10% free" in disk["error_message"]
    proc = f["processes"][0]
    assert proc == {"name": "kamailio", "count": 0, "min": 1, "max": None, "error": True,
                    "error_message": "Too few kamailio running (# = 0)"}
    assert f["cpu_percent"] == {"user": 7, "system": 3, "idle": 90}


@pytest.mark.parametrize("status, alarms, severity", [
    (1, [], "ok"),
    (64, ["LOS"], "critical"),
    (32, ["LOF"], "critical"),
    (8, ["AIS"], "critical"),
    (2, ["RAI"], "warning"),
    (2 + 8 + 64, ["RAI", "AIS", "LOS"], "critical"),
    (128, ["LOOPBACK"], "critical"),
    (16, ["XMT_AIS"], "warning"),
    (4096 + 8192, ["OTHER_FAILURE", "UAS"], "critical"),
])
def test_dsx1_line_status_bit_map(status, alarms, severity):
    got_alarms, flags, got_severity = d.dsx1_alarms(status)
    assert got_alarms == alarms
    assert got_severity == severity
    assert flags == (["dsx1NoAlarm"] if status == 1 else [f for bit, f, _s, _l in d.DSX1_LINE_STATUS_BITS if status & bit])


def test_ds1_lines_named_from_if_table_with_alarms():
    c = d.DSX1_CONFIG_ENTRY
    vb = {
        d.IF_ENTRY + ".2.2": b"E1 0/0", d.IF_ENTRY + ".2.3": b"E1 0/1", d.SYS_UPTIME: 360000,
        c + ".2.2": 2, c + ".5.2": 5, c + ".6.2": 3, c + ".10.2": 1, c + ".16.2": 120000,
        c + ".2.3": 3, c + ".5.3": 5, c + ".6.3": 3, c + ".10.3": 64 + 2, c + ".8.3": b"KPN-PRI-0042",
    }
    a, b = d.decode_ds1(vb)
    assert a["name"] == "E1 0/0" and a["state"] == "up" and a["alarms"] == []
    assert a["line_type"] == "dsx1E1CRC" and a["line_coding"] == "dsx1HDB3"
    assert a["status_changed_ago"] == "40m 0s"
    assert b["name"] == "E1 0/1" and b["state"] == "down" and b["alarms"] == ["RAI", "LOS"]
    assert b["circuit_id"] == "KPN-PRI-0042"


def test_isdn_bearer_channels_grouped_per_trunk():
    bt = d.ISDN_BEARER_ENTRY
    vb = {d.IF_ENTRY + ".2.2": b"E1 0/0", d.IF_ENTRY + ".2.3": b"E1 0/1"}
    states = {201: 4, 202: 2, 203: 1, 301: 1, 302: 3}
    for idx, st in states.items():
        vb["%s.2.%d" % (bt, idx)] = st
        vb["%s.3.%d" % (bt, idx)] = idx % 100
        vb["%s.%d.%d" % (d.IF_STACK_STATUS, idx, idx // 100)] = 1
    vb["%s.4.201" % bt] = b"0201234567"
    vb["%s.299" % d.ISDN_LAPD_OPER_STATUS_OID] = 3
    vb["%s.399" % d.ISDN_LAPD_OPER_STATUS_OID] = 1
    f = d.decode_isdn(vb)
    assert f["summary"] == {"idle": 2, "connecting": 1, "connected": 1, "active": 1, "total": 5, "busy": 3}
    assert f["trunks"]["E1 0/0"] == {"idle": 1, "connecting": 1, "connected": 0, "active": 1}
    assert f["trunks"]["E1 0/1"] == {"idle": 1, "connecting": 0, "connected": 1, "active": 0}
    first = f["channels"][0]
    assert first["state"] == "active" and first["peer"] == "0201234567" and first["trunk"] == "E1 0/0"
    assert first["name"] == "E1 0/0 B1"
    assert [(x["state"], x["up"]) for x in f["d_channels"]] == [("l2Active", True), ("inactive", False)]
    assert d.decode_isdn({}) == {}


def test_requests_for_dedupes_and_rejects_unknown_groups():
    scalars, columns = d.requests_for(["ds1", "interfaces", "system"])
    assert len(columns) == len(set(columns))
    assert d.IF_ENTRY + ".2" in columns and d.SYS_UPTIME in scalars
    with pytest.raises(ValueError, match="unknown fact group 'bogus'"):
        d.requests_for(["system", "bogus"])
