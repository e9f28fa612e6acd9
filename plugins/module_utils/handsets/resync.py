# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""handset_resync's input file and its bounded report.

- :func:`load_handsets_file` reads the handsets from a file with the collection's existing loaders: an estate file
  (``estate.load_estate``, validated, its handsets with their ``address``) or a handsets file as handset_provision
  reads it (``provision.load_handsets``: CSV, a YAML/JSON ``handsets:`` list or a top-level list).  One rule tells
  them apart: an estate is a mapping with ``sites`` (the estate schema requires it); a handsets file has none.
- :func:`summarize` turns one result per NOTIFY into counts by outcome and the failed ones, at most ``limit``, so a
  10,000-handset re-sync returns a few kB instead of a record per NOTIFY.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.voipops.voip.plugins.module_utils import provision

FAILED_MAX = 100
OK = "ok"
PLANNED = "planned"


def is_estate(data):
    """The one rule: an estate file is a mapping with ``sites``; a handsets file is a list or has no ``sites``."""
    return isinstance(data, dict) and "sites" in data


def load_handsets_file(path):
    """The handsets of ``path``: an estate file's (validated; SourceErrors name file, line and field) or a handsets
    file's as handset_provision reads it (a JSON file is read without line tracking, as handset_provision does)."""
    if not str(path).lower().endswith(".csv"):
        data = provision._load_document(path, True)  # pylint: disable=protected-access
        if is_estate(data):
            from ansible_collections.voipops.voip.plugins.module_utils.estate import load_estate
            return [dict(h) for h in load_estate(path).handsets]
    return provision.load_handsets(path, fast=True)


def summarize(results, limit=FAILED_MAX):
    """(by_status, failed): the number of NOTIFYs per status, and the ones that were neither answered with success
    nor only planned (check mode), sorted by handset name, at most ``limit`` of them."""
    by_status = {}
    failed = []
    for r in results:
        by_status[r["status"]] = by_status.get(r["status"], 0) + 1
        if r["status"] not in (OK, PLANNED):
            failed.append(r)
    failed.sort(key=lambda r: (str(r["name"]), str(r["uri"])))
    return by_status, failed[:limit]
