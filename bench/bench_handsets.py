"""Handset benchmarks (loopback only; everything started here is stopped here, by pid).

handset_provision_10000
    ``voipops.voip.handset_provision`` run by ansible-playbook over 10,000 handsets (first run and no-change
    rerun) against the baseline users write today: ``ansible.builtin.template`` in a per-handset loop.  The
    baseline is measured on 200 handsets and its per-item cost extrapolated to 10,000 (said in the result).

handset_resync_10000
    10,000 simulated phones (``tools.phonesim``) boot from a private nginx; then one
    ``handset_resync``-path call (``handsets.fleet.resync``) NOTIFYs all of them by address.  Baseline: what
    users do without it, a loop of ``sipsak`` NOTIFYs (one process per handset, each with its vendor's event),
    measured on 300 phones and extrapolated.
"""
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
importlib.import_module("conftest")  # makes ansible_collections.voipops.voip importable

from ansible_collections.voipops.voip.roles.lab.files.phonesim import sim as phonesim  # noqa: E402
from ansible_collections.voipops.voip.plugins.module_utils.handsets import fleet as hfleet  # noqa: E402

VENV_BIN = os.path.dirname(sys.executable)
STATE = os.path.join(ROOT, ".state")


def _env(tmp):
    env = dict(os.environ)
    env.update({"ANSIBLE_COLLECTIONS_PATH": os.path.join(STATE, "collections"),
                "ANSIBLE_LOCAL_TEMP": os.path.join(tmp, "ansible-local"), "ANSIBLE_REMOTE_TEMP": os.path.join(tmp, "ansible-remote"),
                "ANSIBLE_NOCOLOR": "1", "ANSIBLE_HOST_KEY_CHECKING": "0", "ANSIBLE_DEPRECATION_WARNINGS": "0",
                "PATH": VENV_BIN + os.pathsep + env.get("PATH", "")})
    return env


def _playbook(tmp, play, extra_vars_file):
    path = os.path.join(tmp, "play-%d.yml" % int(time.time() * 1e6))
    with open(path, "w") as handle:
        handle.write(play)
    cmd = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", path, "-e", "@" + extra_vars_file,
           "-e", "ansible_python_interpreter=%s" % sys.executable]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=tmp, env=_env(tmp), capture_output=True, text=True, timeout=900, check=False)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError("ansible-playbook failed:\n%s\n%s" % (proc.stdout[-3000:], proc.stderr[-3000:]))
    return elapsed


OURS = """
- hosts: localhost
  gather_facts: false
  tasks:
    - voipops.voip.handset_provision:
        root: "{{ root }}"
        provisioning_url: http://127.0.0.1:8080/
        registrar: 127.0.0.1
        timezone: Europe/Amsterdam
        handsets_file: "{{ handsets_file }}"
        users_file: "{{ users_file }}"
"""

FLOOR = """
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.ping:
"""

BASELINE = """
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.template:
        src: "{{ tpl }}"
        dest: "{{ root }}/{{ item.mac | replace(':', '') }}.cfg"
        mode: "0640"
      loop: "{{ handsets }}"
      vars:
        user: "{{ users_by_ext[item.user] }}"
"""

TEMPLATE = """#!version:1.0.0.1
account.1.enable = 1
account.1.label = {{ user.display_name }}
account.1.display_name = {{ user.display_name }}
account.1.user_name = {{ user.extension }}
account.1.auth_name = {{ user.extension }}
account.1.password = {{ user.sip_password }}
account.1.sip_server.1.address = 127.0.0.1
account.1.sip_server.1.port = 5060
account.1.sip_server.1.transport_type = 0
account.1.sip_server.1.expires = 3600
"""


def _provision_growth(tmp, handsets, users, n, first, base_per_handset):
    """First provisioning runs at n/10 and n/2 handsets beside the n run: growth exponent and chart."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import chart  # pylint: disable=import-outside-toplevel
    points = []
    for k in (n // 10, n // 2):
        sub = os.path.join(tmp, "growth-%d" % k)
        os.makedirs(sub)
        hfile, ufile, vars_file = (os.path.join(sub, f) for f in ("handsets.yml", "users.yml", "vars.json"))
        with open(hfile, "w") as handle:
            json.dump({"handsets": handsets[:k]}, handle)
        with open(ufile, "w") as handle:
            json.dump({"users": users[:k]}, handle)
        with open(vars_file, "w") as handle:
            json.dump({"handsets_file": hfile, "users_file": ufile, "root": os.path.join(sub, "prov")}, handle)
        points.append((k, _playbook(sub, OURS, vars_file)))
    points.append((n, first))
    chart.write_svg(os.path.join(ROOT, "bench", "results", "handset_provision.svg"),
                    "handset_provision: configs + firmware manifest for N handsets (ansible-playbook)",
                    [("handset_provision (playbook)", points),
                     ("ansible.builtin.template loop (per-item cost measured on 40)",
                      [(p[0], p[0] * base_per_handset) for p in points])],
                    x_label="handsets")
    k = chart.growth_exponent(points)
    return [{"name": "handset_provision_growth", "value": round(k, 2), "unit": "exponent",
             "sizes": [p[0] for p in points], "baseline": "template loop (linear by construction)", "baseline_value": 1.0,
             "ratio": None, "target": "k <= 1.1", "met": k <= 1.1}]


def bench_provision(tmp, n=10000, baseline_n=40):
    handsets = [dict((k, h[k]) for k in ("name", "mac", "vendor", "model", "user"))
                for h in phonesim.make_fleet(n, first_extension=100000)]
    users = [{"extension": h["user"], "display_name": "User %s" % h["user"], "sip_password": "pw-%s-x9" % h["user"]}
             for h in handsets]
    vars_file = os.path.join(tmp, "vars.json")
    root = os.path.join(tmp, "prov")
    hfile, ufile = os.path.join(tmp, "handsets.yml"), os.path.join(tmp, "users.yml")
    with open(hfile, "w") as handle:
        json.dump({"handsets": handsets}, handle)     # JSON is YAML
    with open(ufile, "w") as handle:
        json.dump({"users": users}, handle)
    with open(vars_file, "w") as handle:
        json.dump({"handsets_file": hfile, "users_file": ufile, "root": root}, handle)
    first = _playbook(tmp, OURS, vars_file)
    nfiles = sum(len(files) for _dir, _subdirs, files in os.walk(root))
    rerun = _playbook(tmp, OURS, vars_file)
    floor = _playbook(tmp, FLOOR, vars_file)     # ansible-playbook + one module round trip, doing nothing

    tpl = os.path.join(tmp, "yealink.cfg.j2")
    with open(tpl, "w") as handle:
        handle.write(TEMPLATE)
    broot = os.path.join(tmp, "baseline")
    os.makedirs(broot)
    small = handsets[:baseline_n]
    with open(vars_file, "w") as handle:
        json.dump({"handsets": small, "users_by_ext": dict((u["extension"], u) for u in users[:baseline_n]),
                   "root": broot, "tpl": tpl}, handle)
    base_first = _playbook(tmp, BASELINE, vars_file) * (float(n) / baseline_n)
    base_rerun = _playbook(tmp, BASELINE, vars_file) * (float(n) / baseline_n)
    note = "ansible.builtin.template loop over %d handsets, per-item cost x%d" % (baseline_n, n // baseline_n)
    growth = _provision_growth(tmp, handsets, users, n, first, base_first / n)
    return growth + [
        {"name": "handset_provision_10000", "value": round(first, 2), "unit": "s", "baseline": note,
         "baseline_value": round(base_first, 1), "ratio": round(base_first / first, 1), "files": nfiles},
        {"name": "handset_provision_10000_rerun", "value": round(rerun, 2), "unit": "s", "baseline": note + " (rerun)",
         "baseline_value": round(base_rerun, 1), "ratio": round(base_rerun / rerun, 1),
         "playbook_floor_s": round(floor, 2)},
    ]


NGINX_CONF = """user root root;
daemon off;
worker_processes 1;
pid %(tmp)s/nginx.pid;
error_log %(tmp)s/nginx-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %(tmp)s/ngx-body;
    proxy_temp_path %(tmp)s/ngx-proxy;
    fastcgi_temp_path %(tmp)s/ngx-fcgi;
    uwsgi_temp_path %(tmp)s/ngx-uwsgi;
    scgi_temp_path %(tmp)s/ngx-scgi;
    server { listen 127.0.0.1:%(port)d; root %(root)s; }
}
"""


def _free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _stop(proc):
    if proc and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


NOTIFY_FILE = """NOTIFY %(uri)s SIP/2.0
From: <sip:voipops@127.0.0.1>;tag=%(tag)s
To: <%(uri)s>
Call-ID: %(tag)s@127.0.0.1
CSeq: 1 NOTIFY
Event: %(event)s
Subscription-State: terminated
Max-Forwards: 70
Content-Length: 0

"""


def _sipsak_loop(tmp, targets):
    """The baseline: one sipsak process per handset (what a shell loop over the fleet does); answered 200 count."""
    ok = 0
    path = os.path.join(tmp, "notify.txt")
    for i, t in enumerate(targets):
        with open(path, "w") as handle:
            handle.write(NOTIFY_FILE % {"uri": t["uri"], "tag": "b%d" % i, "event": t["event"]})
        proc = subprocess.run(["sipsak", "-f", path, "-s", t["uri"]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=30, check=False)
        ok += proc.returncode == 0
    return ok


def _wait_booted(sdir, n, timeout):
    """Wait until every phone finished booting (fetched its files and tried to register); returns the status."""
    deadline = time.time() + timeout
    status = None
    while time.time() < deadline:
        status = phonesim.read_status(sdir)
        if status and status["count"] == n and not set(status["states"]) & set(["off", "booting", "upgrading"]):
            return status
        time.sleep(0.5)
    raise RuntimeError("%d phones did not finish booting in %ss: %s" % (n, timeout, status and status["states"]))


def bench_resync(tmp, n=10000, baseline_n=300, boot_timeout=90):
    from ansible_collections.voipops.voip.plugins.module_utils import provision
    root = os.path.join(tmp, "rprov")
    port = _free_port()
    url = "http://127.0.0.1:%d/" % port
    phones = phonesim.make_fleet(n, first_extension=200000)
    estate = [dict((k, h[k]) for k in ("name", "mac", "vendor", "model", "user")) for h in phones]
    users = [{"extension": h["user"], "sip_password": "pw-%s-x9" % h["user"]} for h in estate]
    # Registrar: a port nobody listens on (the NOTIFY path does not need a registration; phones retry slowly).
    provision.Provisioner(root, estate, users, {"registrar": "127.0.0.1", "registrar_port": _free_port(),
                                                "provisioning_url": url}).run()
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as handle:
        handle.write(NGINX_CONF % {"tmp": tmp, "port": port, "root": root})
    nginx = subprocess.Popen(["nginx", "-c", conf, "-p", tmp], start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sim = None
    try:
        time.sleep(0.5)
        cfg = os.path.join(tmp, "fleet.json")
        with open(cfg, "w") as handle:
            json.dump({"provisioning_url": url, "handsets": phones, "retry": 600}, handle)
        sdir = os.path.join(tmp, "sim")
        sim = subprocess.Popen([sys.executable, "-m", "tools.phonesim", "--config", cfg, "--state-dir", sdir],
                               cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t0 = time.perf_counter()
        status = _wait_booted(sdir, n, boot_timeout)
        boot = time.perf_counter() - t0
        # the phones are not registered (no registrar): NOTIFY them at their addresses (handset_resync's
        # "address" path), each with its vendor's re-sync event
        addr = dict((p["name"], "127.0.0.1:%d" % p["port"]) for p in status["phones"] if p["port"])
        targets_estate = [dict(h, address=addr[h["name"]]) for h in estate if h["name"] in addr]
        targets = hfleet.resync_targets(targets_estate, [])[0]
        t0 = time.perf_counter()
        results = hfleet.resync(targets, concurrency=1000, timeout=5.0)
        ours = time.perf_counter() - t0
        ok = sum(1 for r in results if r["status"] == "ok")
        # the growth: the first n/10 and n/2 of the same booted fleet again, beside the n run
        points = []
        for size in (len(targets) // 10, len(targets) // 2):
            t1 = time.perf_counter()
            hfleet.resync(targets[:size], concurrency=1000, timeout=5.0)
            points.append((size, time.perf_counter() - t1))
        points.append((len(targets), ours))
        sample = targets[-baseline_n:]
        t0 = time.perf_counter()
        base_ok = _sipsak_loop(tmp, sample)
        base = (time.perf_counter() - t0) * (float(len(targets)) / len(sample))
    finally:
        _stop(sim)
        _stop(nginx)
    return [{"name": "handset_resync_10000", "value": round(ours, 2), "unit": "s",
             "baseline": "sipsak NOTIFY per handset in a loop (%d measured, extrapolated to %d)" % (len(sample), len(targets)),
             "baseline_value": round(base, 1), "ratio": round(base / ours, 1), "phones": len(targets), "answered_ok": ok,
             "baseline_answered_ok": "%d/%d" % (base_ok, len(sample)), "fleet_boot_s": round(boot, 1)},
            _resync_growth(points)]


def _resync_growth(points):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import chart  # pylint: disable=import-outside-toplevel
    k = chart.growth_exponent(points)
    return {"name": "handset_resync_growth", "value": round(k, 2), "unit": "exponent", "sizes": [p[0] for p in points],
            "seconds": [round(p[1], 3) for p in points],
            "baseline": "a NOTIFY per handset (linear by construction)", "baseline_value": 1, "ratio": None,
            "target": "k <= 1.1", "met": k <= 1.1}


def run():
    tmp = tempfile.mkdtemp(prefix="bench-handsets-", dir=os.path.join(STATE, "tmp") if os.path.isdir(os.path.join(STATE, "tmp")) else None)
    try:
        return bench_provision(tmp) + bench_resync(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
