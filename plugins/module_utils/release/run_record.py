# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Release records of the callserver configuration and gateway firmware kinds, through release/record.py's API.

A thin adapter: the record is the same file as a handset release's (``<record_dir>/<id>.json``, 0600, written
atomically, ``<id>.md`` beside it, one run at a time through its lock), with

- the targets: every gateway (one wave each, in rollout order: one at a time) or the configuration file (one wave),
  each with ``before`` and ``after`` (firmware version; configuration SHA-1), its ``outcome`` in words and, for a
  gateway, its ``gate``;
- ``summary``: the last run's verdict, gate, ``service_gap_ms`` (configuration) or ``failed_gateway`` (gateways),
  its start and end (UTC ISO 8601);
- ``runs``: every run's summary, so a rerun (an identical configuration, gateways already current) adds a line and
  keeps the history.

Release status: ``done`` when the run succeeded or changed nothing, ``halted`` when it failed (a refused or
rolled-back configuration; a gateway left drained).  The page gets a section with the summary.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.voipops.voip.plugins.module_utils.fileio import atomic_write
from ansible_collections.voipops.voip.plugins.module_utils.release.record import Record, now_iso, render_page

SUMMARY_KEYS = ("verdict", "started", "finished", "service_gap_ms", "failed_gateway", "target_version", "path",
                "checksum", "previous_checksum", "backup", "rolled_back", "test_call", "message")


def _write(record_dir, release_id, kind, targets, summary, gates=None):
    """Record one run. ``targets``: [(name, state, fields)] in order. Returns (json path, page path)."""
    rec = Record.open(record_dir, release_id, kind)
    with rec.lock():
        if rec.new or [w["names"] for w in rec.data["waves"]] != [[t[0]] for t in targets]:
            rec.set_waves([[t[0]] for t in targets])
        for index, (name, state, fields) in enumerate(targets):
            rec.mark(name, state, **fields)
            rec.set_wave(index, state)
        rec.data["summary"] = summary
        if gates is not None:
            rec.data["gates"] = gates
        rec.data.setdefault("runs", []).append(summary)
        rec.event("run %s: %s" % (summary["verdict"], summary.get("message") or ""))
        rec.status = "halted" if summary["verdict"] in ("failed", "refused", "rolled_back") else "done"
        rec.save()
        atomic_write(rec.page_path, (render_page(rec.data) + render_summary(rec.data)).encode("utf-8"), mode=0o600)
    return rec.path, rec.page_path


def render_summary(data):
    lines = ["## Last run", ""]
    for key in SUMMARY_KEYS:
        value = data.get("summary", {}).get(key)
        if value is not None and value != "":
            lines.append("- %s: %s" % (key.replace("_", " "), value))
    gates = data.get("gates") or {}
    for name in sorted(gates):
        lines.append("- gate of %s: %s" % (name, gates[name]))
    return "\n".join(lines) + "\n"


def record_config(record_dir, release_id, result, started, failed=None):
    """Record a callserver_config run (``result`` as release/config.py returns it; ``failed``: the failure message)."""
    if failed is None:
        verdict, state = ("released", "done") if result.get("changed") else ("unchanged", "done")
    elif result.get("rolled_back"):
        verdict, state = "rolled_back", "rolled_back"
    else:
        verdict, state = ("failed" if result.get("restarted") else "refused"), "failed"
    gate = result.get("gate")
    outcome = {"released": "released, service gap %s ms" % result.get("service_gap_ms", 0),
               "unchanged": "already live", "rolled_back": "gate failed, rolled back",
               "refused": "refused by the validation", "failed": "failed"}[verdict]
    after = result.get("checksum") if verdict in ("released", "unchanged") else result.get("previous_checksum")
    fields = {"before": result.get("previous_checksum"), "after": after, "outcome": outcome,
              "candidate": result.get("checksum"), "gate": gate, "test_call": result.get("test_call"),
              "validation": dict(
                  (k, v) for k, v in (result.get("validation") or {}).items() if k != "log")}
    summary = {"verdict": verdict, "started": started, "finished": now_iso(), "path": result.get("path"),
               "checksum": result.get("checksum"), "previous_checksum": result.get("previous_checksum"),
               "backup": result.get("backup"), "service_gap_ms": result.get("service_gap_ms", 0),
               "rolled_back": bool(result.get("rolled_back")), "gate": gate, "test_call": result.get("test_call"),
               "message": failed or result.get("msg")}
    return _write(record_dir, release_id, "callserver_config", [(result.get("path"), state, fields)], summary)


def record_gateways(record_dir, release_id, result, started, failed=None):
    """Record a gateway_firmware run (``result`` as release/gateway.py returns it)."""
    states = {"upgraded": "done", "current": "done", "failed": "failed", "rolled back": "rolled_back",
              "not started": "pending"}
    targets, gates = [], {}
    for gw in result.get("gateways") or []:
        status = gw.get("status")
        outcome = status if not gw.get("error") else "%s: %s" % (status, gw["error"])
        if gw.get("drained"):
            outcome += " (left drained)"
        fields = {"before": gw.get("before"), "after": gw.get("after"), "outcome": outcome,
                  "gate": gw.get("gate"), "drained": bool(gw.get("drained"))}
        targets.append((gw["name"], states.get(status, "pending"), fields))
        if gw.get("gate") is not None:
            gates[gw["name"]] = gw["gate"]
    if failed is not None:
        verdict = "failed"
    else:
        verdict = "upgraded" if result.get("changed") else "unchanged"
    summary = {"verdict": verdict, "started": started, "finished": now_iso(),
               "target_version": result.get("target_version"), "failed_gateway": result.get("failed_gateway"),
               "message": failed}
    return _write(record_dir, release_id, "gateway_firmware", targets, summary, gates)
