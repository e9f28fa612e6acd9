# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One triage run: the steps in dependency order, each gathering its evidence then reasoning over it, stopping at
the first step that proves a cause (the evidence of the earlier steps stays in the result).  The recent changes
(``steps.CONTEXT_STEPS``) are read in any case: they prove nothing themselves, but tell who changed what before it.

The package (its ``__init__`` is empty, as ansible-test requires of module_utils packages):

- ``accesslog``: the provisioning server's access log (nginx ``prov`` format) -> fetch records (pure parser).
- ``gather``: the evidence of each step, through the callserver driver, the estate, the provisioning files, the
  access log, the one registration matcher and the SIP engine (the only I/O of the package).
- ``steps``: the reasoning of each step over that evidence (pure, unit-tested): observations, one of which may
  be a proven cause.
- ``route``: the cause routed to its supplier with SLA deadlines through the audit's own build (``audit/build.py``,
  ``sla.py``).
- ``card``: the readable card (pure).
- ``engine``: this file - the steps in dependency order, stopping at the first proven cause.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.voipops.voip.plugins.module_utils.diagnose import card, route, steps

RESULT_VERSION = 1


def _status(observations):
    levels = set(o["level"] for o in observations)
    for level in ("cause", "warning", "suspect"):
        if level in levels:
            return level
    return "ok" if "ok" in levels else "info"


def _not_done(ev):
    tc = ev.get("test_call")
    if tc is None or tc.get("checked"):
        return []     # placed, or the triage stopped before step 4
    return ["test call through the callserver: %s" % tc.get("reason")]


def run(gatherer, extension=None, employee_id=None, mac=None, handset=None):
    """Diagnose one extension (or employee id, MAC, handset name).  Returns the result document (docs/triage.md)."""
    ev = {"now": gatherer.now}
    ev["target"] = gatherer.target(extension=extension, employee_id=employee_id, mac=mac, handset=handset)
    ev["handset"] = gatherer.handset_record(ev["target"]["handset"])   # the estate's record: no I/O, always shown
    done, observations, stopped = [], [], None
    for name in steps.STEPS:
        if stopped and name not in steps.CONTEXT_STEPS:
            done.append({"name": name, "status": "not_run", "observations": []})
            continue
        if name == "profile":
            ev["profile"] = gatherer.profile(ev)
        elif name == "handset":
            gatherer.handset(ev)
        elif name == "registration":
            gatherer.registration(ev)
        elif name == "reachability":
            ev["options"] = gatherer.reachability(ev)
            ev["test_call"] = gatherer.call(ev)
        elif name == "path":
            ev["path"] = gatherer.path(ev)
        elif name == "changes":
            ev["changes"] = gatherer.changes(ev)
        found = steps.RULES[name](ev)
        observations.extend(found)
        done.append({"name": name, "status": _status(found), "observations": found})
        if not stopped and any(o["level"] == "cause" for o in found):
            stopped = name
    cause = steps.conclude(observations)
    result = {
        "version": RESULT_VERSION,
        "checked_at": steps._iso(gatherer.now),  # pylint: disable=protected-access
        "target": ev["target"],
        "handset": ev.get("handset"),
        "verdict": "cause" if cause and cause["level"] == "cause" else ("suspect" if cause else "no_fault_found"),
        "cause": cause,
        "responsible": route.responsible(cause, gatherer.estate, gatherer.now),
        "stopped_at": stopped,
        "steps": done,
        "evidence": dict((k, v) for k, v in ev.items() if k not in ("now", "target", "handset")),
        "not_done": _not_done(ev),
    }
    result["card"] = card.render(result)
    return result
