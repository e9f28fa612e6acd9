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
import io
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
        loader.flatten_mapping(node)
        result = LineDict()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        result.path = path
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise SourceError("mapping key is not a scalar", path=path, line=key_node.start_mark.line + 1)
            if key in result:
                raise SourceError("duplicate key '%s'" % key, path=path, line=key_node.start_mark.line + 1,
                                  field=str(key))
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


def load_yaml(path):
    """Read a YAML file; see :func:`parse_yaml`."""
    try:
        with io.open(path, "r", encoding="utf-8") as handle:
            text = handle.read()
    except (IOError, OSError) as exc:
        raise SourceError("cannot read file: %s" % exc.strerror, path=path)
    except UnicodeDecodeError as exc:
        raise SourceError("file is not UTF-8 text: %s" % exc, path=path)
    return parse_yaml(text, path=path)


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


def load_csv(path, required=(), delimiter=None):
    """Read a CSV file; see :func:`parse_csv`."""
    try:
        with io.open(path, "r", encoding="utf-8", newline="") as handle:
            text = handle.read()
    except (IOError, OSError) as exc:
        raise SourceError("cannot read file: %s" % exc.strerror, path=path)
    except UnicodeDecodeError as exc:
        raise SourceError("file is not UTF-8 text: %s" % exc, path=path)
    return parse_csv(text, path=path, required=required, delimiter=delimiter)
