# -*- coding: utf-8 -*-
"""The callserver seam: every driver subclasses the interface, one factory keyed by platform, one argument spec that
is exactly the doc fragment."""
import os

import pytest
import yaml

from ansible_collections.voipops.voip.plugins.doc_fragments.callserver import ModuleDocFragment
from ansible_collections.voipops.voip.plugins.module_utils.callservers import base

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


def test_unknown_platform_fails_listing_the_known_ones():
    with pytest.raises(base.DriverError) as exc:
        base.get_driver("asterisk", rpc_url="http://127.0.0.1:9/RPC")
    assert "unknown callserver platform 'asterisk'" in str(exc.value)
    assert "known platforms are %s" % ", ".join(sorted(base.driver_classes())) in str(exc.value)


def test_every_driver_subclasses_the_interface_and_is_built_by_the_factory():
    assert sorted(base.driver_classes()) == sorted(base.PLATFORMS)
    for platform, cls in base.driver_classes().items():
        assert issubclass(cls, base.CallserverDriver) and cls.platform == platform
        drv = base.get_driver(platform, rpc_url="http://127.0.0.1:9/RPC", domain="example.org", gather="ignored")
        assert isinstance(drv, cls) and drv.rpc_url == "http://127.0.0.1:9/RPC" and drv.domain == "example.org"
        for name in ("info", "registrations", "dispatcher", "read_users", "apply", "flush_registrations", "lock",
                     "unlock"):
            assert getattr(cls, name) is not getattr(base.CallserverDriver, name), "%s.%s" % (cls.__name__, name)


def test_connection_takes_the_connection_options_of_module_params():
    params = {"platform": "kamailio", "rpc_url": "http://h/RPC", "db_url": None, "domain": "d", "timeout": 2.0,
              "validate_certs": False, "state": "gathered"}
    assert base.connection(params) == {"platform": "kamailio", "rpc_url": "http://h/RPC", "domain": "d",
                                       "timeout": 2.0, "validate_certs": False}


def test_argument_spec_is_the_doc_fragment():
    doc = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    spec = base.CALLSERVER_ARGSPEC
    assert sorted(doc) == sorted(spec)
    for name, opt in doc.items():
        assert opt["type"] == spec[name]["type"], name
        assert opt.get("default") == spec[name].get("default"), name
        assert opt.get("aliases", []) == spec[name].get("aliases", []), name
        assert opt.get("choices") == spec[name].get("choices"), name
        env = spec[name].get("fallback", (None, []))[1]
        assert all(("E(%s)" % var) in " ".join(opt["description"]) for var in env), name
    assert spec["db_url"]["no_log"] is True
    assert spec["timeout"]["aliases"] == ["rpc_timeout"]          # the old name keeps working
    assert "default" not in spec["domain"]                        # no lab value as a product default


def test_no_module_defaults_a_lab_value():
    modules = os.path.join(ROOT, "plugins", "modules")
    for name in os.listdir(modules):
        with open(os.path.join(modules, name)) as handle:
            assert "default=\"voip.lab\"" not in handle.read(), name


def test_callserver_argspec_copies():
    spec = base.callserver_argspec(required=("rpc_url",))
    assert spec["rpc_url"]["required"] is True and "required" not in base.CALLSERVER_ARGSPEC["rpc_url"]
