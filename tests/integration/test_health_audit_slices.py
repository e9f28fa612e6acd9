"""The health audit sliced the way AWX job slicing slices it: every third estate host per job (here with --limit), each
slice writing a partial report, and the merge writing the estate report that one unsliced run writes - against the
real lab, with a real fault on a gateway's E1 (SNMP) and findings on the callserver, so every slice has work."""
import json
import os
import subprocess

import pytest

from ansible_collections.voipops.voip.plugins.module_utils.estate import load_estate
from conftest import LAB_DIR, ROOT, VENV_BIN, ansible_env, read_endpoints
from test_health_audit import NOW, snmpset_line_status

pytestmark = [pytest.mark.lab, pytest.mark.slow]
ESTATE = os.path.join(ROOT, "inventories", "lab", "estate.yml")
# the lab host's CPU is the test machine's (says nothing); a disk threshold of 1% makes the callserver host a finding
# in whichever slice holds cs1, and a certificate warning of 10 years one on its TLS endpoint
THRESHOLDS = {"cpu_warning": 101, "cpu_critical": 101, "disk_warning": 1, "cert_warning_days": 3650}


@pytest.fixture(scope="module")
def inventory(lab, tmp_path_factory):
    path = tmp_path_factory.mktemp("inv") / "lab.estate.yml"
    path.write_text("plugin: voipops.voip.estate\nestate_file: %s\nendpoints_file: %s\nhandsets: none\n" % (
        ESTATE, os.path.join(LAB_DIR, "endpoints.json")))
    return str(path)


def run(inventory, dest, limit=None, env=None, **extra):
    extra_vars = {"health_audit_dest": str(dest), "health_audit_now": NOW, "health_audit_thresholds": THRESHOLDS,
                  "health_audit_fail_on_priority": "none", "health_audit_history": ""}
    extra_vars.update(extra)
    cmd = [os.path.join(VENV_BIN, "ansible-playbook"), os.path.join(ROOT, "playbooks", "health_audit.yml"),
           "-i", inventory, "-i", os.path.join(ROOT, "inventories", "lab", "hosts.yml"), "-e", json.dumps(extra_vars)]
    if limit:
        cmd += ["--limit", ",".join(limit)]
    proc = subprocess.run(cmd, cwd=ROOT, env=ansible_env(env), capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    return proc.stdout + proc.stderr


def awx_slices(count):
    """The hosts of each slice as AWX slices an inventory: sorted by name, every count-th host (handsets: none)."""
    hosts = sorted(n for n, c in load_estate(ESTATE).components.items() if c["type"] != "handset")
    return [hosts[i::count] for i in range(count)]


def ticket_view(report):
    keys = ("id", "order", "priority", "component", "kind", "root_cause", "supplier", "response_due", "resolve_due",
            "status", "affected", "children")
    return [dict((k, f[k]) for k in keys) for f in report["findings"]]


def test_three_slices_merged_equal_one_whole_audit(lab, inventory, tmp_path):
    gateway = [g for g in read_endpoints()["gateways"] if g["name"] == "mgw1"][0]
    parts = awx_slices(3)
    assert all(parts) and sum(len(p) for p in parts) == len(set(h for p in parts for h in p))
    snmpset_line_status(gateway, 3, 64)  # E1 0/1 of mgw1 loses signal
    try:
        run(inventory, tmp_path / "whole")
        logs = [run(inventory, tmp_path / "slices", limit=hosts, health_audit_hosts="voipops", health_audit_partial=True,
                    health_audit_slice="%d/3" % (n + 1), health_audit_audit_id="lab-audit-1")
                for n, hosts in enumerate(parts)]
    finally:
        snmpset_line_status(gateway, 3, 1)
    out = run(inventory, tmp_path / "merged", health_audit_merge=[str(tmp_path / "slices")])

    # each slice wrote its partial report, no estate report, and audited only its own hosts' components
    assert sorted(os.listdir(tmp_path / "slices")) == ["health_audit.lab-audit-1.%d-of-3.partial.json" % n
                                                       for n in (1, 2, 3)]
    partials = [json.loads((tmp_path / "slices" / ("health_audit.lab-audit-1.%d-of-3.partial.json" % n)).read_text())
                for n in (1, 2, 3)]
    for hosts, doc, log in zip(parts, partials, logs):
        assert doc["partial"] is True and doc["audit_id"] == "lab-audit-1"
        probed = set(r["target"] for r in doc["results"]["sip_probe"]) if isinstance(doc["results"]["sip_probe"], list) else set()
        gateways = set(r["name"] for r in doc["results"]["gateway_info"])
        assert gateways == set(h for h in hosts if h.startswith("mgw")), (hosts, gateways)
        assert ("handset_info" in doc["results"]) == ("cs1" in hosts)
        assert bool(probed) == ("cs1" in hosts)
        assert "partial.json" in log
    whole = json.loads((tmp_path / "whole" / "health_audit.json").read_text())
    merged = json.loads((tmp_path / "merged" / "health_audit.json").read_text())
    # the merge is the unsliced audit: same findings (ids, root causes), tickets, priorities, deadlines and order
    assert {f["component"] for f in whole["findings"]} >= {"cs1", "e1-mgw1-1"}, ticket_view(whole)
    assert merged["tickets"] == whole["tickets"]
    assert ticket_view(merged) == ticket_view(whole)
    assert merged["summary"] == whole["summary"] and merged["status"] == whole["status"]
    assert [(c["name"], c["checked"]) for c in merged["checks"]] == [(c["name"], c["checked"]) for c in whole["checks"]]
    assert "slices" not in merged
    assert "Reports: %s" % (tmp_path / "merged" / "health_audit.json") in out


def plain(value):
    """ansible-inventory's JSON without its unsafe-value wrappers (AWX stores plain values)."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return dict((k, plain(v)) for k, v in value.items())
    return [plain(v) for v in value] if isinstance(value, list) else value


def test_an_awx_slice_inventory_without_the_callserver(lab, inventory, tmp_path):
    """An AWX slice job gets an inventory of its hosts only (groups cut down, group vars kept): the slice of the
    gateways has no callserver host, reads the estate file from the group vars and the dispatcher through the
    callserver credential's VOIPOPS_CALLSERVER_RPC_URL, and leaves the registrations to the callserver's slice."""
    full = plain(json.loads(subprocess.run([os.path.join(VENV_BIN, "ansible-inventory"), "-i", inventory, "--list",
                                            "--export"], cwd=ROOT, env=ansible_env(), capture_output=True, text=True,
                                           check=True).stdout))
    assert "cs1" in full["_meta"]["hostvars"]
    mine = ["mgw1", "mgw2", "e1-mgw1-1"]
    data = {"_meta": {"hostvars": dict((h, v) for h, v in full["_meta"]["hostvars"].items() if h in mine)}}
    for group, body in full.items():
        if group != "_meta":
            data[group] = dict(body, hosts=[h for h in body.get("hosts", []) if h in mine]) if "hosts" in body else body
    script = tmp_path / "awx_slice_inventory.py"
    script.write_text("#!/usr/bin/env python3\nimport json, sys\nprint(json.dumps(%r) if '--list' in sys.argv else '{}')\n"
                      % (data,))
    script.chmod(0o755)
    rpc_url = read_endpoints()["callserver"]["rpc_url"]
    out = run(str(script), tmp_path, env={"ANSIBLE_INVENTORY_ENABLED": "ansible.builtin.script,ansible.builtin.yaml",
                                          "VOIPOPS_CALLSERVER_RPC_URL": rpc_url},
              health_audit_hosts="voipops", health_audit_partial=True, health_audit_slice="4712",
              health_audit_slice_count=3, health_audit_audit_id="4711")
    assert (tmp_path / "health_audit.4711.4712.partial.json").exists(), out[-3000:]
    doc = json.loads((tmp_path / "health_audit.4711.4712.partial.json").read_text())
    assert doc["slice"] == {"name": "4712", "number": None, "count": 3}, out[-2000:]
    records = dict((r["name"], r) for r in doc["results"]["gateway_info"])
    assert sorted(records) == ["mgw1", "mgw2"]
    assert all(r["dispatcher"]["state"] == "active" for r in records.values()), records
    assert "handset_info" not in doc["results"] and doc["results"]["sip_probe"] == [] and doc["results"]["rpc"] == []
