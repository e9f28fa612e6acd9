# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The finding record of a health audit (docs/health_audit.md has the JSON schema).

A finding's ``id`` is stable across runs: a hash of ``check``, ``component`` and ``kind``.
A *check result* ``{"check": name, "checked": [component names], "findings": [finding, ...]}`` lists the
components a check looked at, so that one that is fine shows up as a passed test in the JUnit report.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib

from ansible_collections.voipops.voip.plugins.module_utils import sla

SEVERITY_RANK = dict((s, i) for i, s in enumerate(sla.SEVERITIES))

#: thresholds of the callserver-host, certificate and registration checks (percent, days, seconds)
DEFAULT_THRESHOLDS = {
    "cpu_warning": 80, "cpu_critical": 95,
    "memory_warning": 85, "memory_critical": 95,
    "disk_warning": 85, "disk_critical": 95,
    "cert_warning_days": 30, "cert_critical_days": 7,
    "stale_registration_seconds": 0,
    "post_dial_delay_warning_ms": 3000,
    # service KPIs from the callserver's counters since the previous audit (audit/kpi.py): percent, and the
    # least number of attempts (REGISTERs, calls) a KPI needs before it can be judged
    "registration_success_min_pct": 95, "ser_min_pct": 95, "seer_min_pct": 98, "ner_min_pct": 95,
    "asr_min_pct": 50, "kpi_min_samples": 20,
    # test calls with media (sip_call media): loss in percent, RFC 3550 jitter in ms, E-model MOS (ITU-T G.107);
    # beyond a warning limit -> media_degraded (warning); a MOS below media_mos_minor (or no RTP back) -> minor
    "media_loss_warning_pct": 1.0, "media_jitter_warning_ms": 30, "media_mos_warning": 3.6, "media_mos_minor": 3.1,
}


def thresholds_with(overrides):
    """The default thresholds with ``overrides`` applied."""
    limits = dict(DEFAULT_THRESHOLDS)
    limits.update(overrides or {})
    return limits


def finding_id(check, component, kind):
    """Stable id: the same problem on the same component has the same id run after run."""
    raw = "%s|%s|%s" % (check, component, kind)
    return hashlib.sha1(raw.encode("utf-8")).hexdigest()[:16]  # nosec - an identifier, not security


def make_finding(check, component, kind, severity, summary, details=None, impact=None, availability=True,
                 supplier=None):
    """A raw finding, before routing.

    ``availability`` findings (down, unreachable, unregistered) are symptoms that a failure of
    something the component depends on explains, so they are grouped under that root cause;
    others (firmware not approved, certificate expiring) stand on their own.
    ``impact`` None = derived from the component type and the number of affected handsets.
    ``supplier`` overrides the component's maintainer (rarely needed).
    """
    if severity not in SEVERITY_RANK:
        raise ValueError("unknown severity %r" % (severity,))
    return {"id": finding_id(check, component, kind), "check": check, "component": component, "kind": kind,
            "severity": severity, "summary": summary, "details": details or {}, "impact": impact,
            "availability": bool(availability), "supplier": supplier}


def check_result(check, checked, findings):
    return {"check": check, "checked": sorted(set(checked)), "findings": list(findings)}
