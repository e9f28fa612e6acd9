# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""docs/own_estate.md: the estate file and the inventory file it shows work as written."""
import json
import os
import re
import subprocess
import sys

from ansible_collections.voipops.voip.plugins.module_utils.estate import load_estate

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def blocks():
    with open(os.path.join(ROOT, "docs", "own_estate.md")) as handle:
        return re.findall(r"```yaml\n(.*?)```", handle.read(), re.S)


def test_the_quickstart_estate_and_inventory_load(tmp_path):
    estate, inventory = blocks()
    (tmp_path / "estate.yml").write_text(estate)
    (tmp_path / "estate.inventory.yml").write_text(inventory)
    loaded = load_estate(str(tmp_path / "estate.yml"))
    assert [c["name"] for c in loaded.of_type("callserver")] == ["cs1"]
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".state", "collections"))
    proc = subprocess.run([os.path.join(BIN, "ansible-inventory"), "-i", str(tmp_path / "estate.inventory.yml"), "--list"],
                          capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    inv = json.loads(proc.stdout)
    assert inv["callservers"]["hosts"] == ["cs1"] and "cs1" in inv["site_hq"]["hosts"]
    assert "https://10.10.0.5:5071/RPC" in json.dumps(inv["_meta"]["hostvars"]["cs1"]["voipops_rpc_url"])


def test_the_first_audit_of_the_quickstart_estate_writes_its_reports(tmp_path):
    """Step 4, with the callserver moved to a loopback port nobody listens on (a finding, not a failed run)."""
    estate, inventory = blocks()
    estate = (estate.replace("10.10.0.0/16", "127.0.0.0/8").replace("address: 10.10.0.5", "address: 127.0.0.1\n    sip_port: 9")
              .replace("https://10.10.0.5:5071/RPC", "http://127.0.0.1:9/RPC"))
    (tmp_path / "estate.yml").write_text(estate)
    (tmp_path / "estate.inventory.yml").write_text(inventory)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".state", "collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"))
    env.pop("ANSIBLE_CONFIG", None)
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", str(tmp_path / "estate.inventory.yml"),
                           "voipops.voip.health_audit", "-e", "health_audit_dest=%s" % (tmp_path / "audit"),
                           "-e", "health_audit_fail_on_priority=none", "-e", "health_audit_check_timeout=60"],
                          capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    with open(str(tmp_path / "audit" / "health_audit.json")) as handle:
        report = json.load(handle)
    assert report["status"] == "critical"
    (ticket,) = [f for f in report["findings"] if f["id"] in report["tickets"]]
    assert ticket["component"] == "cs1" and ticket["supplier"] == "integrator" and ticket["priority"] == "P1"
    assert (tmp_path / "audit" / "health_audit.html").is_file()
