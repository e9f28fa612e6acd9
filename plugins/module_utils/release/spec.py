# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Release files: read once (line-aware YAML), validated with the tables of ``schema/release.py``.

- :func:`read` returns the parsed document and its common part (``id``, ``kind``, ``description``), every
  error at its file, line and field; any kind's loader starts there.
- :func:`load_handset_firmware` validates a ``handset_firmware`` release against the estate's sites and handsets
  and the firmware manifest of the provisioning server (:class:`~.schema.release.ReleaseContext`), and returns
  plain data: ``{id, kind, description, targets: {(vendor, family): image}, scope, waves, window, gate, digest}``.
  ``digest`` (SHA-256 of the validated release) tells a rerun whether the release it resumes is the same one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json

from ansible_collections.voipops.voip.plugins.module_utils.source import (
    ErrorCollector, SourceError, SourceErrors, Validator, line_of, load_yaml)
from ansible_collections.voipops.voip.plugins.module_utils.schema import release as schema


def read(path):
    """(document, common) of the release file at ``path``; SourceErrors naming file/line/field."""
    data = load_yaml(path)
    if isinstance(data, dict) and isinstance(data.get("release"), dict) and len(data) == 1:
        data = data["release"]        # a release may be wrapped in a top-level ``release:`` key
    if not isinstance(data, dict):
        raise SourceError("a release file is a mapping (id, kind, ...)", path=path, line=line_of(data))
    errors = ErrorCollector(path)
    common, _ok = Validator(errors, path=path).walk(data, schema.COMMON, "release")
    if errors:
        raise SourceErrors(errors.errors)
    return data, common


def _section(walker, data, name, table, obj):
    value = data.get(name)
    if value is None:
        value = {}
    if not isinstance(value, dict):
        walker.error("must be a mapping", data, name, obj, name)
        value = {}
    out, _ok = walker.walk(value, table, obj, prefix=name + ".", line=line_of(data, name))
    return out


def load_handset_firmware(path, context):
    """A validated ``handset_firmware`` release (see the module docstring).  Raises SourceErrors."""
    data, common = read(path)
    obj = "release '%s'" % common["id"]
    errors = ErrorCollector(path)
    walker = Validator(errors, path=path, state=context)
    if common["kind"] != "handset_firmware":
        errors.add("this is a '%s' release, not handset_firmware" % common["kind"], line=line_of(data, "kind"),
                   obj=obj, field="kind")
        raise SourceErrors(errors.errors)
    walker.walk(data, schema.HANDSET_FIRMWARE, obj)
    targets = {}
    raw_targets = data.get("targets")
    if raw_targets is not None and not isinstance(raw_targets, list):
        walker.error("must be a list of {vendor, family or model, version}", data, "targets", obj, "targets")
    elif raw_targets is not None and not raw_targets:
        walker.error("give at least one target", data, "targets", obj, "targets")
    for index, rec in enumerate(raw_targets or []):
        where = "%s targets[%d]" % (obj, index)
        if not isinstance(rec, dict):
            walker.error("must be a mapping", raw_targets, index, where, "targets")
            continue
        out, ok = walker.walk(rec, schema.TARGET, where, prefix="targets[%d]." % index)
        if not ok or "image" not in out:
            continue
        key = (out["vendor"], out["family"])
        if key in targets:
            walker.error("a second target for %s %s" % key, rec, "version", where, "targets[%d].version" % index)
            continue
        targets[key] = out["image"]
    scope = _section(walker, data, "scope", schema.SCOPE, obj)
    waves = _section(walker, data, "waves", schema.WAVES, obj)
    gate = _section(walker, data, "gate", schema.GATE, obj)
    window = _section(walker, data, "window", schema.WINDOW, obj) if data.get("window") is not None else None
    if errors:
        raise SourceErrors(errors.errors)
    release = {
        "id": common["id"], "kind": common["kind"], "description": common.get("description") or "",
        "targets": targets,
        "scope": dict((k, list(v or [])) for k, v in scope.items()),
        "waves": {"canary": waves["canary"], "then": [list(w) for w in waves["then"]]},
        "window": window, "gate": gate,
    }
    blob = dict(release, targets=sorted("%s/%s=%s:%s" % (k[0], k[1], v["version"], v["sha256"])
                                        for k, v in targets.items()))
    release["digest"] = hashlib.sha256(json.dumps(blob, sort_keys=True).encode("utf-8")).hexdigest()
    return release
