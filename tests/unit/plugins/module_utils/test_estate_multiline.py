# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Multi-line devices in the estate: a DECT base with its handsets' users, an ATA with its ports."""
from __future__ import absolute_import, division, print_function

import os
import sys

from ansible_collections.voipops.voip.plugins.module_utils.estate import load_estate
from ansible_collections.voipops.voip.plugins.module_utils.handsets import registrations

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # shared samples, also under --import-mode=importlib
from test_estate import errors_of, write  # noqa: E402

DEVICES = """\
handsets:
  - name: dect-ams
    mac: "80:5e:0c:1d:65:4e"
    vendor: yealink
    model: W70B
    site: ams
    lines:
      - {user: "2101", label: Reception}
      - "2102"
  - name: ata-ams
    mac: "00:56:2b:00:01:91"
    vendor: cisco
    model: ATA191
    site: ams
    lines: ["2201", "2202"]
handsets_csv: handsets.csv
"""
CSV = """\
name,mac,vendor,model,site,user,lines
hs-1,00:15:65:00:00:01,yealink,T54W,ams,2001,
ata-2,c0:74:ad:00:08:12,grandstream,HT812,ams,,2301|2302
"""


def test_a_dect_base_and_an_ata_declare_their_lines_in_yaml_and_csv(tmp_path):
    est = load_estate(write(tmp_path, DEVICES, csv=CSV))
    dect, ata, csv_ata, phone = (est.components[n] for n in ("dect-ams", "ata-ams", "ata-2", "hs-1"))
    assert dect["lines"] == [{"line": 1, "user": "2101", "label": "Reception"}, {"line": 2, "user": "2102", "label": None}]
    assert [line["user"] for line in ata["lines"]] == ["2201", "2202"] and ata["user"] is None
    assert [line["user"] for line in csv_ata["lines"]] == ["2301", "2302"]
    assert phone["lines"] == [] and phone["user"] == "2001"
    assert registrations.handset_users(dect) == ["2101", "2102"] and registrations.handset_users(phone) == ["2001"]


def test_line_errors_name_file_line_and_field(tmp_path):
    path = write(tmp_path, """\
    handsets:
      - name: dect-ams
        mac: "80:5e:0c:1d:65:4e"
        vendor: yealink
        model: W70B
        site: ams
        user: "2100"
        lines:
          - {user: "2101", port: 1}
          - {label: no user}
          - "2101"
          - "5000"
          - [nested]
    """)
    errs = errors_of(path)
    got = sorted((e.field, e.line, e.message) for e in errs)
    fields = [g[0] for g in got]
    assert fields == sorted(["lines", "lines[1].port", "lines[2].user", "lines[3].user", "lines[4].user", "lines[5]"])
    by = dict((g[0], g) for g in got)
    assert by["lines"][2].startswith("give either 'user'")
    assert by["lines[1].port"][1] == 38 and "unknown field" in by["lines[1].port"][2]
    assert by["lines[2].user"][1] == 39 and by["lines[2].user"][2] == "is required"
    assert by["lines[3].user"][1] == 40 and "already line 1" in by["lines[3].user"][2]
    assert "outside the number plan of site 'ams'" in by["lines[4].user"][2]
    assert by["lines[5]"][1] == 42 and "must be a mapping" in by["lines[5]"][2]
    assert all(e.path == path and e.obj == "handset 'dect-ams'" for e in errs)


def test_csv_line_errors_name_the_csv_file_and_row(tmp_path):
    errs = errors_of(write(tmp_path, "handsets_csv: handsets.csv\n", csv="""\
    name,mac,vendor,model,site,user,lines
    ata-2,c0:74:ad:00:08:12,grandstream,HT812,ams,,2301|2301
    """))
    (err,) = errs
    assert err.path.endswith("handsets.csv") and err.line == 2 and err.field == "lines[2].user"
    assert "already line 1" in err.message
