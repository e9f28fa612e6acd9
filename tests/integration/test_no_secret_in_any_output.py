"""No secret in any output: every playbook run the way AWX runs it (ansible-runner), at default verbosity and with
``-vvv --diff``, with known secrets planted in every secret-bearing input; every job event, the stdout, the runner's
artifacts, the reports, the logs and every file the runs wrote (but the credential stores themselves) are searched
for them.

Planted: the callserver host's SNMP community and a gateway's SNMPv3 auth/priv passwords, the webhook's URL path and
bearer token, the PostgreSQL password in the callserver database URL, the lab subscribers' SIP passwords and their
HA1 digests, the gateways' management API password (a gateway firmware release through
playbooks/release_rollout.yml, whose release records and pages are searched too), the AWX controller token and the
credential secrets playbooks/awx_configure.yml is given (the test-call account's password among them); found after the
runs: the SIP passwords the user mutations generated (joiners, a re-issue) and their HA1.  The runs use a private lab
(its own state directory and ports, no phones) and a throw-away PostgreSQL, so the shared test lab is not disturbed.
"""
import glob
import hashlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time

import ansible_runner
import pytest

from conftest import LAB_DIR, ROOT, STATE, VENV_BIN, ansible_env
from tests.support.awx import awx_collection_path
from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio_db import create_kamailio_schema

pytestmark = [pytest.mark.lab]

PG_BIN = "/usr/lib/postgresql/15/bin"
DOMAIN = "voip.lab"
PLANTED = {
    "snmp community": "snmpComm4Kq9Planted",
    "snmpv3 auth password": "snmpAuthKey7Zr2Planted",
    "snmpv3 priv password": "snmpPrivKey3Wx8Planted",
    "webhook url path": "hookPath5Ty1Planted",
    "webhook bearer token": "bearerTok9Lm4Planted",
    "database password": "pgPass2Hc6Planted",
    "awx controller token": "awxTok8Qp3Planted",
    "awx credential db_url password": "awxDbPw5Rn7Planted",
    "awx credential snmpv3 auth key": "awxAuth6Vb2Planted",
    "awx credential snmpv3 priv key": "awxPriv1Jc9Planted",
    "awx credential webhook path": "awxHook4Gd8Planted",
    "awx credential webhook token": "awxBear7Ks3Planted",
    "gateway api password": "gwApiPw6Fd2QzPlanted",
    "awx credential test-call password": "awxCall3Hn5Planted",
}
# playbooks/awx_configure.yml's credentials task and the secrets an AWX administrator gives it (awx_secrets)
AWX_CREDENTIALS_TASK = "Credentials (secrets from awx_secrets; kept as they are in AWX when not given)"
AWX_SECRETS = {
    "VoIP callserver": {"db_url": "postgres://kamailio:%s@db.example.org/kamailio" % PLANTED["awx credential db_url password"]},
    "VoIP SNMPv3": {"auth_key": PLANTED["awx credential snmpv3 auth key"], "priv_key": PLANTED["awx credential snmpv3 priv key"]},
    "VoIP ticket webhook": {"webhook_url": "https://tickets.example.org/hooks/%s" % PLANTED["awx credential webhook path"],
                            "token": PLANTED["awx credential webhook token"]},
    "VoIP test-call account": {"password": PLANTED["awx credential test-call password"]},
}
SUBSCRIBERS = ("1001", "1002", "1003", "1004")
# playbooks/release_rollout.yml: a gateway_firmware release per verbosity, each to a new version (both run the whole
# drain, graceful reset, upload, boot, return and gate against the lab's gateway simulators, whose REST API
# password is planted in the lab's secrets/gateway-api)
GATEWAY_RELEASES = {0: ("gw-secrets-v0", "7.40A.250.001"), 3: ("gw-secrets-v3", "7.40A.260.001")}
SIP = dict((u, "sipPw%sXb7Planted" % u) for u in SUBSCRIBERS)


def md5(text):
    return hashlib.md5(text.encode("utf-8")).hexdigest()  # nosec - the SIP digest (HA1) of a planted password


def free_tcp_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Webhook(http.server.BaseHTTPRequestHandler):
    """The ticket system: records every request; answers 500 under /fail/ (a failing webhook)."""
    seen = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Webhook.seen.append({"path": self.path, "authorization": self.headers.get("Authorization"), "body": body})
        self.send_response(500 if self.path.startswith("/fail/") else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def start_postgres(base):
    """A throw-away PostgreSQL 15 whose only user has a password (scram), with Kamailio's schema; -> (url, stop)."""
    if not os.path.exists(os.path.join(PG_BIN, "initdb")) or os.geteuid() != 0:
        pytest.skip("needs Debian postgresql 15 and root (initdb runs as the postgres user via runuser)")
    d = os.path.join(base, "pg")
    os.mkdir(d, 0o700)
    shutil.chown(d, "postgres", "postgres")
    pwfile = os.path.join(d, "pw")
    with open(pwfile, "w") as handle:
        handle.write(PLANTED["database password"])
    shutil.chown(pwfile, "postgres", "postgres")
    data, port = os.path.join(d, "data"), free_tcp_port()
    subprocess.run(["runuser", "-u", "postgres", "--", os.path.join(PG_BIN, "initdb"), "-D", data, "-A",
                    "scram-sha-256", "-U", "voipops", "--pwfile", pwfile], check=True, capture_output=True, timeout=120)
    os.unlink(pwfile)
    subprocess.run(["runuser", "-u", "postgres", "--", os.path.join(PG_BIN, "pg_ctl"), "-D", data, "-w", "-l",
                    os.path.join(d, "pg.log"), "-o", "-p %d -k %s -c listen_addresses=127.0.0.1" % (port, d), "start"],
                   check=True, capture_output=True, timeout=120)

    def stop():
        subprocess.run(["runuser", "-u", "postgres", "--", os.path.join(PG_BIN, "pg_ctl"), "-D", data, "-m", "fast",
                        "stop"], capture_output=True, timeout=120, check=False)
    url = "postgres://voipops:%s@127.0.0.1:%d/postgres" % (PLANTED["database password"], port)
    try:
        create_kamailio_schema(url)
    except Exception:
        stop()
        raise
    return url, stop


def overlay(lab_dir, dest):
    """The lab's endpoints with the planted SNMP secrets: the callserver host's community (its agent runs with it),
    and SNMPv3 for mgw1 (the simulated gateway speaks v2c only: the audit finds it unreachable, with v3 keys)."""
    with open(os.path.join(lab_dir, "endpoints.json")) as handle:
        endpoints = json.load(handle)
    endpoints.pop("subscribers", None)
    endpoints["callserver"]["snmp"]["community"] = PLANTED["snmp community"]
    for gw in endpoints["gateways"]:
        if gw["name"] == "mgw1":
            gw["snmp"] = {"host": "127.0.0.1", "port": gw["snmp"]["port"], "version": "3", "username": "auditor",
                          "auth_protocol": "sha", "auth_password": PLANTED["snmpv3 auth password"],
                          "priv_protocol": "aes", "priv_password": PLANTED["snmpv3 priv password"]}
    with open(dest, "w") as handle:
        json.dump(endpoints, handle)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every playbook at verbosity 0 and at -vvv --diff; -> (runs, base dir, secrets to look for, credential stores)."""
    # beside the test lab (the nginx workers of a root lab must reach the tree; pytest's tmp is 0700)
    base = LAB_DIR + "-secrets"
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(os.path.join(base, "inputs"))
    lab_dir = os.path.join(base, "lab")
    os.makedirs(os.path.join(lab_dir, "secrets"), 0o700)
    for user, password in SIP.items():                     # the lab's seed subscribers get planted passwords
        with os.fdopen(os.open(os.path.join(lab_dir, "secrets", user), os.O_WRONLY | os.O_CREAT, 0o600), "w") as handle:
            handle.write(password)
    with os.fdopen(os.open(os.path.join(lab_dir, "secrets", "gateway-api"), os.O_WRONLY | os.O_CREAT, 0o600), "w") as handle:
        handle.write(PLANTED["gateway api password"])      # the gateway simulators' REST API password (lab_up wants 20 characters)
    db_url, stop_pg = start_postgres(base)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = "http://127.0.0.1:%d/%%s/%s" % (server.server_address[1], PLANTED["webhook url path"])
    inv = os.path.join(base, "inputs", "estate.yml")
    with open(inv, "w") as handle:
        handle.write("plugin: voipops.voip.estate\nestate_file: %s\nendpoints_file: %s\nhandsets: none\n" % (
            os.path.join(ROOT, "inventories", "lab", "estate.yml"), os.path.join(base, "inputs", "endpoints.json")))
    env = ansible_env({"VOIPOPS_LAB_DIR": lab_dir, "ANSIBLE_LOCAL_TEMP": os.path.join(base, "tmp", "local"),
                       "ANSIBLE_REMOTE_TEMP": os.path.join(base, "tmp", "remote")})
    lab_vars = {"lab_phones": False, "lab_snmp_community": PLANTED["snmp community"]}
    awx = awx_collection_path(os.path.join(STATE, "awx-collection"))
    done = []

    def run(playbook, verbosity, extravars, name, expect="successful", more_env=None, args=()):
        started = time.time()
        pdd = os.path.join(base, "runner", "%s-v%d" % (name, verbosity))
        os.makedirs(pdd)
        cmdline = " ".join((["--diff"] if verbosity else []) + list(args)) or None
        result = ansible_runner.run(
            private_data_dir=pdd, project_dir=ROOT, playbook=playbook, envvars=dict(env, **(more_env or {})),
            extravars=extravars, inventory=[inv, os.path.join(ROOT, "inventories", "lab", "hosts.yml")],
            verbosity=verbosity or None, cmdline=cmdline, quiet=True, timeout=600)
        with open(result.stdout.name) as handle:
            stdout = handle.read()
        events = list(result.events)
        done.append({"name": "%s -v%d" % (name, verbosity), "pdd": pdd, "status": result.status, "stdout": stdout,
                     "events": events, "seconds": time.time() - started})
        assert result.status == expect, "%s at verbosity %d: %s\n%s" % (
            playbook, verbosity, result.status, stdout[-4000:])
        return done[-1]

    try:
        for verbosity in (0, 3):
            run("playbooks/lab_up.yml", verbosity, lab_vars, "lab_up")
            overlay(lab_dir, os.path.join(base, "inputs", "endpoints.json"))
            audit = {"health_audit_fail_on_priority": "none", "health_audit_snmp_timeout": 0.5,
                     "health_audit_webhook_headers": {"Authorization": "Bearer " + PLANTED["webhook bearer token"]},
                     # the first run's webhook answers, the second's fails (its error must not show the URL)
                     "health_audit_webhook_url": hook % ("hooks" if verbosity == 0 else "fail")}
            # a webhook that fails fails the job (after the reports are written): AWX shows the ticket was not filed
            expect = "successful" if verbosity == 0 else "failed"
            run("playbooks/demo.yml", verbosity, dict(audit), "demo", expect)
            # kept for the search, and out of the next demo's way (with no previous audit every ticket is new, so
            # the next run sends its webhook too)
            os.rename(os.path.join(base, "demo"), os.path.join(base, "demo-v%d" % verbosity))
            run("playbooks/health_audit.yml", verbosity,
                dict(audit, health_audit_dest=os.path.join(base, "audit-v%d" % verbosity)), "health_audit", expect)
            mutations = {"user_mutations_db_url": db_url, "user_mutations_domain": DOMAIN,
                         "user_mutations_rpc_url": json.load(open(os.path.join(lab_dir, "endpoints.json")))
                         ["callserver"]["rpc_url"],
                         "user_mutations_output_dir": os.path.join(base, "user_mutations")}
            if verbosity:      # the joiners were applied by the first run: this one re-issues a password
                mutations["user_mutations_reissue_password"] = [{"id": "E2101", "reason": "secrets grep"}]
            run("playbooks/user_mutations.yml", verbosity, mutations, "user_mutations")
            # a fault report about a user whose password was just generated (and, at -vvv, re-issued)
            run("playbooks/triage.yml", verbosity, {"extension": "2101", "triage_dest": os.path.join(base, "triage"),
                                                    "triage_audit_log": os.path.join(base, "user_mutations", "audit.jsonl")},
                "triage")
            # AWX configuration as code: the credentials task (secrets from awx_secrets, the controller token from the
            # environment as awx.awx reads it) against a controller address nobody listens on: it fails on the
            # connection, and neither its loop items nor its error may show a secret
            run("playbooks/awx_configure.yml", verbosity, {"awx_secrets": AWX_SECRETS}, "awx_configure", "failed",
                more_env={"ANSIBLE_COLLECTIONS_PATH": awx + os.pathsep + env["ANSIBLE_COLLECTIONS_PATH"],
                          "CONTROLLER_HOST": "http://127.0.0.1:%d" % free_tcp_port(),
                          "CONTROLLER_OAUTH_TOKEN": PLANTED["awx controller token"]},
                args=["--start-at-task", "'%s'" % AWX_CREDENTIALS_TASK])
            # a gateway firmware release on the lab's two gateways (the REST password an extra var, as from a vault or
            # an AWX credential); its records and pages are written under the searched tree
            release_id, version = GATEWAY_RELEASES[verbosity]
            release_file = os.path.join(base, "inputs", "%s.yml" % release_id)
            with open(release_file, "w") as handle:
                handle.write("id: %s\nkind: gateway_firmware\ndescription: the lab's gateways to %s\n" % (
                    release_id, version))
            image = os.path.join(base, "inputs", "M1000_SIP_%s.cmp" % version)
            with open(image, "w") as handle:
                handle.write("AUDIOCODES-CMP %s\n" % version)
            with open(os.path.join(lab_dir, "endpoints.json")) as handle:
                lab = json.load(handle)
            mgmt = lab["gateway_management"]
            run("playbooks/release_rollout.yml", verbosity, {
                "release_file": release_file, "release_rollout_record_dir": os.path.join(base, "releases"),
                "release_rollout_callserver_rpc_url": lab["callserver"]["rpc_url"],
                "release_rollout_gateways": [{"name": gw["name"], "api_url": mgmt["gateways"][gw["name"]]["api_url"],
                                              "sip_uri": gw["sip_uri"], "dispatcher_setid": gw["dispatcher_setid"]}
                                             for gw in lab["gateways"]],
                "release_rollout_gateway_image": image, "release_rollout_gateway_version": version,
                "release_rollout_gateway_username": mgmt["username"],
                "release_rollout_gateway_password": mgmt["password"],
                "release_rollout_gateway_drain_timeout": 30, "release_rollout_gateway_boot_timeout": 30,
                "release_rollout_gateway_busy_delay": 0.2, "release_rollout_gateway_gate_timeout": 30}, "release_rollout")
        stores = [os.path.join(base, "user_mutations", "credentials.json"), os.path.join(lab_dir, "endpoints.json"),
                  os.path.join(lab_dir, "kamailio", "kamailio.db"), os.path.join(lab_dir, "snmpd", "snmpd.conf")]
        stores += [os.path.join(lab_dir, "secrets", u) for u in SUBSCRIBERS + ("gateway-api",)]
        store_data = dict((path, (os.stat(path).st_mode, open(path, "rb").read())) for path in stores)
        run("playbooks/lab_down.yml", 3, lab_vars, "lab_down")
        run("playbooks/lab_down.yml", 0, lab_vars, "lab_down")
    finally:
        if not any(r["name"].startswith("lab_down") for r in done):
            subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), os.path.join(ROOT, "playbooks", "lab_down.yml")],
                           env=env, cwd=ROOT, capture_output=True, check=False, timeout=300)
        server.shutdown()
        stop_pg()
    print("\n".join("%-22s %5.1f s" % (r["name"], r["seconds"]) for r in done))
    secrets = dict(PLANTED)
    for user, password in SIP.items():
        secrets["SIP password of %s" % user] = password
        secrets["HA1 of %s" % user] = md5("%s:%s:%s" % (user, DOMAIN, password))
        secrets["HA1b of %s" % user] = md5("%s@%s:%s:%s" % (user, DOMAIN, DOMAIN, password))
    credentials = os.path.join(base, "user_mutations", "credentials.json")
    with open(credentials) as handle:
        generated = json.load(handle)
    for rec in generated:
        secrets["generated SIP password of %s" % rec["id"]] = rec["sip_password"]
        secrets["HA1 of %s" % rec["id"]] = md5("%s:%s:%s" % (rec["username"], DOMAIN, rec["sip_password"]))
    # where secrets belong: the credential stores (owner-only), the inputs this test wrote, the database server
    yield {"runs": done, "base": base, "secrets": secrets, "stores": store_data, "generated": generated,
           "excluded": stores + [os.path.join(lab_dir, "secrets"), os.path.join(base, "inputs"), os.path.join(base, "pg"),
                                 os.path.join(lab_dir, "kamailio", "kamailio.db-wal"),
                                 os.path.join(lab_dir, "kamailio", "kamailio.db-shm")]
           + [os.path.join(r["pdd"], "env") for r in done]
           # ansible-runner's record of the environment it was given: the controller token there is the input, as
           # AWX injects it from a credential
           + glob.glob(os.path.join(base, "runner", "awx_configure-*", "artifacts", "*", "command"))}
    shutil.rmtree(base, ignore_errors=True)


def hits(blob, secrets):
    return sorted(name for name, value in secrets.items() if value.encode("utf-8") in blob)


def test_the_planted_secrets_were_used(runs):
    # the webhook got its token at its secret path; the re-issue and the joiners made passwords; the lab's
    # subscribers have the planted passwords; the database URL with its password worked (the mutations applied)
    sent = [w for w in Webhook.seen if w["path"].endswith(PLANTED["webhook url path"])]
    assert sent and all(w["authorization"] == "Bearer " + PLANTED["webhook bearer token"] for w in sent)
    assert any(w["path"].startswith("/fail/") for w in sent)
    failed = [r for r in runs["runs"] if r["status"] == "failed" and not r["name"].startswith("awx_configure")]
    assert failed and all("answered HTTP 500" in r["stdout"] for r in failed)
    # the AWX credentials task ran, with the secrets, and failed only on the controller nobody listens on
    awx_runs = [r for r in runs["runs"] if r["name"].startswith("awx_configure")]
    assert len(awx_runs) == 2
    for run in awx_runs:
        failures = [e for e in run["events"] if e["event"] == "runner_on_failed"]
        assert [e["event_data"]["task"] for e in failures] == [AWX_CREDENTIALS_TASK], run["stdout"][-3000:]
    assert sorted(r["id"] for r in runs["generated"]) == ["E2101", "E2102", "E3101"]
    mutation_runs = [r for r in runs["runs"] if r["name"].startswith("user_mutations")]
    assert all(any(e["event"] == "runner_on_ok" and e["event_data"].get("task", "").startswith("Apply")
                   for e in r["events"]) for r in mutation_runs)
    # the credential stores hold them (the search finds what is there) and are owner-only
    held = set()
    for store, (mode, blob) in runs["stores"].items():
        assert mode & 0o077 == 0, "%s is readable by others (%o)" % (store, mode & 0o777)
        held.update(hits(blob, runs["secrets"]))
    assert held >= set(n for n in runs["secrets"] if n.startswith(("SIP password", "generated SIP password")))
    assert held >= set(["snmp community", "gateway api password"] + ["HA1 of %s" % u for u in SUBSCRIBERS])
    # the gateway releases ran with the planted REST password (the simulators refuse any other): each upgraded both
    # lab gateways, and their records and pages are among the files searched
    for verbosity, (release_id, version) in sorted(GATEWAY_RELEASES.items()):
        release = next(r for r in runs["runs"] if r["name"] == "release_rollout -v%d" % verbosity)
        upgrade = [e["event_data"]["res"] for e in release["events"] if e["event"] == "runner_on_ok"
                   and e["event_data"].get("task", "").startswith("Upgrade the gateways")]
        assert len(upgrade) == 1 and upgrade[0]["changed"], release["stdout"][-3000:]
        assert [(g["status"], g["after"]) for g in upgrade[0]["gateways"]] == [("upgraded", version)] * 2
        with open(os.path.join(runs["base"], "releases", release_id + ".json")) as handle:
            record = json.load(handle)
        assert record["status"] == "done"
        assert os.path.exists(os.path.join(runs["base"], "releases", release_id + ".md"))


def test_no_secret_in_job_events_or_stdout(runs):
    found = []
    for run in runs["runs"]:
        for event in run["events"]:
            for name in hits(json.dumps(event).encode("utf-8"), runs["secrets"]):
                found.append((run["name"], "event %s (%s)" % (event.get("counter"), event["event_data"].get("task")),
                              name))
        for name in hits(run["stdout"].encode("utf-8"), runs["secrets"]):
            found.append((run["name"], "stdout", name))
    assert found == []


def test_no_secret_in_any_written_file(runs):
    """Reports, summaries, audit logs, lab logs and configs, the runner's artifacts, leftover temporary files."""
    found, searched = [], 0
    excluded = set(runs["excluded"])
    for base, dirs, files in os.walk(runs["base"]):
        dirs[:] = [d for d in dirs if os.path.join(base, d) not in excluded]
        for name in files:
            path = os.path.join(base, name)
            if path in excluded or os.path.islink(path):
                continue
            with open(path, "rb") as handle:
                blob = handle.read()
            searched += 1
            found.extend((os.path.relpath(path, runs["base"]), n) for n in hits(blob, runs["secrets"]))
    assert searched > 50                 # reports, summary, audit log, logs, job events of every run
    assert found == []
