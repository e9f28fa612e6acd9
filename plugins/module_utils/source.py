# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read source files (YAML, CSV) so that every value knows the file and line it came from.

Every input of the collection (estate files, HR exports, number plans) goes through here,
so that a bad value is reported as ``estate.yml line 42, handset 'hs-0042': mac '00:15:65:zz'
is not a MAC`` and never as a bare traceback.

- ``load_yaml(path)`` returns plain data whose mappings are :class:`LineDict` (a ``dict`` that
  also knows ``.line`` and ``.key_lines``) and whose sequences are :class:`LineList`
  (``.line`` and ``.item_lines``).  Both compare equal to plain dicts/lists.
- ``load_csv(path)`` returns :class:`CsvRow` mappings that know their ``.line``.
- :class:`SourceError` is a ``ValueError`` carrying file, line, object and field;
  :class:`SourceErrors` gathers many, so a whole batch is validated before anything is applied.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import difflib
import io
import re
import traceback

try:
    import yaml

    try:  # libyaml is faster; line numbers are identical with the pure-Python loader
        from yaml import CSafeLoader as _BaseLoader
    except ImportError:  # pragma: no cover
        from yaml import SafeLoader as _BaseLoader
    HAS_YAML = True
    YAML_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core on the controller
    HAS_YAML = False
    YAML_IMPORT_ERROR = traceback.format_exc()
    _BaseLoader = object


class SourceError(ValueError):
    """One bad value in one source file."""

    def __init__(self, message, path=None, line=None, obj=None, field=None):
        self.message = message
        self.path = path
        self.line = line
        self.obj = obj
        self.field = field
        super(SourceError, self).__init__(self.__str__())

    def as_dict(self):
        return {"file": self.path, "line": self.line, "object": self.obj, "field": self.field,
                "message": self.message}

    def __str__(self):
        where = []
        if self.path:
            where.append(self.path)
        if self.line:
            where.append("line %d" % self.line)
        prefix = " ".join(where)
        if self.obj:
            prefix = "%s, %s" % (prefix, self.obj) if prefix else str(self.obj)
        field = "%s: " % self.field if self.field else ""
        return "%s: %s%s" % (prefix, field, self.message) if prefix else "%s%s" % (field, self.message)


class SourceErrors(ValueError):
    """Several SourceError at once (the whole batch is checked before anything is written)."""

    def __init__(self, errors):
        self.errors = list(errors)
        super(SourceErrors, self).__init__(self.__str__())

    def __str__(self):
        n = len(self.errors)
        head = "%d error%s in input" % (n, "" if n == 1 else "s")
        return head + ":\n" + "\n".join("  - %s" % e for e in self.errors)

    def as_list(self):
        return [e.as_dict() for e in self.errors]


class ErrorCollector(object):
    """Collect errors while validating; raise them all at the end."""

    def __init__(self, path=None):
        self.path = path
        self.errors = []

    def add(self, message, line=None, obj=None, field=None, path=None):
        self.errors.append(SourceError(message, path=path or self.path, line=line, obj=obj, field=field))

    def extend(self, errors):
        self.errors.extend(errors)

    def __bool__(self):
        return bool(self.errors)

    __nonzero__ = __bool__

    def raise_if_any(self):
        if self.errors:
            raise SourceErrors(self.errors)


class LineDict(dict):
    """A dict that remembers the line of itself and of each key (1-based)."""

    line = None
    key_lines = None
    path = None

    def line_of(self, key):
        if self.key_lines and key in self.key_lines:
            return self.key_lines[key]
        return self.line


class LineList(list):
    """A list that remembers the line of itself and of each item (1-based)."""

    line = None
    item_lines = None
    path = None

    def line_of(self, index):
        if self.item_lines and 0 <= index < len(self.item_lines):
            return self.item_lines[index]
        return self.line


def line_of(node, key=None):
    """Best line number for ``node[key]`` (or ``node``); None when unknown."""
    if key is not None and hasattr(node, "line_of"):
        return node.line_of(key)
    return getattr(node, "line", None)


def _make_loader(path):
    if not HAS_YAML:
        raise SourceError("the Python library PyYAML is required to read YAML", path=path)

    class Loader(_BaseLoader):
        pass

    def construct_mapping(loader, node):
        # a key written twice in one mapping is an error; a key that overrides one from a merge (<<: *defaults) is not
        explicit = [k for k, _v in node.value if k.tag != "tag:yaml.org,2002:merge"]
        loader.flatten_mapping(node)  # merged pairs first, then the mapping's own: the own value wins
        merged = len(node.value) - len(explicit)
        result = LineDict()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        result.path = path
        own = set()
        for i, (key_node, value_node) in enumerate(node.value):
            key = loader.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise SourceError("mapping key is not a scalar", path=path, line=key_node.start_mark.line + 1)
            if i >= merged:
                if key in own:
                    raise SourceError("duplicate key '%s'" % key, path=path, line=key_node.start_mark.line + 1,
                                      field=str(key))
                own.add(key)
            result[key] = loader.construct_object(value_node, deep=True)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result

    def construct_sequence(loader, node):
        result = LineList()
        result.line = node.start_mark.line + 1
        result.path = path
        result.item_lines = [child.start_mark.line + 1 for child in node.value]
        result.extend(loader.construct_object(child, deep=True) for child in node.value)
        return result

    def construct_str(loader, node):
        # Keep timestamps and dates as strings: we parse them ourselves with clear errors.
        return loader.construct_scalar(node)

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, construct_sequence)
    Loader.add_constructor(u"tag:yaml.org,2002:timestamp", construct_str)
    return Loader


def parse_yaml(text, path="<string>"):
    """Parse YAML text into LineDict/LineList data; syntax errors become SourceError."""
    try:
        return yaml.load(text, Loader=_make_loader(path))  # nosec - our loader is a SafeLoader
    except SourceError:
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise SourceError("invalid YAML: %s" % problem, path=path, line=line)


#: encodings a source file may be in: UTF-8 (with or without BOM), UTF-16 with BOM (spreadsheet "Unicode text"),
#: and the Windows code page spreadsheet programs write CSV in by default in Western European locales
ENCODINGS = ("utf-8", "utf-16", "cp1252")


def read_text(path, encoding=None):
    """The text of a source file.  ``encoding`` None = detect: a BOM says UTF-8 or UTF-16, else UTF-8 if the bytes
    are valid UTF-8, else Windows-1252.  SourceError naming the file, the line and what to do otherwise."""
    try:
        with io.open(path, "rb") as handle:
            raw = handle.read()
    except (IOError, OSError) as exc:
        raise SourceError("cannot read file: %s" % exc.strerror, path=path)
    if encoding is None:
        if raw.startswith(b"\xef\xbb\xbf"):
            encoding = "utf-8-sig"
        elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            encoding = "utf-16"
        else:
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                encoding = "cp1252"
    try:
        text = raw.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        line = raw[:getattr(exc, "start", 0)].count(b"\n") + 1 if isinstance(exc, UnicodeDecodeError) else None
        raise SourceError("the file is not %s text (%s); save it as UTF-8 (in a spreadsheet program: "
                          "'CSV UTF-8')" % (encoding if encoding != "cp1252" else "UTF-8 or Windows-1252", exc),
                          path=path, line=line)
    return text[1:] if text.startswith(u"\ufeff") else text


def load_yaml(path):
    """Read a YAML file; see :func:`parse_yaml` and :func:`read_text`."""
    return parse_yaml(read_text(path), path=path)


class CsvRow(dict):
    """One CSV record as a dict of column -> stripped string, knowing its file and line."""

    line = None
    path = None

    def line_of(self, key=None):
        return self.line


def parse_csv(text, path="<string>", required=(), delimiter=None):
    """Parse CSV text with a header row.  Returns a list of CsvRow.

    ``required`` columns must be present in the header.  The delimiter is sniffed among
    ``,;<tab>`` unless given (HR systems export with either).  Line numbers are physical lines,
    so a quoted field with a newline does not shift later rows.
    """
    if text.startswith(u"\ufeff"):
        text = text[1:]
    if delimiter is None:
        first = text.split("\n", 1)[0]
        counts = dict((d, first.count(d)) for d in (",", ";", "\t"))
        delimiter = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise SourceError("empty file: a header row is required", path=path, line=1)
    header = [h.strip().lower() for h in header]
    seen = set()
    for name in header:
        if not name:
            raise SourceError("empty column name in header", path=path, line=1)
        if name in seen:
            raise SourceError("duplicate column '%s' in header" % name, path=path, line=1, field=name)
        seen.add(name)
    missing = [c for c in required if c not in seen]
    if missing:
        raise SourceError("missing required column(s): %s" % ", ".join(missing), path=path, line=1)
    rows = []
    line = reader.line_num + 1
    while True:
        start = line
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise SourceError("bad CSV: %s" % exc, path=path, line=start)
        line = reader.line_num + 1
        if not values or all(not v.strip() for v in values):
            continue
        if values[0].lstrip().startswith("#"):
            continue
        if len(values) > len(header):
            raise SourceError("%d fields, header has %d" % (len(values), len(header)), path=path, line=start)
        row = CsvRow((name, (values[i].strip() if i < len(values) else "")) for i, name in enumerate(header))
        row.line = start
        row.path = path
        rows.append(row)
    return rows


def unknown_columns(rows, allowed, path=None):
    """One SourceError per unknown column of a CSV, at its header line (line 1), with the closest known name: a
    spreadsheet's stray column is reported once, not once per row."""
    if not rows:
        return []
    errors = []
    for col in [c for c in rows[0] if c not in allowed]:
        close = difflib.get_close_matches(col, allowed, n=1)
        hint = " - did you mean '%s'?" % close[0] if close else ""
        errors.append(SourceError("unknown column%s (allowed: %s)" % (hint, ", ".join(allowed)),
                                  path=path or getattr(rows[0], "path", None), line=1, field=col))
    return errors


def load_csv(path, required=(), delimiter=None):
    """Read a CSV file (any encoding :func:`read_text` detects); see :func:`parse_csv`."""
    return parse_csv(read_text(path), path=path, required=required, delimiter=delimiter)


# --------------------------------------------------------------------------------------------
# One field-table validator
# --------------------------------------------------------------------------------------------
# A record kind (an estate site, a user profile, a provisioning handset, ...) is declared as a
# :class:`Table` of :class:`Field` (the tables live in ``module_utils/schema/``).  One
# :class:`Validator` walks any table over a record read by ``load_yaml``/``load_csv`` and reports
# every problem as a SourceError at the file, line and field it comes from:
#
# - a key the table does not declare: at that key's line, naming the key;
# - a required field that is missing or empty: at the key's line, or the record's line if absent;
# - a value of the wrong type or outside ``choices``: at that field's line;
# - a check (normaliser) that raises ValueError: its message, at that field's line.
#
# Cross-record rules (duplicates, references, cycles, overlapping ranges) stay small functions: a
# check receives a :class:`Walk` (``ctx``) whose ``state`` is the loader's own object, and the
# table's ``rules`` run once per record after its fields, all with the same ``ctx.error``.

FIELD_KINDS = ("str", "text", "list", "map", "any", "skip")


class Field(object):
    """One field of a record kind.

    ``kind``: ``str`` (a scalar, stripped; mappings/lists/booleans are refused; ``""`` is missing),
    ``text`` (any value as stripped text, ``""`` included), ``list`` (a scalar becomes a one-item list, or is split by ``split``; ``check``
    applies to each item), ``map`` (``table`` walks it with ``<name>.`` in front of its fields),
    ``any`` (``check`` sees the raw value), ``skip`` (allowed; the caller handles it).
    ``check(value, ctx)`` returns the normalised value or raises ValueError(message).
    ``messages`` overrides ``type``, ``choice`` (``{value}``, ``{choices}``) and ``required``.
    """

    __slots__ = ("name", "kind", "required", "choices", "default", "lower", "check", "table", "split",
                 "messages", "item_line", "always")

    def __init__(self, name, kind="str", required=False, choices=None, default=None, lower=False, check=None,
                 table=None, split=None, messages=None, item_line=False, always=False):
        if kind not in FIELD_KINDS:
            raise ValueError("unknown field kind %r (known: %s)" % (kind, ", ".join(FIELD_KINDS)))
        self.name, self.kind, self.required, self.choices = name, kind, required, choices
        self.default, self.lower, self.check, self.table = default, lower, check, table
        self.split, self.messages, self.item_line = split, messages or {}, item_line
        self.always = always  # run ``check`` even when the field is missing (it sees None)

    def message(self, what, default, **values):
        text = self.messages.get(what, default)
        return text.format(**values) if values else text


class Table(object):
    """A record kind: its fields (in the order they are read), which are required, and record rules.

    ``required`` (default: the fields flagged ``required``, in table order) are checked before the
    fields, at the key's line; with ``required_at_end`` they are checked after the fields (missing or
    blank text), at the record's line.  ``label(rec, where)`` names the record in messages
    once its key is read (fields flagged in ``where_fields`` and unknown keys keep ``where``).
    ``missing(value)`` says when a required field counts as missing (default: None, "" or [] before
    the fields; None or blank text at the end).
    ``rules(out, ctx)`` run after the fields (cross-field and cross-record checks).  A table that is
    not ``closed`` accepts keys it does not declare (a CSV file's columns are checked once per file).
    """

    def __init__(self, kind, fields, required=None, rules=(), unknown="unknown field (allowed: {allowed})",
                 sort_allowed=True, required_at_end=False, label=None, where_fields=(), closed=True, missing=None):
        self.kind = kind
        self.missing = missing
        self.closed = closed
        self.fields = list(fields)
        self.names = tuple(f.name for f in self.fields)
        self.name_set = frozenset(self.names)
        self.walked = tuple(f for f in self.fields if f.kind != "skip")
        if required is None:
            required = [f.name for f in self.fields if f.required]
        self.required = tuple(required)
        self.rules = tuple(rules)
        self.allowed_text = ", ".join(sorted(self.names) if sort_allowed else self.names)
        self.unknown = unknown
        self.required_at_end = required_at_end
        self.label = label
        self.where_fields = tuple(where_fields)

    def field(self, name):
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


class Walk(object):
    """What a check or rule sees: the record, its name in messages, the loader's state, ``error``."""

    def __init__(self, validator, rec, obj, prefix, line, out, key=None):
        self.validator, self.rec, self.obj, self.prefix, self.line = validator, rec, obj, prefix, line
        self.out, self.key = out, key
        self.state = validator.state
        self.ok = True

    def error(self, message, node=None, key=None, field=None, line=None, obj=None):
        """Report at ``node[key]`` (default: this record and field); ``field`` defaults to prefix + key."""
        if node is None:
            node = self.rec
            key = self.key if key is None else key
        if field is None and key is not None:
            field = self.prefix + str(key)
        self.ok = False
        self.validator.error(message, node, key, obj or self.obj, field, line=line, base_line=self.line)


MISSING = (None, "", [])


_CONTROL_RE = re.compile(u"[\x00-\x08\x0a-\x1f\x7f\u2028\u2029]")


def _no_control(text):
    """One rule for every text field of every source: no control characters (a line break or a NUL in a display
    name would inject settings into phone files and break provisioning of the whole estate).  A tab is allowed."""
    bad = _CONTROL_RE.search(text)
    if bad:
        raise ValueError("contains a control character (U+%04X); remove it" % ord(bad.group()))
    return text


def _absent(value):
    return value in MISSING


def _blank(value):
    return value is None or not str(value).strip()


def _fresh(default):
    """A default list/dict is copied, so records never share (and mutate) one object."""
    if default is None or default.__class__ not in (list, dict):
        return default
    return default.__class__(default)


class Validator(object):
    """Walks field tables over records; every problem goes to one ErrorCollector.

    ``state`` is handed to checks and rules (``ctx.state``).  With ``node_paths`` an error names the
    file the record itself came from (a CSV file named by the estate), else the collector's path.
    """

    def __init__(self, errors, path=None, state=None, node_paths=True):
        self.errors, self.path, self.state, self.node_paths = errors, path, state, node_paths

    def error(self, message, node=None, key=None, obj=None, field=None, line=None, path=None, base_line=None):
        if line is None and node is not None:
            line = line_of(node, key)
        if line is None:
            line = base_line
        if path is None and self.node_paths:
            path = getattr(node, "path", None) or self.path
        self.errors.add(message, line=line, obj=obj, field=field if field is not None else key,
                        path=path or self.path)

    def walk(self, rec, table, obj, prefix="", line=None, partial=False, out=None):
        """Validate ``rec`` against ``table``; returns (out, ok): out maps every field to its value."""
        line = line_of(rec) or line
        out = {} if out is None else out
        ctx = Walk(self, rec, obj, prefix, line, out)
        if table.closed:
            for key in rec:
                if key not in table.name_set:
                    ctx.error(table.unknown.format(allowed=table.allowed_text), rec, key)
        if not table.required_at_end and not partial:
            missing = table.missing or _absent
            for name in table.required:
                if missing(rec.get(name)):
                    ctx.error(table.field(name).message("required", "is required"), rec,
                              name if name in rec else None, prefix + name)
        label = table.label(rec, obj) if table.label is not None else obj
        where_fields = table.where_fields
        ctx.obj = label
        value = self.value
        for f in table.walked:
            if where_fields:
                ctx.obj = obj if f.name in where_fields else label
            ctx.key = f.name
            out[f.name] = value(rec, f, ctx)
        ctx.key = None
        if table.required_at_end and not partial:
            for name in table.required:
                if (table.missing or _blank)(rec.get(name)):
                    ctx.error(table.field(name).message("required", "is required"), line=line, field=prefix + name)
        for rule in table.rules:
            rule(out, ctx)
        return out, ctx.ok

    def value(self, rec, f, ctx):
        """One field's normalised value (its default when missing or wrong)."""
        value = rec.get(f.name)
        if value is None:
            if f.always:
                try:
                    return f.check(None, ctx)
                except ValueError as exc:
                    ctx.error(str(exc))
            return _fresh(f.default)
        if value == "" and f.kind == "str":
            return _fresh(f.default)
        try:
            if f.kind == "list":
                return self._list(value, f, ctx)
            if f.kind == "map":
                if not isinstance(value, dict):
                    raise ValueError(f.message("type", "must be a mapping"))
                if f.table is not None:
                    value, ok = self.walk(value, f.table, ctx.obj, ctx.prefix + f.name + ".", line=ctx.line)
                    ctx.ok = ctx.ok and ok
            elif f.kind == "str":
                if isinstance(value, (dict, list, bool)):
                    raise ValueError(f.message("type", "must be a string"))
                value = _no_control(str(value).strip())
            elif f.kind == "text":
                value = _no_control(str(value).strip())
            if f.lower:
                value = value.lower()
            if f.choices and value not in f.choices:
                raise ValueError(f.message("choice", "{value!r} is not one of: {choices}", value=value,
                                           choices=", ".join(f.choices)))
            return f.check(value, ctx) if f.check else value
        except ValueError as exc:
            ctx.error(str(exc))
            return _fresh(f.default)

    def _list(self, value, f, ctx):
        if isinstance(value, str):
            value = [v for v in f.split.split(value) if v] if f.split is not None else [value]
        if not isinstance(value, list):
            raise ValueError(f.message("type", "must be a list"))
        items = []
        for index, item in enumerate(value):
            try:
                items.append(f.check(item, ctx) if f.check else item)
            except ValueError as exc:
                line = line_of(ctx.rec.get(f.name), index) if f.item_line else None
                ctx.error(str(exc), line=line)
        return items
