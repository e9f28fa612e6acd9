"""End-to-end benchmarks: the routine as the user runs it (``ansible-playbook`` of the project's playbook, Ansible's
own start-up and the job log included), beside the module-only figure, at three sizes with the fitted growth exponent.

user_mutations_playbook_<N>
    ``ansible-playbook playbooks/user_mutations.yml`` with an N-row HR join batch (CSV, aliases and features) on a
    fresh SQLite Kamailio database: preview (check + diff), one transaction, verify, summary file, job log.
    Beside it (baseline column): the module alone - one ``callserver_users`` call in-process with the same batch.
    The ratio is module / playbook (< 1: the share of the user's wait that is the module).  Target: the 5,000-row
    playbook within 3x the module-only time.  ``log_bytes`` is what the job log (stdout, default verbosity) receives.

user_mutations_playbook_growth
    The growth exponent k of the playbook's wall time, t ~ N^k, fitted (least squares in log-log) over the three
    sizes.  Target k <= 1.1 (linear, so a super-linear step shows).

health_audit_playbook_<N>
    ``ansible-playbook -i <estate inventory> playbooks/health_audit.yml`` against a private embedded lab (real
    Kamailio, snmpsim, nginx, the simulated phones) whose estate has N handsets (CSV, four vendors), N*0.97 of them
    registered to the real Kamailio by sipp (digest auth, each with its vendor's User-Agent; 2% on an unapproved
    firmware): every check of the role, findings, SLA routing, JSON + HTML + JUnit.  Beside it: ``audit_report``
    alone on the same estate and the same registrations (one call in-process).  Target: 5,000 handsets <= 30 s.

health_audit_playbook_growth
    The fitted growth exponent of the audit playbook over its three sizes.  Target k <= 1.1.

Each routine also writes ``bench/results/<routine>.svg`` (size against time: the playbook, the module alone).
"""
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import bench_users as BU  # noqa: E402  pylint: disable=wrong-import-position
import chart  # noqa: E402  pylint: disable=wrong-import-position
sys.path.insert(0, ROOT)
from tests.support.net import free_udp_port  # noqa: E402  pylint: disable=wrong-import-position

VENV_BIN = os.path.dirname(sys.executable)
SIZES = (1000, 5000, 20000)
NUMBERPLAN_YAML = "sites:\n" + "".join("  s%d:\n    ranges: [\"%d00000-%d99999\"]\n" % (i, i, i) for i in range(1, 6))


growth_exponent = chart.growth_exponent


def _env(tmp):
    env = dict(os.environ)
    env.update({"ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg"),
                "ANSIBLE_COLLECTIONS_PATH": os.path.join(ROOT, ".state", "collections"),
                "ANSIBLE_LOCAL_TEMP": os.path.join(tmp, "alt"), "ANSIBLE_REMOTE_TEMP": os.path.join(tmp, "art"),
                "ANSIBLE_NOCOLOR": "1", "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
                "PATH": VENV_BIN + os.pathsep + env.get("PATH", "")})
    return env


def user_mutations_playbook(tmp, n):
    """(playbook seconds, job-log bytes, module-only seconds) for an n-row HR join batch."""
    work = os.path.join(tmp, "um-%d" % n)
    os.makedirs(work)
    hr = os.path.join(work, "hr.csv")
    with open(hr, "w") as handle:
        handle.write(BU.HR_HEADER + "".join(BU.hr_row(BU.user(i)) for i in range(n)))
    numberplan = os.path.join(work, "numberplan.yml")
    with open(numberplan, "w") as handle:
        handle.write(NUMBERPLAN_YAML)
    url = BU.sqlite_db(work, "playbook.db")
    cmd = [os.path.join(VENV_BIN, "ansible-playbook"), os.path.join(ROOT, "playbooks", "user_mutations.yml"),
           "-e", "user_mutations_db_url=%s" % url, "-e", "user_mutations_domain=voip.lab",
           "-e", "user_mutations_source=%s" % hr, "-e", "user_mutations_numberplan=%s" % numberplan,
           "-e", "user_mutations_output_dir=%s" % os.path.join(work, "out"), "-e", "user_mutations_actor=bench"]
    cpu0 = _children_cpu()
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=_env(work), capture_output=True, timeout=1800, check=False)
    playbook = time.perf_counter() - started
    playbook_cpu = _children_cpu() - cpu0
    if proc.returncode != 0:
        raise RuntimeError("user_mutations playbook failed (%d rows):\n%s" % (n, proc.stdout[-3000:].decode("utf-8", "replace")))
    # the module alone, same batch, a fresh database: the one apply call the role makes, with the same options
    module_url = BU.sqlite_db(work, "module.db")
    cpu0 = time.process_time()
    module, res = BU.timed(lambda: BU.run_module({
        "db_url": module_url, "numberplan": numberplan, "hr_csv": hr, "state": "merged", "return_unchanged": False,
        "details": "summary", "summary_file": os.path.join(work, "module-out", "summary.txt"),
        "credentials_file": os.path.join(work, "module-cred.json"), "audit_log": os.path.join(work, "module-audit.jsonl")}))
    if res["total_users"] != n or not res["verified"]:
        raise RuntimeError("module-only run did not apply %d users: %r" % (n, {k: res.get(k) for k in ("total_users", "verified")}))
    module_cpu = time.process_time() - cpu0
    return playbook, len(proc.stdout) + len(proc.stderr), module, playbook_cpu, module_cpu


def _children_cpu():
    """User + system CPU seconds of the finished child processes (ansible-playbook and every module it ran)."""
    import resource  # pylint: disable=import-outside-toplevel
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


AUDIT_SIZES = (1000, 2500, 5000)


def _lab(lab_dir, state):
    """Start (or stop) a private lab in ``lab_dir`` with the project's own playbook (not measured)."""
    env = dict(_env(lab_dir), VOIPOPS_LAB_DIR=lab_dir)
    book = "lab_up.yml" if state == "up" else "lab_down.yml"
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), os.path.join(ROOT, "playbooks", book)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=900, check=False)
    if state != "up":
        return None
    if proc.returncode != 0:
        raise RuntimeError("lab_up failed:\n%s" % proc.stdout[-3000:])
    with open(os.path.join(lab_dir, "endpoints.json")) as handle:
        return json.load(handle)


def _register(lab, work, contacts, domain="voip.lab"):
    """Subscribers with known passwords (SQL into the lab's own database), then one sipp REGISTER per contact."""
    import sqlite3  # pylint: disable=import-outside-toplevel
    db_path = lab["callserver"]["db_url"][len("sqlite:///"):]
    rows = []
    inject = ["SEQUENTIAL"]
    for c in contacts:
        user = c["aor"].split("@")[0]
        password = "pw-" + user
        ha1 = hashlib.md5(("%s:%s:%s" % (user, domain, password)).encode()).hexdigest()  # nosec - Kamailio's HA1
        ha1b = hashlib.md5(("%s@%s:%s:%s" % (user, domain, domain, password)).encode()).hexdigest()  # nosec
        rows.append((user, domain, ha1, ha1b))
        inject.append("%s;%s;[authentication username=%s password=%s];%s" % (user, domain, user, password, c["user_agent"]))
    conn = sqlite3.connect(db_path, timeout=30)
    with conn:
        conn.executemany("INSERT OR REPLACE INTO subscriber (username, domain, ha1, ha1b) VALUES (?,?,?,?)", rows)
    conn.close()
    with open(os.path.join(ROOT, "roles", "lab", "files", "register.xml")) as handle:
        scenario = handle.read().replace("User-Agent: Yealink SIP-T54W 96.86.0.100", "User-Agent: [field3]")
    scen = os.path.join(work, "register.xml")
    with open(scen, "w") as handle:
        handle.write(scenario)
    users = os.path.join(work, "users.csv")
    with open(users, "w") as handle:
        handle.write("\n".join(inject) + "\n")
    proc = subprocess.run(["sipp", "127.0.0.1:%d" % lab["callserver"]["sip_port"], "-sf", scen, "-inf", users,
                           "-m", str(len(contacts)), "-r", "2000", "-l", "1", "-i", "127.0.0.1", "-p", str(free_udp_port()),
                           "-nostdin", "-timeout", "120s", "-timeout_error", "-trace_err",
                           "-error_file", os.path.join(work, "sipp-err.log")],
                          cwd=work, capture_output=True, text=True, timeout=300, check=False)
    # a REGISTER that meets another SQLite write (Kamailio's db_sqlite has no busy timeout) may get a 500 ("database is
    # locked"), as a phone would, which registers again later; a handful of those in thousands is the lab
    failed = [int(x) for x in re.findall(r"Failed call\s*\|\s*\d+\s*\|\s*(\d+)", proc.stdout)]
    if proc.returncode not in (0, 1) or not failed or failed[-1] > len(contacts) // 100:
        raise RuntimeError("sipp registrations failed (%d): %s" % (proc.returncode, (proc.stdout + proc.stderr)[-1500:]))


def health_audit_playbook(tmp, lab_dir, lab, n):
    """(playbook seconds, job-log bytes, audit_report-only seconds, tickets) with n handsets, 97% registered."""
    import bench_audit as BA  # pylint: disable=import-outside-toplevel
    work = os.path.join(tmp, "ha-%d" % n)
    os.makedirs(work)
    estate, checks = BA.make_estate(work, n)
    _register(lab, work, checks["registrations"])
    inventory = os.path.join(work, "estate.inventory.yml")
    with open(inventory, "w") as handle:
        handle.write("plugin: voipops.voip.estate\nestate_file: estate.yml\nendpoints_file: %s\nhandsets: none\n"
                     % os.path.join(lab_dir, "endpoints.json"))
    dest = os.path.join(work, "reports")
    cmd = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", inventory, os.path.join(ROOT, "playbooks", "health_audit.yml"),
           "-e", "health_audit_dest=%s" % dest, "-e", "health_audit_fail_on_priority=none"]
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=dict(_env(work), VOIPOPS_LAB_DIR=lab_dir), capture_output=True, timeout=1800,
                          check=False)
    playbook = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError("health_audit playbook failed (%d handsets):\n%s" % (n, proc.stdout[-3000:].decode("utf-8", "replace")))
    with open(os.path.join(dest, "health_audit.json")) as handle:
        report = json.load(handle)
    missing = [f for f in report["findings"] if "not registered" in f.get("summary", "")]
    if not 0.02 * n <= len(missing) <= 0.05 * n:  # the bench measures a realistic audit, not an empty one
        raise RuntimeError("expected about 3%% of %d handsets unregistered, the audit found %d" % (n, len(missing)))
    # audit_report alone, in-process, on the same estate and registrations
    module, _res = BU.timed(lambda: audit_report_in_process(estate, checks, os.path.join(work, "module-reports")))
    return playbook, len(proc.stdout) + len(proc.stderr), module, report["summary"]["tickets"]


def audit_report_in_process(estate, checks, dest):
    """One audit_report call in-process (module-only figure)."""
    from ansible_collections.voipops.voip.plugins.modules import audit_report  # pylint: disable=import-outside-toplevel
    return BU.run_module({"estate_file": estate, "dest": dest, "results": checks, "fail_on_priority": "none"},
                         module=audit_report)


def bench_health_audit(tmp):
    results = []
    lab_dir = os.path.join(tmp, "lab")
    os.makedirs(lab_dir)
    try:
        lab = _lab(lab_dir, "up")
        points, module_points = [], []
        for n in AUDIT_SIZES:
            playbook, log_bytes, module, tickets = health_audit_playbook(tmp, lab_dir, lab, n)
            points.append((n, playbook))
            module_points.append((n, module))
            res = {"name": "health_audit_playbook_%d" % n, "value": round(playbook, 2), "unit": "s",
                   "baseline": "audit_report alone, same estate + registrations", "baseline_value": round(module, 2),
                   "ratio": round(module / playbook, 2), "log_bytes": log_bytes, "tickets": tickets}
            if n == 5000:
                res.update({"target": "<= 30 s", "met": playbook <= 30})
            results.append(res)
        k = growth_exponent(points)
        results.append({"name": "health_audit_playbook_growth", "value": round(k, 2), "unit": "exponent",
                        "baseline": "audit_report-only growth exponent", "baseline_value": round(growth_exponent(module_points), 2),
                        "ratio": None, "target": "k <= 1.1", "met": k <= 1.1, "sizes": list(AUDIT_SIZES)})
        chart.write_svg(os.path.join(HERE, "results", "health_audit.svg"), "health_audit: handsets in the estate",
                        [("ansible-playbook playbooks/health_audit.yml (lab)", points),
                         ("audit_report module alone", module_points)], x_label="handsets")
    finally:
        _lab(lab_dir, "down")
    return results


def run():
    results = []
    tmp = tempfile.mkdtemp(prefix="voipops-bench-e2e-")
    os.chmod(tmp, 0o755)  # nosec - the lab's nginx workers (an unprivileged user) must reach its provisioning tree
    try:
        points, module_points = [], []
        for n in SIZES:
            playbook, log_bytes, module, playbook_cpu, module_cpu = user_mutations_playbook(tmp, n)
            points.append((n, playbook))
            module_points.append((n, module))
            res = {"name": "user_mutations_playbook_%d" % n, "value": round(playbook, 2), "unit": "s",
                   "baseline": "the module alone, same batch (1 call)", "baseline_value": round(module, 2),
                   "ratio": round(module / playbook, 2), "log_bytes": log_bytes,
                   "cpu_s": round(playbook_cpu, 2), "module_cpu_s": round(module_cpu, 2)}
            if n == 5000:
                res.update({"target": "playbook <= 3x module", "met": playbook <= 3 * module})
            results.append(res)
            if n == 5000:  # the same in CPU seconds: what the overhead costs, whatever else the machine runs
                results.append({"name": "user_mutations_playbook_5000_cpu", "value": round(playbook_cpu, 2),
                                "unit": "CPU s (ansible-playbook and its module processes)",
                                "baseline": "the module alone, CPU s in-process", "baseline_value": round(module_cpu, 2),
                                "ratio": round(module_cpu / playbook_cpu, 2) if playbook_cpu else None})
        k = growth_exponent(points)
        results.append({"name": "user_mutations_playbook_growth", "value": round(k, 2), "unit": "exponent",
                        "baseline": "module-only growth exponent", "baseline_value": round(growth_exponent(module_points), 2),
                        "ratio": None, "target": "k <= 1.1", "met": k <= 1.1,
                        "sizes": list(SIZES)})
        chart.write_svg(os.path.join(HERE, "results", "user_mutations.svg"), "user_mutations: HR join batch",
                        [("ansible-playbook playbooks/user_mutations.yml", points),
                         ("callserver_users module alone", module_points)])
        if os.environ.get("BENCH_E2E_AUDIT", "1") != "0":  # 0: the user_mutations rows only (no lab)
            results.extend(bench_health_audit(tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return results


if __name__ == "__main__":
    import json
    print(json.dumps(run(), indent=2))
