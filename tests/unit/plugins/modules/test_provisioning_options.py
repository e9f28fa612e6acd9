# -*- coding: utf-8 -*-
"""The provisioning options are defined once (doc fragment voipops.voip.provisioning, provision.provisioning_argspec)
and handset_provision and handset_release take them from there; the estate -> provisioning conversion is one too."""
from __future__ import absolute_import, division, print_function

import importlib
import json
import os

import pytest
import yaml
from tests.support.modargs import argument_spec, patch_module_args

from ansible_collections.voipops.voip.plugins.module_utils import provision
from ansible_collections.voipops.voip.plugins.module_utils.callservers.base import CALLSERVER_ARGSPEC
from ansible_collections.voipops.voip.plugins.module_utils.estate import build_estate, load_estate
from ansible_collections.voipops.voip.plugins.module_utils.release import handset
from ansible_collections.voipops.voip.plugins.module_utils.schema.provisioning import handsets_from_estate
from ansible_collections.voipops.voip.plugins.modules import handset_provision, handset_release
from ansible_collections.voipops.voip.roles.lab.files.phonesim import sim as phonesim

PKG = "ansible_collections.voipops.voip.plugins"
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
LAB_ESTATE = os.path.join(ROOT, "inventories", "lab", "estate.yml")
# Where the two modules differ on purpose: a release needs the accounts file (it cannot take inline users).
DIFFERENCES = {("users_file", "required")}


def fragment_options():
    mod = importlib.import_module("%s.doc_fragments.provisioning" % PKG)
    return yaml.safe_load(mod.ModuleDocFragment.DOCUMENTATION)["options"]


def module_doc(module):
    return yaml.safe_load(module.DOCUMENTATION)


def test_the_two_modules_agree_on_every_shared_option():
    prov, rel = argument_spec(handset_provision), argument_spec(handset_release)
    shared = (set(prov) & set(rel)) - set(CALLSERVER_ARGSPEC)
    # every option both modules take is a provisioning option: a new shared one goes into the one spec
    assert shared == set(provision.PROVISIONING_ARGSPEC)
    differences = set()
    for option in sorted(shared):
        for key in set(prov[option]) | set(rel[option]):
            if prov[option].get(key) != rel[option].get(key):
                differences.add((option, key))
    assert differences == DIFFERENCES
    assert prov["users_file"].get("required") is not True and rel["users_file"]["required"] is True
    for spec in (prov, rel):   # the same environment fallback in both (an AWX credential injects it)
        assert spec["root"]["fallback"][1] == ["VOIPOPS_PROVISIONING_ROOT"]
        assert spec["provisioning_url"]["fallback"][1] == ["VOIPOPS_PROVISIONING_URL"]
    # and each takes them from the one function
    assert dict((k, prov[k]) for k in shared) == provision.provisioning_argspec()
    assert dict((k, rel[k]) for k in shared) == provision.provisioning_argspec(required=("users_file",))


def test_the_doc_fragment_documents_the_argument_spec():
    options = fragment_options()
    assert set(options) == set(provision.PROVISIONING_ARGSPEC)
    for name, spec in provision.PROVISIONING_ARGSPEC.items():
        doc = options[name]
        assert doc["type"] == spec["type"], name
        assert doc.get("default") == spec.get("default"), name
        assert doc.get("choices") == spec.get("choices"), name
        assert bool(doc.get("required")) == bool(spec.get("required")), name
        assert doc.get("elements") == spec.get("elements"), name
        text = " ".join(doc["description"] if isinstance(doc["description"], list) else [doc["description"]])
        for var in (spec.get("fallback") or (None, []))[1]:
            assert "E(%s)" % var in text, name


@pytest.mark.parametrize("module", [handset_provision, handset_release])
def test_both_modules_extend_the_fragment_and_document_only_their_differences(module):
    doc = module_doc(module)
    assert "voipops.voip.provisioning" in doc["extends_documentation_fragment"]
    for name, own in doc["options"].items():
        if name in provision.PROVISIONING_ARGSPEC:
            # type, default and choices come from the fragment alone, so they cannot drift
            assert not set(own) & {"type", "default", "choices", "elements"}, (module.__name__, name, own)
    if module is handset_release:
        assert doc["options"]["users_file"] == {"required": True}
    # the fragment's text (which names the environment variables) is what both show for root and provisioning_url
    assert not set(doc["options"]) & {"root", "provisioning_url"}


def run(module, capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


def test_handset_provision_runs_with_root_and_url_from_the_environment_alone(tmp_path, capsys, monkeypatch):
    root = tmp_path / "prov"
    monkeypatch.setenv("VOIPOPS_PROVISIONING_ROOT", str(root))
    monkeypatch.setenv("VOIPOPS_PROVISIONING_URL", "http://127.0.0.1:8081/")
    args = {"registrar": "127.0.0.1",
            "handsets": [{"name": "desk-1", "mac": "0015.65aa.bb01", "vendor": "Yealink", "model": "T54W", "user": "1001"}],
            "users": [{"extension": "1001", "display_name": "Ann", "sip_password": "ann-Secret-1"}]}
    out = run(handset_provision, capsys, args)
    assert out["changed"] and out["changed_handsets"] == ["desk-1"], out
    assert (root / "001565aabb01.cfg").exists() and "ann-Secret-1" in (root / "001565aabb01.cfg").read_text()
    assert not run(handset_provision, capsys, args)["changed"]


def test_handset_release_takes_root_and_url_from_the_environment_but_users_file_from_its_task(
        tmp_path, capsys, monkeypatch):
    args = {"release_file": str(tmp_path / "r.yml"), "record_dir": str(tmp_path), "registrar": "127.0.0.1",
            "handsets": [], "rpc_url": "http://127.0.0.1:9/RPC"}
    out = run(handset_release, capsys, args)
    assert out["failed"] and "missing required arguments: provisioning_url, root, users_file" in out["msg"], out
    monkeypatch.setenv("VOIPOPS_PROVISIONING_ROOT", str(tmp_path / "prov"))
    monkeypatch.setenv("VOIPOPS_PROVISIONING_URL", "http://127.0.0.1:8081/")
    out = run(handset_release, capsys, args)
    assert out["failed"] and out["msg"] == "missing required arguments: users_file", out


# ------------------------------------------------------------------------- estate -> provisioning records
ESTATE = {
    "sites": [{"name": "ams", "timezone": "Europe/Amsterdam", "handset_maintainer": "acme"}],
    "suppliers": [{"name": "acme", "coverage": "24x7",
                   "sla": dict((p, {"response": "1h", "resolve": "1d"}) for p in ("P1", "P2", "P3", "P4"))}],
    "handsets": [
        {"name": "desk-1", "mac": "0015.65aa.bb01", "vendor": "Yealink", "model": "T54W", "site": "ams",
         "user": "1001"},
        {"name": "dect-1", "mac": "80:5e:0c:aa:bb:02", "vendor": "yealink", "model": "W70B", "site": "ams",
         "lines": [{"user": "1011", "label": "Ward"}, "1012"]},
        {"name": "ata-1", "mac": "00:56:2b:aa:bb:03", "vendor": "cisco", "model": "ATA191", "site": "ams",
         "lines": ["1021"]},
    ],
}


def estate():
    return build_estate(json.loads(json.dumps(ESTATE)))


def test_estate_handsets_become_the_records_handset_provision_takes():
    records = handsets_from_estate(estate())
    by_name = dict((r["name"], r) for r in records)
    assert by_name["desk-1"] == {"name": "desk-1", "mac": "00:15:65:aa:bb:01", "vendor": "yealink", "model": "T54W",
                                 "site": "ams", "user": "1001"}
    # a DECT base: its handsets' users in line order, no single user (labels are the estate's, not the files')
    assert by_name["dect-1"]["lines"] == ["1011", "1012"] and "user" not in by_name["dect-1"]
    # a device declared with one line stays a device with lines
    assert by_name["ata-1"]["lines"] == ["1021"] and "user" not in by_name["ata-1"]
    users = [{"extension": u, "sip_password": "pw-%s-secret" % u} for u in ("1001", "1011", "1012", "1021")]
    checked, _accounts, _settings = provision.validate(records, users, {"registrar": "127.0.0.1",
                                                                        "provisioning_url": "http://127.0.0.1:8081/"})
    assert [(r["name"], r["model"]) for r in checked] == [("desk-1", "T54W"), ("dect-1", "W70B"), ("ata-1", "ATA191")]


def test_the_release_and_the_lab_fleet_read_the_estate_through_the_one_conversion():
    est = load_estate(LAB_ESTATE)
    records = handsets_from_estate(est)
    handsets, _sites, groups = handset.load_estate_handsets(LAB_ESTATE)
    assert handsets == records
    fleet = phonesim.fleet_from_estate(LAB_ESTATE)
    sim_only = ("users", "running_firmware")
    assert [dict((k, v) for k, v in p.items() if k not in sim_only) for p in fleet] == [
        dict(r, vendor=p["vendor"], model=p["model"]) for r, p in zip(records, fleet)]
    multi = [p for p in fleet if "lines" in p]
    assert multi and all(p["users"] == p["lines"] and "user" not in p for p in multi)
