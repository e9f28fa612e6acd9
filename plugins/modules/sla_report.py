#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: sla_report
short_description: Supplier SLA scorecard of a period from the audit history
version_added: 0.1.0
description:
  - Reads the audit history that M(voipops.voip.audit_report) appends to (option O(voipops.voip.audit_report#module:history))
    and computes, for a month, a quarter or a range of dates, per supplier of the estate - the figures a service
    review is held on - tickets opened by priority, the share resolved within their SLA resolve deadline, the mean
    and worst time to resolve (on the supplier's SLA clock - business minutes for a C(business_hours) supplier - and
    on the wall clock), the tickets still open and overdue, and the availability of every component the supplier
    maintains (the share of the period without an open P1 or P2 ticket on that component).
  - Optionally writes a self-contained HTML page (inline SVG plot of the open tickets and the worst availability per
    day, no JavaScript) and a JSON file; returns the figures.
  - A ticket counts as resolved at the first audit that looked at its component and no longer found it; the figures
    run up to the last audit in the period. See the collection's C(docs/health_audit.md), "SLA scorecard".
author: voipops maintainers (@voipops)
extends_documentation_fragment:
  - voipops.voip.attributes
  - voipops.voip.attributes.CHANGES
attributes:
  check_mode:
    support: full
    details: Computes the figures and says which files would change; writes nothing.
  diff_mode:
    support: N/A
    details: The page and the JSON are reports, rewritten as a whole; there is nothing to compare line by line.
  idempotent:
    support: full
    details: The reports carry no generation time (only the period and the last audit in it); files are only
      rewritten when their content changes.
options:
  history:
    description:
      - The audit history store - a SQLite file path, C(sqlite:////abs/path.db), or
        C(postgres://user:password@host:port/database). Treated as a secret (a URL can carry a password).
      - Defaults to the environment variable E(VOIPOPS_AUDIT_HISTORY).
    type: str
    required: true
  estate_file:
    description: The estate source-of-truth file (suppliers, their SLA clock, the components they maintain).
    type: path
    required: true
  period:
    description: A month (C(2026-12)) or a quarter (C(2026-Q4)). Mutually exclusive with O(start)/O(end).
    type: str
  start:
    description: First day (C(YYYY-MM-DD)) or time (ISO 8601) of the period, with O(end).
    type: str
  end:
    description: Last day (inclusive, C(YYYY-MM-DD)) or end time (exclusive, ISO 8601) of the period, with O(start).
    type: str
  timezone:
    description: IANA time zone of the period's midnights and of the days of the plot.
    type: str
    default: UTC
  dest:
    description: Directory for the page and the JSON (created when missing). Without it nothing is written.
    type: path
  basename:
    description: File name stem (C(<basename>.html), C(<basename>.json)).
    type: str
    default: sla_report
  formats:
    description: Files to write.
    type: list
    elements: str
    choices: [html, json]
    default: [html, json]
notes:
  - "Runs on the controller (C(delegate_to: localhost))."
  - Requires Jinja2 (HTML) and, for a PostgreSQL store, psycopg 3.
seealso:
  - module: voipops.voip.audit_report
  - name: Health audit guide
    description: The history, the ticket lives and the scorecard figures.
    link: https://example.invalid/voipops/voip/docs/health_audit.md
"""

EXAMPLES = r"""
- name: December's scorecard for the service reviews
  voipops.voip.sla_report:
    history: /var/lib/voipops/audit/health_audit_history.sqlite
    estate_file: "{{ inventory_dir }}/estate.yml"
    period: 2026-12
    timezone: Europe/Amsterdam
    dest: /var/lib/voipops/audit/sla
  delegate_to: localhost
  register: sla

- name: Say how telco did
  ansible.builtin.debug:
    msg: "telco: {{ sla.suppliers.telco.within_sla }} of {{ sla.suppliers.telco.resolved_with_deadline }} within SLA"
"""

RETURN = r"""
period:
  description: The period (C(label), C(start) and C(end) in UTC, C(timezone)).
  returned: always
  type: dict
  sample: {"label": "2026-12", "start": "2026-12-01T00:00:00Z", "end": "2027-01-01T00:00:00Z", "timezone": "UTC"}
as_of:
  description: The last audit run in the period (the figures run up to it); null when there is none.
  returned: always
  type: str
  sample: "2026-12-31T12:00:00Z"
runs:
  description: Number of audit runs in the period.
  returned: always
  type: int
  sample: 14
suppliers:
  description:
    - Per supplier - C(coverage); C(tickets) (C(opened), C(by_priority)); C(resolved), C(resolved_with_deadline),
      C(within_sla), C(within_sla_share) (null when nothing with a deadline was resolved); C(time_to_resolve)
      (C(clock), C(mean_minutes), C(worst_minutes), C(worst_ticket), C(mean_wall_minutes), C(worst_wall_minutes));
      C(open_overdue) (ticket ids); C(availability) (component -> C(availability) 0..1, C(down_minutes));
      C(ticket_list) (every ticket of the period with its life).
  returned: always
  type: dict
  sample: {"telco": {"coverage": "24x7", "tickets": {"opened": 1, "by_priority": {"P1": 1, "P2": 0, "P3": 0, "P4": 0}},
           "resolved": 0, "resolved_with_deadline": 0, "within_sla": 0, "within_sla_share": null,
           "time_to_resolve": {"clock": "24x7", "mean_minutes": null, "worst_minutes": null},
           "open_overdue": ["0a1b2c3d4e5f6a7b"],
           "availability": {"pri-mgw2-0": {"availability": 0.322404, "down_minutes": 29760.0}}}}
reports:
  description: Path of every file written (or that would be written in check mode), per format; empty without O(dest).
  returned: always
  type: dict
  sample: {"html": "/var/lib/voipops/audit/sla/sla_report.html", "json": "/var/lib/voipops/audit/sla/sla_report.json"}
"""

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.voipops.voip.plugins.module_utils.audit import history as H
from ansible_collections.voipops.voip.plugins.module_utils.audit import scorecard as SC
from ansible_collections.voipops.voip.plugins.module_utils.estate import HAS_NETADDR, NETADDR_IMPORT_ERROR, load_estate
from ansible_collections.voipops.voip.plugins.module_utils.sla import SlaError
from ansible_collections.voipops.voip.plugins.module_utils.source import SourceError, SourceErrors


def main():
    module = AnsibleModule(
        argument_spec=dict(
            history=dict(type="str", required=True, no_log=True, fallback=(env_fallback, ["VOIPOPS_AUDIT_HISTORY"])),
            estate_file=dict(type="path", required=True),
            period=dict(type="str"),
            start=dict(type="str"),
            end=dict(type="str"),
            timezone=dict(type="str", default="UTC"),
            dest=dict(type="path"),
            basename=dict(type="str", default="sla_report"),
            formats=dict(type="list", elements="str", choices=["html", "json"], default=["html", "json"]),
        ),
        mutually_exclusive=[("period", "start"), ("period", "end")],
        required_together=[("start", "end")],
        required_one_of=[("period", "start")],
        supports_check_mode=True,
    )
    p = module.params
    if not HAS_NETADDR:
        module.fail_json(msg=missing_required_lib("netaddr"), exception=NETADDR_IMPORT_ERROR)
    if p["dest"] and "html" in p["formats"] and not SC.HAS_JINJA2:
        module.fail_json(msg=missing_required_lib("jinja2"), exception=SC.JINJA2_IMPORT_ERROR)
    try:
        estate = load_estate(p["estate_file"])
    except (SourceError, SourceErrors) as exc:
        module.fail_json(msg="invalid estate: %s" % exc)
    try:
        label, start, end = SC.period_bounds(p["period"], p["start"], p["end"], p["timezone"])
        store = H.History(p["history"], write=False)
        try:
            card = SC.build_scorecard(store.tickets(estate.domain), store.runs(estate.domain), estate, label, start,
                                      end, p["timezone"])
        finally:
            store.close()
    except (H.HistoryError, SlaError, ValueError) as exc:
        module.fail_json(msg=str(exc))
    written = {}
    if p["dest"]:
        try:
            written = SC.write_reports(card, p["dest"], p["basename"], p["formats"], check_mode=module.check_mode)
        except OSError as exc:
            module.fail_json(msg="cannot write the reports in %s: %s" % (p["dest"], exc))
    changed = any(w["changed"] for w in written.values())
    reports = dict((fmt, w["path"]) for fmt, w in written.items())
    module.exit_json(changed=changed, period=card["period"], as_of=card["as_of"], runs=card["runs"],
                     suppliers=card["suppliers"], reports=reports)


if __name__ == "__main__":
    main()
