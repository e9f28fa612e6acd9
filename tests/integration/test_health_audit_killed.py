"""The audit that matters most, on a lab of its own: Kamailio killed like a crash (SIGKILL of its process group).

The shared test lab keeps usrloc in write-back mode (db_mode 2): a Kamailio killed there comes back with the
registrations of its last write-back, which would leak into the tests after it (docs/lab.md).  This test therefore
brings up a private lab (no phones: the case is about the callserver, not its handsets), kills its Kamailio, runs the
health audit playbook as a user does, and takes the lab down again.  The reports and the webhook still go out with a P1
for the callserver's supplier, the play then fails on P1, and no secret reaches the job output or any written file.
"""
import json
import os
import signal

import pytest

from conftest import LAB_DIR, ROOT, _is_zombie, wait_for
from test_health_audit import NOW, THRESHOLDS, Receiver

pytestmark = [pytest.mark.lab, pytest.mark.slow]

OWN_LAB = LAB_DIR + "-killed"


def _endpoints():
    with open(os.path.join(OWN_LAB, "endpoints.json")) as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def own_lab(ansible):
    env = {"VOIPOPS_LAB_DIR": OWN_LAB}
    rc, out, _recap = ansible.playbook("playbooks/lab_up.yml", extra_vars={"lab_phones": False}, env=env)
    assert rc == 0, out[-4000:]
    try:
        yield _endpoints()
    finally:
        ansible.playbook("playbooks/lab_down.yml", env=env)


def test_the_audit_reports_when_the_callserver_was_killed(own_lab, ansible, tmp_path):
    inventory = tmp_path / "estate.inventory.yml"
    inventory.write_text("plugin: voipops.voip.estate\nestate_file: %s\nendpoints_file: %s\nhandsets: none\n" % (
        os.path.join(ROOT, "inventories", "lab", "estate.yml"), os.path.join(OWN_LAB, "endpoints.json")))
    dest = tmp_path / "reports"
    communities = sorted(set([g["snmp"]["community"] for g in own_lab["gateways"]]
                             + [own_lab["callserver"]["snmp"]["community"]]))
    pid = own_lab["pids"]["kamailio"]
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not os.path.exists("/proc/%d" % pid) or _is_zombie(pid), 10, what="kamailio to die")

    receiver = Receiver()
    token = "Bearer k1lled-t0ken-never-logged"
    try:
        rc, out, _recap = ansible.playbook(
            "playbooks/health_audit.yml",
            extra_vars={"health_audit_dest": str(dest), "health_audit_now": NOW, "health_audit_thresholds": THRESHOLDS,
                        "health_audit_fail_on_priority": "P1", "health_audit_check_timeout": 30,
                        "health_audit_rpc_timeout": 3.0,
                        "health_audit_webhook_url": receiver.url + "/K1SECRET/path",
                        "health_audit_webhook_headers": {"Authorization": token}},
            inventory=[str(inventory), os.path.join(ROOT, "inventories/lab/hosts.yml")],
            env={"VOIPOPS_LAB_DIR": OWN_LAB})
    finally:
        receiver.close()

    # the play fails on P1 ... after reporting
    assert rc != 0 and "at or above P1" in out, out[-3000:]
    for name in ("health_audit.json", "health_audit.html", "health_audit.junit.xml"):
        assert (dest / name).exists(), name
    report = json.loads((dest / "health_audit.json").read_text())
    cs1 = [f for f in report["findings"] if f["component"] == "cs1" and f["priority"] == "P1"]
    assert cs1 and cs1[0]["supplier"] == "acme", [(f["component"], f["kind"], f["priority"]) for f in report["findings"]]
    assert cs1[0]["id"] in report["tickets"]
    # the checks that depend on the callserver are symptoms of it, not tickets of their own
    assert not [f for f in report["findings"] if f["kind"] == "check_failed" and f["id"] in report["tickets"]]
    (post,) = receiver.posts
    assert "cs1" in [t["component"] for t in post["body"]["tickets"]]
    assert post["headers"]["Authorization"] == token
    everything = out + "".join(path.read_bytes().decode("utf-8", "replace") for path in dest.iterdir() if path.is_file())
    for secret in ["K1SECRET", "k1lled-t0ken"] + communities:
        assert secret not in everything, secret
