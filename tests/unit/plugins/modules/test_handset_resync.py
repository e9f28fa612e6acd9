# -*- coding: utf-8 -*-
"""handset_resync: handsets from a file (the estate or handset_provision's handsets file), details=summary, check mode,
real NOTIFYs over loopback UDP (a phone that answers 200 and one that never answers)."""
from __future__ import absolute_import, division, print_function

import json
import os
import socket
import threading

import pytest
from tests.support.modargs import patch_module_args

from ansible_collections.voipops.voip.plugins.module_utils.handsets import resync
from ansible_collections.voipops.voip.plugins.modules import handset_resync

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
LAB_ESTATE = os.path.join(ROOT, "inventories", "lab", "estate.yml")


def run(capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            handset_resync.main()
    return json.loads(capsys.readouterr().out)


def handsets(n, answered, silent):
    """n handsets: the first half at the answering phone's address, the rest at a silent one's; hs-0000 has none."""
    out = []
    for i in range(n):
        rec = {"name": "hs-%04d" % i, "mac": "00:15:65:00:%02x:%02x" % (i // 256, i % 256), "vendor": "yealink",
               "model": "T54W", "user": str(300000 + i), "address": "127.0.0.1:%d" % (answered if i < n // 2 else silent)}
        out.append(rec)
    del out[0]["address"]
    return out


class Phones(object):
    """Two loopback UDP sockets: one answers every request with 200 OK (RFC 3261 8.2.6: Via, From, To, Call-ID and
    CSeq copied), the other never answers."""

    def __init__(self):
        self.answering = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.answering.bind(("127.0.0.1", 0))
        self.silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.silent.bind(("127.0.0.1", 0))
        self.received = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                data, addr = self.answering.recvfrom(65535)
            except OSError:
                return
            lines = data.decode("utf-8", "replace").split("\r\n")
            self.received.append(lines[0])
            keep = [line for line in lines[1:] if line.split(":", 1)[0].strip().lower()
                    in ("via", "v", "from", "f", "to", "t", "call-id", "i", "cseq")]
            self.answering.sendto(("SIP/2.0 200 OK\r\n" + "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n")
                                  .encode("utf-8"), addr)

    def ports(self):
        return self.answering.getsockname()[1], self.silent.getsockname()[1]

    def close(self):
        self.answering.close()
        self.silent.close()


@pytest.fixture
def phones():
    p = Phones()
    yield p
    p.close()


def test_a_handsets_file_gives_the_same_targets_as_the_inline_list(tmp_path, capsys, phones):
    estate = handsets(6, *phones.ports())
    hfile = tmp_path / "handsets.json"
    hfile.write_text(json.dumps({"handsets": estate}))
    inline = run(capsys, {"handsets": estate, "_ansible_check_mode": True})
    from_file = run(capsys, {"handsets_file": str(hfile), "_ansible_check_mode": True})
    assert from_file["results"] == inline["results"] and len(inline["results"]) == 5
    assert from_file["not_notified"] == [{"name": "hs-0000", "reason": "not registered and no address given"}]
    assert from_file["outcomes"] == {"planned": 5} and phones.received == []            # check mode sends nothing


def test_a_csv_handsets_file_as_handset_provision_reads_it(tmp_path, capsys, phones):
    answered, _silent = phones.ports()
    csv = tmp_path / "handsets.csv"
    csv.write_text("name,mac,vendor,model,user,address\n"
                   "desk-1,00:04:13:aa:bb:01,snom,D785,1001,127.0.0.1:%d\n"
                   "desk-2,00:04:13:aa:bb:02,snom,D785,1002,\n" % answered)
    out = run(capsys, {"handsets_file": str(csv), "names": ["desk-1"], "timeout": 5})
    assert out["changed"] and out["summary"] == {"targets": 1, "ok": 1, "failed": 0, "not_notified": 0}, out
    assert out["results"][0]["event"] == "check-sync;reboot=false" and out["results"][0]["code"] == 200
    assert phones.received == ["NOTIFY sip:1001@127.0.0.1:%d SIP/2.0" % answered]


def test_details_summary_counts_outcomes_and_lists_only_the_failed(tmp_path, capsys, phones):
    estate = handsets(8, *phones.ports())
    hfile = tmp_path / "handsets.json"
    hfile.write_text(json.dumps(estate))                                                  # a top-level list
    out = run(capsys, {"handsets_file": str(hfile), "details": "summary", "timeout": 0.5})
    assert "results" not in out and "failed" not in out      # a "failed" key would make Ansible fail the task
    assert out["outcomes"] == {"ok": 3, "timeout": 4}, out["outcomes"]                   # hs-0001..3 ok, 4..7 silent
    assert out["summary"] == {"targets": 7, "ok": 3, "failed": 4, "not_notified": 1}
    assert [f["name"] for f in out["failures"]] == ["hs-0004", "hs-0005", "hs-0006", "hs-0007"]
    assert all(f["status"] == "timeout" and f["code"] is None for f in out["failures"])
    assert len(phones.received) == 3


def lab_estate(tmp_path):
    """The lab's estate text, in tmp_path beside a copy of the handsets CSV it names (handsets_csv)."""
    csv = os.path.join(os.path.dirname(LAB_ESTATE), "handsets.csv")
    (tmp_path / "handsets.csv").write_text(open(csv).read())
    return open(LAB_ESTATE).read()


def test_the_estate_file_gives_its_handsets_with_their_address(tmp_path, capsys):
    text = lab_estate(tmp_path)
    marker = "  - name: hs-1001\n"
    assert marker in text
    estate = tmp_path / "estate.yml"
    estate.write_text(text.replace(marker, marker + "    address: 127.0.0.9\n", 1))
    loaded = resync.load_handsets_file(str(estate))
    by_name = dict((h["name"], h) for h in loaded)
    assert by_name["hs-1001"]["address"] == "127.0.0.9" and len(loaded) > 1
    out = run(capsys, {"handsets_file": str(estate), "details": "summary", "_ansible_check_mode": True})
    addressed = [h["name"] for h in loaded if h.get("address")]
    assert "hs-1001" in addressed and len(addressed) < len(loaded)
    assert out["outcomes"] == {"planned": len(addressed)} and out["summary"]["targets"] == len(addressed)
    assert out["summary"]["not_notified"] == len(loaded) - len(addressed) and out["failures"] == []


def test_an_invalid_estate_fails_naming_file_line_and_field(tmp_path, capsys):
    text = lab_estate(tmp_path)
    estate = tmp_path / "estate.yml"
    estate.write_text(text.replace('mac: "00:15:65:10:01:01"', 'mac: "00:15:65:zz:01:01"', 1))
    line = [i + 1 for i, l in enumerate(estate.read_text().splitlines()) if "00:15:65:zz:01:01" in l][0]
    out = run(capsys, {"handsets_file": str(estate)})
    assert out["failed"] and str(estate) in out["msg"]
    assert any(e["field"] == "mac" and e["line"] == line for e in out["errors"]), out["errors"]


def test_handsets_and_handsets_file_are_exclusive_and_one_is_required(tmp_path, capsys):
    out = run(capsys, {"handsets": [], "handsets_file": str(tmp_path / "x.json")})
    assert out["failed"] and "mutually exclusive" in out["msg"]
    out = run(capsys, {"names": ["a"]})
    assert out["failed"] and "one of the following is required" in out["msg"]


def test_summarize_is_bounded_and_sorted():
    results = [{"name": "hs-%03d" % i, "uri": "sip:%d@h" % i, "status": "timeout" if i % 2 else "ok"}
               for i in range(300, 0, -1)]
    by_status, failed = resync.summarize(results, limit=10)
    assert by_status == {"ok": 150, "timeout": 150}
    assert [f["name"] for f in failed] == ["hs-%03d" % i for i in range(1, 21, 2)]
