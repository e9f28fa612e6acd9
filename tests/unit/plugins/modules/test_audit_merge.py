# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""audit_report's sliced audits: each slice writes a partial report, the merge writes the estate reports that one
unsliced audit writes (same findings, tickets, priorities, order, JSON, HTML, JUnit and webhook), overlapping slices
count a problem once, a missing slice is named, and slices of different audits are refused."""
import copy
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils"))

from ansible_collections.voipops.voip.plugins.modules import audit_report  # noqa: E402
from test_findings import NOW, contacts, dispatcher, probes, snmp_results  # noqa: E402
from test_report import _Receiver  # noqa: E402
from tests.support.modargs import patch_module_args  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
ESTATE = os.path.join(ROOT, "inventories", "lab", "estate.yml")
UNKNOWN = {"aor": "sip:1004@voip.lab", "contact": "sip:1004@127.0.0.1:4999", "expires": 3500,
           "user_agent": "Linphone/5.2.0", "received": "", "socket": "udp:127.0.0.1:5060", "call_id": "c-x", "cseq": 2}


def faulty_results():
    """One morning of the lab with faults on every part: mgw2 dead (SIP, dispatcher, SNMP), an E1 of mgw1 without
    signal, a handset unregistered, an unknown device, and the callserver's certificate expiring in 5 days."""
    return {
        "sip_probe": probes(down=("mgw2",)),
        "rpc": [{"name": "cs1", "ok": True, "error": None}],
        "dispatcher": dispatcher(mgw2="inactive"),
        "snmp": snmp_results(mgw1_los=True, mgw2_ok=False),
        "registrations": contacts(skip=("hs-1002",), extra=(UNKNOWN,)),
        "certificates": [{"name": "cs1", "host": "127.0.0.1", "port": 5061, "not_after": "2026-12-02T16:30:00Z",
                          "subject": "CN=cs1.voip.lab", "error": None}],
    }


def share(results, components, families=None):
    """The results of the checks a slice holding ``components`` runs (items picked by the component they are about)."""
    port = {"cs1": 5060, "mgw1": 5080, "mgw2": 5081}
    ports = set(port[c] for c in components if c in port)
    out = {
        "sip_probe": [r for r in results["sip_probe"] if r["port"] in ports],
        "rpc": [r for r in results["rpc"] if r["name"] in components],
        "snmp": [r for r in results["snmp"] if r["name"] in components],
        "certificates": [r for r in results["certificates"] if r["name"] in components],
    }
    if "cs1" in components:  # the callserver's tables (dispatcher, registrations): its slice checks them whole
        out["dispatcher"] = results["dispatcher"]
        out["registrations"] = results["registrations"]
    return dict((k, v) for k, v in out.items() if families is None or k in families)


def run(capsys, check=False, **args):
    args.setdefault("estate_file", ESTATE)
    args.setdefault("callserver", "cs1")
    args["_ansible_check_mode"] = check
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            audit_report.main()
    return json.loads(capsys.readouterr().out)


def slices(capsys, where, results, audit_id="day-1", parts=None, now=NOW, **extra):
    parts = parts or [("1/3", ["cs1"]), ("2/3", ["mgw1"]), ("3/3", ["mgw2", "mgw1"])]  # 3/3 overlaps 2/3 on mgw1
    out = []
    for name, comps in parts:
        out.append(run(capsys, dest=str(where), now=now, results=share(results, comps),
                       partial={"audit_id": audit_id, "slice": name}, **extra))
    return out


def read(path):
    with open(path) as handle:
        return handle.read()


def test_merged_slices_write_the_reports_of_one_unsliced_audit(capsys, tmp_path):
    results = faulty_results()
    receiver = _Receiver()
    try:
        whole = run(capsys, dest=str(tmp_path / "whole"), now=NOW, results=results, webhook_url=receiver.url)
        parts = slices(capsys, tmp_path / "slices", results)
        merged = run(capsys, dest=str(tmp_path / "merged"), merge=[str(tmp_path / "slices")],
                     webhook_url=receiver.url)
    finally:
        receiver.close()
    assert not merged.get("failed"), merged
    # a slice wrote its partial report only, and previews its own share
    assert all(p["changed"] and list(p["reports"]) == ["partial"] and p["fail_reason"] == "" for p in parts)
    assert not os.path.exists(tmp_path / "slices" / "health_audit.json")
    assert sorted(os.listdir(tmp_path / "slices")) == [
        "health_audit.day-1.1-of-3.partial.json", "health_audit.day-1.2-of-3.partial.json",
        "health_audit.day-1.3-of-3.partial.json"]
    assert {t["component"] for t in parts[1]["tickets"]} == {"e1-mgw1-1"}
    # the merge: the same tickets, priorities, deadlines and order as the unsliced audit ...
    assert merged["tickets"] == whole["tickets"] and len(whole["tickets"]) >= 5
    assert {t["component"] for t in merged["tickets"] if t["priority"] == "P1"} == {"mgw2", "e1-mgw1-1"}
    assert merged["summary"] == whole["summary"] and merged["status"] == whole["status"] == "critical"
    assert merged["slices"]["merged"] == ["1/3", "2/3", "3/3"] and merged["slices"]["missing"] == []
    # ... the same JSON, HTML and JUnit files, byte for byte ...
    for fmt in ("json", "html", "junit"):
        assert read(merged["reports"][fmt]) == read(whole["reports"][fmt]), fmt
    # ... and the same webhook
    assert whole["webhook"]["sent"] and merged["webhook"]["sent"] and len(receiver.bodies) == 2
    assert receiver.bodies[1] == receiver.bodies[0] and receiver.bodies[0]["tickets"]


def test_overlapping_slices_count_a_problem_once(capsys, tmp_path):
    results = faulty_results()
    whole = run(capsys, dest=str(tmp_path / "whole"), now=NOW, results=results)
    # slices a and c both hold the whole estate (the callserver's tables too), b the gateways: each fault seen 2-3 times
    everything = ["cs1", "mgw1", "mgw2"]
    slices(capsys, tmp_path / "slices", results, parts=[("a", everything), ("b", ["mgw1", "mgw2"]), ("c", everything)])
    merged = run(capsys, dest=str(tmp_path / "merged"), merge=[str(tmp_path / "slices")])
    report = json.loads(read(merged["reports"]["json"]))
    ids = [f["id"] for f in report["findings"]]
    assert len(ids) == len(set(ids))
    assert merged["tickets"] == whole["tickets"]
    assert read(merged["reports"]["json"]) == read(whole["reports"]["json"])
    assert merged["slices"] == dict(merged["slices"], count=None, merged=["a", "b", "c"], missing=[])


def test_a_missing_slice_is_named_and_nothing_is_written(capsys, tmp_path):
    results = faulty_results()
    slices(capsys, tmp_path / "slices", results, parts=[("1/3", ["cs1"]), ("3/3", ["mgw2"])])
    failed = run(capsys, dest=str(tmp_path / "merged"), merge=[str(tmp_path / "slices")])
    assert failed["failed"] and "slice(s) missing: 2/3" in failed["msg"] and "1/3, 3/3" in failed["msg"]
    assert failed["slices"]["missing"] == ["2/3"]
    assert not os.path.exists(tmp_path / "merged")
    # asked to, the merge writes what it has and the report says what is missing
    allowed = run(capsys, dest=str(tmp_path / "merged"), merge=[str(tmp_path / "slices")], require_all_slices=False)
    assert not allowed.get("failed") and allowed["slices"]["missing"] == ["2/3"]
    report = json.loads(read(allowed["reports"]["json"]))
    assert report["slices"]["missing"] == ["2/3"]
    assert "e1-mgw1-1" not in [f["component"] for f in report["findings"]]  # mgw1's slice never reported


def test_named_slices_with_a_count_name_how_many_are_missing(capsys, tmp_path):
    results = faulty_results()
    for job, comps in (("4711", ["cs1"]), ("4713", ["mgw2"])):  # AWX: slices named after their job ids
        run(capsys, dest=str(tmp_path), now=NOW, results=share(results, comps),
            partial={"audit_id": "wf-88", "slice": job, "count": 3})
    failed = run(capsys, dest=str(tmp_path / "merged"), merge=[str(tmp_path)])
    assert failed["failed"] and "1 of 3 slices (only 4711, 4713 reported)" in failed["msg"]


def test_slices_of_different_audits_are_refused(capsys, tmp_path):
    results = faulty_results()
    slices(capsys, tmp_path / "d1", results, audit_id="day-1", parts=[("1/2", ["cs1"])])
    slices(capsys, tmp_path / "d2", results, audit_id="day-2", parts=[("2/2", ["mgw1", "mgw2"])])
    files = sorted(str(p) for p in list((tmp_path / "d1").iterdir()) + list((tmp_path / "d2").iterdir()))
    failed = run(capsys, dest=str(tmp_path / "merged"), merge=files)
    assert failed["failed"] and "different audits" in failed["msg"]
    assert "audit day-1: health_audit.day-1.1-of-2.partial.json" in failed["msg"]
    assert "audit day-2: health_audit.day-2.2-of-2.partial.json" in failed["msg"]
    assert not os.path.exists(tmp_path / "merged")


def test_a_directory_of_several_audits_merges_the_newest(capsys, tmp_path):
    results = faulty_results()
    healthy = {"sip_probe": probes(), "rpc": [{"name": "cs1", "ok": True}], "dispatcher": dispatcher(), "certificates": [],
               "snmp": snmp_results(), "registrations": contacts()}
    slices(capsys, tmp_path, results, audit_id="day-1", parts=[("1/2", ["cs1"]), ("2/2", ["mgw1", "mgw2"])])
    slices(capsys, tmp_path, healthy, audit_id="day-2", now="2026-11-28T16:30:00Z",
           parts=[("1/2", ["cs1"]), ("2/2", ["mgw1", "mgw2"])])
    merged = run(capsys, dest=str(tmp_path / "merged"), merge=[str(tmp_path)])
    assert merged["slices"]["audit_id"] == "day-2" and merged["status"] == "ok"
    assert json.loads(read(merged["reports"]["json"]))["generated_at"] == "2026-11-28T16:30:00Z"


def test_a_partial_report_of_another_estate_is_refused(capsys, tmp_path):
    slices(capsys, tmp_path, faulty_results(), parts=[("1/1", ["cs1"])])
    (path,) = list(tmp_path.iterdir())
    doc = json.loads(path.read_text())
    doc["estate"]["digest"] = "0123456789abcdef"
    path.write_text(json.dumps(doc))
    failed = run(capsys, dest=str(tmp_path / "merged"), merge=[str(path)])
    assert failed["failed"] and "audited another estate" in failed["msg"]


def test_a_slice_in_check_mode_writes_nothing_and_a_second_run_changes_nothing(capsys, tmp_path):
    share_ = share(faulty_results(), ["mgw1"])
    args = dict(dest=str(tmp_path), now=NOW, results=share_, partial={"audit_id": "day-1", "slice": "2/3"})
    checked = run(capsys, check=True, **copy.deepcopy(args))
    assert checked["changed"] and not os.listdir(tmp_path)
    first = run(capsys, **copy.deepcopy(args))
    again = run(capsys, **copy.deepcopy(args))
    assert first["changed"] and not again["changed"]
    doc = json.loads(read(first["partial"]["path"]))
    assert doc["partial"] is True and doc["slice"] == {"name": "2/3", "number": 2, "count": 3}
    assert doc["audit_id"] == "day-1" and doc["results"]["snmp"][0]["name"] == "mgw1"


def test_bad_slice_and_merge_arguments_say_what_is_wrong(capsys, tmp_path):
    bad = run(capsys, dest=str(tmp_path), now=NOW, results={}, partial={"audit_id": "d", "slice": "4/3"})
    assert bad["failed"] and "slice 4/3: the number must be between 1 and 3" in bad["msg"]
    noid = run(capsys, dest=str(tmp_path), now=NOW, results={}, partial={"audit_id": " ", "slice": "1/3"})
    assert noid["failed"] and "needs an audit_id" in noid["msg"]
    both = run(capsys, dest=str(tmp_path), merge=[str(tmp_path)], results={"rpc": []})
    assert both["failed"] and "do not set results" in both["msg"]
    (tmp_path / "x.partial.json").write_text(json.dumps({"schema_version": 1, "status": "ok"}))
    notpartial = run(capsys, dest=str(tmp_path / "m"), merge=[str(tmp_path)])
    assert notpartial["failed"] and "x.partial.json is not a voipops.voip partial audit report" in notpartial["msg"]
