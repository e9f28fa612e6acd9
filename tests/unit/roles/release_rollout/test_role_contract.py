# -*- coding: utf-8 -*-
"""The release_rollout role's contract: every default (defaults/main/<kind>.yml) is a documented, prefixed option of
meta/argument_specs.yml and the other way round, and the role dispatches on the release schema's kinds."""
import glob
import os
import re

import yaml

ROLE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "roles", "release_rollout"))


def _defaults():
    out = {}
    for path in sorted(glob.glob(os.path.join(ROLE, "defaults", "main", "*.yml"))):
        with open(path) as handle:
            for key in yaml.safe_load(handle) or {}:
                assert key not in out, "%s is set in %s and %s" % (key, out.get(key), path)
                out[key] = os.path.basename(path)
    return out


def test_every_default_is_a_documented_option_and_back():
    with open(os.path.join(ROLE, "meta", "argument_specs.yml")) as handle:
        options = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
    defaults = _defaults()
    assert "common.yml" in defaults.values() and "handset_firmware.yml" in defaults.values()
    assert sorted(set(defaults) - set(options)) == [], "defaults without an argument spec"
    assert sorted(set(options) - set(defaults)) == [], "argument specs without a default"
    for name, spec in options.items():
        assert name.startswith("release_rollout_"), name
        assert spec.get("description"), name


def test_the_role_dispatches_on_the_kinds_of_the_release_schema():
    from ansible_collections.voipops.voip.plugins.module_utils.schema.release import KINDS
    with open(os.path.join(ROLE, "tasks", "main.yml")) as handle:
        text = handle.read()
    kinds = yaml.safe_load(re.search(r"release_rollout_kinds: (\[.*\])", text).group(1))
    assert tuple(kinds) == KINDS
    assert os.path.exists(os.path.join(ROLE, "tasks", "handset_firmware.yml"))
