"""tls_info against the lab's real nginx (HTTPS provisioning), including a certificate about to expire."""
import os

import pytest

from conftest import read_endpoints

pytestmark = pytest.mark.lab


def test_tls_info_reads_the_provisioning_servers_certificate(lab, ansible):
    prov = lab["provisioning"]
    res = ansible.module("tls_info", {"targets": [{"name": "prov", "host": "127.0.0.1", "port": prov["https_port"]},
                                                  prov["https_url"] + "firmware/"]})
    assert res["_rc"] == 0, res
    first, second = res["results"]
    assert first["name"] == "prov" and first["ok"] is True
    assert first["subject"] == "CN=prov.%s" % lab["domain"]
    assert first["days_left"] >= 300
    assert second["port"] == prov["https_port"] and second["sha256_fingerprint"] == first["sha256_fingerprint"]
    assert res["summary"]["expiring"] == 0


def test_a_renewed_short_lived_certificate_is_seen_as_expiring(lab, ansible):
    cert = read_endpoints()["provisioning"]["certificate"]
    os.unlink(cert)
    try:
        rc, out, _recap = ansible.playbook("playbooks/lab_up.yml", extra_vars={"lab_tls_days": 5})
        assert rc == 0, out[-3000:]
        res = ansible.module("tls_info", {"targets": ["127.0.0.1:%d" % lab["provisioning"]["https_port"]], "warn_days": 30})
        assert res["results"][0]["days_left"] <= 5
        assert res["summary"]["expiring"] == 1
    finally:
        os.unlink(cert)
        rc, out, _recap = ansible.playbook("playbooks/lab_up.yml")
        assert rc == 0, out[-3000:]
    res = ansible.module("tls_info", {"targets": ["127.0.0.1:%d" % lab["provisioning"]["https_port"]]})
    assert res["results"][0]["days_left"] >= 300
