# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure decoders: raw SNMP varbinds -> facts people read.

Nothing here talks to the network.  The input of every decoder is a ``dict`` mapping a
numeric dotted OID (``"1.3.6.1.2.1.1.3.0"``) to a plain Python value as produced by
:mod:`snmp` (``int`` for INTEGER/Counter/Gauge/TimeTicks, ``bytes`` for OCTET STRING,
``str`` for OBJECT IDENTIFIER and IpAddress).  Missing objects are simply absent.

``GROUPS`` says, per fact group, which scalars to fetch and which table columns to walk;
``decode(groups, varbinds)`` turns what came back into facts.

Only numeric OIDs are used (the controller has no IETF MIB files); names follow the MIBs:
SNMPv2-MIB (system), IF-MIB (ifTable, ifXTable, ifStackTable), HOST-RESOURCES-MIB,
UCD-SNMP-MIB, DS1-MIB (RFC 4805) and ISDN-MIB (RFC 2127).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# --------------------------------------------------------------------------- OIDs
SYSTEM = "1.3.6.1.2.1.1"
SYS_DESCR = SYSTEM + ".1.0"
SYS_OBJECT_ID = SYSTEM + ".2.0"
SYS_UPTIME = SYSTEM + ".3.0"
SYS_CONTACT = SYSTEM + ".4.0"
SYS_NAME = SYSTEM + ".5.0"
SYS_LOCATION = SYSTEM + ".6.0"
SYS_SERVICES = SYSTEM + ".7.0"

IF_ENTRY = "1.3.6.1.2.1.2.2.1"
IFX_ENTRY = "1.3.6.1.2.1.31.1.1.1"
IF_STACK_STATUS = "1.3.6.1.2.1.31.1.2.1.3"
# column number -> fact key
IF_COLUMNS = {
    2: "descr", 3: "type", 4: "mtu", 5: "speed_raw", 6: "phys_address", 7: "admin_status", 8: "oper_status",
    9: "last_change_ticks", 10: "in_octets", 13: "in_discards", 14: "in_errors", 16: "out_octets",
    19: "out_discards", 20: "out_errors",
}
IFX_COLUMNS = {1: "name", 6: "in_octets_hc", 10: "out_octets_hc", 15: "high_speed", 18: "alias"}

HR_SYSTEM_UPTIME = "1.3.6.1.2.1.25.1.1.0"
HR_SYSTEM_NUM_USERS = "1.3.6.1.2.1.25.1.5.0"
HR_SYSTEM_PROCESSES = "1.3.6.1.2.1.25.1.6.0"
HR_MEMORY_SIZE = "1.3.6.1.2.1.25.2.2.0"
HR_STORAGE_ENTRY = "1.3.6.1.2.1.25.2.3.1"
HR_STORAGE_COLUMNS = {2: "type", 3: "descr", 4: "allocation_units", 5: "size", 6: "used"}
HR_PROCESSOR_LOAD = "1.3.6.1.2.1.25.3.3.1.2"
HR_STORAGE_TYPE_PREFIX = "1.3.6.1.2.1.25.2.1."
HR_STORAGE_TYPES = {
    1: "other", 2: "ram", 3: "virtualMemory", 4: "fixedDisk", 5: "removableDisk", 6: "floppyDisk",
    7: "compactDisc", 8: "ramDisk", 9: "flashMemory", 10: "networkDisk",
}

UCD = "1.3.6.1.4.1.2021"
UCD_PR_ENTRY = UCD + ".2.1"
UCD_PR_COLUMNS = {2: "name", 3: "min", 4: "max", 5: "count", 100: "error_flag", 101: "error_message"}
UCD_MEM = UCD + ".4"
UCD_MEM_SCALARS = {
    3: "swap_total_kb", 4: "swap_available_kb", 5: "real_total_kb", 6: "real_available_kb", 11: "total_free_kb",
    13: "shared_kb", 14: "buffer_kb", 15: "cached_kb",
}
UCD_DSK_ENTRY = UCD + ".9.1"
UCD_DSK_COLUMNS = {
    2: "path", 3: "device", 6: "total_kb", 7: "available_kb", 8: "used_kb", 9: "percent",
    11: "total_low", 12: "total_high", 13: "avail_low", 14: "avail_high", 15: "used_low", 16: "used_high",
    100: "error_flag", 101: "error_message",
}
UCD_LA_ENTRY = UCD + ".10.1"
UCD_LA_COLUMNS = {2: "name", 3: "load"}
UCD_SS = UCD + ".11"
UCD_SS_SCALARS = {9: "user", 10: "system", 11: "idle"}

DSX1_CONFIG_ENTRY = "1.3.6.1.2.1.10.18.6.1"
DSX1_COLUMNS = {
    2: "if_index", 5: "line_type_raw", 6: "line_coding_raw", 8: "circuit_id", 10: "line_status",
    16: "status_last_change_ticks",
}

ISDN_BEARER_ENTRY = "1.3.6.1.2.1.10.20.1.2.1.1"
ISDN_BEARER_COLUMNS = {1: "channel_type_raw", 2: "oper_status_raw", 3: "channel_number", 4: "peer_address",
                       6: "call_origin_raw"}
ISDN_LAPD_OPER_STATUS_OID = "1.3.6.1.2.1.10.20.1.3.4.1.2"

# --------------------------------------------------------------------------- enums
IF_ADMIN_STATUS = {1: "up", 2: "down", 3: "testing"}
IF_OPER_STATUS = {1: "up", 2: "down", 3: "testing", 4: "unknown", 5: "dormant", 6: "notPresent", 7: "lowerLayerDown"}
IF_TYPES = {
    1: "other", 6: "ethernetCsmacd", 18: "ds1", 19: "e1", 20: "basicISDN", 21: "primaryISDN", 22: "propPointToPointSerial",
    23: "ppp", 24: "softwareLoopback", 32: "frameRelay", 53: "propVirtual", 63: "isdn", 75: "isdns", 76: "isdnu",
    77: "lapd", 81: "ds0", 82: "ds0Bundle", 117: "gigabitEthernet", 131: "tunnel", 135: "l2vlan", 136: "l3ipvlan",
    161: "ieee8023adLag", 166: "mpls", 209: "bridge",
}

# DS1-MIB (RFC 4805) dsx1LineStatus bit map: value -> (MIB name, short alarm name, severity)
# severity "critical": the line carries no traffic; "warning": it does, but something is wrong.
DSX1_LINE_STATUS_BITS = (
    (2, "dsx1RcvFarEndLOF", "RAI", "warning"),
    (4, "dsx1XmtFarEndLOF", "XMT_RAI", "warning"),
    (8, "dsx1RcvAIS", "AIS", "critical"),
    (16, "dsx1XmtAIS", "XMT_AIS", "warning"),
    (32, "dsx1LossOfFrame", "LOF", "critical"),
    (64, "dsx1LossOfSignal", "LOS", "critical"),
    (128, "dsx1LoopbackState", "LOOPBACK", "critical"),
    (256, "dsx1T16AIS", "TS16_AIS", "warning"),
    (512, "dsx1RcvFarEndLOMF", "RCV_LOMF", "warning"),
    (1024, "dsx1XmtFarEndLOMF", "XMT_LOMF", "warning"),
    (2048, "dsx1RcvTestCode", "TEST_CODE", "warning"),
    (4096, "dsx1OtherFailure", "OTHER_FAILURE", "critical"),
    (8192, "dsx1UnavailSigState", "UAS", "critical"),
    (16384, "dsx1NetEquipOOS", "NET_EQUIP_OOS", "critical"),
    (32768, "dsx1RcvPayloadAIS", "PAYLOAD_AIS", "warning"),
    (65536, "dsx1Ds2PerfThreshold", "DS2_PERF_THRESHOLD", "warning"),
)
DSX1_NO_ALARM = 1
DSX1_LINE_TYPES = {
    1: "other", 2: "dsx1ESF", 3: "dsx1D4", 4: "dsx1E1", 5: "dsx1E1CRC", 6: "dsx1E1MF", 7: "dsx1E1CRCMF",
    8: "dsx1Unframed", 9: "dsx1E1Unframed", 10: "dsx1DS2M12", 11: "dsx1E2", 12: "dsx1E1Q50", 13: "dsx1E1Q50CRC",
    14: "dsx1J1ESF", 16: "dsx1J1Unframed",
}
DSX1_LINE_CODINGS = {1: "dsx1JBZS", 2: "dsx1B8ZS", 3: "dsx1HDB3", 4: "dsx1ZBTSI", 5: "dsx1AMI", 6: "other", 7: "dsx1B6ZS"}

ISDN_BEARER_OPER_STATUS = {1: "idle", 2: "connecting", 3: "connected", 4: "active"}
ISDN_BEARER_CHANNEL_TYPE = {1: "dialup", 2: "leased"}
ISDN_CALL_ORIGIN = {1: "unknown", 2: "originate", 3: "answer", 4: "callback"}
ISDN_LAPD_OPER_STATUS = {1: "inactive", 2: "l1Active", 3: "l2Active"}


def _cols(entry, columns):
    return ["%s.%d" % (entry, c) for c in sorted(columns)]


# What to fetch per fact group: scalars (exact instance OIDs) and table columns (subtrees to walk).
GROUPS = {
    "system": {"scalars": [SYS_DESCR, SYS_OBJECT_ID, SYS_UPTIME, SYS_CONTACT, SYS_NAME, SYS_LOCATION, SYS_SERVICES],
               "columns": []},
    "interfaces": {"scalars": [], "columns": _cols(IF_ENTRY, IF_COLUMNS) + _cols(IFX_ENTRY, IFX_COLUMNS)},
    "host": {"scalars": [HR_SYSTEM_UPTIME, HR_SYSTEM_NUM_USERS, HR_SYSTEM_PROCESSES, HR_MEMORY_SIZE],
             "columns": _cols(HR_STORAGE_ENTRY, HR_STORAGE_COLUMNS) + [HR_PROCESSOR_LOAD]},
    "ucd": {"scalars": ["%s.%d.0" % (UCD_MEM, c) for c in sorted(UCD_MEM_SCALARS)]
            + ["%s.%d.0" % (UCD_SS, c) for c in sorted(UCD_SS_SCALARS)],
            "columns": _cols(UCD_LA_ENTRY, UCD_LA_COLUMNS) + _cols(UCD_DSK_ENTRY, UCD_DSK_COLUMNS)
            + _cols(UCD_PR_ENTRY, UCD_PR_COLUMNS)},
    # ifDescr/ifName come along so that a line is named even when "interfaces" is not gathered
    "ds1": {"scalars": [], "columns": _cols(DSX1_CONFIG_ENTRY, DSX1_COLUMNS) + [IF_ENTRY + ".2", IFX_ENTRY + ".1"]},
    "isdn": {"scalars": [],
             "columns": _cols(ISDN_BEARER_ENTRY, ISDN_BEARER_COLUMNS) + [ISDN_LAPD_OPER_STATUS_OID, IF_ENTRY + ".2", IF_STACK_STATUS]},
}
GROUP_NAMES = ("system", "interfaces", "host", "ucd", "ds1", "isdn")


def requests_for(groups):
    """Scalars and columns needed for ``groups`` (deduplicated, order kept)."""
    scalars, columns = [], []
    for g in groups:
        if g not in GROUPS:
            raise ValueError("unknown fact group %r (known: %s)" % (g, ", ".join(GROUP_NAMES)))
        for oid in GROUPS[g]["scalars"]:
            if oid not in scalars:
                scalars.append(oid)
        for oid in GROUPS[g]["columns"]:
            if oid not in columns:
                columns.append(oid)
    return scalars, columns


# --------------------------------------------------------------------------- helpers
def text(value):
    """OCTET STRING -> text (UTF-8, invalid bytes replaced, trailing NULs dropped)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.rstrip(b"\x00").decode("utf-8", "replace")
    return str(value)


def mac(value):
    """PhysAddress -> ``00:15:65:aa:bb:cc`` (``None`` when empty)."""
    if not value:
        return None
    if isinstance(value, str):
        value = value.encode("latin-1")
    return ":".join("%02x" % b for b in bytearray(value))


def duration(seconds):
    """Seconds -> ``"49d 1h 20m"`` / ``"3h 5m"`` / ``"4m 2s"`` / ``"12s"``."""
    if seconds is None:
        return None
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return "%dd %dh %dm" % (days, hours, minutes)
    if hours:
        return "%dh %dm" % (hours, minutes)
    if minutes:
        return "%dm %ds" % (minutes, secs)
    return "%ds" % secs


def _num(value):
    text_ = ("%.3f" % value).rstrip("0").rstrip(".")
    return text_


def speed(bps):
    """Bits per second -> ``"1 Gbit/s"``, ``"2.048 Mbit/s"``, ``"64 kbit/s"``."""
    if bps is None:
        return None
    for factor, unit in ((10 ** 12, "Tbit/s"), (10 ** 9, "Gbit/s"), (10 ** 6, "Mbit/s"), (10 ** 3, "kbit/s")):
        if bps >= factor:
            return "%s %s" % (_num(bps / float(factor)), unit)
    return "%d bit/s" % bps


def size(nbytes):
    """Bytes -> ``"15.6 GiB"``."""
    if nbytes is None:
        return None
    for factor, unit in ((1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if nbytes >= factor:
            return "%.1f %s" % (nbytes / float(factor), unit)
    return "%d B" % nbytes


def percent(part, whole):
    if not whole or part is None:
        return None
    return round(100.0 * part / whole, 1)


def table(varbinds, entry, columns):
    """Rows of a conceptual table: ``{index: {key: value}}`` with ``index`` the instance suffix string.

    ``columns`` maps column numbers to keys.  Rows are ordered by numeric index.
    """
    prefix = entry + "."
    rows = {}
    for oid, value in varbinds.items():
        if not oid.startswith(prefix):
            continue
        col, _sep, index = oid[len(prefix):].partition(".")
        if not index:
            continue
        key = columns.get(int(col))
        if key is None:
            continue
        rows.setdefault(index, {})[key] = value
    return dict(sorted(rows.items(), key=lambda kv: _index_key(kv[0])))


def column(varbinds, col_oid):
    """One column: ``{index: value}``."""
    prefix = col_oid + "."
    return dict((oid[len(prefix):], v) for oid, v in varbinds.items() if oid.startswith(prefix))


def _index_key(index):
    try:
        return tuple(int(x) for x in index.split("."))
    except ValueError:
        return (index,)


def _enum(mapping, value):
    if value is None:
        return None
    return mapping.get(value, "unknown(%s)" % value)


def _if_names(varbinds):
    """ifIndex -> the name people use (ifName, else ifDescr)."""
    names = dict((k, text(v)) for k, v in column(varbinds, IF_ENTRY + ".2").items())
    for k, v in column(varbinds, IFX_ENTRY + ".1").items():
        if v:
            names[k] = text(v)
    return names


# --------------------------------------------------------------------------- decoders
def decode_system(vb):
    """SNMPv2-MIB system group."""
    if not any(oid in vb for oid in GROUPS["system"]["scalars"]):
        return {}
    ticks = vb.get(SYS_UPTIME)
    secs = ticks // 100 if ticks is not None else None
    return {
        "descr": text(vb.get(SYS_DESCR)),
        "object_id": vb.get(SYS_OBJECT_ID),
        "uptime_seconds": secs,
        "uptime": duration(secs),
        "contact": text(vb.get(SYS_CONTACT)),
        "name": text(vb.get(SYS_NAME)),
        "location": text(vb.get(SYS_LOCATION)),
        "services": vb.get(SYS_SERVICES),
    }


def decode_interfaces(vb):
    """IF-MIB ifTable + ifXTable -> list of interfaces ordered by ifIndex."""
    rows = table(vb, IF_ENTRY, IF_COLUMNS)
    for index, extra in table(vb, IFX_ENTRY, IFX_COLUMNS).items():
        rows.setdefault(index, {}).update(extra)
    sys_ticks = vb.get(SYS_UPTIME)
    result = []
    for index, r in sorted(rows.items(), key=lambda kv: _index_key(kv[0])):
        bps = r.get("speed_raw")
        high = r.get("high_speed")
        if high is not None and (bps is None or bps >= 4294967295):
            bps = high * 1000000
        in_octets = r.get("in_octets_hc", r.get("in_octets"))
        out_octets = r.get("out_octets_hc", r.get("out_octets"))
        descr = text(r.get("descr"))
        name = text(r.get("name")) or descr
        last_change = r.get("last_change_ticks")
        item = {
            "index": int(index) if index.isdigit() else index,
            "name": name,
            "descr": descr,
            "alias": text(r.get("alias")) if "alias" in r else None,
            "type": _enum(IF_TYPES, r.get("type")),
            "mtu": r.get("mtu"),
            "speed_bps": bps,
            "speed": speed(bps),
            "mac": mac(r.get("phys_address")),
            "admin_status": _enum(IF_ADMIN_STATUS, r.get("admin_status")),
            "oper_status": _enum(IF_OPER_STATUS, r.get("oper_status")),
            "in_octets": in_octets,
            "out_octets": out_octets,
            "in_errors": r.get("in_errors"),
            "out_errors": r.get("out_errors"),
            "in_discards": r.get("in_discards"),
            "out_discards": r.get("out_discards"),
            "last_change_seconds": last_change // 100 if last_change is not None else None,
        }
        if last_change is not None and sys_ticks is not None and sys_ticks >= last_change:
            item["last_change_ago"] = duration((sys_ticks - last_change) // 100)
        # an interface an operator switched on that does not come up is what people look for
        item["fault"] = item["admin_status"] == "up" and item["oper_status"] not in ("up", "dormant", None)
        result.append(item)
    return result


def decode_host(vb):
    """HOST-RESOURCES-MIB: uptime, processes, memory, storage with percent used, processor load."""
    storage = []
    for index, r in table(vb, HR_STORAGE_ENTRY, HR_STORAGE_COLUMNS).items():
        units = r.get("allocation_units") or 0
        total = r.get("size")
        used = r.get("used")
        stype = r.get("type")
        if isinstance(stype, str) and stype.startswith(HR_STORAGE_TYPE_PREFIX):
            tail = stype[len(HR_STORAGE_TYPE_PREFIX):]
            stype = HR_STORAGE_TYPES.get(int(tail), stype) if tail.isdigit() else stype
        storage.append({
            "index": int(index) if index.isdigit() else index,
            "descr": text(r.get("descr")),
            "type": stype,
            "size_bytes": total * units if total is not None else None,
            "used_bytes": used * units if used is not None else None,
            "size": size(total * units) if total is not None else None,
            "used": size(used * units) if used is not None else None,
            "percent_used": percent(used, total),
        })
    loads = [v for _k, v in sorted(column(vb, HR_PROCESSOR_LOAD).items(), key=lambda kv: _index_key(kv[0]))]
    ticks = vb.get(HR_SYSTEM_UPTIME)
    mem_kb = vb.get(HR_MEMORY_SIZE)
    if not storage and not loads and ticks is None and mem_kb is None and HR_SYSTEM_PROCESSES not in vb:
        return {}
    return {
        "uptime_seconds": ticks // 100 if ticks is not None else None,
        "uptime": duration(ticks // 100) if ticks is not None else None,
        "users": vb.get(HR_SYSTEM_NUM_USERS),
        "processes": vb.get(HR_SYSTEM_PROCESSES),
        "memory_bytes": mem_kb * 1024 if mem_kb is not None else None,
        "memory": size(mem_kb * 1024) if mem_kb is not None else None,
        "storage": storage,
        "processor_load": loads,
        "processor_load_avg": round(sum(loads) / float(len(loads)), 1) if loads else None,
    }


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def decode_ucd(vb):
    """UCD-SNMP-MIB (net-snmp): load averages, memory, disks with percent, process counts, CPU split."""
    load = {}
    for _index, r in table(vb, UCD_LA_ENTRY, UCD_LA_COLUMNS).items():
        name = text(r.get("name")) or ""
        key = {"Load-1": "1min", "Load-5": "5min", "Load-15": "15min"}.get(name, name)
        try:
            load[key] = float(text(r.get("load")))
        except (TypeError, ValueError):
            load[key] = None
    mem = dict((key, vb.get("%s.%d.0" % (UCD_MEM, col))) for col, key in UCD_MEM_SCALARS.items()
               if "%s.%d.0" % (UCD_MEM, col) in vb)
    if mem.get("real_total_kb"):
        # like free(1): buffers and cache are memory the kernel gives back
        avail = (mem.get("real_available_kb") or 0) + (mem.get("buffer_kb") or 0) + (mem.get("cached_kb") or 0)
        mem["real_used_percent"] = percent(max(mem["real_total_kb"] - avail, 0), mem["real_total_kb"])
    if mem.get("swap_total_kb"):
        mem["swap_used_percent"] = percent(mem["swap_total_kb"] - (mem.get("swap_available_kb") or 0),
                                           mem["swap_total_kb"])
    disks = []
    for index, r in table(vb, UCD_DSK_ENTRY, UCD_DSK_COLUMNS).items():
        total = r.get("total_kb")
        avail = r.get("available_kb")
        used = r.get("used_kb")
        if r.get("total_high") is not None and r.get("total_low") is not None:
            total = (r["total_high"] << 32) + r["total_low"]
        if r.get("avail_high") is not None and r.get("avail_low") is not None:
            avail = (r["avail_high"] << 32) + r["avail_low"]
        if r.get("used_high") is not None and r.get("used_low") is not None:
            used = (r["used_high"] << 32) + r["used_low"]
        disks.append({
            "index": int(index) if index.isdigit() else index,
            "path": text(r.get("path")),
            "device": text(r.get("device")),
            "total_kb": total,
            "available_kb": avail,
            "used_kb": used,
            "size": size(total * 1024) if total is not None else None,
            "percent_used": r.get("percent") if r.get("percent") is not None else percent(used, total),
            "error": bool(r.get("error_flag")),
            "error_message": text(r.get("error_message")) or None,
        })
    processes = []
    for index, r in table(vb, UCD_PR_ENTRY, UCD_PR_COLUMNS).items():
        processes.append({
            "name": text(r.get("name")),
            "count": r.get("count"),
            "min": r.get("min"),
            "max": r.get("max"),
            "error": bool(r.get("error_flag")),
            "error_message": text(r.get("error_message")) or None,
        })
    cpu = dict((key, vb["%s.%d.0" % (UCD_SS, col)]) for col, key in UCD_SS_SCALARS.items()
               if "%s.%d.0" % (UCD_SS, col) in vb)
    if not (load or mem or disks or processes or cpu):
        return {}
    return {"load": load, "memory": mem, "disks": disks, "processes": processes, "cpu_percent": cpu}


def dsx1_alarms(line_status):
    """dsx1LineStatus bit map -> ``(alarm short names, MIB flag names, severity)``.

    severity is ``"ok"`` (dsx1NoAlarm or nothing set), ``"warning"`` or ``"critical"``.
    Loopback counts as critical: an E1 left in loopback carries no calls.
    """
    if line_status is None:
        return [], [], "unknown"
    alarms, flags, severity = [], [], "ok"
    for bit, flag, short, level in DSX1_LINE_STATUS_BITS:
        if line_status & bit:
            alarms.append(short)
            flags.append(flag)
            if level == "critical":
                severity = "critical"
            elif severity == "ok":
                severity = "warning"
    if not flags and line_status & DSX1_NO_ALARM:
        flags.append("dsx1NoAlarm")
    return alarms, flags, severity


def decode_ds1(vb):
    """DS1-MIB dsx1ConfigTable -> list of E1/T1 lines with decoded alarms."""
    names = _if_names(vb)
    sys_ticks = vb.get(SYS_UPTIME)
    lines = []
    for index, r in table(vb, DSX1_CONFIG_ENTRY, DSX1_COLUMNS).items():
        status = r.get("line_status")
        alarms, flags, severity = dsx1_alarms(status)
        if_index = r.get("if_index")
        ref = str(if_index) if if_index is not None else index
        item = {
            "index": int(index) if index.isdigit() else index,
            "if_index": if_index,
            "name": names.get(ref) or names.get(index),
            "line_type": _enum(DSX1_LINE_TYPES, r.get("line_type_raw")),
            "line_coding": _enum(DSX1_LINE_CODINGS, r.get("line_coding_raw")),
            "circuit_id": text(r.get("circuit_id")) if "circuit_id" in r else None,
            "line_status": status,
            "alarms": alarms,
            "status_flags": flags,
            "severity": severity,
            "state": {"ok": "up", "warning": "degraded", "critical": "down"}.get(severity, "unknown"),
        }
        last = r.get("status_last_change_ticks")
        if last is not None and sys_ticks is not None and sys_ticks >= last:
            item["status_changed_ago"] = duration((sys_ticks - last) // 100)
        lines.append(item)
    return lines


def decode_isdn(vb):
    """ISDN-MIB bearer channels (B channels) and LAPD (D channel) state, with per-trunk counts."""
    names = _if_names(vb)
    # ifStackStatus.<higher>.<lower>: a B channel (ds0) sits on its E1/T1
    lower_of = {}
    for idx in column(vb, IF_STACK_STATUS):
        parts = idx.split(".")
        if len(parts) == 2 and parts[1] != "0" and parts[0] != "0":
            lower_of.setdefault(parts[0], parts[1])
    channels = []
    totals = dict((s, 0) for s in ISDN_BEARER_OPER_STATUS.values())
    trunks = {}
    for index, r in table(vb, ISDN_BEARER_ENTRY, ISDN_BEARER_COLUMNS).items():
        state = _enum(ISDN_BEARER_OPER_STATUS, r.get("oper_status_raw"))
        trunk_idx = lower_of.get(index)
        trunk = names.get(trunk_idx) if trunk_idx else None
        name = names.get(index)
        if not name and trunk and r.get("channel_number") is not None:
            name = "%s B%s" % (trunk, r["channel_number"])
        channels.append({
            "if_index": int(index) if index.isdigit() else index,
            "name": name,
            "channel": r.get("channel_number"),
            "type": _enum(ISDN_BEARER_CHANNEL_TYPE, r.get("channel_type_raw")),
            "state": state,
            "peer": text(r.get("peer_address")) or None,
            "call_origin": _enum(ISDN_CALL_ORIGIN, r.get("call_origin_raw")),
            "trunk": trunk,
        })
        totals[state] = totals.get(state, 0) + 1
        key = trunk or "-"
        t = trunks.setdefault(key, dict((s, 0) for s in ISDN_BEARER_OPER_STATUS.values()))
        t[state] = t.get(state, 0) + 1
    d_channels = []
    for index, raw in sorted(column(vb, ISDN_LAPD_OPER_STATUS_OID).items(), key=lambda kv: _index_key(kv[0])):
        trunk_idx = lower_of.get(index)
        d_channels.append({"if_index": int(index) if index.isdigit() else index, "name": names.get(index),
                           "trunk": names.get(trunk_idx) if trunk_idx else None,
                           "state": _enum(ISDN_LAPD_OPER_STATUS, raw), "up": raw == 3})
    if not channels and not d_channels:
        return {}
    totals["total"] = len(channels)
    totals["busy"] = totals.get("connected", 0) + totals.get("active", 0) + totals.get("connecting", 0)
    return {"channels": channels, "summary": totals, "trunks": trunks, "d_channels": d_channels}


DECODERS = {
    "system": decode_system,
    "interfaces": decode_interfaces,
    "host": decode_host,
    "ucd": decode_ucd,
    "ds1": decode_ds1,
    "isdn": decode_isdn,
}


def decode(groups, varbinds):
    """Decode every requested group: ``{group: facts}``."""
    return dict((g, DECODERS[g](varbinds)) for g in groups)
