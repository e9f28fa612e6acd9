# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""voipops.voip.registrations against the real lab Kamailio (phones registered by sipp with digest auth)."""
import json
import os
import shutil
import socket
import subprocess
import sys

import pytest

from ansible_collections.voipops.voip.plugins.module_utils import findings as F
from ansible_collections.voipops.voip.plugins.module_utils.callservers.kamailio import KamailioRPC
from ansible_collections.voipops.voip.plugins.module_utils.estate import load_estate

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # also under --import-mode=importlib
from test_inventory_estate import plain  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCENARIO = os.path.join(ROOT, "roles", "lab", "files", "register.xml")


def free_udp_port():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


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
def test_registered_phones_become_hosts(lab, tmp_path):
    if not shutil.which("sipp"):
        pytest.skip("sipp (sip-tester) is not installed")
    rpc = KamailioRPC(lab["callserver"]["rpc_url"])
    users = lab["subscribers"][:2]
    aors = ["%s@%s" % (u["username"], u["domain"]) for u in users] + [u["username"] for u in users]
    try:
        register(lab, users, tmp_path)
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
        names = [u["username"] for u in users]
        mine = dict((h, v) for h, v in hv.items() if v["voipops_user"] in names)
        assert sorted(mine) == ["hs-1001", "hs-1002"]  # matched to the estate's handsets by extension
        assert mine["hs-1001"]["voipops_vendor"] == "yealink" and mine["hs-1001"]["voipops_firmware"] == "96.86.0.100"
        assert mine["hs-1001"]["ansible_host"] == "127.0.0.1" and mine["hs-1001"]["voipops_expires"] > 0
        assert "hs-1001" in data["firmware_96_86_0_100"]["hosts"] and "hs-1001" in data["registered"]["hosts"]
        # the audit's registration check on the same live ul.dump: 1001 is fine, 1002 is a Yealink where the estate
        # has a Poly (the lab's register scenario always says Yealink)
        estate = load_estate(os.path.join(ROOT, "inventories", "lab", "estate.yml"))
        res = F.from_registrations(rpc.registrations(), estate, callserver="cs1")
        kinds = set((f["component"], f["kind"]) for f in res["findings"])
        assert not [k for k in kinds if k[0] == "hs-1001"]
        assert [k for k in kinds if k[0] == "hs-1002"] == [("hs-1002", "device_mismatch")]
    finally:
        for aor in aors:
            try:
                rpc.unregister(aor)
            except Exception:
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
