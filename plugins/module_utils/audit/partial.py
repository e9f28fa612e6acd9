# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Partial audit reports of a sliced health audit, and their merge into one estate audit (pure, plus file reading).

A sliced audit (AWX job slicing, or ``--limit`` runs) checks a share of the estate per job.  Each slice writes a
*partial report*: the raw results of its check modules (the ``results`` option of ``audit_report``) with the
audit it belongs to (``audit_id``) and its slice (name, and number and count when known).  Merging concatenates
the results of every family over the slices and builds the audit once, so that root causes, priorities, order
and the comparison with the previous audit are those of one unsliced run: a finding id is the same whichever slice
saw it, and the same finding seen by two overlapping slices is one finding.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import hashlib
import io
import json
import os
import re

PARTIAL_KIND = "voipops.voip.audit_partial"
PARTIAL_SCHEMA_VERSION = 1
SUFFIX = ".partial.json"
#: families that are one table of the callserver (its dispatcher, its registrations), read whole by the slice that
#: holds the callserver: when overlapping slices both read it, one reading is kept (two would double every contact)
TABLE_FAMILIES = ("dispatcher", "registrations", "handset_info")


class PartialError(Exception):
    pass


def estate_digest(estate):
    """What identifies an estate across execution nodes: its domain and component names (not the file's path)."""
    raw = "%s|%s" % (estate.domain, ",".join(sorted(estate.components)))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]


def parse_slice(name, count=None):
    """``"2/3"`` -> (``"2/3"``, 2, 3); any other name -> (name, None, count)."""
    name = str(name or "").strip()
    if not name:
        raise PartialError("a partial report needs a slice name (for example 2/3, or the AWX job id)")
    match = re.match(r"^(\d+)\s*/\s*(\d+)$", name)
    if match:
        number, total = int(match.group(1)), int(match.group(2))
        if not 1 <= number <= total:
            raise PartialError("slice %s: the number must be between 1 and %d" % (name, total))
        if count and count != total:
            raise PartialError("slice %s is not one of %d slices" % (name, count))
        return "%d/%d" % (number, total), number, total
    return name, None, (int(count) if count else None)


def _safe(text):
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("._") or "x"
    return text[:60]


def partial_path(dest, basename, audit_id, slice_name):
    """``<dest>/<basename>.<audit id>.<slice>.partial.json`` (names made file-safe; a long or odd name gets a hash)."""
    slice_part = _safe(slice_name.replace("/", "-of-"))
    if slice_part != slice_name.replace("/", "-of-"):
        slice_part += "-" + hashlib.sha1(slice_name.encode("utf-8")).hexdigest()[:8]  # nosec - a file name
    return os.path.join(dest, "%s.%s.%s%s" % (basename, _safe(audit_id), slice_part, SUFFIX))


def _without_invocations(value):
    """A registered result without Ansible's ``invocation`` echo of the module arguments (the adapters never read
    it, and a partial report is a file that outlives the job)."""
    if isinstance(value, list):
        return [_without_invocations(v) for v in value]
    if isinstance(value, dict):
        return dict((k, _without_invocations(v) if k == "results" else v) for k, v in value.items() if k != "invocation")
    return value


def make_partial(results, findings, estate, now_iso, audit_id, slice_name, count=None, callserver=None):
    """The partial report document of one slice."""
    if not str(audit_id or "").strip():
        raise PartialError("a partial report needs an audit_id shared by all slices of the audit "
                           "(in AWX the sliced job's awx_workflow_job_id)")
    name, number, total = parse_slice(slice_name, count)
    return {
        "schema_version": PARTIAL_SCHEMA_VERSION,
        "kind": PARTIAL_KIND,
        "partial": True,
        "audit_id": str(audit_id),
        "slice": {"name": name, "number": number, "count": total},
        "generated_at": now_iso,
        "estate": {"file": estate.path, "domain": estate.domain, "digest": estate_digest(estate)},
        "callserver": callserver,
        "results": dict((family, _without_invocations(value)) for family, value in (results or {}).items()),
        "findings": findings or [],
    }


def read_partial(path):
    try:
        with io.open(path, "r", encoding="utf-8") as handle:
            doc = json.load(handle)
    except (IOError, OSError, ValueError) as exc:
        raise PartialError("cannot read the partial report %s: %s" % (path, exc))
    if not isinstance(doc, dict) or doc.get("kind") != PARTIAL_KIND or doc.get("schema_version") != PARTIAL_SCHEMA_VERSION:
        raise PartialError("%s is not a voipops.voip partial audit report (kind %s, schema_version %d)"
                           % (path, PARTIAL_KIND, PARTIAL_SCHEMA_VERSION))
    for key in ("audit_id", "slice", "generated_at", "results"):
        if key not in doc:
            raise PartialError("%s: the partial report has no %s" % (path, key))
    return doc


def find_partials(paths):
    """Files named in ``paths``; a directory stands for its ``*.partial.json`` files. Returns [(path, doc)].

    Files named one by one must all belong to one audit; a directory may hold the slices of several audits (one
    per day): the newest audit there is taken (the one whose latest slice is the newest)."""
    explicit, from_dirs = [], []
    for path in paths or []:
        if os.path.isdir(path):
            found = sorted(glob.glob(os.path.join(glob.escape(path), "*" + SUFFIX)))
            if not found:
                raise PartialError("no partial report (*%s) in %s" % (SUFFIX, path))
            from_dirs.extend(found)
        elif os.path.exists(path):
            explicit.append(path)
        else:
            raise PartialError("partial report %s does not exist" % path)
    docs = [(p, read_partial(p)) for p in explicit]
    if from_dirs:
        dir_docs = [(p, read_partial(p)) for p in from_dirs]
        wanted = set(d["audit_id"] for _p, d in docs)
        if not wanted:
            newest = {}
            for _p, d in dir_docs:
                newest[d["audit_id"]] = max(newest.get(d["audit_id"], ""), d["generated_at"])
            wanted = set([max(newest, key=lambda a: (newest[a], a))])
        seen = set(p for p, _d in docs)
        docs.extend((p, d) for p, d in dir_docs if d["audit_id"] in wanted and p not in seen)
    if not docs:
        raise PartialError("no partial report to merge")
    return docs


def check_same_audit(docs, estate):
    """Refuse slices of different audits or of another estate."""
    ids = {}
    for path, doc in docs:
        ids.setdefault(doc["audit_id"], []).append(os.path.basename(path))
    if len(ids) > 1:
        raise PartialError("the partial reports belong to different audits: %s; merge the slices of one audit"
                           % "; ".join("audit %s: %s" % (a, ", ".join(files)) for a, files in sorted(ids.items())))
    digest = estate_digest(estate)
    for path, doc in docs:
        theirs = (doc.get("estate") or {}).get("digest")
        if theirs and theirs != digest:
            raise PartialError("%s audited another estate (domain %s, components differ from %s)"
                               % (path, (doc.get("estate") or {}).get("domain"), estate.path))


def slice_coverage(docs, count=None):
    """Which slices are there and which are missing: ``{count, merged, missing}`` (slice names)."""
    counts = set(d["slice"].get("count") for _p, d in docs if d["slice"].get("count"))
    if count:
        counts.add(int(count))
    if len(counts) > 1:
        raise PartialError("the partial reports disagree on the number of slices: %s"
                           % ", ".join(str(c) for c in sorted(counts)))
    total = int(counts.pop()) if counts else 0
    names = sorted(set(d["slice"]["name"] for _p, d in docs))
    numbers = set(d["slice"].get("number") for _p, d in docs if d["slice"].get("number"))
    missing = []
    if total:
        if numbers:
            missing = ["%s/%s" % (n, total) for n in range(1, total + 1) if n not in numbers]
        elif len(names) < total:
            missing = ["%s of %s slices (only %s reported)" % (total - len(names), total, ", ".join(names))]
    return {"count": total or None, "merged": names, "missing": missing}


def merge_results(docs):
    """The check results of all slices as one ``results`` dict, plus the failed checks ``[(family, failure)]``.

    The per-component families (SIP probes, RPC, SNMP, certificates, gateway_info) are concatenated; a callserver
    table (:data:`TABLE_FAMILIES`) is taken from the first slice (in file name order) that read it.

    A family that failed in every slice that ran it is passed as that failure (as one run that failed would be);
    a family that failed in some slices only keeps the others' results, and its failures are returned apart.
    """
    merged, failures = {}, []
    families = []
    for _path, doc in docs:
        for family in doc["results"]:
            if family not in families:
                families.append(family)
    for family in families:
        ok, failed = [], []
        for _path, doc in docs:
            if family not in doc["results"]:
                continue
            value = doc["results"][family]
            (failed if isinstance(value, dict) and value.get("failed") else ok).append(value)
        if not ok:
            merged[family] = failed[0]
            failures.extend((family, f) for f in failed[1:])
            continue
        failures.extend((family, f) for f in failed)
        if family in TABLE_FAMILIES:
            merged[family] = ok[0]
        else:
            merged[family] = [item for part in ok for item in (part or [])]
    return merged, failures


def merge_findings(docs):
    """Custom findings of all slices, each once."""
    out, seen = [], set()
    for _path, doc in docs:
        for item in doc.get("findings") or []:
            key = json.dumps(item, sort_keys=True)
            if key not in seen:
                seen.add(key)
                out.append(item)
    return out


def audit_time(docs):
    """The merged audit's time: the earliest slice's (when the audit started)."""
    return min(d["generated_at"] for _p, d in docs)
