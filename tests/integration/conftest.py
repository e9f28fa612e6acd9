"""Integration-test harness: the real embedded lab, started once per test session.

Fixtures:
- ``lab``: the parsed ``endpoints.json`` of a running lab (``playbooks/lab_up.yml`` is run once per session;
  it is idempotent, so an already running lab is reused).  The lab lives in ``$VOIPOPS_TEST_LAB_DIR``
  (default ``.state/test-lab``), apart from the demo lab.  At the end of the session the lab is taken down
  again unless ``VOIPOPS_KEEP_LAB=1``.
- ``lab_component``: ``.stop(name)`` kills one component (e.g. ``"mgw1-sip"``) by its recorded pid, like a
  crash; the lab is restored by ``lab_up`` after the test (or on ``.restore()``).
- ``ansible``: runs modules and playbooks of this checkout the way a user does, returning parsed results.
"""
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from tests.support.net import free_udp_port  # noqa: F401 pylint: disable=unused-import  # tests import it from here

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STATE = os.environ.get("VOIPOPS_STATE_DIR", os.path.join(ROOT, ".state"))
LAB_DIR = os.path.abspath(os.environ.get("VOIPOPS_TEST_LAB_DIR", os.path.join(STATE, "test-lab")))
VENV_BIN = os.path.dirname(sys.executable)


def ansible_env(extra=None):
    env = dict(os.environ)
    env.update({
        "ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": os.path.join(STATE, "collections"),
        "ANSIBLE_LOCAL_TEMP": os.path.join(STATE, "tmp", "local"),
        "ANSIBLE_REMOTE_TEMP": os.path.join(STATE, "tmp", "remote"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "VOIPOPS_LAB_DIR": LAB_DIR,
        "PATH": VENV_BIN + os.pathsep + env.get("PATH", ""),
    })
    if extra:
        env.update(extra)
    return env


class AnsibleRunner(object):
    """Run ansible / ansible-playbook of this checkout and parse what they return."""

    def module(self, name, args=None, check=False, diff=False, timeout=300):
        """Run one module ad hoc on localhost.  Returns the module's result dict."""
        cmd = [os.path.join(VENV_BIN, "ansible"), "localhost", "-i", os.path.join(ROOT, "inventories/lab/hosts.yml"),
               "-m", name if "." in name else "voipops.voip." + name, "-a", json.dumps(args or {})]
        if check:
            cmd.append("--check")
        if diff:
            cmd.append("--diff")
        # The minimal callback prints "localhost | SUCCESS => {json}" for ad hoc runs.
        env = ansible_env({"ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.minimal",
                           "ANSIBLE_CALLBACK_RESULT_FORMAT": "json"})
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
        start = proc.stdout.find("=> {")
        try:
            result = json.loads(proc.stdout[start + 3:])
        except ValueError:
            raise AssertionError("ansible did not return a result (rc=%s):\n%s\n%s" % (proc.returncode, proc.stdout, proc.stderr))
        result["_rc"] = proc.returncode
        result["_stderr"] = proc.stderr
        result.setdefault("failed", "| FAILED!" in proc.stdout[:start + 1])
        return result

    def playbook(self, playbook, extra_vars=None, check=False, diff=False, timeout=900, env=None, inventory=None):
        """Run a playbook; returns (returncode, stdout+stderr, recap dict of localhost)."""
        cmd = [os.path.join(VENV_BIN, "ansible-playbook"), os.path.join(ROOT, playbook)]
        for inv in ([inventory] if isinstance(inventory, str) else inventory or [os.path.join(ROOT, "inventories/lab/hosts.yml")]):
            cmd += ["-i", inv]
        if extra_vars:
            cmd += ["-e", json.dumps(extra_vars)]
        if check:
            cmd.append("--check")
        if diff:
            cmd.append("--diff")
        proc = subprocess.run(cmd, cwd=ROOT, env=ansible_env(env), capture_output=True, text=True, timeout=timeout, check=False)
        out = proc.stdout + proc.stderr
        return proc.returncode, out, parse_recap(out)


def parse_recap(output):
    """The PLAY RECAP counters per host, e.g. {'localhost': {'ok': 20, 'changed': 0, 'failed': 0, ...}}."""
    recap = {}
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("PLAY RECAP"):
            for rec in lines[i + 1:]:
                if ":" not in rec:
                    break
                host, counters = rec.split(":", 1)
                recap[host.strip()] = dict((k, int(v)) for k, v in (c.split("=") for c in counters.split()))
    return recap


def read_endpoints():
    with open(os.path.join(LAB_DIR, "endpoints.json")) as handle:
        return json.load(handle)


def lab_up(runner):
    rc, out, recap = runner.playbook("playbooks/lab_up.yml")
    if rc != 0:
        raise RuntimeError("lab_up failed (rc=%d):\n%s" % (rc, out[-6000:]))
    return recap


@pytest.fixture(scope="session")
def ansible():
    return AnsibleRunner()


@pytest.fixture(scope="session")
def lab(ansible):
    """A running lab; its endpoints.json as a dict."""
    lab_up(ansible)
    yield read_endpoints()
    if os.environ.get("VOIPOPS_KEEP_LAB") != "1":
        ansible.playbook("playbooks/lab_down.yml")


def wait_for(predicate, timeout=20.0, interval=0.2, what="condition"):
    """Poll ``predicate`` until it returns a truthy value; return it, or fail naming ``what``."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %.0f s waiting for %s (last: %r)" % (timeout, what, last))


class LabComponent(object):
    def __init__(self, runner):
        self.runner = runner
        self.stopped = []

    def stop(self, name, sig=signal.SIGKILL):
        """Kill a component by its recorded pid (its whole process group), like a crash."""
        pid = read_endpoints()["pids"][name]
        assert pid, "component %s has no pid" % name
        try:
            os.killpg(pid, sig)
        except OSError:
            os.kill(pid, sig)
        wait_for(lambda: not os.path.exists("/proc/%d" % pid) or _is_zombie(pid), 10, what="%s to die" % name)
        self.stopped.append(name)
        return pid

    def restore(self):
        if self.stopped:
            lab_up(self.runner)
            self.stopped = []
        return read_endpoints()


def _is_zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (IOError, OSError):
        return True


@pytest.fixture
def lab_component(lab, ansible):
    comp = LabComponent(ansible)
    yield comp
    comp.restore()


@pytest.fixture
def extra_subscriber(lab):
    """``extra_subscriber("1099")``: a callserver account no estate handset uses (a stray softphone's), with a fresh
    password; removed after the test.  Kamailio's auth_db reads the table on every request."""
    made = []

    def make(username):
        password = "Stray-" + os.urandom(6).hex()
        ha1 = hashlib.md5(("%s:%s:%s" % (username, lab["domain"], password)).encode()).hexdigest()
        with sqlite3.connect(lab["callserver"]["db_path"], timeout=10) as db:
            db.execute("INSERT OR REPLACE INTO subscriber (username, domain, password, ha1, ha1b) VALUES (?,?,?,?,?)",
                       (username, lab["domain"], "", ha1, ""))
        made.append(username)
        return {"username": username, "domain": lab["domain"], "password": password}
    yield make
    with sqlite3.connect(lab["callserver"]["db_path"], timeout=10) as db:
        for username in made:
            db.execute("DELETE FROM subscriber WHERE username = ?", (username,))
