# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The provisioning server's access log: which device fetched which file, when, with what answer.

The format is the lab's nginx ``log_format prov`` (roles/lab/templates/nginx.conf.j2)::

    $remote_addr [$time_iso8601] "$request" $status $body_bytes_sent "$http_user_agent"

nginx's ``combined`` format (``$remote_addr - $remote_user [$time_local] "$request" $status $bytes "$referer" "$ua"``)
is read too, so a production provisioning server with default logging works.  Lines in neither format are counted
and skipped.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import io
import re

_PROV = re.compile(r'^(?P<addr>\S+) \[(?P<time>[^\]]+)\] "(?P<request>[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+|-) '
                   r'"(?P<ua>[^"]*)"\s*$')
_COMBINED = re.compile(r'^(?P<addr>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<request>[^"]*)" (?P<status>\d{3}) '
                       r'(?P<bytes>\d+|-) "[^"]*" "(?P<ua>[^"]*)"')
_MAC12 = re.compile(r"(?<![0-9a-fA-F])([0-9a-fA-F]{12})(?![0-9a-fA-F])")
UTC = datetime.timezone.utc


def parse_time(text):
    """``2026-12-07T13:55:11+00:00`` ($time_iso8601) or ``07/Dec/2026:13:55:11 +0000`` ($time_local) -> aware UTC."""
    try:
        when = datetime.datetime.fromisoformat(text)
    except ValueError:
        try:
            when = datetime.datetime.strptime(text, "%d/%b/%Y:%H:%M:%S %z")
        except ValueError:
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def parse_line(line):
    """One log line -> {addr, time (aware datetime), method, path, name (file name), status, user_agent} or None."""
    m = _PROV.match(line) or _COMBINED.match(line)
    if not m:
        return None
    when = parse_time(m.group("time"))
    parts = m.group("request").split()
    if when is None or len(parts) < 2:
        return None
    path = parts[1].split("?", 1)[0]
    return {"addr": m.group("addr"), "time": when, "method": parts[0], "path": path,
            "name": path.rsplit("/", 1)[-1], "status": int(m.group("status")), "user_agent": m.group("ua")}


def mac_in_name(name):
    """The 12 hex digits of a MAC in a file name (``001565aabbcc.cfg``, ``snomD785-000413AABBCC.htm``), lower case."""
    found = [m for m in _MAC12.findall(name or "") if m != "000000000000"]
    return found[-1].lower() if found else None


class AccessLog(object):
    """The records of one access log (read once)."""

    def __init__(self, records, skipped=0, path=None, first=None):
        self.records = records
        self.skipped = skipped
        self.path = path
        self.first = first   # time of the oldest record in the log: what is not after it, the log cannot tell

    @classmethod
    def read(cls, path, names=None, macs=None):
        """Read ``path``; keep the GET records of the file ``names`` and every failed GET whose file name or User-Agent
        carries a MAC (the requests of devices the provisioning server has no file for).  ``macs``: 12-hex MACs to
        keep whatever the answer."""
        names = set(names or ())
        macs = set(m.lower() for m in macs or ())
        records, skipped, first = [], 0, None
        with io.open(path, "r", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                rec = parse_line(line)
                if rec is None:
                    skipped += 1
                    continue
                if first is None:
                    first = rec["time"]
                mac = mac_in_name(rec["name"])
                if rec["name"] in names or (mac and mac in macs) or (rec["status"] >= 400 and mac):
                    rec["mac_hex"] = mac
                    records.append(rec)
        return cls(records, skipped, path, first)

    def fetches(self, names):
        """Records of the files ``names`` (any answer), oldest first."""
        names = set(names)
        return [r for r in self.records if r["name"] in names]
