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

user_mutations_reconcile_playbook_<N>, _growth
    The reconcile as the user runs it: ``playbooks/user_mutations.yml`` with a YAML desired state
    (``user_mutations_state: overridden``) against a database holding N users, 1% of them changed, 0.5% leavers and
    0.5% joiners (the shape of bench_users' ``users_reconcile_20000``); beside it the module alone with the role's
    options on a copy of the same database.  Sizes 5k, 10k, 20k.  Target k <= 1.1.

handsets_playbook_<N>, _growth
    Handset provisioning and re-sync as a playbook: ``handset_provision`` of N handsets into a fresh tree, then
    ``handset_resync`` of its ``changed_handsets`` (all N; the handsets from the same file, ``details: summary``),
    each NOTIFY answered by a simulated phone
    (``tools.phonesim``, one process, booted from a private nginx before the measurement; the phones then fetch their
    files again, as real ones do).  Beside it the two modules alone with the same inputs.  Sizes 1k, 5k, 10k.

Every playbook row has ``log_bytes`` (what the job log receives at default verbosity), ``cpu_s`` (user + system CPU
seconds of ansible-playbook and every process it started) beside ``module_cpu_s``, and ``slowest_tasks``: the
profile of the run from the bench's own callback (``bench/callbacks/task_times.py``), the start-up before the first
task and the slowest tasks in seconds.  Each routine also writes ``bench/results/<routine>.svg`` (size against time:
the playbook, the module alone).

Knobs, to make a run shorter (each part takes a few minutes on a quiet 2-core machine at the default sizes):
``BENCH_E2E_PARTS=mutations,reconcile,handsets,audit`` (a subset; ``BENCH_E2E_AUDIT=0`` drops the audit, which
starts a lab), and the sizes: ``BENCH_E2E_SIZES`` (HR batch), ``BENCH_E2E_RECONCILE_SIZES``,
``BENCH_E2E_HANDSET_SIZES``, ``BENCH_E2E_AUDIT_SIZES``, comma-separated (two sizes give a growth exponent, one none),
and ``BENCH_E2E_BOOT_TIMEOUT`` (seconds for the simulated fleet to boot, 300).
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
import stat

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import bench_users as BU  # noqa: E402  pylint: disable=wrong-import-position
import chart  # noqa: E402  pylint: disable=wrong-import-position
sys.path.insert(0, ROOT)
from tests.support.net import free_udp_port  # noqa: E402  pylint: disable=wrong-import-position

VENV_BIN = os.path.dirname(sys.executable)


def _sizes(var, default):
    """Sizes from an environment knob (comma-separated), to shrink a run: BENCH_E2E_SIZES=200,500,1000 ..."""
    raw = os.environ.get(var, "")
    return tuple(int(x) for x in raw.split(",") if x.strip()) if raw.strip() else default


SIZES = _sizes("BENCH_E2E_SIZES", (1000, 5000, 20000))
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


def _profiled(env, work):
    """``env`` with the bench's task_times callback on (bench/callbacks): the per-task profile of the playbook."""
    return dict(env, ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, "callbacks"), ANSIBLE_CALLBACKS_ENABLED="task_times",
                BENCH_TASK_TIMES=os.path.join(work, "task_times.json"))


def _task_profile(work, wall, top=6):
    """The slowest tasks of the profiled playbook run in ``work``: [[task, seconds], ...]; what came before the first
    task (Python and Ansible start-up, loading the play and the inventory) is the wall time less the tasks' sum."""
    try:
        with open(os.path.join(work, "task_times.json")) as handle:
            times = json.load(handle)[1:]
    except (IOError, ValueError):
        return []
    merged = {}
    for name, secs in times:  # a task run on several hosts or in a loop shows once, with its total
        merged[name] = merged.get(name, 0.0) + secs
    ranked = sorted(merged.items(), key=lambda kv: -kv[1])[:top]
    return [["(start-up before the first task)", round(wall - sum(merged.values()), 2)]] + [
        [name, round(secs, 2)] for name, secs in ranked]


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
    proc = subprocess.run(cmd, cwd=ROOT, env=_profiled(_env(work), work), capture_output=True, timeout=1800, check=False)
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
    return playbook, len(proc.stdout) + len(proc.stderr), module, playbook_cpu, module_cpu, _task_profile(work, playbook)


RECONCILE_SIZES = _sizes("BENCH_E2E_RECONCILE_SIZES", (5000, 10000, 20000))


def _seeded_db(work, name, n):
    """A fresh SQLite Kamailio database holding users 0..n-1 (seeded through the driver: setup, not measured)."""
    from ansible_collections.voipops.voip.plugins.module_utils import users as U  # pylint: disable=import-outside-toplevel
    from ansible_collections.voipops.voip.plugins.module_utils.callservers.base import RunInfo  # pylint: disable=import-outside-toplevel
    from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio_db import KamailioDB  # pylint: disable=import-outside-toplevel
    url = BU.sqlite_db(work, name)
    seed = KamailioDB(url, "voip.lab")
    seed.apply(U.plan_users("merged", [U.canonical(BU.user(i)) for i in range(n)], []), RunInfo(run_id="seed", actor="bench"))
    seed.close()
    return url


def user_mutations_reconcile_playbook(tmp, n):
    """The 20,000-user kind of reconcile as the user runs it: ``user_mutations.yml`` with a YAML desired state and
    ``state: overridden`` against a database holding n users (1% changed, 0.5% leavers, 0.5% joiners, as
    bench_users' ``users_reconcile_20000``).  (playbook s, job-log bytes, module-only s, playbook CPU s, module CPU s)."""
    work = os.path.join(tmp, "rc-%d" % n)
    os.makedirs(work)
    want = [BU.user(i, variant=1) if i % 100 == 0 else BU.user(i) for i in range(n) if i % 200 != 1]
    want += [BU.user(n + i) for i in range(n // 200)]
    desired = os.path.join(work, "users.yml")
    with open(desired, "w") as handle:
        json.dump({"users": want}, handle)  # JSON is YAML
    numberplan = os.path.join(work, "numberplan.yml")
    with open(numberplan, "w") as handle:
        handle.write(NUMBERPLAN_YAML)
    url = _seeded_db(work, "playbook.db", n)
    module_url = "sqlite:///" + os.path.join(work, "module.db")
    shutil.copyfile(url[len("sqlite:///"):], module_url[len("sqlite:///"):])  # the same starting state
    cmd = [os.path.join(VENV_BIN, "ansible-playbook"), os.path.join(ROOT, "playbooks", "user_mutations.yml"),
           "-e", "user_mutations_db_url=%s" % url, "-e", "user_mutations_domain=voip.lab",
           "-e", "user_mutations_source=%s" % desired, "-e", "user_mutations_state=overridden",
           "-e", "user_mutations_numberplan=%s" % numberplan,
           "-e", "user_mutations_output_dir=%s" % os.path.join(work, "out"), "-e", "user_mutations_actor=bench"]
    cpu0 = _children_cpu()
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=_profiled(_env(work), work), capture_output=True, timeout=1800, check=False)
    playbook = time.perf_counter() - started
    playbook_cpu = _children_cpu() - cpu0
    if proc.returncode != 0:
        raise RuntimeError("user_mutations reconcile playbook failed (%d users):\n%s"
                           % (n, proc.stdout[-3000:].decode("utf-8", "replace")))
    expected = n // 100 + 2 * (n // 200)  # changed + leavers + joiners
    shown = re.search(r"Changed (\d+) user", proc.stdout.decode("utf-8", "replace"))
    if not shown or int(shown.group(1)) != expected:
        raise RuntimeError("reconcile playbook changed %s users, expected %d" % (shown and shown.group(1), expected))
    cpu0 = time.process_time()
    module, res = BU.timed(lambda: BU.run_module({
        "db_url": module_url, "numberplan": numberplan, "src": desired, "state": "overridden", "return_unchanged": False,
        "details": "summary", "summary_file": os.path.join(work, "module-out", "summary.txt"),
        "credentials_file": os.path.join(work, "module-cred.json"), "audit_log": os.path.join(work, "module-audit.jsonl")}))
    module_cpu = time.process_time() - cpu0
    if len(res["commands"]) != expected or not res["verified"]:
        raise RuntimeError("module-only reconcile: %d commands (expected %d), verified %r"
                           % (len(res["commands"]), expected, res.get("verified")))
    return playbook, len(proc.stdout) + len(proc.stderr), module, playbook_cpu, module_cpu, _task_profile(work, playbook)


def bench_reconcile(tmp):
    results, points, module_points = [], [], []
    for n in RECONCILE_SIZES:
        playbook, log_bytes, module, playbook_cpu, module_cpu, profile = user_mutations_reconcile_playbook(tmp, n)
        points.append((n, playbook))
        module_points.append((n, module))
        results.append({"name": "user_mutations_reconcile_playbook_%d" % n, "value": round(playbook, 2), "unit": "s",
                        "baseline": "the module alone, same desired state (1 call, overridden)",
                        "baseline_value": round(module, 2), "ratio": round(module / playbook, 2), "log_bytes": log_bytes,
                        "cpu_s": round(playbook_cpu, 2), "module_cpu_s": round(module_cpu, 2), "slowest_tasks": profile})
    if len(points) >= 2:
        k = growth_exponent(points)
        results.append({"name": "user_mutations_reconcile_playbook_growth", "value": round(k, 2), "unit": "exponent",
                        "baseline": "module-only growth exponent", "baseline_value": round(growth_exponent(module_points), 2),
                        "ratio": None, "target": "k <= 1.1", "met": k <= 1.1, "sizes": list(RECONCILE_SIZES)})
        chart.write_svg(os.path.join(HERE, "results", "user_mutations_reconcile.svg"),
                        "user_mutations: overridden reconcile (2% of the users change)",
                        [("ansible-playbook playbooks/user_mutations.yml", points),
                         ("callserver_users module alone", module_points)], x_label="users in the callserver")
    return results


def _children_cpu():
    """User + system CPU seconds of the finished child processes (ansible-playbook and every module it ran)."""
    import resource  # pylint: disable=import-outside-toplevel
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


HANDSET_SIZES = _sizes("BENCH_E2E_HANDSET_SIZES", (1000, 5000, 10000))

HANDSET_PLAY = """
- name: Provision the estate's handsets and re-sync the ones whose files changed
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Provision every handset of the estate
      voipops.voip.handset_provision:
        root: "{{ root }}"
        provisioning_url: "{{ url }}"
        registrar: 127.0.0.1
        registrar_port: "{{ registrar_port }}"
        timezone: Europe/Amsterdam
        handsets_file: "{{ handsets_file }}"
        users_file: "{{ users_file }}"
      register: prov

    - name: Re-sync the handsets whose files changed
      voipops.voip.handset_resync:
        handsets_file: "{{ handsets_file }}"
        names: "{{ prov.changed_handsets }}"
        details: summary
        timeout: 5
      register: resync
      when: prov.changed

    - name: Every re-synced handset answered
      ansible.builtin.assert:
        that: resync.summary.ok == resync.summary.targets
        quiet: true
"""


def _handset_fleet(tmp, n):
    """n simulated phones (tools.phonesim, one process) booted from a private nginx serving their files; returns
    (estate with each phone's address, users, url, registrar port, [nginx, phonesim]).  Setup, not measured."""
    import bench_handsets as BH  # pylint: disable=import-outside-toplevel
    from ansible_collections.voipops.voip.plugins.module_utils import provision  # pylint: disable=import-outside-toplevel
    from ansible_collections.voipops.voip.roles.lab.files.phonesim import sim as phonesim  # pylint: disable=import-outside-toplevel
    work = os.path.join(tmp, "hs-fleet")
    os.makedirs(work)
    root = os.path.join(work, "boot")
    port, registrar_port = BH._free_port(), BH._free_port()  # nobody answers REGISTER: a NOTIFY needs no registration
    url = "http://127.0.0.1:%d/" % port
    phones = phonesim.make_fleet(n, first_extension=300000, prefix="hs")
    estate = [dict((k, h[k]) for k in ("name", "mac", "vendor", "model", "user")) for h in phones]
    users = [{"extension": h["user"], "display_name": "User %s" % h["user"], "sip_password": "pw-%s-x9" % h["user"]}
             for h in estate]
    provision.Provisioner(root, estate, users, {"registrar": "127.0.0.1", "registrar_port": registrar_port,
                                                "provisioning_url": url}).run()
    conf = os.path.join(work, "nginx.conf")
    with open(conf, "w") as handle:
        handle.write(BH.NGINX_CONF % {"tmp": work, "port": port, "root": root})
    procs = [subprocess.Popen(["nginx", "-c", conf, "-p", work], start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        cfg = os.path.join(work, "fleet.json")
        with open(cfg, "w") as handle:
            json.dump({"provisioning_url": url, "handsets": phones, "retry": 600}, handle)
        sdir = os.path.join(work, "sim")
        procs.append(subprocess.Popen([sys.executable, "-m", "tools.phonesim", "--config", cfg, "--state-dir", sdir],
                                      cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        status = BH._wait_booted(sdir, n, int(os.environ.get("BENCH_E2E_BOOT_TIMEOUT", "300")))
    except Exception:
        for proc in reversed(procs):
            BH._stop(proc)
        raise
    addr = dict((p["name"], "127.0.0.1:%d" % p["port"]) for p in status["phones"] if p["port"])
    if len(addr) != n:
        raise RuntimeError("only %d of %d simulated phones have a SIP port" % (len(addr), n))
    return [dict(h, address=addr[h["name"]]) for h in estate], users, url, registrar_port, procs


def handsets_playbook(tmp, fleet, n):
    """Provision n handsets into a fresh tree and re-sync the changed ones (all n), as a playbook and as the two
    module calls alone.  (playbook s, job-log bytes, module-only s, playbook CPU s, module CPU s, parts)."""
    from ansible_collections.voipops.voip.plugins.modules import handset_provision, handset_resync  # pylint: disable=import-outside-toplevel
    estate, users, url, registrar_port = fleet[:4]
    work = os.path.join(tmp, "hs-%d" % n)
    os.makedirs(work)
    hfile, ufile, vars_file = (os.path.join(work, f) for f in ("handsets.json", "users.json", "vars.json"))
    with open(hfile, "w") as handle:  # one file for both modules: handset_resync reads the address of each phone
        json.dump({"handsets": [dict((k, h[k]) for k in ("name", "mac", "vendor", "model", "user", "address"))
                                for h in estate[:n]]}, handle)
    with open(ufile, "w") as handle:
        json.dump({"users": users[:n]}, handle)
    common = {"handsets_file": hfile, "users_file": ufile, "url": url, "registrar_port": registrar_port}
    with open(vars_file, "w") as handle:
        json.dump(dict(common, root=os.path.join(work, "prov-playbook")), handle)
    book = os.path.join(work, "handsets.yml")
    with open(book, "w") as handle:
        handle.write(HANDSET_PLAY)
    cmd = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", book, "-e", "@" + vars_file]
    cpu0 = _children_cpu()
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=work, env=_profiled(_env(work), work), capture_output=True, timeout=1800, check=False)
    playbook = time.perf_counter() - started
    playbook_cpu = _children_cpu() - cpu0
    if proc.returncode != 0:
        raise RuntimeError("handsets playbook failed (%d handsets):\n%s" % (n, proc.stdout[-3000:].decode("utf-8", "replace")))
    cpu0 = time.process_time()
    prov_s, prov = BU.timed(lambda: BU.run_module({
        "root": os.path.join(work, "prov-module"), "provisioning_url": url, "registrar": "127.0.0.1",
        "registrar_port": registrar_port, "timezone": "Europe/Amsterdam", "handsets_file": hfile, "users_file": ufile},
        module=handset_provision))
    resync_s, resync = BU.timed(lambda: BU.run_module({
        "handsets_file": hfile, "names": prov["changed_handsets"], "details": "summary", "timeout": 5},
        module=handset_resync))
    module_cpu = time.process_time() - cpu0
    answered = resync["outcomes"].get("ok", 0)
    if len(prov["changed_handsets"]) != n or answered != n:
        raise RuntimeError("module-only: %d handsets changed, %d of %d answered the NOTIFY"
                           % (len(prov["changed_handsets"]), answered, n))
    return (playbook, len(proc.stdout) + len(proc.stderr), prov_s + resync_s, playbook_cpu, module_cpu,
            {"provision_s": round(prov_s, 2), "resync_s": round(resync_s, 2)}, _task_profile(work, playbook))


def bench_handsets_playbook(tmp):
    import bench_handsets as BH  # pylint: disable=import-outside-toplevel
    results, points, module_points = [], [], []
    fleet = _handset_fleet(tmp, max(HANDSET_SIZES))
    try:
        for n in HANDSET_SIZES:
            playbook, log_bytes, module, playbook_cpu, module_cpu, parts, profile = handsets_playbook(tmp, fleet, n)
            points.append((n, playbook))
            module_points.append((n, module))
            results.append({"name": "handsets_playbook_%d" % n, "value": round(playbook, 2), "unit": "s",
                            "baseline": "the two modules alone (handset_provision + handset_resync), same inputs",
                            "baseline_value": round(module, 2), "ratio": round(module / playbook, 2),
                            "log_bytes": log_bytes, "cpu_s": round(playbook_cpu, 2), "module_cpu_s": round(module_cpu, 2),
                            "module_parts": parts, "slowest_tasks": profile})
    finally:
        for proc in reversed(fleet[4]):
            BH._stop(proc)
    if len(points) >= 2:
        k = growth_exponent(points)
        results.append({"name": "handsets_playbook_growth", "value": round(k, 2), "unit": "exponent",
                        "baseline": "module-only growth exponent", "baseline_value": round(growth_exponent(module_points), 2),
                        "ratio": None, "target": "k <= 1.1", "met": k <= 1.1, "sizes": list(HANDSET_SIZES)})
        chart.write_svg(os.path.join(HERE, "results", "handsets_playbook.svg"),
                        "handset provisioning + re-sync of the changed handsets (simulated phones)",
                        [("ansible-playbook: handset_provision + handset_resync", points),
                         ("the two modules alone", module_points)], x_label="handsets")
    return results


AUDIT_SIZES = _sizes("BENCH_E2E_AUDIT_SIZES", (1000, 2500, 5000))


def _searchable(path):
    """Every directory from / down to ``path`` can be searched by others (the lab's nginx workers run as www-data)."""
    path = os.path.abspath(path)
    while True:
        if not os.stat(path).st_mode & stat.S_IXOTH:
            return False
        parent = os.path.dirname(path)
        if parent == path:
            return True
        path = parent


def bench_tmp(prefix):
    """A private temporary directory for a bench that starts a lab (0755, with every parent searchable by others).

    A lab under a 0700 directory cannot start: lab_up stops at "www-data (the nginx workers' user) cannot reach
    .../lab/prov" (the cause of the one failed e2e lab start, with tempfile's default 0700 directory).  When TMPDIR
    itself sits under a 0700 parent (a home directory), /tmp is used instead."""
    parent = tempfile.gettempdir()
    if not _searchable(parent):
        parent = "/tmp"  # nosec - a private mkdtemp below, made 0755 for the nginx workers
    tmp = tempfile.mkdtemp(prefix=prefix, dir=parent)
    os.chmod(tmp, 0o755)  # nosec - the lab's nginx workers (an unprivileged user) must reach its provisioning tree
    return tmp


def _lab_playbook(lab_dir, book):
    env = dict(_env(lab_dir), VOIPOPS_LAB_DIR=lab_dir)
    return subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), os.path.join(ROOT, "playbooks", book)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=900, check=False)


def _failure(out):
    """The failed task of a playbook's output (its ERROR / fatal lines), else the output's tail."""
    at = max(out.rfind("[ERROR]"), out.rfind("fatal: "))
    return out[at:at + 3000] if at >= 0 else out[-3000:]


def lab_up(tmp, attempts=2):
    """Start a private lab with the project's own playbook (not measured); returns (lab_dir, endpoints).

    A failed start (for example a loopback port another engineer's lab took between lab_up picking it and the daemon
    binding it: the lab keeps the ports it picked in its directory) is stopped and tried once more in a fresh
    directory; the error names what failed each time."""
    errors = []
    for attempt in range(1, attempts + 1):
        lab_dir = os.path.join(tmp, "lab%d" % attempt)
        os.makedirs(lab_dir)
        proc = _lab_playbook(lab_dir, "lab_up.yml")
        if proc.returncode == 0:
            with open(os.path.join(lab_dir, "endpoints.json")) as handle:
                return lab_dir, json.load(handle)
        errors.append("attempt %d (%s):\n%s" % (attempt, lab_dir, _failure(proc.stdout + proc.stderr)))
        print("   lab_up failed (attempt %d of %d), see the error at the end if it fails again" % (attempt, attempts),
              flush=True)
        lab_down(lab_dir)
    raise RuntimeError("lab_up failed:\n%s" % "\n".join(errors))


def lab_down(lab_dir):
    """Stop a private lab (every daemon it started, by its pid files)."""
    proc = _lab_playbook(lab_dir, "lab_down.yml")
    if proc.returncode != 0:
        print("   lab_down failed in %s:\n%s" % (lab_dir, _failure(proc.stdout + proc.stderr)), flush=True)


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
        # the large-fleet inventory docs/estate.md recommends: handsets neither hosts nor a variable
        handle.write("plugin: voipops.voip.estate\nestate_file: estate.yml\nendpoints_file: %s\nhandsets: none\nfleet_var: false\n"
                     % os.path.join(lab_dir, "endpoints.json"))
    dest = os.path.join(work, "reports")
    cmd = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", inventory, os.path.join(ROOT, "playbooks", "health_audit.yml"),
           "-e", "health_audit_dest=%s" % dest, "-e", "health_audit_fail_on_priority=none"]
    cpu0 = _children_cpu()
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=_profiled(dict(_env(work), VOIPOPS_LAB_DIR=lab_dir), work),
                          capture_output=True, timeout=1800, check=False)
    playbook = time.perf_counter() - started
    playbook_cpu = _children_cpu() - cpu0
    if proc.returncode != 0:
        raise RuntimeError("health_audit playbook failed (%d handsets):\n%s" % (n, proc.stdout[-3000:].decode("utf-8", "replace")))
    with open(os.path.join(dest, "health_audit.json")) as handle:
        report = json.load(handle)
    missing = [f for f in report["findings"] if "not registered" in f.get("summary", "")]
    if not 0.02 * n <= len(missing) <= 0.05 * n:  # the bench measures a realistic audit, not an empty one
        raise RuntimeError("expected about 3%% of %d handsets unregistered, the audit found %d" % (n, len(missing)))
    # audit_report alone, in-process, on the same estate and registrations
    cpu0 = time.process_time()
    module, _res = BU.timed(lambda: audit_report_in_process(estate, checks, os.path.join(work, "module-reports")))
    module_cpu = time.process_time() - cpu0
    return (playbook, len(proc.stdout) + len(proc.stderr), module, report["summary"]["tickets"], playbook_cpu, module_cpu,
            _task_profile(work, playbook))


def audit_report_in_process(estate, checks, dest):
    """One audit_report call in-process (module-only figure)."""
    from ansible_collections.voipops.voip.plugins.modules import audit_report  # pylint: disable=import-outside-toplevel
    return BU.run_module({"estate_file": estate, "dest": dest, "results": checks, "fail_on_priority": "none"},
                         module=audit_report)


def bench_health_audit(tmp):
    results = []
    lab_dir, lab = lab_up(tmp)
    try:
        points, module_points = [], []
        for n in AUDIT_SIZES:
            playbook, log_bytes, module, tickets, playbook_cpu, module_cpu, profile = health_audit_playbook(
                tmp, lab_dir, lab, n)
            points.append((n, playbook))
            module_points.append((n, module))
            res = {"name": "health_audit_playbook_%d" % n, "value": round(playbook, 2), "unit": "s",
                   "baseline": "audit_report alone, same estate + registrations", "baseline_value": round(module, 2),
                   "ratio": round(module / playbook, 2), "log_bytes": log_bytes, "tickets": tickets,
                   "cpu_s": round(playbook_cpu, 2), "module_cpu_s": round(module_cpu, 2), "slowest_tasks": profile}
            if n == 5000:
                res.update({"target": "<= 30 s", "met": playbook <= 30})
            results.append(res)
        if len(points) < 2:  # one size (BENCH_E2E_AUDIT_SIZES=5000): no growth to fit
            return results
        k = growth_exponent(points)
        results.append({"name": "health_audit_playbook_growth", "value": round(k, 2), "unit": "exponent",
                        "baseline": "audit_report-only growth exponent", "baseline_value": round(growth_exponent(module_points), 2),
                        "ratio": None, "target": "k <= 1.1", "met": k <= 1.1, "sizes": list(AUDIT_SIZES)})
        chart.write_svg(os.path.join(HERE, "results", "health_audit.svg"), "health_audit: handsets in the estate",
                        [("ansible-playbook playbooks/health_audit.yml (lab)", points),
                         ("audit_report module alone", module_points)], x_label="handsets")
    finally:
        lab_down(lab_dir)
    return results


PARTS = ("mutations", "reconcile", "handsets", "audit")


def _parts():
    """BENCH_E2E_PARTS=reconcile,handsets runs only those parts (default: all); BENCH_E2E_AUDIT=0 drops the audit."""
    raw = os.environ.get("BENCH_E2E_PARTS", "")
    parts = [p.strip() for p in raw.split(",") if p.strip()] or list(PARTS)
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise ValueError("BENCH_E2E_PARTS: unknown part(s) %s (known: %s)" % (", ".join(unknown), ", ".join(PARTS)))
    if os.environ.get("BENCH_E2E_AUDIT", "1") == "0" and "audit" in parts:
        parts.remove("audit")
    return parts


def bench_mutations(tmp):
    results, points, module_points = [], [], []
    for n in SIZES:
        playbook, log_bytes, module, playbook_cpu, module_cpu, profile = user_mutations_playbook(tmp, n)
        points.append((n, playbook))
        module_points.append((n, module))
        res = {"name": "user_mutations_playbook_%d" % n, "value": round(playbook, 2), "unit": "s",
               "baseline": "the module alone, same batch (1 call)", "baseline_value": round(module, 2),
               "ratio": round(module / playbook, 2), "log_bytes": log_bytes,
               "cpu_s": round(playbook_cpu, 2), "module_cpu_s": round(module_cpu, 2), "slowest_tasks": profile}
        if n == 5000:
            res.update({"target": "playbook <= 3x module", "met": playbook <= 3 * module})
        results.append(res)
        if n == 5000:  # the same in CPU seconds: what the overhead costs, whatever else the machine runs
            results.append({"name": "user_mutations_playbook_5000_cpu", "value": round(playbook_cpu, 2),
                            "unit": "CPU s (ansible-playbook and its module processes)",
                            "baseline": "the module alone, CPU s in-process", "baseline_value": round(module_cpu, 2),
                            "ratio": round(module_cpu / playbook_cpu, 2) if playbook_cpu else None})
    if len(points) >= 2:
        k = growth_exponent(points)
        results.append({"name": "user_mutations_playbook_growth", "value": round(k, 2), "unit": "exponent",
                        "baseline": "module-only growth exponent", "baseline_value": round(growth_exponent(module_points), 2),
                        "ratio": None, "target": "k <= 1.1", "met": k <= 1.1,
                        "sizes": list(SIZES)})
        chart.write_svg(os.path.join(HERE, "results", "user_mutations.svg"), "user_mutations: HR join batch",
                        [("ansible-playbook playbooks/user_mutations.yml", points),
                         ("callserver_users module alone", module_points)])
    return results


def run():
    results = []
    tmp = bench_tmp("voipops-bench-e2e-")
    benches = {"mutations": bench_mutations, "reconcile": bench_reconcile, "handsets": bench_handsets_playbook,
               "audit": bench_health_audit}
    try:
        for part in _parts():
            print("   e2e: %s" % part, flush=True)
            results.extend(benches[part](tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return results


if __name__ == "__main__":
    import json
    print(json.dumps(run(), indent=2))
