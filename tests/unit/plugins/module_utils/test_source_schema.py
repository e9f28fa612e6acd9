# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one field-table validator (source.Validator): a table drives every check, at file/line/field."""
import pytest

from ansible_collections.voipops.voip.plugins.module_utils.source import (
    ErrorCollector, Field, Table, Validator, parse_yaml,
)


def _port(value, ctx):
    port = int(value)
    if not 1 <= port <= 65535:
        raise ValueError("%r is not a port number (1-65535)" % (value,))
    return port


def _overlap(out, ctx):
    if out["low"] is not None and out["high"] is not None and out["low"] > out["high"]:
        ctx.error("low is above high", key="low")


LIMITS = Table("limits", [Field("low", "any"), Field("high", "any")], rules=[_overlap])

THING = Table("thing", [
    Field("name", required=True),
    Field("kind", required=True, lower=True, choices=("sbc", "mgw")),
    Field("port", "any", default=5060, check=_port),
    Field("tags", "list", default=[], check=lambda v, ctx: str(v)),
    Field("limits", "map", table=LIMITS),
])

DOC = """\
things:
  - name: gw1
    kind: SBC
  - kind: router
    port: 70000
    colour: blue
  - name: [not, a, string]
    kind: mgw
    limits: {low: 9, high: 1, extra: 0}
"""


def walk(table, text, **kwargs):
    errors = ErrorCollector("things.yml")
    data = parse_yaml(text, "things.yml")
    results = [Validator(errors, path="things.yml").walk(rec, table, "thing #%d" % i, **kwargs)
               for i, rec in enumerate(data["things"])]
    return results, [(e.path, e.line, e.obj, e.field, e.message) for e in errors.errors]


def test_a_valid_record_is_normalised_with_defaults():
    (first, _second, _third), _errors = walk(THING, DOC)
    out, ok = first
    assert ok and out == {"name": "gw1", "kind": "sbc", "port": 5060, "tags": [], "limits": None}


def test_the_table_drives_required_type_choice_unknown_and_checks():
    _results, errors = walk(THING, DOC)
    assert errors == [
        # unknown field: at its own line, naming it
        ("things.yml", 6, "thing #1", "colour", "unknown field (allowed: kind, limits, name, port, tags)"),
        # required field missing: at the record's line
        ("things.yml", 4, "thing #1", "name", "is required"),
        # wrong choice and a failing check: at the field's line, with the check's message
        ("things.yml", 4, "thing #1", "kind", "'router' is not one of: sbc, mgw"),
        ("things.yml", 5, "thing #1", "port", "70000 is not a port number (1-65535)"),
        # wrong type: at the field's line
        ("things.yml", 7, "thing #2", "name", "must be a string"),
        # a nested table: its fields carry the parent's name as prefix; a record rule reports like a field
        ("things.yml", 9, "thing #2", "limits.extra", "unknown field (allowed: high, low)"),
        ("things.yml", 9, "thing #2", "limits.low", "low is above high"),
    ]


def test_partial_records_skip_required_and_ok_tells_if_the_record_had_errors():
    results, errors = walk(THING, DOC, partial=True)
    assert [ok for _out, ok in results] == [True, False, False]
    assert not any(e[4] == "is required" for e in errors)


def test_required_at_end_and_labels():
    table = Table("user", [Field("id", "text"), Field("site", "text", required=True)], required_at_end=True,
                  label=lambda rec, where: "user '%s'" % rec["id"], where_fields=("id",),
                  unknown="unknown attribute (allowed: {allowed})", sort_allowed=False)
    _results, errors = walk(table, "things:\n  - id: E1\n    site: '  '\n    x: 1\n")
    assert errors == [
        ("things.yml", 4, "thing #0", "x", "unknown attribute (allowed: id, site)"),
        ("things.yml", 2, "user 'E1'", "site", "is required"),
    ]


def test_defaults_are_not_shared_between_records():
    (a, b, c), _errors = walk(THING, DOC)
    a[0]["tags"].append("x")
    assert b[0]["tags"] == [] and c[0]["tags"] == []


def test_list_items_report_at_their_own_line_when_asked():
    def e164(value, ctx):
        if not str(value).startswith("+"):
            raise ValueError("'%s' is not E.164" % value)
        return value
    table = Table("t", [Field("numbers", "list", check=e164, item_line=True)])
    _results, errors = walk(table, "things:\n  - numbers:\n      - '+3120'\n      - '020'\n")
    assert errors == [("things.yml", 4, "thing #0", "numbers", "'020' is not E.164")]


def test_an_unknown_field_kind_is_refused_naming_the_known_ones():
    with pytest.raises(ValueError) as info:
        Field("x", "integer")
    assert "str, text, list, map, any, skip" in str(info.value)
