# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Large audit data by file (#16): handset_info reads the handsets from the estate file and writes its whole answer to a
0600 file, audit_report reads check results from files (the same reports, tickets and webhook as inline results, a
slice's partial report keeps them), and tickets_limit bounds what the job log gets."""
import json
import os
import stat
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils"))

from ansible_collections.voipops.voip.plugins.modules import audit_report, handset_info  # noqa: E402
from ansible_collections.voipops.voip.plugins.module_utils.estate import load_estate  # noqa: E402
from test_findings import NOW, contacts  # noqa: E402
from test_audit_merge import UNKNOWN, faulty_results  # noqa: E402
from test_report import _Receiver  # noqa: E402
from tests.support.modargs import patch_module_args  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
ESTATE = os.path.join(ROOT, "inventories", "lab", "estate.yml")
RPC = "http://127.0.0.1:9/RPC"


class _Driver(object):
    """The callserver's registrations as KamailioRPC.registrations() gives them (its ul.dump parsing has its own
    tests); the lab's integration tests read them from the real Kamailio."""

    def __init__(self, records):
        self.records = records

    def registrations(self):
        return self.records


def _run(module, capsys, check=False, **args):
    args["_ansible_check_mode"] = check
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


def _handset_info(capsys, monkeypatch, records, check=False, **args):
    monkeypatch.setattr(handset_info, "get_driver", lambda **_kw: _Driver(records))
    return _run(handset_info, capsys, check=check, rpc_url=RPC, **args)


def _registrations():
    """The lab's registrations with hs-1002 and the DECT base's first line missing, and an unknown device."""
    return [c for c in contacts(skip=("hs-1002",), extra=(UNKNOWN,)) if not c["aor"].startswith("sip:1010@")]


def test_handsets_from_the_estate_file_are_the_handsets_given_inline(capsys, monkeypatch):
    inline = _handset_info(capsys, monkeypatch, _registrations(), handsets=load_estate(ESTATE).handsets)
    from_file = _handset_info(capsys, monkeypatch, _registrations(), estate_file=ESTATE)
    for key in ("handsets", "unregistered", "unknown", "summary"):
        assert from_file[key] == inline[key], key
    assert from_file["unregistered"] == ["hs-1002"] and from_file["summary"]["unknown_devices"] == 1
    assert from_file["registered_sample"] == [] and "dest" not in from_file


def test_dest_gets_the_whole_answer_the_play_only_the_summary_and_the_sample(capsys, monkeypatch, tmp_path):
    whole = _handset_info(capsys, monkeypatch, _registrations(), estate_file=ESTATE)
    dest = tmp_path / "private" / "handset_info.json"
    # check mode too: the file is this run's answer (the audit computes its report in check mode)
    res = _handset_info(capsys, monkeypatch, _registrations(), check=True, estate_file=ESTATE, dest=str(dest),
                        registered_sample=3)
    assert not res.get("failed"), res
    assert res["changed"] is False and res["dest"] == str(dest) and res["summary"] == whole["summary"]
    assert not set(res) & {"handsets", "unregistered", "unknown"}
    saved = json.loads(dest.read_text())
    assert saved == dict((k, whole[k]) for k in ("handsets", "unregistered", "unknown", "summary"))
    assert stat.S_IMODE(os.stat(str(dest)).st_mode) == 0o600
    # the first three registered handsets in estate order (hs-1002 is not registered)
    registered = [h for h in whole["handsets"] if h["registered"]][:3]
    assert "hs-1002" not in [h["name"] for h in registered]
    # a multi-line device is called on a line that is registered (the DECT base's first line is not)
    assert res["registered_sample"] == [{"name": h["name"], "user": [ln["user"] for ln in h["lines"] if ln["registered"]][0]}
                                        for h in registered]
    assert {"name": "dect-1010", "user": "1011"} in res["registered_sample"]


def test_a_multi_line_device_is_sampled_with_its_registered_line(capsys, monkeypatch):
    only_dect = [c for c in _registrations() if c["aor"].startswith("sip:1011@")]
    res = _handset_info(capsys, monkeypatch, only_dect, estate_file=ESTATE, registered_sample=5)
    assert res["registered_sample"] == [{"name": "dect-1010", "user": "1011"}]


def test_handset_info_wants_one_source_of_handsets_and_names_a_bad_estate(capsys, monkeypatch, tmp_path):
    res = _handset_info(capsys, monkeypatch, [])
    assert res["failed"] and "handsets" in res["msg"] and "estate_file" in res["msg"]
    bad = tmp_path / "estate.yml"
    bad.write_text(open(ESTATE).read().replace("handset_maintainer: phonecare", "handset_maintainer: nobody", 1))
    res = _handset_info(capsys, monkeypatch, [], estate_file=str(bad))
    assert res["failed"] and str(bad) in res["msg"] and "nobody" in res["msg"]
    assert res["errors"] and res["errors"][0]["line"]


def _report(capsys, check=False, **args):
    args.setdefault("estate_file", ESTATE)
    args.setdefault("callserver", "cs1")
    args.setdefault("now", NOW)
    return _run(audit_report, capsys, check=check, **args)


def _split(results, tmp_path, families=("registrations", "snmp")):
    """``results`` with ``families`` moved to JSON files: (inline results, results_files)."""
    files = {}
    for family in families:
        path = tmp_path / ("%s.json" % family)
        path.write_text(json.dumps(results[family]))
        files[family] = str(path)
    return dict((k, v) for k, v in results.items() if k not in families), files


def test_results_by_file_give_the_reports_tickets_and_webhook_of_inline_results(capsys, tmp_path):
    results = faulty_results()
    inline, files = _split(results, tmp_path)
    receiver = _Receiver()
    try:
        whole = _report(capsys, dest=str(tmp_path / "inline"), results=results, webhook_url=receiver.url)
        by_file = _report(capsys, dest=str(tmp_path / "by-file"), results=inline, results_files=files,
                          webhook_url=receiver.url)
    finally:
        receiver.close()
    assert not by_file.get("failed"), by_file
    assert by_file["tickets"] == whole["tickets"] and len(whole["tickets"]) >= 5
    assert by_file["summary"] == whole["summary"] and by_file["status"] == "critical"
    assert "hs-1002" in [t["component"] for t in by_file["tickets"]]  # the registrations came from the file
    for fmt in ("json", "html", "junit"):
        with open(by_file["reports"][fmt]) as a, open(whole["reports"][fmt]) as b:
            assert a.read() == b.read(), fmt
    assert len(receiver.bodies) == 2 and receiver.bodies[1] == receiver.bodies[0]


def test_handset_info_s_file_feeds_audit_report(capsys, monkeypatch, tmp_path):
    dest = tmp_path / "handset_info.json"
    _handset_info(capsys, monkeypatch, _registrations(), estate_file=ESTATE, dest=str(dest))
    res = _report(capsys, dest=str(tmp_path / "reports"), results_files={"handset_info": str(dest)})
    assert not res.get("failed"), res
    kinds = sorted((t["component"], t["kind"]) for t in res["tickets"])
    assert ("hs-1002", "not_registered") in kinds and ("cs1", "unknown_devices") in kinds


def test_a_slice_keeps_what_its_files_held_so_the_merge_needs_none(capsys, tmp_path):
    results = faulty_results()
    whole = _report(capsys, dest=str(tmp_path / "whole"), results=results)
    inline, files = _split(results, tmp_path)
    part = _report(capsys, dest=str(tmp_path / "slices"), results=inline, results_files=files,
                   partial={"audit_id": "day-1", "slice": "1/1"})
    for path in files.values():
        os.unlink(path)  # the role removes its private directory after the report
    merged = _report(capsys, dest=str(tmp_path / "merged"), now=None, merge=[str(tmp_path / "slices")])
    assert not merged.get("failed"), merged
    assert part["partial"]["slice"] == "1/1"
    assert merged["tickets"] == whole["tickets"] and merged["summary"] == whole["summary"]


def test_bad_results_files_name_the_family_and_the_file(capsys, tmp_path):
    results = faulty_results()
    inline, files = _split(results, tmp_path)
    res = _report(capsys, dest=str(tmp_path / "r"), results=results, results_files=files)
    assert res["failed"] and "given in results" in res["msg"] and "registrations" in res["msg"]
    res = _report(capsys, dest=str(tmp_path / "r"), results_files={"handsets": files["snmp"]})
    assert res["failed"] and "unknown check family handsets" in res["msg"] and files["snmp"] in res["msg"]
    broken = tmp_path / "broken.json"
    broken.write_text('{"handsets": [\n  {"name": "hs-1001",,}\n]}\n')
    res = _report(capsys, dest=str(tmp_path / "r"), results_files={"handset_info": str(broken)})
    assert res["failed"] and str(broken) in res["msg"] and "line 2" in res["msg"]
    res = _report(capsys, dest=str(tmp_path / "r"), results_files={"handset_info": str(tmp_path / "missing.json")})
    assert res["failed"] and "cannot read" in res["msg"] and "missing.json" in res["msg"]
    res = _report(capsys, dest=str(tmp_path / "r"), now=None, merge=[str(tmp_path)], results_files=files)
    assert res["failed"] and "results_files" in res["msg"]
    assert not os.path.exists(tmp_path / "r" / "health_audit.json")


def test_tickets_limit_returns_the_first_tickets_and_counts_the_rest(capsys, tmp_path):
    results = faulty_results()
    whole = _report(capsys, dest=str(tmp_path / "a"), results=results)
    limited = _report(capsys, check=True, dest=str(tmp_path / "b"), results=results, tickets_limit=2)
    assert whole["tickets_omitted"] == 0 and len(whole["tickets"]) > 2
    assert limited["tickets"] == whole["tickets"][:2]
    assert limited["tickets_omitted"] == len(whole["tickets"]) - 2 == limited["summary"]["tickets"] - 2
    assert not os.path.exists(tmp_path / "b")  # check mode writes no report
