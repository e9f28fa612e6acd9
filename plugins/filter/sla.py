# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja2 filters for SLA arithmetic, firmware version comparison and URL masking (docs: the adjacent .yml files)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.voipops.voip.plugins.module_utils.fileio import mask_url
from ansible_collections.voipops.voip.plugins.module_utils.handsets.registrations import compare_versions
from ansible_collections.voipops.voip.plugins.module_utils.sla import (
    Calendar, SlaError, add_duration, deadlines, parse_days_or_list, parse_duration, priority_for,
)


def sla_deadline(start, duration=None, coverage="24x7", timezone="UTC", business_hours=None, holidays=None,
                 priority=None, supplier=None, site=None, which="resolve"):
    """``start`` + ``duration`` (``'4h'``) honouring coverage/business hours; ISO 8601 string.

    Or, with ``priority`` + ``supplier`` (+ ``site``) records from the estate inventory, the
    ``which`` (``response``/``resolve``) deadline of that supplier's SLA.
    """
    try:
        if priority is not None:
            if not supplier:
                raise AnsibleFilterError("sla_deadline: 'priority' needs the 'supplier' record")
            if which not in ("response", "resolve"):
                raise AnsibleFilterError("sla_deadline: which must be 'response' or 'resolve'")
            return deadlines(start, priority, supplier, site)[which + "_due"]
        if duration is None:
            raise AnsibleFilterError("sla_deadline: give a duration ('4h') or priority+supplier")
        parsed = parse_duration(duration)
        calendar = None
        if coverage == "business_hours":
            hours = business_hours or {}
            calendar = Calendar(timezone, parse_days_or_list(hours.get("days", "mon-fri")), hours.get("start", "08:00"),
                                hours.get("end", "18:00"), holidays or [])
        elif coverage != "24x7":
            raise AnsibleFilterError("sla_deadline: coverage must be '24x7' or 'business_hours', not %r" % (coverage,))
        return add_duration(start, parsed, calendar, display_zone=timezone).isoformat()
    except (SlaError, ValueError) as exc:
        raise AnsibleFilterError("sla_deadline: %s" % exc)


def sla_priority(severity, impact="single"):
    """``'major' | voipops.voip.sla_priority('site')`` -> ``'P2'``."""
    try:
        return priority_for(severity, impact)
    except SlaError as exc:
        raise AnsibleFilterError("sla_priority: %s" % exc)


def version_compare(version, other, operator="=="):
    """Compare firmware versions numerically per dotted part: ``'96.86.0.9' | version_compare('96.86.0.100', '<')``."""
    ops = {"==": lambda c: c == 0, "!=": lambda c: c != 0, "<": lambda c: c < 0, "<=": lambda c: c <= 0,
           ">": lambda c: c > 0, ">=": lambda c: c >= 0, "eq": lambda c: c == 0, "ne": lambda c: c != 0,
           "lt": lambda c: c < 0, "le": lambda c: c <= 0, "gt": lambda c: c > 0, "ge": lambda c: c >= 0}
    if operator not in ops:
        raise AnsibleFilterError("version_compare: unknown operator %r (use one of %s)" % (operator, ", ".join(ops)))
    return ops[operator](compare_versions(version, other))


class FilterModule(object):
    def filters(self):
        return {"sla_deadline": sla_deadline, "sla_priority": sla_priority, "version_compare": version_compare,
                "mask_url": mask_url}
