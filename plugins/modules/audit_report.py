#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: audit_report
short_description: Turn health-check results into SLA-routed findings and write the audit reports
version_added: 0.1.0
description:
  - Takes the results of the bulk check modules (SIP OPTIONS probes, callserver RPC, dispatcher state, SNMP polls,
    registrations, TLS certificates), maps them to findings, routes every finding to the supplier responsible for the
    component (the estate's responsibility matrix), gives it a priority and SLA response/resolve deadlines
    (business hours, time zone and holidays respected) and groups symptoms under their root cause along C(depends_on).
  - Writes a JSON report (stable schema with C(schema_version)), a self-contained HTML page and a JUnit XML file,
    compares with the previous audit (new, persisting, resolved findings) and optionally POSTs the NEW findings to a
    webhook.
  - The module does not fail because of findings; it returns O(fail_on_priority)'s verdict in RV(fail_reason) so that
    the play can fail after the reports and the webhook went out (see the C(voipops.voip.health_audit) role).
  - The JSON schema is documented in the collection's C(docs/health_audit.md).
author: voipops maintainers (@voipops)
extends_documentation_fragment:
  - voipops.voip.attributes
  - voipops.voip.attributes.CHANGES
attributes:
  check_mode:
    support: full
    details: Computes the audit and reports what would change; writes no file and sends no webhook.
  diff_mode:
    support: full
    details: Shows the previous and the new audit summary.
  idempotent:
    support: full
    details: Files are only rewritten when their content changes. The report carries its generation time, so
      a second run with the same O(now) reports no change.
options:
  estate_file:
    description: The estate source-of-truth file (see the C(voipops.voip.estate) inventory plugin).
    type: path
    required: true
  endpoints_file:
    description:
      - JSON file overlaying live addresses and ports onto components by name, as the C(voipops.voip.estate) inventory
        option of the same name does (the embedded lab's C(endpoints.json)); needed to recognise components by
        address and port when they differ from the estate file.
    type: path
  dest:
    description: Directory for the reports (created when missing).
    type: path
    required: true
  basename:
    description: File name stem of the reports (C(<basename>.json), C(.html), C(.junit.xml)).
    type: str
    default: health_audit
  formats:
    description: Reports to write.
    type: list
    elements: str
    choices: [json, html, junit]
    default: [json, html, junit]
  results:
    description:
      - Raw results of the check modules, per check family. Every key is optional.
      - C(sip_probe) the RV(voipops.voip.sip_probe#module:results) list (components found by address and port, or by a
        C(name) key); C(rpc) list of C({name, ok, error});
        C(dispatcher) list of dispatcher records C({setid, uri, flags, state}); C(snmp) list of SNMP poll results
        C({name, ok, error, facts}) (RV(voipops.voip.snmp_info#module:results)); C(registrations) list of registered contacts
        C({aor, expires, user_agent, ...}) or callserver_info's C(registrations.by_aor); C(certificates) list of
        C({name, host, port, not_after, error}).
      - C(gateway_info) the RV(voipops.voip.gateway_info#module:gateways) list (SIP, dispatcher and SNMP in one);
        C(handset_info) the whole registered result of M(voipops.voip.handset_info) (C(handsets), C(unknown)).
      - C(test_calls) the registered result of M(voipops.voip.sip_call) (or its C(calls) list); each call's C(kind)
        (V(gateway), V(group) or V(phone)) and C(name) (the estate gateway, the gateway group, the estate handset) say
        what it tested (docs/health_audit.md, "Test calls").
      - C(applications) the RV(voipops.voip.app_probe#module:results) list (application links; a link that is down or
        answers wrongly is a finding for its supplier, grouped under a component it depends on that is down).
      - The same problem gets the same finding id whichever module reported it.
    type: dict
    default: {}
  results_files:
    description:
      - Check results by file - a mapping of a check family (a key of O(results)) to a JSON file holding that family's
        result in the shape O(results) takes, for example C(handset_info) to the file M(voipops.voip.handset_info)
        writes with its O(voipops.voip.handset_info#module:dest) option.
      - Large results (thousands of handsets) travel this way instead of through Ansible's templating and module
        arguments. The files are only read; a family may be given either here or in O(results), not in both.
      - A slice's partial report (O(partial)) keeps what the files held, so the merge needs none of them.
    type: dict
    default: {}
  findings:
    description:
      - Extra findings from custom checks, each with C(check), C(component), C(kind), C(severity), C(summary)
        and optionally C(details), C(impact), C(availability).
    type: list
    elements: dict
    default: []
  callserver:
    description: Estate name of the callserver the registrations and dispatcher results come from.
      Defaults to the estate's only callserver.
    type: str
  previous:
    description: The previous audit JSON to compare with. Defaults to the JSON report in O(dest) before it is replaced.
    type: path
  now:
    description: The audit time (ISO 8601). Defaults to the current time; set it to replay an audit.
    type: str
  thresholds:
    description:
      - Override thresholds of the checks (C(cpu_warning), C(cpu_critical), C(memory_warning),
        C(memory_critical), C(disk_warning), C(disk_critical), C(cert_warning_days), C(cert_critical_days),
        C(stale_registration_seconds), C(post_dial_delay_warning_ms), C(media_loss_warning_pct),
        C(media_jitter_warning_ms), C(media_mos_warning), C(media_mos_minor)), and of the service KPIs
        (C(registration_success_min_pct), C(ser_min_pct), C(seer_min_pct), C(ner_min_pct), C(asr_min_pct), and
        C(kpi_min_samples), the least number of attempts a KPI is judged on).
      - The estate file's own C(thresholds) apply first; these override them.
      - The KPIs are computed when the C(rpc) results carry the callserver's C(counters)
        (M(voipops.voip.callserver_info) gathering C(statistics)), on their change since the previous report.
    type: dict
    default: {}
  tickets_limit:
    description:
      - Return at most this many tickets in RV(tickets) (the first ones in fault-handling order), so that a large
        audit keeps the job log small; RV(tickets_omitted) says how many were left out. The reports hold them all.
      - Default (not set) returns all tickets.
    type: int
  title:
    description: Title of the reports.
    type: str
    default: VoIP estate health audit
  fail_on_priority:
    description:
      - When a ticket of this priority or a more urgent one is open, RV(fail_reason) says so. C(none) never.
    type: str
    choices: [P1, P2, P3, P4, none]
    default: none
  webhook_url:
    description:
      - POST the new findings (JSON) to this URL. Nothing is sent when there is nothing new.
      - Treated as a secret (webhook paths usually are); messages and RV(webhook) show it masked.
      - If not set, the environment variable E(VOIPOPS_WEBHOOK_URL) is used (an AWX credential can inject it).
    type: str
  webhook_headers:
    description: Extra HTTP headers for the webhook (for example an C(Authorization) token).
    type: dict
    default: {}
  webhook_token:
    description:
      - Bearer token for the webhook, sent in an C(Authorization) header (C(Bearer <token>)) unless
        O(webhook_headers) sets an C(Authorization) header itself.
      - If not set, the environment variable E(VOIPOPS_WEBHOOK_TOKEN) is used (an AWX credential can inject it).
    type: str
  webhook_all:
    description: Send all open tickets instead of only the new ones.
    type: bool
    default: false
  webhook_timeout:
    description: Seconds to wait for the webhook receiver.
    type: float
    default: 10.0
  validate_certs:
    description: Verify the webhook's TLS certificate.
    type: bool
    default: true
  history:
    description:
      - Append this audit's tickets to the audit history store, which follows each ticket's life across runs
        (opened, still open, resolved, reopened) for M(voipops.voip.sla_report).
      - A file path (SQLite, created when missing; a relative path is relative to O(dest)), C(sqlite:////abs/path.db),
        or C(postgres://user:password@host:port/database). Treated as a secret (a URL can carry a password).
      - Defaults to the environment variable E(VOIPOPS_AUDIT_HISTORY); no history when neither is set.
      - The same audit (same O(now)) is appended once. Nothing is appended in check mode.
    type: str
  partial:
    description:
      - Write this run's B(partial report) instead of the estate reports - one slice of a sliced audit (AWX job
        slicing, or C(--limit) runs over parts of the estate). The partial report keeps the raw O(results) and
        O(findings) with the audit and slice they belong to, in C(<dest>/<basename>.<audit_id>.<slice>.partial.json);
        O(merge) turns the partial reports of all slices into the estate reports.
      - No estate report, webhook or history is written for a slice. RV(status), RV(summary) and RV(tickets) preview
        the slice's own findings (as if nothing had been seen before), and RV(fail_reason) is empty (the merge decides).
    type: dict
    suboptions:
      audit_id:
        description:
          - What all slices of one audit share (in AWX the sliced job's C(awx_workflow_job_id)). Slices of different
            audits are never merged together.
        type: str
        required: true
      slice:
        description:
          - The slice's name, unique within the audit. C(N/M) (for example C(2/3)) makes it slice N of M, so that a
            merge can name a missing slice; any other name (for example the AWX job id) is taken as it is.
        type: str
        required: true
      count:
        description: How many slices the audit has, when O(partial.slice) is not of the form C(N/M) (AWX's C(job_slice_count)).
        type: int
  merge:
    description:
      - Partial reports to merge into the estate reports, as files or directories (a directory stands for its
        C(*.partial.json) files; when it holds the slices of several audits, the newest audit is merged).
      - The results of all slices are checked together, so findings, root causes, tickets, priorities, order, the
        JSON, HTML and JUnit reports, the webhook and the history are those of one unsliced audit. A component two
        slices both checked (overlapping slices) gives its findings once.
      - Partial reports of different audits (O(partial.audit_id)) or of another estate are refused.
      - O(now) defaults to the earliest slice's time. Cannot be used with O(results) or O(findings).
    type: list
    elements: path
  require_all_slices:
    description:
      - With O(merge), fail (writing nothing) when a slice is missing, naming it, instead of writing an estate report
        that lacks part of the estate (its tickets would look resolved). With V(false) the report is written, and
        its JSON and RV(slices) name the missing slices.
    type: bool
    default: true
notes:
  - "Runs on the controller (C(delegate_to: localhost)) next to the estate file; the check modules gather the results."
  - Requires the Python libraries netaddr, Jinja2 (HTML) and requests (webhook).
seealso:
  - name: Health audit guide
    description: Findings, priorities, deadlines and the report schema.
    link: https://example.invalid/voipops/voip/docs/health_audit.md
"""

EXAMPLES = r"""
- name: Write the morning report from the gathered check results
  voipops.voip.audit_report:
    estate_file: "{{ inventory_dir }}/estate.yml"
    dest: /var/lib/voipops/audit
    results:
      sip_probe: "{{ probes.results }}"          # register of voipops.voip.sip_probe
      dispatcher: "{{ callserver.gateways }}"
      snmp: "{{ snmp.results }}"
      registrations: "{{ regs.contacts }}"
    fail_on_priority: P2
    webhook_url: https://tickets.example.com/hooks/voip
    webhook_headers:
      Authorization: "Bearer {{ ticket_token }}"
  delegate_to: localhost
  register: audit

- name: One slice of a sliced audit (here slice 2 of 3) writes its partial report
  voipops.voip.audit_report:
    estate_file: "{{ voipops_estate_file }}"
    dest: /var/lib/voipops/audit
    results:
      sip_probe: "{{ probes.results }}"
    partial:
      audit_id: "{{ awx_workflow_job_id | default('2026-11-27') }}"
      slice: 2/3
  delegate_to: localhost
  run_once: true

- name: The merge - the estate report of all slices, as one unsliced audit would have written it
  voipops.voip.audit_report:
    estate_file: "{{ voipops_estate_file }}"
    dest: /var/lib/voipops/audit
    merge: [/var/lib/voipops/audit]
    fail_on_priority: P2
  delegate_to: localhost
  run_once: true
  register: audit

- name: Fail the play when P1/P2 faults are open (after the reports went out)
  ansible.builtin.fail:
    msg: "{{ audit.fail_reason }}"
  when: audit.fail_reason | length > 0
"""

RETURN = r"""
status:
  description: Overall status. C(ok) no tickets, C(warning) only P3/P4, C(critical) a P1 or P2 is open.
  returned: always
  type: str
  sample: critical
summary:
  description: Counts (tickets, findings, suppressed symptoms, per priority, overdue, new, persisting, resolved).
  returned: always
  type: dict
  sample: {"tickets": 2, "findings": 8, "suppressed": 6, "by_priority": {"P1": 1, "P2": 0, "P3": 0, "P4": 1},
           "overdue": 0, "new": 2, "persisting": 0, "resolved": 0}
tickets:
  description:
    - Open tickets in fault-handling order (root causes only; symptoms are inside the JSON report).
    - At most O(tickets_limit) of them when it is set (RV(summary) counts them all).
  returned: always
  type: list
  elements: dict
  sample: [{"id": "9bb8fb4891612be9", "order": 1, "priority": "P1", "component": "e1-mgw1-1", "site": "ams",
            "kind": "e1_alarm", "summary": "e1-mgw1-1 E1 0/1 on mgw1: LOS", "supplier": "telco",
            "response_due": "2026-11-27T18:00:00+01:00", "resolve_due": "2026-11-27T23:30:00+01:00",
            "status": "new", "affected": 0, "symptoms": 0}]
tickets_omitted:
  description: How many open tickets O(tickets_limit) left out of RV(tickets) (0 when none).
  returned: always
  type: int
  sample: 0
reports:
  description: Path of every report written (or that would be written in check mode), per format; with O(partial) the
    partial report's path as C(partial).
  returned: always
  type: dict
  sample: {"json": "/var/lib/voipops/audit/health_audit.json", "html": "/var/lib/voipops/audit/health_audit.html",
           "junit": "/var/lib/voipops/audit/health_audit.junit.xml"}
webhook:
  description: What the webhook did; C(sent) false when there was nothing new, no URL, check mode, or the same
    audit (same O(now)) was already reported (C(skipped) then says so).
  returned: always
  type: dict
  sample: {"sent": true, "count": 1, "status_code": 200, "url": "https://tickets.example.com/hooks/voip"}
history:
  description: What the audit history store did; C(appended) false when there is no store, in check mode, or the run
    was already there. Ticket ids this run C(opened), C(reopened), C(resolved), and those C(open) after it.
  returned: always
  type: dict
  sample: {"appended": true, "run_id": "voip.lab@2026-11-27T16:30:00Z", "opened": ["9bb8fb4891612be9"],
           "reopened": [], "resolved": [], "open": ["9bb8fb4891612be9"]}
partial:
  description: The partial report of this slice (with O(partial)) - its C(path), C(audit_id) and C(slice).
  returned: when O(partial) is set
  type: dict
  sample: {"path": "/var/lib/voipops/audit/health_audit.4711.2-of-3.partial.json", "audit_id": "4711", "slice": "2/3"}
slices:
  description: With O(merge), the audit merged (C(audit_id)), the slice C(count) when known, the slices C(merged),
    the C(missing) ones and the partial report C(files) read.
  returned: when O(merge) is set
  type: dict
  sample: {"audit_id": "4711", "count": 3, "merged": ["1/3", "2/3", "3/3"], "missing": [],
           "files": ["/var/lib/voipops/audit/health_audit.4711.1-of-3.partial.json"]}
fail_reason:
  description: Empty, or why the play should fail according to O(fail_on_priority).
  returned: always
  type: str
  sample: "1 open ticket(s) at or above P2: P1 e1-mgw1-1 (telco, resolve by 2026-11-27T23:30:00+01:00): ..."
"""

import datetime
import io
import os
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.parameters import env_fallback

from ansible_collections.voipops.voip.plugins.module_utils.audit import build as B
from ansible_collections.voipops.voip.plugins.module_utils.audit import checks as C
from ansible_collections.voipops.voip.plugins.module_utils.audit import partial as P
from ansible_collections.voipops.voip.plugins.module_utils.audit import report as R
from ansible_collections.voipops.voip.plugins.module_utils import sla as S
from ansible_collections.voipops.voip.plugins.module_utils.fileio import atomic_write, mask_url
from ansible_collections.voipops.voip.plugins.module_utils.estate import (
    HAS_NETADDR, NETADDR_IMPORT_ERROR, load_endpoints, load_estate, overlay_endpoints,
)
from ansible_collections.voipops.voip.plugins.module_utils.source import SourceError, SourceErrors


def _check_results(module, estate, now, results, findings, callserver, failures=()):
    try:
        failed = [C.from_failed_check(family, result, estate, callserver) for family, result in failures]
        return failed + C.from_results(results or {}, estate, now, callserver=callserver,
                                       thresholds=module.params["thresholds"], findings=findings)
    except ValueError as exc:
        module.fail_json(msg=str(exc))


def _merged_inputs(module, estate):
    """With O(merge): the results, findings, failed checks, audit time and callserver of all slices, and the slices."""
    p = module.params
    try:
        docs = P.find_partials(p["merge"])
        P.check_same_audit(docs, estate)
        coverage = P.slice_coverage(docs)
    except P.PartialError as exc:
        module.fail_json(msg=str(exc))
    coverage = dict(coverage, audit_id=docs[0][1]["audit_id"], files=[path for path, _doc in docs])
    if coverage["missing"] and p["require_all_slices"]:
        module.fail_json(msg="audit %s: slice(s) missing: %s (merged: %s); nothing was written - rerun the missing "
                             "slice(s), or set require_all_slices=false to write an incomplete report"
                         % (coverage["audit_id"], ", ".join(coverage["missing"]), ", ".join(coverage["merged"])),
                         slices=coverage)
    results, failures = P.merge_results(docs)
    callserver = p["callserver"] or next((d.get("callserver") for _p, d in docs if d.get("callserver")), None)
    return results, P.merge_findings(docs), failures, P.audit_time(docs), callserver, coverage


def _fail_reason(audit, priority):
    if priority in (None, "none"):
        return ""
    hits = B.tickets_at_or_above(audit, priority)
    if not hits:
        return ""
    parts = ["%s %s (%s, resolve by %s): %s" % (t["priority"], t["component"], t["supplier"] or "no supplier",
                                                t["resolve_due"] or "-", t["summary"]) for t in hits[:10]]
    more = "; and %d more" % (len(hits) - 10) if len(hits) > 10 else ""
    return "%d open ticket(s) at or above %s: %s%s" % (len(hits), priority, "; ".join(parts), more)


def _headers(p):
    headers = dict(p["webhook_headers"] or {})
    if p["webhook_token"] and not any(k.lower() == "authorization" for k in headers):
        headers["Authorization"] = "Bearer %s" % p["webhook_token"]
    return headers


def _append_history(module, audit):
    """Append the audit to the history store (not in check mode); what it did."""
    if not module.params["history"] or module.check_mode:
        return {"appended": False, "run_id": None, "opened": [], "reopened": [], "resolved": [], "open": []}
    from ansible_collections.voipops.voip.plugins.module_utils.audit import history as H
    try:
        store = H.History(module.params["history"], base_dir=module.params["dest"])
        try:
            return store.append(audit)
        finally:
            store.close()
    except H.HistoryError as exc:
        module.fail_json(msg=str(exc))


def _tickets(audit, limit=None):
    """The tickets RV(tickets) returns (at most ``limit``), and how many were left out."""
    by_id = dict((f["id"], f) for f in audit["findings"])
    tickets = []
    ids = audit["tickets"] if limit is None else audit["tickets"][:max(0, limit)]
    for fid in ids:
        f = by_id[fid]
        tickets.append({"id": fid, "order": f["order"], "priority": f["priority"], "component": f["component"],
                        "site": f["site"], "kind": f["kind"], "summary": f["summary"], "supplier": f["supplier"],
                        "response_due": f["response_due"], "resolve_due": f["resolve_due"], "status": f["status"],
                        "affected": len(f["affected"]), "symptoms": len(f["children"])})
    return tickets, len(audit["tickets"]) - len(tickets)


def _exit_partial(module, estate, now, checks, results):
    """Write the slice's partial report (raw results, so that the merge checks all slices together) and exit."""
    p = module.params
    part = p["partial"]
    try:
        doc = P.make_partial(results, p["findings"], estate, now.strftime("%Y-%m-%dT%H:%M:%SZ"), part["audit_id"], part["slice"],
                             count=part["count"], callserver=p["callserver"])
    except P.PartialError as exc:
        module.fail_json(msg=str(exc))
    path = P.partial_path(p["dest"], p["basename"], doc["audit_id"], doc["slice"]["name"])
    text = R.render_json(doc)
    old = None
    if os.path.exists(path):
        with io.open(path, "r", encoding="utf-8") as handle:
            old = handle.read()
    changed = old != text
    if changed and not module.check_mode:
        atomic_write(path, text, mode=0o644)
    # the slice's own findings, as a preview for its job log (the merge builds the audit of record)
    audit = B.build_audit(checks, estate, now, thresholds=p["thresholds"], title=p["title"])
    tickets, omitted = _tickets(audit, p["tickets_limit"])
    module.exit_json(changed=changed, status=audit["status"], summary=audit["summary"], tickets=tickets,
                     tickets_omitted=omitted,
                     reports={"partial": path}, partial={"path": path, "audit_id": doc["audit_id"],
                                                         "slice": doc["slice"]["name"]},
                     webhook={"sent": False, "count": 0, "status_code": None, "url": mask_url(p["webhook_url"])},
                     history={"appended": False, "run_id": None, "opened": [], "reopened": [], "resolved": [], "open": []},
                     fail_reason="")


def main():
    module = AnsibleModule(
        argument_spec=dict(
            estate_file=dict(type="path", required=True),
            endpoints_file=dict(type="path"),
            dest=dict(type="path", required=True),
            basename=dict(type="str", default="health_audit"),
            formats=dict(type="list", elements="str", choices=["json", "html", "junit"], default=["json", "html", "junit"]),
            results=dict(type="dict", default={}),
            results_files=dict(type="dict", default={}),
            findings=dict(type="list", elements="dict", default=[]),
            callserver=dict(type="str"),
            previous=dict(type="path"),
            now=dict(type="str"),
            thresholds=dict(type="dict", default={}),
            tickets_limit=dict(type="int"),
            title=dict(type="str", default="VoIP estate health audit"),
            fail_on_priority=dict(type="str", choices=["P1", "P2", "P3", "P4", "none"], default="none"),
            # a webhook's path is its secret (Slack, Teams, ...)
            webhook_url=dict(type="str", no_log=True, fallback=(env_fallback, ["VOIPOPS_WEBHOOK_URL"])),
            webhook_headers=dict(type="dict", default={}, no_log=True),
            webhook_token=dict(type="str", no_log=True, fallback=(env_fallback, ["VOIPOPS_WEBHOOK_TOKEN"])),
            webhook_all=dict(type="bool", default=False),
            webhook_timeout=dict(type="float", default=10.0),
            validate_certs=dict(type="bool", default=True),
            history=dict(type="str", no_log=True, fallback=(env_fallback, ["VOIPOPS_AUDIT_HISTORY"])),
            partial=dict(type="dict", options=dict(
                audit_id=dict(type="str", required=True),
                slice=dict(type="str", required=True),
                count=dict(type="int"),
            )),
            merge=dict(type="list", elements="path"),
            require_all_slices=dict(type="bool", default=True),
        ),
        mutually_exclusive=[("partial", "merge")],
        supports_check_mode=True,
    )
    if module.params["merge"] and (module.params["results"] or module.params["results_files"] or module.params["findings"]):
        module.fail_json(msg="merge takes the results and findings of the partial reports; do not set results, "
                             "results_files or findings")
    if not HAS_NETADDR:
        module.fail_json(msg=missing_required_lib("netaddr"), exception=NETADDR_IMPORT_ERROR)
    if "html" in module.params["formats"] and not R.HAS_JINJA2:
        module.fail_json(msg=missing_required_lib("jinja2"), exception=R.JINJA2_IMPORT_ERROR)
    if module.params["webhook_url"] and not R.HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"), exception=R.REQUESTS_IMPORT_ERROR)
    p = module.params
    try:
        estate = load_estate(p["estate_file"])
        if p["endpoints_file"]:
            overlay_endpoints(estate.components, load_endpoints(p["endpoints_file"]))
    except (SourceError, SourceErrors) as exc:
        module.fail_json(msg="invalid estate: %s" % exc,
                         errors=exc.as_list() if isinstance(exc, SourceErrors) else [exc.as_dict()])
    # the estate's thresholds, then this run's (O(thresholds) wins)
    p["thresholds"] = dict(estate.thresholds, **(p["thresholds"] or {}))
    try:
        results = C.read_results_files(p["results_files"], p["results"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    findings, failures, callserver, coverage = p["findings"], [], p["callserver"], None
    when = p["now"]
    if p["merge"]:
        results, findings, failures, first, callserver, coverage = _merged_inputs(module, estate)
        when = when or first
    try:
        now = S.to_utc(when) if when else datetime.datetime.now(S.UTC).replace(microsecond=0)
        checks = _check_results(module, estate, now, results, findings, callserver, failures)
        if p["partial"]:
            _exit_partial(module, estate, now, checks, results)
        previous_path = p["previous"] or R.report_paths(p["dest"], p["basename"], ["json"])["json"]
        previous = R.read_previous(previous_path)
        kpis, kpi_checks = C.from_kpis(results, estate, now, previous=previous, callserver=callserver,
                                       thresholds=p["thresholds"])
        audit = B.build_audit(checks + kpi_checks, estate, now, previous=previous, thresholds=p["thresholds"],
                              title=p["title"])
        if kpis is not None:
            audit["kpis"] = kpis
        if coverage is not None and coverage["missing"]:
            audit["slices"] = dict((k, coverage[k]) for k in ("audit_id", "count", "merged", "missing"))
        written = R.write_reports(audit, p["dest"], p["basename"], p["formats"], check_mode=module.check_mode)
    except (R.ReportError, S.SlaError, ValueError, OSError) as exc:
        module.fail_json(msg=str(exc), exception=traceback.format_exc())
    changed = any(w["changed"] for w in written.values())
    webhook = {"sent": False, "count": 0, "status_code": None, "url": mask_url(p["webhook_url"])}
    rerun = bool(previous) and previous.get("generated_at") == audit["generated_at"]
    if p["webhook_url"]:
        if rerun:
            webhook["skipped"] = "this audit (%s) was already reported" % audit["generated_at"]
        elif module.check_mode:
            webhook["count"] = len(R.webhook_payload(audit, not p["webhook_all"])["tickets"])
        else:
            try:
                webhook = R.post_webhook(p["webhook_url"], audit, only_new=not p["webhook_all"], headers=_headers(p),
                                         timeout=p["webhook_timeout"], validate_certs=p["validate_certs"])
            except R.ReportError as exc:
                module.fail_json(msg=str(exc), reports=dict((k, v["path"]) for k, v in written.items()))
            changed = changed or webhook["sent"]
    history = _append_history(module, audit)
    changed = changed or history["appended"]
    tickets, omitted = _tickets(audit, p["tickets_limit"])
    result = dict(changed=changed, status=audit["status"], summary=audit["summary"], tickets=tickets,
                  tickets_omitted=omitted,
                  reports=dict((k, v["path"]) for k, v in written.items()), webhook=webhook,
                  history=history, fail_reason=_fail_reason(audit, p["fail_on_priority"]))
    if coverage is not None:
        result["slices"] = coverage
    if module._diff:
        before = "" if previous is None else "status: %s\nsummary: %s\n" % (previous.get("status"), previous.get("summary"))
        result["diff"] = {"before": before, "after": "status: %s\nsummary: %s\n" % (audit["status"], audit["summary"]),
                          "before_header": previous_path, "after_header": previous_path}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
