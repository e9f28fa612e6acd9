# -*- coding: utf-8 -*-
"""gateway_info and gateway_firmware document gateways[].snmp once (doc fragment voipops.voip.gateways): what
ansible-doc shows for them is the argument spec both modules build from snmp.credential_spec()."""
from __future__ import absolute_import, division, print_function

import json
import os
import subprocess
import sys

import pytest
import yaml

from tests.support.modargs import argument_spec
from ansible_collections.voipops.voip.plugins.module_utils import snmp
from ansible_collections.voipops.voip.plugins.modules import gateway_firmware, gateway_info

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
MODULES = {"gateway_info": (gateway_info, "voipops.voip.gateways.info"),
           "gateway_firmware": (gateway_firmware, "voipops.voip.gateways.firmware")}


@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    """The docs ansible-doc shows for both modules (fragments merged), from this checkout."""
    home = tmp_path_factory.mktemp("ansible-home")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".state", "collections"),
               ANSIBLE_HOME=str(home), ANSIBLE_NOCOLOR="1")
    env.pop("ANSIBLE_CONFIG", None)
    names = ["voipops.voip.%s" % m for m in sorted(MODULES)]
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-doc"), "-j"] + names,
                          capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    return dict((name.split(".")[-1], out[name]["doc"]) for name in names)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_the_module_takes_gateways_from_the_one_fragment(name):
    module, fragment = MODULES[name]
    own = yaml.safe_load(module.DOCUMENTATION)
    assert fragment in own["extends_documentation_fragment"]
    assert "gateways" not in own["options"]  # else it would replace the fragment's suboptions whole


@pytest.mark.parametrize("name", sorted(MODULES))
def test_ansible_doc_shows_the_argument_spec_of_gateways(name, docs):
    spec = argument_spec(MODULES[name][0])["gateways"]
    doc = docs[name]["options"]["gateways"]
    assert set(doc["suboptions"]) == set(spec["options"])
    for key, sub in spec["options"].items():
        assert doc["suboptions"][key]["type"] == sub.get("type", "str"), key
        assert doc["suboptions"][key].get("default") == sub.get("default"), key
    snmp_doc = doc["suboptions"]["snmp"]["suboptions"]
    snmp_spec = spec["options"]["snmp"]["options"]
    assert set(snmp_doc) == set(snmp_spec) == set(snmp.credential_spec(with_defaults=False)) | {"host"}
    for key, sub in snmp_spec.items():
        assert snmp_doc[key]["type"] == sub.get("type", "str"), key
        assert snmp_doc[key].get("choices") == sub.get("choices"), key


def test_both_show_the_same_snmp_keys_apart_from_host_port_and_version(docs):
    info, firmware = (docs[n]["options"]["gateways"]["suboptions"]["snmp"]["suboptions"]
                      for n in ("gateway_info", "gateway_firmware"))
    shared = set(info) - {"host", "port", "version"}
    assert shared and all(info[k] == firmware[k] for k in shared)
    # what differs is said per module: where the address comes from when it is not set
    assert "O(gateways[].host)" in info["host"]["description"]
    assert "O(gateways[].sip_uri)" in firmware["host"]["description"]
