"""Health-audit benchmarks: audit time for 1,000 and 5,000 simulated handsets (loopback only, no daemons).

audit_report_<N>_handsets
    ``ansible-playbook`` running ONE ``voipops.voip.audit_report`` task on an estate of N handsets (CSV) with the
    registrations of N phones (3% missing, 2% on an unapproved firmware, a dead E1 at one site): estate validation,
    mapping, routing, SLA deadlines, root-cause grouping, JSON + HTML + JUnit.  Baseline: what people write
    without bulk modules - one task per handset over the ``voipops.voip.estate`` inventory (registration and
    firmware checked per host with set_fact/assert-style tasks), measured on 40 handset hosts in the same run and
    extrapolated linearly to N (said in the result).

audit_pipeline_3000_in_process
    The pure pipeline (load estate + build_audit + render three reports) for 3,000 handsets in one process;
    baseline: the same pipeline with the obvious nested-loop registration matching (for each handset scan every
    contact) instead of the indexed matching of ``handsets.registrations.match``.

sla_deadlines_10000
    10,000 business-hours deadlines (``sla.Calendar.add``); baseline: the common minute-stepping loop,
    measured on 200 deadlines and scaled per deadline.
"""
import datetime
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # conftest makes ansible_collections.voipops.voip importable
import conftest  # noqa: E402,F401 pylint: disable=unused-import

from ansible_collections.voipops.voip.plugins.module_utils.audit import build as B  # noqa: E402
from ansible_collections.voipops.voip.plugins.module_utils.audit import checks as C  # noqa: E402
from ansible_collections.voipops.voip.plugins.module_utils.audit import report as R  # noqa: E402
from ansible_collections.voipops.voip.plugins.module_utils.handsets import registrations as hreg  # noqa: E402
from ansible_collections.voipops.voip.plugins.module_utils import sla as S  # noqa: E402
from ansible_collections.voipops.voip.plugins.module_utils.estate import load_estate  # noqa: E402

VENV_BIN = os.path.dirname(sys.executable)
STATE = os.path.join(ROOT, ".state")
NOW = "2026-11-27T16:30:00Z"
BASELINE_HOSTS = 40


def _env(tmp):
    env = dict(os.environ)
    env.update({"ANSIBLE_COLLECTIONS_PATH": os.path.join(STATE, "collections"),
                "ANSIBLE_LOCAL_TEMP": os.path.join(tmp, "ansible-local"), "ANSIBLE_REMOTE_TEMP": os.path.join(tmp, "ansible-remote"),
                "ANSIBLE_NOCOLOR": "1", "ANSIBLE_DEPRECATION_WARNINGS": "0", "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
                "ANSIBLE_INVENTORY_ENABLED": "voipops.voip.estate,ansible.builtin.ini",
                "ANSIBLE_FORKS": "10", "PATH": VENV_BIN + os.pathsep + env.get("PATH", "")})
    env.pop("ANSIBLE_CONFIG", None)
    return env


def make_estate(tmp, n):
    """The lab estate with n handsets (two sites) in a CSV, and the registrations of those phones."""
    src = open(os.path.join(ROOT, "inventories", "lab", "estate.yml")).read()
    src = src.replace('extensions: ["1000-1099", "2000-2999"]', 'extensions: ["1000-1099", "200000-299999"]')
    src = src.replace('extensions: ["3000-3999"]', 'extensions: ["3000-3999", "300000-399999"]')
    head, _sep, _rest = src.partition("handsets:\n")
    tail = src[src.index("handsets_csv:"):]
    with open(os.path.join(tmp, "estate.yml"), "w") as handle:
        handle.write(head + tail)
    rnd = random.Random(42)
    models = [("yealink", "T54W", "Yealink SIP-T54W %s", "96.86.0.110", "96.85.0.5"),
              ("poly", "VVX450", "PolycomVVX-VVX_450-UA/%s", "6.4.6.2410", "6.3.1.0001"),
              ("snom", "D785", "snomD785/%s", "10.1.159.12", "10.1.100.1"),
              ("grandstream", "GRP2614", "Grandstream GRP2614 %s", "1.0.13.3", "1.0.11.1")]
    contacts = []
    with open(os.path.join(tmp, "handsets.csv"), "w") as handle:
        handle.write("name,mac,vendor,model,site,user\n")
        for i in range(n):
            vendor, model, ua, good, old = models[i % 4]
            site = "ams" if i % 5 else "rtm"
            user = str((200000 if site == "ams" else 300000) + i)
            handle.write("hs-%05d,02:00:%02x:%02x:%02x:%02x,%s,%s,%s,%s\n" % (
                i, (i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255, vendor, model, site, user))
            roll = rnd.random()
            if roll < 0.03:
                continue  # not registered
            contacts.append({"aor": "%s@voip.lab" % user, "contact": "sip:%s@10.31.%d.%d:5060" % (user, i // 250, i % 250),
                             "expires": 3000, "received": "", "user_agent": ua % (old if roll < 0.05 else good)})
    checks = {"registrations": contacts,
              "sip_probe": [{"uri": "sip:127.0.0.1:5060", "host": "127.0.0.1", "port": 5060, "status": "ok", "reachable": True,
                             "code": 200}],
              "snmp": [{"name": "mgw1", "ok": True, "facts": {"ds1": [
                  {"name": "E1 0/0", "line_status": 1, "alarms": [], "severity": "ok"},
                  {"name": "E1 0/1", "line_status": 64, "alarms": ["LOS"], "severity": "critical"}]}}]}
    return os.path.join(tmp, "estate.yml"), checks


def _playbook(tmp, name, text, inventory, extra=()):
    path = os.path.join(tmp, name)
    with open(path, "w") as handle:
        handle.write(text)
    started = time.monotonic()
    out = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "-i", inventory, path] + list(extra),
                         capture_output=True, text=True, env=_env(tmp), timeout=600, cwd=tmp, check=False)
    elapsed = time.monotonic() - started
    if out.returncode != 0:
        raise RuntimeError("%s failed:\n%s" % (name, (out.stdout + out.stderr)[-3000:]))
    return elapsed


OURS = """
- hosts: localhost
  connection: local
  gather_facts: false
  vars_files: [checks.json]
  tasks:
    - voipops.voip.audit_report:
        estate_file: "{{ playbook_dir }}/estate.yml"
        dest: "{{ playbook_dir }}/reports"
        now: "%s"
        results: "{{ results }}"
""" % NOW

BASELINE = """
- hosts: handsets
  gather_facts: false
  vars_files: [checks.json]
  tasks:
    - name: registration of this handset (one task per handset)
      ansible.builtin.set_fact:
        reg: "{{ results.registrations | selectattr('aor', 'equalto', voipops_component.user ~ '@voip.lab') | first | default(none) }}"
    - name: unregistered?
      ansible.builtin.set_fact:
        finding: "{{ voipops_component.name }} not registered"
      when: reg is none
    - name: firmware approved?
      ansible.builtin.set_fact:
        fw_finding: "{{ reg.user_agent }} not approved"
      when: reg is not none and (reg.user_agent.split(' ')[-1].split('/')[-1]) not in
            (voipops_approved_firmware[voipops_component.vendor][voipops_component.model] | default([]))
"""


def bench_playbooks(sizes=(1000, 5000, 20000)):
    results = []
    tmp_base = tempfile.mkdtemp(prefix="bench-audit-")
    try:
        # baseline: 100 handset hosts, one task per handset, extrapolated
        btmp = os.path.join(tmp_base, "baseline")
        os.makedirs(btmp)
        _estate, checks = make_estate(btmp, BASELINE_HOSTS)
        with open(os.path.join(btmp, "checks.json"), "w") as handle:
            json.dump({"results": checks}, handle)
        with open(os.path.join(btmp, "estate.inventory.yml"), "w") as handle:
            handle.write("plugin: voipops.voip.estate\nestate_file: estate.yml\n")
        base_time = _playbook(btmp, "baseline.yml", BASELINE, os.path.join(btmp, "estate.inventory.yml"))
        per_handset = base_time / BASELINE_HOSTS
        for n in sizes:
            tmp = os.path.join(tmp_base, "n%d" % n)
            os.makedirs(tmp)
            _estate, checks = make_estate(tmp, n)
            with open(os.path.join(tmp, "checks.json"), "w") as handle:
                json.dump({"results": checks}, handle)
            ours = _playbook(tmp, "ours.yml", OURS, "localhost,")
            report = json.load(open(os.path.join(tmp, "reports", "health_audit.json")))
            assert report["summary"]["findings"] > 0.04 * n, report["summary"]
            baseline = per_handset * n
            results.append({"name": "audit_report_%d_handsets" % n, "value": round(ours, 2), "unit": "s",
                            "baseline": "one task per handset over the estate inventory (measured on %d hosts: %.2f s, "
                                        "extrapolated to %d)" % (BASELINE_HOSTS, base_time, n),
                            "baseline_value": round(baseline, 2), "ratio": round(baseline / ours, 1),
                            "findings": report["summary"]["findings"], "tickets": report["summary"]["tickets"]})
        results.append(_growth(results, per_handset))
    finally:
        shutil.rmtree(tmp_base, ignore_errors=True)
    return results


def _growth(results, per_handset):
    """Exponent of the audit_report playbook over its sizes, and the chart (the baseline is linear by construction)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import chart  # pylint: disable=import-outside-toplevel
    points = [(int(r["name"].split("_")[2]), r["value"]) for r in results]
    chart.write_svg(os.path.join(ROOT, "bench", "results", "audit_report.svg"),
                    "audit_report: one task over N handsets (ansible-playbook)",
                    [("audit_report (playbook, one task)", points),
                     ("one task per handset (per-host cost measured on %d, scaled)" % BASELINE_HOSTS,
                      [(n, n * per_handset) for n, _t in points])], x_label="handsets")
    k = chart.growth_exponent(points)
    return {"name": "audit_report_growth", "value": round(k, 2), "unit": "exponent", "sizes": [n for n, _t in points],
            "baseline": "per-handset loop (linear by construction)", "baseline_value": 1.0, "ratio": None,
            "target": "k <= 1.1", "met": k <= 1.1}


def naive_match(handsets, contacts, parse=None):
    """The obvious implementation: for each contact scan every handset (what the indexed match replaces); each
    pairing is then judged by the matcher's own rule (``registrations._pair``), so both sides give the same audit."""
    parse = parse or hreg.parse_user_agent
    known = hreg.normalise_handsets(handsets)
    pairs = []
    for contact in contacts or []:
        ua = parse(contact.get("user_agent")) or {}
        user = hreg.aor_user(contact.get("aor"))
        handset = None
        for candidate in known:
            if (ua.get("mac") and candidate["mac"] == ua["mac"]) or (handset is None and user in candidate["users"]):
                handset = candidate
        pairs.append(hreg._pair(contact, ua, user, handset))  # pylint: disable=protected-access
    bound_users = set(u for h in known for u in h["users"])
    for p in pairs:
        p["reason"] = hreg._reason(p["status"], p.pop("candidate"), p["user"], bound_users)  # pylint: disable=protected-access
    return pairs


def _pipeline(estate_path, checks):
    estate = load_estate(estate_path)
    res = [C.from_registrations(checks["registrations"], estate, callserver="cs1"),
           C.from_sip_probe(checks["sip_probe"], estate), C.from_snmp(checks["snmp"], estate)]
    audit = B.build_audit(res, estate, NOW)
    R.render_all(audit)
    return audit


def bench_pipeline(n=3000):
    tmp = tempfile.mkdtemp(prefix="bench-audit-pipe-")
    try:
        estate_path, checks = make_estate(tmp, n)
        started = time.monotonic()
        ours = _pipeline(estate_path, checks)
        t_ours = time.monotonic() - started
        original = hreg.match
        hreg.match = naive_match
        try:
            started = time.monotonic()
            base = _pipeline(estate_path, checks)
            t_base = time.monotonic() - started
        finally:
            hreg.match = original
        assert base["summary"] == ours["summary"], (base["summary"], ours["summary"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [{"name": "audit_pipeline_%d_in_process" % n, "value": round(t_ours, 2), "unit": "s",
             "baseline": "same pipeline with nested-loop registration matching", "baseline_value": round(t_base, 2),
             "ratio": round(t_base / t_ours, 1)}] + _pipeline_growth(n, t_ours)


def _pipeline_growth(n, t_n):
    """The in-process pipeline at n/3 and 2n beside n (each the best of 3): its growth exponent."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import chart  # pylint: disable=import-outside-toplevel
    points = []
    for size in (n // 3, n, 2 * n):
        if size == n:
            points.append((n, t_n))
            continue
        tmp = tempfile.mkdtemp(prefix="bench-audit-pipe-")
        try:
            estate_path, checks = make_estate(tmp, size)
            best = None
            for _unused in range(3):
                started = time.monotonic()
                _pipeline(estate_path, checks)
                best = min(best or 1e9, time.monotonic() - started)
            points.append((size, best))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    k = chart.growth_exponent(points)
    return [{"name": "audit_pipeline_growth", "value": round(k, 2), "unit": "exponent", "sizes": [p[0] for p in points],
             "seconds": [round(p[1], 3) for p in points],
             "baseline": "linear", "baseline_value": 1, "ratio": None, "target": "k <= 1.1", "met": k <= 1.1}]


def minute_stepping(cal, start, minutes):
    """The common hand-written business-time loop: advance one minute at a time."""
    cur = S.to_utc(start).replace(second=0, microsecond=0)
    left = minutes
    while left > 0:
        if cal.is_open(cur):
            left -= 1
        cur += datetime.timedelta(minutes=1)
    return cur


def bench_sla(count=10000, baseline_count=200):
    cal = S.Calendar("Europe/Amsterdam", [0, 1, 2, 3, 4], "08:00", "18:00", ["2026-12-25", "2026-12-26"])
    rnd = random.Random(7)
    base = datetime.datetime(2026, 11, 2, tzinfo=S.UTC)
    starts = [base + datetime.timedelta(minutes=rnd.randrange(0, 60 * 24 * 60)) for _i in range(count)]
    spans = [rnd.choice((30, 60, 240, 480, 600, 1200)) for _i in range(count)]
    started = time.monotonic()
    ours = [cal.add(s, m) for s, m in zip(starts, spans)]
    t_ours = (time.monotonic() - started) / count
    started = time.monotonic()
    naive = [minute_stepping(cal, s, m) for s, m in zip(starts[:baseline_count], spans[:baseline_count])]
    t_base = (time.monotonic() - started) / baseline_count
    for a, b in zip(ours, naive):  # same answers (the naive loop ends on the minute after the last business minute)
        assert S.to_utc(a) == b, (a, b)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import chart  # pylint: disable=import-outside-toplevel
    points = []
    for size in (count // 10, count // 2, count):  # the same deadlines, the first N of them: the growth exponent
        started = time.monotonic()
        for s, m in zip(starts[:size], spans[:size]):
            cal.add(s, m)
        points.append((size, time.monotonic() - started))
    k = chart.growth_exponent(points)
    return [{"name": "sla_deadlines_%d" % count, "value": round(t_ours * count, 3), "unit": "s",
             "baseline": "minute-stepping loop (measured on %d deadlines, scaled)" % baseline_count,
             "baseline_value": round(t_base * count, 3), "ratio": round(t_base / t_ours, 1)},
            {"name": "sla_deadlines_growth", "value": round(k, 2), "unit": "exponent", "sizes": [p[0] for p in points],
             "baseline": "minute-stepping loop (linear by construction)", "baseline_value": 1, "ratio": None,
             "target": "k <= 1.1", "met": k <= 1.1}]


def run():
    return bench_sla() + bench_pipeline() + bench_playbooks()


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
