# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Audit log as JSON lines: when, who, what, before and after; never a secret.

The authoritative audit rows are written by the driver in the SAME database transaction as the
change (``voipops_journal``), so a run killed at any point neither loses nor duplicates a record.
This module exports those rows to a JSON-lines file: each line carries the row's ``id``; an export
appends only rows with an id above the last id already in the file, so running it again (or after
a crash between the commit and the export) appends exactly the missing lines.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fcntl
import io
import json
import os

SECRET_KEYS = ("password", "ha1", "ha1b", "secret", "token")


def scrub(value):
    """Remove anything that looks like a secret from a record (defence in depth)."""
    if isinstance(value, dict):
        return dict((k, "********" if k.lower() in SECRET_KEYS else scrub(v)) for k, v in value.items())
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def last_id(path):
    """Highest record id already in the file (0 if none)."""
    if not os.path.exists(path):
        return 0
    best = 0
    with io.open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - 65536))
        tail = handle.read().decode("utf-8", "replace").splitlines()
    for line in reversed(tail):
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # a torn last line (crash while writing) or a partial first line of the window
        if isinstance(rec, dict) and isinstance(rec.get("id"), int):
            best = max(best, rec["id"])
            break
    return best


def export(rows, path, extra=None):
    """Append ``rows`` (dicts with an integer ``id``) not yet in ``path``; returns the number written."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory)
    with io.open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            handle.flush()
            done = last_id(path)
            # repair a torn last line so the next record starts on its own line
            handle.seek(0, os.SEEK_END)
            if handle.tell() > 0:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":
                    handle.write(b"\n")
            n = 0
            for row in sorted(rows, key=lambda r: r["id"]):
                if row["id"] <= done:
                    continue
                rec = dict(row)
                if extra:
                    rec.update(extra)
                handle.write((json.dumps(scrub(rec), sort_keys=True) + "\n").encode("utf-8"))
                n += 1
            handle.flush()
            os.fsync(handle.fileno())
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return n


def read(path):
    """All records of a JSON-lines audit file (skips a torn line)."""
    out = []
    if not os.path.exists(path):
        return out
    with io.open(path, "r", encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out
