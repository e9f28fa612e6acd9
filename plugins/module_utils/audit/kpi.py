# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Service KPIs from the callserver's own counters, on the counters' change since the previous audit (pure).

The callserver driver reads its statistics into a normalised counter dict
(:func:`~ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio.parse_counters`)::

    {"registrations": {"accepted": int, "rejected": int},
     "gateway_groups": {"1": {"invites": int, "2xx": int, "3xx": int, "4xx": int, "5xx": int, "6xx": int,
                              "408": int, "480": int, "486": int, "487": int, "503": int, "600": int, "603": int,
                              "noroute": int}}}

Counters only grow while the callserver runs; they start from zero when it restarts.  A counter lower than at the
previous audit therefore means a restart: its new value is the change (:func:`delta`).

The KPIs (percentages, ``None`` when nothing was attempted):

- registration success ratio: accepted / attempted REGISTERs (accepted + rejected by the registrar);
- SER, session establishment ratio (RFC 6076 section 4.6): INVITEs answered 200 / (INVITEs - INVITEs answered 3xx);
- SEER, session establishment effectiveness ratio (RFC 6076 section 4.7): INVITEs answered 200, 480, 486, 600 or
  603 (the network did its job; the user was busy, away or declined) / (INVITEs - INVITEs answered 3xx);
- ASR, answer-seizure ratio (ITU-T E.411 / E.425): answered seizures / seizures of a gateway group;
- NER, network effectiveness ratio (ITU-T E.425): seizures that were answered or ended by the user (busy, no
  answer, rejected: 480, 486, 487, 600, 603) / seizures - it leaves out what the user did, so it measures the
  network;
- the mix of SIP failure codes (per class and the named codes above).

A call still ringing when the counters are read has been counted as an INVITE but not yet answered; that is
within the noise of the minimum sample (threshold ``kpi_min_samples``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

KPI_SCHEMA_VERSION = 1
#: final answers that mean the network established the session and the user ended it (RFC 6076 4.7)
SEER_EFFECTIVE = ("2xx", "480", "486", "600", "603")
#: answered or ended by the user (ITU-T E.425 "network effectiveness": user busy, no answer, rejected)
NER_EFFECTIVE = ("2xx", "480", "486", "487", "600", "603")
FAILURE_KEYS = ("3xx", "4xx", "5xx", "6xx", "408", "480", "486", "487", "503", "600", "603", "noroute")
#: KPI name -> (threshold key, label, severity when below)
KPI_LIMITS = {
    "registration_success": ("registration_success_min_pct", "registration success ratio", "major"),
    "ser": ("ser_min_pct", "session establishment ratio (SER, RFC 6076)", "major"),
    "seer": ("seer_min_pct", "session establishment effectiveness ratio (SEER, RFC 6076)", "major"),
    "asr": ("asr_min_pct", "answer-seizure ratio (ASR, ITU-T E.411)", "minor"),
    "ner": ("ner_min_pct", "network effectiveness ratio (NER, ITU-T E.425)", "major"),
}


def _flat(counters, prefix=()):
    out = {}
    for key, value in (counters or {}).items():
        path = prefix + (str(key),)
        if isinstance(value, dict):
            out.update(_flat(value, path))
        elif isinstance(value, int) and not isinstance(value, bool):
            out[path] = value
    return out


def _nest(flat):
    out = {}
    for path, value in flat.items():
        node = out
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return out


def delta(current, previous):
    """``(change, restarted)``: every counter's change since ``previous`` (same nesting as ``current``), and
    whether a counter went down (the callserver restarted: then the new value is the change).  A counter that is
    new since ``previous`` changes by its value."""
    cur, prev = _flat(current), _flat(previous)
    change, restarted = {}, False
    for path, value in cur.items():
        before = prev.get(path, 0)
        if value < before:
            restarted = True
    for path, value in cur.items():
        # after a restart every counter starts from zero: the new value is what happened since
        change[path] = value if restarted else value - prev.get(path, 0)
    return _nest(change), restarted


def pct(part, whole):
    """``part / whole`` in percent (one decimal), None when ``whole`` is 0."""
    if not whole or whole <= 0:
        return None
    return round(100.0 * part / whole, 1)


def registration_success(reg):
    accepted, rejected = reg.get("accepted", 0), reg.get("rejected", 0)
    attempted = accepted + rejected
    return {"attempted": attempted, "accepted": accepted, "rejected": rejected,
            "registration_success": pct(accepted, attempted)}


def session_kpis(group):
    """SER, SEER (RFC 6076 4.6, 4.7), ASR (ITU-T E.411) and NER (ITU-T E.425) of one gateway group's counter
    change, with the failure code mix."""
    invites = group.get("invites", 0)
    answered = group.get("2xx", 0)
    redirected = group.get("3xx", 0)
    base = invites - redirected
    return {
        "invites": invites, "answered": answered, "redirected": redirected,
        "ser": pct(answered, base),
        "seer": pct(sum(group.get(k, 0) for k in SEER_EFFECTIVE), base),
        "asr": pct(answered, invites),
        "ner": pct(sum(group.get(k, 0) for k in NER_EFFECTIVE), invites),
        "failure_codes": dict((k, group.get(k, 0)) for k in FAILURE_KEYS if group.get(k, 0)),
    }


def compute(current, previous=None, previous_at=None):
    """The KPI section of the audit from the counters now and at the previous audit.

    ``previous`` None = the first audit: no KPIs, the counters are the baseline of the next audit.
    """
    doc = {"schema_version": KPI_SCHEMA_VERSION, "counters": current, "baseline_at": previous_at,
           "baseline_counters": previous, "first": previous is None, "restarted": False,
           "registration": None, "sessions": None, "gateway_groups": {}, "note": None}
    if previous is None:
        doc["note"] = "first audit with the callserver's counters: this is the baseline, KPIs from the next audit on"
        return doc
    change, restarted = delta(current, previous)
    doc["restarted"] = restarted
    if restarted:
        doc["note"] = ("a counter went down since %s: the callserver restarted, the KPIs count from its restart"
                       % (previous_at or "the previous audit"))
    doc["registration"] = registration_success(change.get("registrations") or {})
    total = {}
    for name, group in sorted((change.get("gateway_groups") or {}).items()):
        doc["gateway_groups"][name] = session_kpis(group)
        for key, value in group.items():
            total[key] = total.get(key, 0) + value
    doc["sessions"] = session_kpis(total)
    return doc


def trend(now, before):
    """``up``, ``down``, ``same`` or None (no earlier value)."""
    if now is None or before is None:
        return None
    return "up" if now > before else ("down" if now < before else "same")


def add_trends(doc, previous_doc):
    """Each KPI's direction against the previous audit's KPIs."""
    prev = previous_doc or {}
    if doc.get("registration"):
        doc["registration"]["trend"] = trend(doc["registration"]["registration_success"],
                                             (prev.get("registration") or {}).get("registration_success"))
    if doc.get("sessions"):
        doc["sessions"]["trend"] = dict((k, trend(doc["sessions"][k], (prev.get("sessions") or {}).get(k)))
                                        for k in ("ser", "seer", "asr", "ner"))
    for name, group in (doc.get("gateway_groups") or {}).items():
        before = (prev.get("gateway_groups") or {}).get(name) or {}
        group["trend"] = dict((k, trend(group[k], before.get(k))) for k in ("ser", "seer", "asr", "ner"))
    return doc


def rows(doc):
    """One row per KPI measured: ``{kpi, scope, value, samples, trend}`` (the HTML table and the JUnit cases)."""
    out = []
    reg = doc.get("registration")
    if reg:
        out.append({"kpi": "registration_success", "scope": "callserver", "value": reg["registration_success"],
                    "samples": reg["attempted"], "trend": reg.get("trend"), "failure_codes": {}})
    scopes = [("callserver", doc.get("sessions"), ("ser", "seer"))]
    scopes += [("gateway group %s" % n, g, ("ser", "seer", "asr", "ner"))
               for n, g in sorted((doc.get("gateway_groups") or {}).items())]
    for scope, kpis, names in scopes:
        if not kpis:
            continue
        for name in names:
            out.append({"kpi": name, "scope": scope, "value": kpis[name], "samples": kpis["invites"],
                        "trend": (kpis.get("trend") or {}).get(name), "failure_codes": kpis["failure_codes"]})
    return out


def evaluate(row, limits):
    """``(threshold, below)`` of one KPI row: below = under its threshold with at least ``kpi_min_samples``."""
    key = KPI_LIMITS[row["kpi"]][0]
    threshold = limits.get(key)
    below = (threshold is not None and row["value"] is not None and row["samples"] >= limits.get("kpi_min_samples", 0)
             and row["value"] < threshold)
    return threshold, below
