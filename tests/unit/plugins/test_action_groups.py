# -*- coding: utf-8 -*-
"""Every module of an action group accepts every option of that group's shared options.

The shared options of a group are its doc fragment's (``callserver``, ``snmp``) or, for a group without one
(``sip``, ``handset``), the options all its members declare.  Proven twice: the argument specs (read from each
module's ``main()``) contain them with the same type, and a real ``ansible-playbook`` run in check mode on localhost
with ``module_defaults: group/voipops.voip.<group>`` setting all of them at once is never refused for its arguments.
"""
import importlib
import json
import os
import subprocess
import sys

import pytest
import yaml

from tests.support.modargs import argument_spec as module_argument_spec

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
PKG = "ansible_collections.voipops.voip.plugins"

# a valid value for every shared option (so that only argument acceptance is tested)
VALUES = {
    "platform": "kamailio", "rpc_url": "http://127.0.0.1:9/RPC", "db_url": "sqlite:////nonexistent/kamailio.db",
    "domain": "voip.example.org", "timeout": 1.0, "validate_certs": True,
    "port": 1161, "version": "2c", "community": "public", "user": "monitor", "auth_protocol": "sha",
    "auth_key": "auth-key-123", "priv_protocol": "aes", "priv_key": "priv-key-123", "context": "", "retries": 0,
    "handsets": [],
}
# what each module needs besides the group's shared options to get past argument validation
REQUIRED = {
    "callserver_info": {"rpc_url": VALUES["rpc_url"]},
    "gateway_info": {"gateways": [], "gather": [], "rpc_url": VALUES["rpc_url"]},
    "handset_info": {"handsets": [], "rpc_url": VALUES["rpc_url"]},
    "callserver_users": {"state": "gathered"},
    "handset_resync": {"handsets": []},
    "extension_diagnose": {"extension": "1001", "estate": "/nonexistent/estate.yml"},
    "handset_provision": {"root": "/nonexistent/prov", "provisioning_url": "http://127.0.0.1:9/", "registrar": "127.0.0.1",
                          "handsets": [], "users": []},
    "handset_release": {"release_file": "/nonexistent/release.yml", "record_dir": "/nonexistent/releases",
                        "users_file": "/nonexistent/users.json", "root": "/nonexistent/prov",
                        "provisioning_url": "http://127.0.0.1:9/", "registrar": "127.0.0.1", "handsets": []},
    "sip_probe": {"targets": []},
    "snmp_info": {"targets": []},
    "callserver_config": {"rpc_url": VALUES["rpc_url"], "path": "/nonexistent/kamailio.cfg", "content": "#!KAMAILIO\n"},
    "gateway_firmware": {"rpc_url": VALUES["rpc_url"], "gateways": [], "image": "/nonexistent/gw.cmp", "version": "7.40"},
}
ARGUMENT_ERRORS = ("Unsupported parameters", "must be one of", "is of type", "missing required arguments",
                   "parameters are mutually exclusive")


def argument_spec(name):
    """The argument spec a module's main() passes to AnsibleModule."""
    return module_argument_spec(importlib.import_module("%s.modules.%s" % (PKG, name)))


def fragment_options(name):
    mod = importlib.import_module("%s.doc_fragments.%s" % (PKG, name))
    return yaml.safe_load(mod.ModuleDocFragment.DOCUMENTATION)["options"]


def groups():
    with open(os.path.join(ROOT, "meta", "runtime.yml")) as handle:
        return yaml.safe_load(handle)["action_groups"]


def shared_options(group, members):
    if os.path.exists(os.path.join(ROOT, "plugins", "doc_fragments", group + ".py")):
        return dict((k, v["type"]) for k, v in fragment_options(group).items())
    specs = [argument_spec(m) for m in members]
    common = set(specs[0]).intersection(*specs[1:])
    return dict((k, specs[0][k].get("type", "str")) for k in common)


def test_callserver_group_holds_every_module_with_the_callserver_fragment():
    members = set(groups()["callserver"])
    for name in os.listdir(os.path.join(ROOT, "plugins", "modules")):
        if name.endswith(".py"):
            with open(os.path.join(ROOT, "plugins", "modules", name)) as handle:
                text = handle.read()
            if "voipops.voip.callserver\n" in text:
                assert name[:-3] in members, name


@pytest.mark.parametrize("group", sorted(groups()))
def test_every_member_declares_the_shared_options(group):
    members = groups()[group]
    shared = shared_options(group, members)
    assert shared, group
    for member in members:
        spec = argument_spec(member)
        for option, kind in shared.items():
            assert option in spec, "%s: %s lacks %s" % (group, member, option)
            assert spec[option].get("type", "str") == kind, "%s: %s.%s" % (group, member, option)


def test_module_defaults_with_every_shared_option_set(tmp_path):
    tasks = []
    for group, members in sorted(groups().items()):
        shared = shared_options(group, members)
        missing = set(shared) - set(VALUES)
        assert not missing, "give a valid value for %s in VALUES" % sorted(missing)
        defaults = dict((k, VALUES[k]) for k in shared)
        for member in members:
            tasks.append({
                "name": "%s %s" % (group, member),
                "module_defaults": {"group/voipops.voip.%s" % group: defaults},
                "voipops.voip.%s" % member: dict((k, v) for k, v in REQUIRED.get(member, {}).items() if k not in shared),
                "register": "out", "ignore_errors": True, "no_log": False,
            })
            tasks.append({"name": "record %s %s" % (group, member), "ansible.builtin.set_fact": {
                "results": "{{ results | default([]) + [{'task': '%s %s', 'msg': out.msg | default('')}] }}"
                           % (group, member)}})
    write = {"content": "{{ results | to_json }}", "dest": str(tmp_path / "results.json")}
    tasks.append({"name": "write", "ansible.builtin.copy": write, "check_mode": False})
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    for var in [v for v in env if v.startswith("VOIPOPS_CALLSERVER_")]:
        del env[var]
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), str(tmp_path / "play.yml"),
                           "-i", "localhost,", "-c", "local", "--check",
                           "-e", "ansible_python_interpreter=%s" % sys.executable],
                          cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300, check=False)
    out = proc.stdout.decode("utf-8", "replace")
    assert proc.returncode == 0, out[-4000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert len(results) == sum(len(m) for m in groups().values())
    for res in results:
        assert not any(err in res["msg"] for err in ARGUMENT_ERRORS), res
