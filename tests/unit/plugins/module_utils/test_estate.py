# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
import os
import textwrap

import pytest

from ansible_collections.voipops.voip.plugins.module_utils.estate import load_estate, parse_number_range
from ansible_collections.voipops.voip.plugins.module_utils.handsets.registrations import normalize_mac
from ansible_collections.voipops.voip.plugins.module_utils.sla import format_duration, parse_days, parse_duration
from ansible_collections.voipops.voip.plugins.module_utils.source import SourceErrors

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
LAB_ESTATE = os.path.join(ROOT, "inventories", "lab", "estate.yml")

BASE = """\
version: 1
sites:
  - name: ams
    subnets: [10.1.0.0/16]
    extensions: ["2000-2999"]
    dids: ["+31201234000-+31201234999"]
    timezone: Europe/Amsterdam
    handset_maintainer: phonecare
    handset_depends_on: [cs1]
suppliers:
  - name: acme
    coverage: 24x7
    sla:
      P1: {response: 15m, resolve: 4h}
      P2: {response: 30m, resolve: 8h}
      P3: {response: 4h, resolve: 2d}
      P4: {response: 1d, resolve: 10d}
  - name: phonecare
    coverage: business_hours
    sla:
      P1: {response: 1h, resolve: 4h}
      P2: {response: 2h, resolve: 1d}
      P3: {response: 1d, resolve: 3d}
      P4: {response: 2d, resolve: 10d}
callservers:
  - name: cs1
    site: ams
    maintainer: acme
    address: 10.1.0.10
"""


def write(tmp_path, extra="", base=BASE, csv=None):
    path = tmp_path / "estate.yml"
    path.write_text(base + textwrap.dedent(extra))
    if csv is not None:
        (tmp_path / "handsets.csv").write_text(textwrap.dedent(csv))
    return str(path)


def errors_of(path):
    with pytest.raises(SourceErrors) as info:
        load_estate(path)
    return info.value.errors


def test_lab_estate_loads_with_everything_linked():
    est = load_estate(LAB_ESTATE)
    assert set(est.sites) == {"ams", "rtm"}
    assert {s["coverage"] for s in est.suppliers.values()} == {"24x7", "business_hours"}
    hs = est.component("hs-1002")
    assert hs["mac"] == "00:04:f2:10:01:02"  # Cisco-dotted input -> unix_expanded
    assert hs["maintainer"] == "phonecare" and hs["depends_on"] == ["cs1", "lan-ams"]
    # from the CSV file, with its own line number
    csv_hs = est.component("hs-3001")
    assert csv_hs["source"]["file"].endswith("handsets.csv") and csv_hs["source"]["line"] == 4
    assert csv_hs["depends_on"] == ["cs1", "wan-rtm"]
    # trunks depend on their gateway implicitly; the WAN chain is transitive
    assert "mgw1" in est.component("e1-mgw1-1")["depends_on"]
    assert {"mgw2", "pri-mgw2-0", "hs-3001"} <= est.descendants("wan-ams")
    assert est.level("lan-ams") == 0 and est.level("hs-1001") == 2
    assert est.approved_versions("yealink", "T54W") == ["96.86.0.100", "96.86.0.110"]
    assert est.approved_versions("yealink", "T46U") == ["96.86.0.110"]
    assert est.approved_versions("cisco", "8841") is None


def test_every_error_is_reported_with_file_line_and_field(tmp_path):
    path = write(tmp_path, """\
    gateways:
      - name: mgw1
        kind: router
        site: ams
        maintainer: nobody
        address: 10.2.0.1
        depends_on: [cs9]
    handsets:
      - name: hs-1
        mac: "00:15:65:zz:00:01"
        vendor: yealink
        model: T54W
        site: ams
        user: "5000"
    """)
    errs = errors_of(path)
    by_field = dict((e.field, e) for e in errs)
    assert set(by_field) >= {"kind", "maintainer", "address", "depends_on", "mac", "user"}
    assert by_field["kind"].line == 32 and "router" in by_field["kind"].message
    assert by_field["address"].line == 35 and "not inside the subnets of site 'ams'" in by_field["address"].message
    assert by_field["maintainer"].line == 34 and "unknown supplier 'nobody'" in by_field["maintainer"].message
    assert by_field["depends_on"].line == 36 and "cs9" in by_field["depends_on"].message
    assert by_field["mac"].line == 39 and by_field["mac"].obj == "handset 'hs-1'"
    assert by_field["user"].line == 43 and "outside the number plan" in by_field["user"].message
    assert all(e.path == path for e in errs)
    text = str(SourceErrors(errs))
    assert "estate.yml line 39, handset 'hs-1': mac: '00:15:65:zz:00:01' is not a MAC address" in text


def test_dependency_cycle_is_rejected(tmp_path):
    path = write(tmp_path, """\
    links:
      - {name: lan1, kind: lan, a: {external: sw1}, site: ams, maintainer: acme, depends_on: [lan2]}
      - {name: lan2, kind: lan, a: {external: sw2}, site: ams, maintainer: acme, depends_on: [lan3]}
      - {name: lan3, kind: lan, a: {external: sw3}, site: ams, maintainer: acme, depends_on: [lan1]}
    """)
    (err,) = errors_of(path)
    assert "dependency cycle" in err.message and err.field == "depends_on"
    assert "lan1 -> lan2 -> lan3 -> lan1" in err.message


def test_csv_errors_name_the_csv_file_and_line(tmp_path):
    path = write(tmp_path, "handsets_csv: handsets.csv\n", csv="""\
    name,mac,vendor,model,site,user
    hs-1,00:15:65:00:00:01,yealink,T54W,ams,2001
    hs-2,00:15:65:00:00:01x,yealink,T54W,ams,2002
    hs-1,00:15:65:00:00:03,yealink,T54W,ams,2003
    hs-4,00:15:65:00:00:04,yealink,T54W,nowhere,2004
    """)
    errs = errors_of(path)
    assert [(os.path.basename(e.path), e.line, e.field) for e in errs] == [
        ("handsets.csv", 3, "mac"), ("handsets.csv", 4, "name"), ("handsets.csv", 5, "site")]
    assert "duplicate name" in errs[1].message and "line 2" in errs[1].message


def test_a_multicast_mac_is_refused_in_the_estate_as_in_provisioning(tmp_path):
    # one MAC rule: the estate refuses what handset_provision would refuse, at the file, line and field
    path = write(tmp_path, "handsets_csv: handsets.csv\n", csv="""\
    name,mac,vendor,model,site,user
    hs-1,01:00:5e:00:00:01,yealink,T54W,ams,2001
    """)
    (err,) = errors_of(path)
    assert (os.path.basename(err.path), err.line, err.field) == ("handsets.csv", 2, "mac")
    assert "multicast" in err.message


def test_missing_csv_points_at_the_estate_key(tmp_path):
    path = write(tmp_path, "handsets_csv: missing.csv\n")
    (err,) = errors_of(path)
    assert err.path == path and err.field == "handsets_csv" and "cannot read" in err.message


def test_overlapping_number_ranges_and_bad_sla(tmp_path):
    base = BASE.replace('extensions: ["2000-2999"]', 'extensions: ["2000-2999", "2500-2600"]')
    base = base.replace("P3: {response: 4h, resolve: 2d}", "P3: {response: 4x, resolve: 2d}")
    errs = errors_of(write(tmp_path, base=base))
    msgs = [(e.field, e.message) for e in errs]
    assert ("extensions", "2500-2600 overlaps 2000-2999 of site 'ams'") in msgs
    assert any(f == "sla.P3.response" and "not a duration" in m for f, m in msgs)


def test_unknown_field_and_timezone(tmp_path):
    base = BASE.replace("Europe/Amsterdam", "Europe/Amsterdan").replace("address: 10.1.0.10", "adress: 10.1.0.10")
    errs = errors_of(write(tmp_path, base=base))
    fields = sorted(e.field for e in errs)
    assert fields == ["address", "adress", "timezone"]


@pytest.mark.parametrize("text,expected", [
    ("30m", {"days": 0, "minutes": 30}), ("4h", {"days": 0, "minutes": 240}), ("2d", {"days": 2, "minutes": 0}),
    ("1d4h", {"days": 1, "minutes": 240}), ("1h30m", {"days": 0, "minutes": 90}), (45, {"days": 0, "minutes": 45}),
])
def test_durations(text, expected):
    assert parse_duration(text) == expected
    assert parse_duration(format_duration(expected)) == expected


@pytest.mark.parametrize("bad", ["", "h", "4 hours", "-1h", "1.5h", True])
def test_bad_durations(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_number_ranges():
    rng = parse_number_range("+31201234000-+31201234999", e164=True)
    assert "+31201234567" in rng and "+31201235000" not in rng and "31201234567" not in rng
    assert len(rng) == 1000 and str(rng) == "+31201234000-+31201234999"
    assert "0999" not in parse_number_range("1000-1999") and "1500" in parse_number_range("1000-1999")
    for bad, e164 in (("2999-2000", False), ("200-2999", False), ("31201234000", True), ("+1234", True), ("12a", False)):
        with pytest.raises(ValueError):
            parse_number_range(bad, e164=e164)


def test_macs_and_days():
    assert normalize_mac("0015.65AA.BBCC") == "00:15:65:aa:bb:cc"
    assert normalize_mac("00-15-65-aa-bb-cc") == "00:15:65:aa:bb:cc"
    assert normalize_mac("00:15:65:AA:BB:CC") == normalize_mac("001565AABBCC") == "00:15:65:aa:bb:cc"
    for bad in ("00:15:65:aa:bb", "00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", "hello", "01:00:5e:00:00:01"):
        with pytest.raises(ValueError):
            normalize_mac(bad)
    assert parse_days("mon-fri") == [0, 1, 2, 3, 4]
    assert parse_days("fri-mon") == [0, 4, 5, 6]
    assert parse_days(["sat", "sunday"]) == [5, 6]


def test_one_mac_in_two_notations_is_one_device_named_at_both_places(tmp_path):
    path = write(tmp_path, "handsets_csv: handsets.csv\n", csv="""\
    name,mac,vendor,model,site,user
    hs-1,00:15:65:AA:BB:CC,yealink,T54W,ams,2001
    hs-2,0015.65aa.bbcc,yealink,T54W,ams,2002
    """)
    (err,) = errors_of(path)
    assert (os.path.basename(err.path), err.line, err.field) == ("handsets.csv", 3, "mac")
    assert "already used by handset 'hs-1' (handsets.csv line 2)" in err.message


def test_the_estate_sets_its_own_audit_thresholds_and_misspelt_ones_are_named(tmp_path):
    good = load_estate(write(tmp_path, """\
    thresholds:
      ner_min_pct: 90
      media_mos_warning: 3.8
    """))
    assert good.thresholds == {"ner_min_pct": 90, "media_mos_warning": 3.8}
    assert good.as_dict()["thresholds"] == good.thresholds
    errs = errors_of(write(tmp_path, """\
    thresholds:
      ner_min_pc: 90
      cpu_warning: -5
      disk_warning: lots
    """))
    by_field = dict((e.field, e) for e in errs)
    assert set(by_field) == {"thresholds.ner_min_pc", "thresholds.cpu_warning", "thresholds.disk_warning"}
    assert "did you mean ner_min_pct?" in by_field["thresholds.ner_min_pc"].message
    assert by_field["thresholds.cpu_warning"].line == 32 and ">= 0" in by_field["thresholds.cpu_warning"].message
    assert all(e.path.endswith("estate.yml") for e in errs)


def test_handsets_carry_release_tags_and_a_firmware_pin_from_yaml_and_csv(tmp_path):
    # docs/release_rollout.md: a release's scope.groups are estate handset tags; a handset's `firmware` pins its version
    from ansible_collections.voipops.voip.plugins.module_utils.release.handset import load_estate_handsets
    path = write(tmp_path, """\
    handsets:
      - {name: hs-1, mac: "00:15:65:00:00:01", vendor: yealink, model: T54W, site: ams, user: 2001,
         tags: [pilot, lobby], firmware: 96.86.0.120}
      - {name: hs-2, mac: "00:15:65:00:00:02", vendor: cisco, model: CP-8841-3PCC, site: ams, user: 2002, firmware: 11.3}
    handsets_csv: handsets.csv
    """, csv="""\
    name,mac,vendor,model,site,user,tags,firmware
    hs-3,00:15:65:00:00:03,yealink,T54W,ams,2003,pilot|floor2,
    hs-4,00:15:65:00:00:04,yealink,T54W,ams,2004,,96.86.0.110
    """)
    est = load_estate(path)
    assert est.component("hs-1")["tags"] == ["pilot", "lobby"] and est.component("hs-1")["firmware"] == "96.86.0.120"
    assert est.component("hs-2")["firmware"] == "11.3"  # a YAML number, read as the version's text
    assert est.component("hs-3")["tags"] == ["pilot", "floor2"] and not est.component("hs-3")["firmware"]
    records, _sites, groups = load_estate_handsets(path)
    assert groups == {"pilot": ["hs-1", "hs-3"], "lobby": ["hs-1"], "floor2": ["hs-3"]}
    pins = dict((r["name"], r.get("firmware")) for r in records)
    assert pins == {"hs-1": "96.86.0.120", "hs-2": "11.3", "hs-3": None, "hs-4": "96.86.0.110"}


def test_a_firmware_pin_with_a_space_is_refused_at_its_line_and_field(tmp_path):
    path = write(tmp_path, """\
    handsets:
      - name: hs-1
        mac: "00:15:65:00:00:01"
        vendor: yealink
        model: T54W
        site: ams
        user: 2001
        firmware: "96.86 0.120"
    """)
    (err,) = errors_of(path)
    assert (err.line, err.field) == (37, "firmware") and "firmware version" in err.message
