# -*- coding: utf-8 -*-
"""Handset firmware releases without a server: the release file's validation, wave planning, the maintenance
window, the gate verdict and the release record."""
import datetime
import os
import stat

import pytest

from ansible_collections.voipops.voip.plugins.module_utils.release import spec, waves
from ansible_collections.voipops.voip.plugins.module_utils.release.record import Record, RecordError
from ansible_collections.voipops.voip.plugins.module_utils.schema.release import ReleaseContext
from ansible_collections.voipops.voip.plugins.module_utils.source import SourceErrors

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
UTC = datetime.timezone.utc

IMAGES = [
    {"vendor": "yealink", "family": "T5xW", "version": "96.86.0.100", "file": "f1", "size": 1, "sha256": "a"},
    {"vendor": "yealink", "family": "T5xW", "version": "96.86.0.120", "file": "f2", "size": 1, "sha256": "b"},
    {"vendor": "cisco", "family": "88xx", "version": "11.3.9", "file": "f3", "size": 1, "sha256": "c"},
]


def _phones(n):
    out = {}
    for i in range(n):
        vendor, model, family = (("yealink", "T54W", "T5xW"), ("cisco", "CP-8841-3PCC", "88xx"),
                                 ("poly", "VVX450", "VVX"))[i % 3]
        name = "hs-%03d" % i
        out[name] = {"name": name, "vendor": vendor, "model": model, "family": family,
                     "site": "ams" if i % 2 == 0 else "rtm"}
    return out


def _ctx(n=12):
    return ReleaseContext(sites={"ams": {"timezone": "Europe/Amsterdam"}, "rtm": {"timezone": "Europe/Amsterdam"}},
                          handsets=_phones(n), images=IMAGES, groups={"pilot": ["hs-000", "hs-001"]})


def _write(tmp_path, text, name="release.yml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


GOOD = """\
id: fw-2026-12
kind: handset_firmware
description: Yealink and Cisco to the December images
targets:
  - {vendor: yealink, family: T5xW, version: 96.86.0.120}
  - {vendor: cisco, model: CP-8841-3PCC, version: 11.3.9}
scope:
  sites: [ams, rtm]
waves:
  canary: 2
  then: ["50%", 3]
window: {days: mon-fri, start: "22:00", end: "05:00"}
gate: {registered: 95%, timeout: 90s, unregistered_rise: 1}
"""


def test_a_good_release_is_read_into_plain_data(tmp_path):
    rel = spec.load_handset_firmware(_write(tmp_path, GOOD), _ctx())
    assert rel["id"] == "fw-2026-12" and rel["kind"] == "handset_firmware"
    assert sorted(rel["targets"]) == [("cisco", "88xx"), ("yealink", "T5xW")]
    assert rel["targets"][("cisco", "88xx")]["version"] == "11.3.9"
    assert rel["waves"] == {"canary": 2, "then": [["share", 0.5], ["count", 3]]}
    assert rel["window"] == {"days": [0, 1, 2, 3, 4], "start": "22:00", "end": "05:00", "timezone": None}
    assert rel["gate"] == {"registered": 0.95, "timeout": 90, "unregistered_rise": 1}
    # the digest follows the content
    other = spec.load_handset_firmware(_write(tmp_path, GOOD.replace("timeout: 90s", "timeout: 2m"), "b.yml"), _ctx())
    assert other["digest"] != rel["digest"] and other["gate"]["timeout"] == 120


def test_every_error_is_reported_at_its_file_line_and_field(tmp_path):
    bad = """\
id: fw 2026
kind: handset_firmware
targets:
  - {vendor: yealink, family: T5xW, version: 96.86.0.999}
  - {vendor: nokia, family: X, version: 1}
scope:
  sites: [ams, lon]
  handsets: [hs-000, hs-999]
waves:
  canary: -1
  then: ["150%", lots]
window: {start: "25:00", end: "05:00", timezone: Mars/Olympus}
gate: {registered: 0%, timeout: soon}
"""
    path = _write(tmp_path, bad)
    with pytest.raises(SourceErrors) as err:
        spec.load_handset_firmware(path, _ctx())
    found = dict((e["field"], e) for e in err.value.as_list())
    for e in err.value.as_list():
        assert e["file"] == path and e["line"]
    # the common part is checked first: the id
    assert list(found) == ["id"] and found["id"]["line"] == 1
    with pytest.raises(SourceErrors) as err:
        spec.load_handset_firmware(_write(tmp_path, bad.replace("fw 2026", "fw-2026"), "c.yml"), _ctx())
    found = dict((e["field"], e) for e in err.value.as_list())
    assert "96.86.0.999" in found["targets[0].version"]["message"] and found["targets[0].version"]["line"] == 4
    assert "96.86.0.120" in found["targets[0].version"]["message"]      # says what the server has
    assert "unknown vendor 'nokia'" in found["targets[1].vendor"]["message"]
    assert "unknown site 'lon'" in found["scope.sites"]["message"] and found["scope.sites"]["line"] == 7
    assert "unknown handset 'hs-999'" in found["scope.handsets"]["message"] and found["scope.handsets"]["line"] == 8
    assert "0 or more" in found["waves.canary"]["message"] and found["waves.canary"]["line"] == 10
    assert found["waves.then"]["line"] == 11
    assert "'25:00' is not a time" in found["window.start"]["message"] and found["window.start"]["line"] == 12
    assert "Mars/Olympus" in found["window.timezone"]["message"]
    assert "above 0%" in found["gate.registered"]["message"] and "'soon'" in found["gate.timeout"]["message"]


def test_a_release_of_another_kind_or_without_targets_is_refused(tmp_path):
    with pytest.raises(SourceErrors) as err:
        spec.load_handset_firmware(_write(tmp_path, "id: r1\nkind: gateway_firmware\n"), _ctx())
    assert err.value.as_list()[0]["field"] == "kind" and "not handset_firmware" in str(err.value)
    with pytest.raises(SourceErrors) as err:
        spec.load_handset_firmware(_write(tmp_path, "id: r1\nkind: firmware\n", "k.yml"), _ctx())
    assert "'firmware' is not a release kind" in str(err.value)
    with pytest.raises(SourceErrors) as err:
        spec.load_handset_firmware(_write(tmp_path, "id: r1\nkind: handset_firmware\n", "t.yml"), _ctx())
    assert [e["field"] for e in err.value.as_list()] == ["targets"]


def test_scope_filters_and_families_are_interleaved_for_the_canary():
    handsets = list(_phones(12).values())
    targets = {("yealink", "T5xW"): IMAGES[1], ("cisco", "88xx"): IMAGES[2]}
    order, excluded = waves.select(handsets, targets, {"sites": ["ams"]})
    assert set(order) == set(h["name"] for h in handsets if h["site"] == "ams" and h["vendor"] != "poly")
    # a canary of 2 carries both families
    assert set(_phones(12)[n]["vendor"] for n in order[:2]) == {"cisco", "yealink"}
    assert excluded == [{"name": n, "reason": "no target image for poly VVX"}
                        for n in sorted(h["name"] for h in handsets if h["site"] == "ams" and h["vendor"] == "poly")]
    # an explicit list keeps its order; groups and models filter
    order, _excluded = waves.select(handsets, targets, {"handsets": ["hs-003", "hs-001", "hs-000"]})
    assert order == ["hs-003", "hs-001", "hs-000"]
    order, _excluded = waves.select(handsets, targets, {"groups": ["pilot"], "models": ["T54W"]}, {"pilot": ["hs-000", "hs-001"]})
    assert order == ["hs-000"]


def test_waves_are_a_canary_then_shares_or_counts_and_cover_everyone_once():
    names = ["p%02d" % i for i in range(50)]
    plan = waves.split(names, 2, [("share", 0.1), ("count", 20)])
    assert [len(w) for w in plan] == [2, 5, 20, 23]
    assert sum(plan, []) == names
    assert [len(w) for w in waves.split(names, 0, [("share", 1.0)])] == [50]
    assert [len(w) for w in waves.split(names[:3], 5, [("share", 0.5)])] == [3]


def test_the_maintenance_window_is_read_in_the_sites_time_zone():
    night = {"days": [0, 1, 2, 3, 4], "start": "22:00", "end": "05:00", "timezone": None}
    # Monday 2026-12-07 21:30 UTC = 22:30 in Amsterdam (open there), 21:30 in UTC (closed)
    when = datetime.datetime(2026, 12, 7, 21, 30, tzinfo=UTC)
    assert waves.window_open(night, when, "Europe/Amsterdam") and not waves.window_open(night, when, "UTC")
    # past midnight into Saturday morning counts for Friday's window; Saturday night does not
    assert waves.window_open(night, datetime.datetime(2026, 12, 12, 3, 0, tzinfo=UTC), "UTC")
    assert not waves.window_open(night, datetime.datetime(2026, 12, 12, 23, 0, tzinfo=UTC), "UTC")
    ok, detail = waves.window_check(night, datetime.datetime(2026, 12, 7, 12, 0, tzinfo=UTC), {"Europe/Amsterdam"})
    assert not ok and "Mon 2026-12-07 13:00 Europe/Amsterdam is outside the maintenance window" in detail
    assert waves.window_check(None, when, {None}) == (True, None)
    assert waves.window_open({"days": [0], "start": "00:00", "end": "00:00"}, when)


def test_the_gate_counts_the_share_on_target_and_the_rise_outside():
    gate = {"registered": 0.75, "timeout": 60, "unregistered_rise": 0}
    outcomes = {"a": waves.outcome({"registered": True, "firmware": "2"}, "2", True),
                "b": waves.outcome({"registered": True, "firmware": "1"}, "2", False),
                "c": waves.outcome({"registered": True, "firmware": "1"}, "2", True),
                "d": waves.outcome({"registered": False}, "2", True),
                "e": waves.outcome({"registered": True, "firmware": "2"}, "2", True)}
    assert outcomes == {"a": "on_target", "b": "image_refused", "c": "came_back_on_old_version",
                        "d": "did_not_come_back", "e": "on_target"}
    verdict = waves.judge(outcomes, gate, [])
    assert not verdict["passed"] and verdict["share"] == 0.4
    assert verdict["failed"] == {"b": "image_refused", "c": "came_back_on_old_version", "d": "did_not_come_back"}
    ok = waves.judge({"a": "on_target", "b": "on_target", "c": "on_target", "d": "image_refused"}, gate, [])
    assert ok["passed"] and ok["share"] == 0.75
    # a phone outside the wave going down fails an otherwise good wave
    assert not waves.judge({"a": "on_target"}, gate, ["x"])["passed"]
    # deferred phones are counted apart
    deferred = waves.judge({"a": "on_target", "b": waves.DEFERRED}, dict(gate, registered=1.0), [])
    assert deferred["passed"] and deferred["deferred"] == ["b"] and deferred["counted"] == 1


def test_the_record_is_saved_atomically_owner_only_and_reopened(tmp_path):
    rec = Record.open(str(tmp_path), "fw-1", "handset_firmware")
    assert rec.new and not os.path.exists(rec.path)
    with rec.lock():
        rec.set_waves([["a"], ["b", "c"]])
        rec.mark("a", "in_progress", before="1")
        rec.set_wave(0, "in_progress")
        rec.status = "in_progress"
        rec.save()
        with pytest.raises(RecordError, match="another run"):
            with Record.open(str(tmp_path), "fw-1", "handset_firmware").lock():
                pass
    assert stat.S_IMODE(os.stat(rec.path).st_mode) == 0o600
    assert not [n for n in os.listdir(str(tmp_path)) if n.startswith(".tmp-")]
    again = Record.open(str(tmp_path), "fw-1", "handset_firmware")
    assert not again.new and again.status == "in_progress"
    assert again.target("a")["before"] == "1" and [h["state"] for h in again.target("a")["history"]] == ["in_progress"]
    assert again.names_in("pending") == ["b", "c"] and again.wave(0)["started"]
    page = open(rec.page_path).read()
    assert "# Release fw-1" in page and "| a | in_progress | 1 |" in page
    with pytest.raises(RecordError, match="is recorded as a handset_firmware release"):
        Record.open(str(tmp_path), "fw-1", "gateway_firmware")
    with open(rec.path, "w") as handle:
        handle.write("{half")
    with pytest.raises(RecordError, match="not JSON"):
        Record.open(str(tmp_path), "fw-1", "handset_firmware")


def test_the_example_release_of_the_lab_is_valid(tmp_path):
    from ansible_collections.voipops.voip.plugins.module_utils.release import handset
    handsets, sites, groups = handset.load_estate_handsets(os.path.join(ROOT, "inventories/lab/estate.yml"))
    from ansible_collections.voipops.voip.plugins.module_utils.handsets import base
    by_name = {}
    for h in handsets:
        profile = base.get_profile(h["vendor"])
        model = profile.canonical_model(h["model"])
        by_name[h["name"]] = dict(h, vendor=profile.vendor, model=model, family=profile.family(model))
    images = [{"vendor": "yealink", "family": "T5xW", "version": "96.86.0.120", "file": "x", "size": 1, "sha256": "0"}]
    rel = spec.load_handset_firmware(os.path.join(ROOT, "inventories/lab/releases/handset-firmware-example.yml"),
                                     ReleaseContext(sites=sites, handsets=by_name, images=images, groups=groups))
    order, excluded = waves.select(list(by_name.values()), rel["targets"], rel["scope"], groups)
    assert order and all(by_name[n]["model"] == "T54W" for n in order)
    assert len(waves.split(order, rel["waves"]["canary"], rel["waves"]["then"])) >= 2
    assert rel["window"]["start"] == rel["window"]["end"]   # the lab window is always open


def test_estate_handsets_of_a_release_keep_the_lines_of_a_dect_base_and_an_ata():
    # the lab estate declares a Yealink W70B base and a Cisco ATA191 with lines: a release reads them as
    # handset_provision takes them (their lines' users, no single user), not as handsets without an account
    from ansible_collections.voipops.voip.plugins.module_utils.release.handset import load_estate_handsets
    handsets, _sites, _groups = load_estate_handsets(os.path.join(ROOT, "inventories", "lab", "estate.yml"))
    by_name = dict((h["name"], h) for h in handsets)
    assert by_name["dect-1010"]["lines"] == ["1010", "1011"] and "user" not in by_name["dect-1010"]
    assert by_name["ata-1020"]["lines"] == ["1020", "1021"]
    assert by_name["hs-1001"]["user"] == "1001" and "lines" not in by_name["hs-1001"]


def test_phones_in_a_call_are_found_by_their_registered_contact():
    contacts = {"hs-1": ["sip:1001@127.0.0.1:40001"], "hs-2": ["sip:1002@127.0.0.1:40002;transport=udp"],
                "dect": ["sip:1010@127.0.0.1:40010", "sip:1011@127.0.0.1:40010"], "hs-4": ["sip:1004@10.0.0.4"],
                "idle": ["sip:1005@127.0.0.1:40005"]}
    calls = [
        # answered: both parties are in a call
        {"call_id": "c1", "state": "confirmed", "caller": {"contact": "sip:1001@127.0.0.1:40001"},
         "callee": {"contact": "<sip:1002@127.0.0.1:40002>"}},
        # being set up: the caller is in a call, the phone that rings is not
        {"call_id": "c2", "state": "early", "caller": {"contact": "sip:1011@127.0.0.1:40010;ob"},
         "callee": {"contact": "sip:1005@127.0.0.1:40005"}},
        # a contact without a port is port 5060; a party that is no phone of ours (a gateway) is ignored
        {"call_id": "c3", "state": "confirmed", "caller": {"contact": "sip:1004@10.0.0.4:5060"},
         "callee": {"contact": "sip:90001@127.0.0.1:5090"}},
        {"call_id": "c4", "state": "confirmed", "caller": {"contact": "sip:1001@127.0.0.1:40001"},
         "callee": {"contact": None}},
    ]
    assert waves.phones_in_calls(contacts, calls) == {"hs-1": ["c1", "c4"], "hs-2": ["c1"], "dect": ["c2"],
                                                      "hs-4": ["c3"]}
    assert waves.phones_in_calls(contacts, []) == {} and waves.phones_in_calls({}, calls) == {}


def test_the_page_shows_deferred_phones_and_their_retry_pass(tmp_path):
    rec = Record.open(str(tmp_path), "fw-2", "handset_firmware")
    with rec.lock():
        rec.set_waves([["a", "b"]])
        rec.mark("a", "done", before="1", after="2", outcome="on_target")
        rec.mark("b", "deferred", before="1", outcome=waves.DEFERRED, calls=["c1"])
        rec.set_wave(0, "done", gate=waves.judge({"a": "on_target", "b": waves.DEFERRED},
                                                 {"registered": 1.0, "unregistered_rise": 0}, []))
        rec.wave(0)["passes"] = [{"at": "2026-12-07T22:10:00Z", "names": ["b"], "outcomes": {"b": "on_target"}}]
        rec.save()
    page = open(rec.page_path).read()
    assert "gate passed: 1/1 on target" in page and "1 deferred (in a call: b)" in page
    assert "| b | deferred | 1 | - | deferred |" in page
    assert "- 2026-12-07T22:10:00Z: b retried after their call (b on_target)" in page
    with pytest.raises(RecordError):
        rec.mark("b", "postponed")
