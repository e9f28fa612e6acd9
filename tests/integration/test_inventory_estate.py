# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""voipops.voip.estate through the real ``ansible-inventory`` command."""
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB_INV = os.path.join(ROOT, "inventories", "lab")


def plain(value):
    """ansible-inventory 2.19 writes inventory strings as {"__ansible_unsafe": "..."}: unwrap them."""
    if isinstance(value, dict):
        if list(value) == ["__ansible_unsafe"]:
            return value["__ansible_unsafe"]
        return dict((k, plain(v)) for k, v in value.items())
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def inventory(cfg, *args, check=True):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".state", "collections"),
               ANSIBLE_INVENTORY_ENABLED="voipops.voip.estate,ansible.builtin.yaml",
               ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED="1", ANSIBLE_NOCOLOR="1")
    env.pop("ANSIBLE_CONFIG", None)
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-inventory"), "-i", str(cfg)] + list(args or ["--list"])
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=180, cwd=os.path.dirname(str(cfg)), check=False)
    if check:
        assert out.returncode == 0, out.stdout + out.stderr
        return plain(json.loads(out.stdout)) if "--graph" not in args else out.stdout
    return out


def hosts_of(data, group):
    return sorted(data.get(group, {}).get("hosts", []))


def copy_lab(tmp_path):
    for name in ("estate.yml", "handsets.csv"):
        shutil.copy(os.path.join(LAB_INV, name), str(tmp_path / name))
    return tmp_path / "estate.yml"


def config(tmp_path, text, name="estate.inventory.yml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_lab_estate_groups_and_hostvars(tmp_path):
    copy_lab(tmp_path)
    (tmp_path / "endpoints.json").write_text(json.dumps({
        "domain": "voip.lab",
        "callserver": {"name": "cs1", "host": "127.0.0.1", "sip_port": 41000, "rpc_url": "http://127.0.0.1:41001/RPC",
                       "snmp": {"host": "127.0.0.1", "port": 41002, "version": "2c", "community": "kamlab-ro"}},
        "gateways": [{"name": "mgw2", "host": "127.0.0.1", "sip_port": 41010,
                      "snmp": {"host": "127.0.0.1", "port": 41011, "version": "2c", "community": "mgw2"}}]}))
    cfg = config(tmp_path, """\
        plugin: voipops.voip.estate
        estate_file: estate.yml
        endpoints_file: endpoints.json
        keyed_groups:
          - key: voipops_supplier.coverage
            prefix: coverage
        groups:
          infrastructure: voipops_type != 'handset'
        compose:
          sip_target: voipops_sip_uri | default('none')
        """)
    data = inventory(cfg)
    hv = data["_meta"]["hostvars"]
    assert hosts_of(data, "callservers") == ["cs1"]
    assert hosts_of(data, "gateways") == ["mgw1", "mgw2"]
    assert hosts_of(data, "kind_e1") == ["e1-mgw1-0", "e1-mgw1-1"] and hosts_of(data, "kind_isdn_pri") == ["pri-mgw2-0"]
    assert hosts_of(data, "site_rtm") == ["hs-3001", "mgw2", "pri-mgw2-0", "wan-rtm"]
    assert hosts_of(data, "vendor_yealink") == ["dect-1010", "hs-1001", "hs-3001"]
    assert hosts_of(data, "model_T54W") == ["hs-1001", "hs-3001"]
    assert hosts_of(data, "supplier_telco") == ["e1-mgw1-0", "e1-mgw1-1", "pri-mgw2-0", "sip-telco", "wan-ams", "wan-rtm"]
    assert "hs-1001" in hosts_of(data, "coverage_business_hours") and "cs1" in hosts_of(data, "coverage_24x7")
    assert "hs-1001" not in hosts_of(data, "infrastructure") and "lan-ams" in hosts_of(data, "infrastructure")
    # live addresses overlaid by name; the estate's own values elsewhere
    assert hv["cs1"]["voipops_sip_uri"] == "sip:127.0.0.1:41000" and hv["cs1"]["sip_target"] == "sip:127.0.0.1:41000"
    assert hv["cs1"]["voipops_rpc_url"] == "http://127.0.0.1:41001/RPC" and hv["cs1"]["voipops_snmp"]["port"] == 41002
    assert hv["mgw1"]["voipops_sip_uri"] == "sip:127.0.0.1:5080" and hv["mgw2"]["voipops_snmp"]["port"] == 41011
    # responsibility matrix and dependencies
    assert hv["hs-1002"]["voipops_maintainer"] == "phonecare"
    assert hv["hs-1002"]["voipops_component"]["mac"] == "00:04:f2:10:01:02"
    assert hv["e1-mgw1-1"]["voipops_supplier"]["contact"]["email"] == "servicedesk@telco.example"
    assert hv["e1-mgw1-1"]["voipops_depends_on"] == ["mgw1"] and "e1-mgw1-1" in hv["mgw1"]["voipops_dependents"]
    assert hv["mgw1"]["ansible_connection"] == "local"
    # shaped for the modules: snmp_info targets and gateway_info items
    assert hv["cs1"]["voipops_snmp_target"] == {"name": "cs1", "host": "127.0.0.1", "port": 41002, "version": "2c",
                                                "community": "kamlab-ro"}
    assert hv["mgw2"]["voipops_gateway"] == {"name": "mgw2", "host": "127.0.0.1", "sip_port": 41010,
                                             "sip_uri": "sip:127.0.0.1:41010",
                                             "snmp": {"host": "127.0.0.1", "port": 41011, "version": "2c", "community": "mgw2"}}
    allvars = data["voipops"]["vars"] if "vars" in data.get("voipops", {}) else hv["cs1"]
    assert set(allvars["voipops_suppliers"]) == {"acme", "telco", "phonecare"}
    assert len(hv["cs1"]["voipops_handsets"]) == 7


def test_large_fleet_mode_keeps_handsets_out_of_hosts(tmp_path):
    copy_lab(tmp_path)
    cfg = config(tmp_path, """\
        plugin: voipops.voip.estate
        estate_file: estate.yml
        handsets: none
        group_prefix: voip_
        """)
    data = inventory(cfg)
    hv = data["_meta"]["hostvars"]
    assert not [h for h in hv if h.startswith("hs-")]
    assert hosts_of(data, "voip_gateways") == ["mgw1", "mgw2"]
    assert [h["name"] for h in hv["cs1"]["voipops_handsets"]] == ["hs-1001", "hs-1002", "dect-1010", "ata-1020", "hs-1003",
                                                                  "hs-1004", "hs-3001"]


def test_invalid_estate_fails_with_file_line_field(tmp_path):
    estate = copy_lab(tmp_path)
    (tmp_path / "handsets.csv").write_text((tmp_path / "handsets.csv").read_text().replace("C0:74:AD:10:01:04", "C0:74:AD:10:01"))
    estate.write_text(estate.read_text().replace("address: 127.0.0.1\n    sip_port: 5081", "address: 10.31.0.9\n    sip_port: 5081"))
    cfg = config(tmp_path, "plugin: voipops.voip.estate\nestate_file: estate.yml\n")
    out = inventory(cfg, "--list", check=False)
    assert out.returncode != 0
    text = " ".join((out.stdout + out.stderr).split())
    line = [n for n, t in enumerate(estate.read_text().splitlines(), 1) if "10.31.0.9" in t][0]
    assert "estate.yml line %d, gateway 'mgw2': address: 10.31.0.9 is not inside the subnets of site 'rtm'" % line in text
    assert "handsets.csv line 3, handset 'hs-1004': mac: 'C0:74:AD:10:01' is not a MAC address" in text


def test_cache_is_used_and_never_stale(tmp_path):
    estate = copy_lab(tmp_path)
    cfg = config(tmp_path, """\
        plugin: voipops.voip.estate
        estate_file: estate.yml
        cache: true
        cache_plugin: ansible.builtin.jsonfile
        cache_connection: %s
        cache_timeout: 3600
        """ % (tmp_path / "cache"))
    first = inventory(cfg)
    cached = os.listdir(str(tmp_path / "cache"))
    assert len(cached) == 1
    # the cache serves the data: poison it and see the poisoned value come back
    path = tmp_path / "cache" / cached[0]
    blob = json.loads(path.read_text())
    inner = json.loads(blob["__payload__"]) if "__payload__" in blob else blob  # ansible-core 2.19 wraps it
    inner["components"]["cs1"]["description"] = "served from cache"
    if "__payload__" in blob:
        blob["__payload__"] = json.dumps(inner)
    path.write_text(json.dumps(blob))
    assert inventory(cfg)["_meta"]["hostvars"]["cs1"]["voipops_component"]["description"] == "served from cache"
    # editing the CSV changes the key: the new handset shows up at once
    with open(str(tmp_path / "handsets.csv"), "a") as handle:
        handle.write("hs-3002,00:15:65:30:01:02,yealink,T54W,rtm,3002,,,\n")
    third = inventory(cfg)
    assert "hs-3002" in third["_meta"]["hostvars"] and "hs-3002" not in first["_meta"]["hostvars"]
    assert third["_meta"]["hostvars"]["cs1"]["voipops_component"]["description"] == ""
    assert estate.exists()


def test_any_yaml_naming_the_plugin_is_accepted_and_others_are_not(tmp_path):
    copy_lab(tmp_path)
    cfg = config(tmp_path, "plugin: voipops.voip.estate\nestate_file: estate.yml\n", name="voice.yml")
    assert "cs1" in inventory(cfg)["_meta"]["hostvars"]
    other = config(tmp_path, "all:\n  hosts:\n    box1:\n", name="plain.yml")
    data = inventory(other)
    assert hosts_of(data, "ungrouped") == ["box1"] and "voipops" not in data


@pytest.mark.lab
def test_lab_inventory_overlays_the_running_lab(lab, tmp_path):
    # the shipped lab config, pointed at the test session's lab state dir
    text = open(os.path.join(LAB_INV, "estate.inventory.yml")).read()
    text = text.replace("estate_file: estate.yml", "estate_file: %s" % os.path.join(LAB_INV, "estate.yml"))
    text = text.replace("endpoints_file: ../../.state/lab/endpoints.json",
                        "endpoints_file: %s" % os.path.join(lab["state_dir"], "endpoints.json"))
    assert text.count(lab["state_dir"]) == 1
    data = inventory(config(tmp_path, text))
    hv = data["_meta"]["hostvars"]
    assert hv["cs1"]["voipops_rpc_url"] == lab["callserver"]["rpc_url"]
    assert hv["cs1"]["voipops_sip_uri"] == lab["callserver"]["sip_uri"]
    assert hv["cs1"]["voipops_snmp"]["port"] == lab["callserver"]["snmp"]["port"]
    for gw in lab["gateways"]:
        assert hv[gw["name"]]["voipops_sip_uri"] == gw["sip_uri"]
        assert hv[gw["name"]]["voipops_snmp"]["port"] == gw["snmp"]["port"]
    assert "infrastructure" in data and "coverage_24x7" in data


def test_a_large_fleet_inventory_leaves_the_fleet_to_the_estate_file(tmp_path):
    # fleet_var: false - no 5,000-dict variable for Ansible to tag at every start; the roles read voipops_estate_file
    copy_lab(tmp_path)
    cfg = config(tmp_path, """\
        plugin: voipops.voip.estate
        estate_file: estate.yml
        handsets: none
        fleet_var: false
        """)
    data = inventory(cfg)
    hv = data["_meta"]["hostvars"]
    assert "voipops_handsets" not in hv["cs1"]
    allvars = data["voipops"]["vars"] if "vars" in data.get("voipops", {}) else hv["cs1"]
    assert allvars["voipops_estate_file"].endswith("estate.yml")
