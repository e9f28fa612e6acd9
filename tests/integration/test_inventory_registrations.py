# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""voipops.voip.registrations against the real lab Kamailio (phones registered by sipp with digest auth)."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from ansible_collections.voipops.voip.plugins.module_utils.audit import checks as C
from ansible_collections.voipops.voip.roles.lab.files.phonesim import sim as phonesim
from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio import KamailioRPC
from ansible_collections.voipops.voip.plugins.module_utils.estate import load_estate

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # also under --import-mode=importlib
from test_inventory_estate import plain  # noqa: E402
from conftest import free_udp_port  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCENARIO = os.path.join(ROOT, "roles", "lab", "files", "register.xml")


def register(lab, users, tmp_path):
    csv = tmp_path / "users.csv"
    row = "%(username)s;%(domain)s;[authentication username=%(username)s password=%(password)s]"
    lines = ["SEQUENTIAL"] + [row % u for u in users]
    csv.write_text("\n".join(lines) + "\n")
    cmd = [shutil.which("sipp"), "-sf", SCENARIO, "-inf", str(csv), "-i", "127.0.0.1", "-p", str(free_udp_port()),
           "-m", str(len(users)), "-r", "10", "-timeout", "20s", "-timeout_error", "-nostdin", "-trace_err",
           "-error_file", str(tmp_path / "sipp.err"), "%s:%d" % (lab["callserver"]["host"], lab["callserver"]["sip_port"])]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=str(tmp_path), check=False)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]


@pytest.mark.lab
def test_registered_phones_become_hosts(lab, extra_subscriber, tmp_path):
    """The lab's simulated phones (one per estate handset) and a softphone nobody put in the estate."""
    if not shutil.which("sipp"):
        pytest.skip("sipp (sip-tester) is not installed")
    rpc = KamailioRPC(lab["callserver"]["rpc_url"])
    running = dict((p["name"], p) for p in phonesim.control(lab["phones"]["state_dir"], "status")["phones"])
    stray = extra_subscriber("1098")   # an account no estate handset uses
    try:
        register(lab, [stray], tmp_path)   # the lab's register scenario says "Yealink SIP-T54W 96.86.0.100"
        cfg = tmp_path / "lab.registrations.yml"
        cfg.write_text("plugin: voipops.voip.registrations\nendpoints_file: %s\nestate_file: %s\n"
                       "keyed_groups:\n  - key: voipops_firmware\n    prefix: firmware\n"
                       % (os.path.join(lab["state_dir"], "endpoints.json"), os.path.join(ROOT, "inventories", "lab", "estate.yml")))
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".state", "collections"),
                   ANSIBLE_INVENTORY_ENABLED="voipops.voip.registrations", ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED="1")
        out = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-inventory"), "-i", str(cfg), "--list"],
                             capture_output=True, text=True, env=env, timeout=120, check=False)
        assert out.returncode == 0, out.stderr
        data = plain(json.loads(out.stdout))
        hv = data["_meta"]["hostvars"]
        # every estate phone is a host under its estate name, with what its own User-Agent says
        for name in lab["phones"]["names"]:
            assert hv[name]["voipops_vendor"] == running[name]["vendor"], (name, hv[name])
            assert hv[name]["voipops_firmware"] == running[name]["firmware"]
            assert hv[name]["ansible_host"] == "127.0.0.1" and hv[name]["voipops_expires"] > 0
            assert name in data["registered"]["hosts"]
        fw = running["hs-1001"]["firmware"]
        assert "hs-1001" in data["firmware_" + fw.replace(".", "_")]["hosts"]
        # the softphone is a host too, in unknown_devices, named after its account
        assert data["unknown_devices"]["hosts"] == ["reg-1098"]
        assert hv["reg-1098"]["voipops_user"] == "1098" and hv["reg-1098"]["voipops_firmware"] == "96.86.0.100"
        # the audit's registration check on the same live ul.dump: every phone fine, one unknown device
        estate = load_estate(os.path.join(ROOT, "inventories", "lab", "estate.yml"))
        res = C.from_registrations(rpc.registrations(), estate, callserver="cs1")
        assert [(f["component"], f["kind"]) for f in res["findings"]] == [("cs1", "unknown_devices")]
        assert [d["aor"] for d in res["findings"][0]["details"]["devices"]] == ["1098"]
    finally:
        for aor in ("1098", "1098@%s" % lab["domain"]):
            try:
                rpc.unregister(aor)
            except Exception:  # pylint: disable=broad-exception-caught
                pass


@pytest.mark.lab
def test_unreachable_callserver_names_the_url(tmp_path):
    port = free_udp_port()
    cfg = tmp_path / "x.registrations.yml"
    cfg.write_text("plugin: voipops.voip.registrations\nrpc_url: http://127.0.0.1:%d/RPC\ntimeout: 2\n" % port)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".state", "collections"),
               ANSIBLE_INVENTORY_ENABLED="voipops.voip.registrations", ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED="1")
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-inventory"), "-i", str(cfg), "--list"],
                         capture_output=True, text=True, env=env, timeout=120, check=False)
    assert out.returncode != 0 and "http://127.0.0.1:%d/RPC" % port in out.stdout + out.stderr
