# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure parts of the gateway firmware rollout: the AudioCodes status record, the health rule, the dispatcher URI."""
from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.voipops.voip.plugins.module_utils.gateways import audiocodes_rest, base
from ansible_collections.voipops.voip.plugins.module_utils.release.gateway import healthy_on

# the example of AudioCodes' REST API 7.40 "Status" page
STATUS = {"localTimeStamp": "2010-01-17T17:29:15.000Z", "ipAddress": "10.4.219.229", "productType": "Mediant SW",
          "versionID": "7.20A.200.014", "protocolType": "SIP", "operationalState": "UNLOCKED",
          "highAvailability": "Not Operational", "systemUpTime": 161446, "saveNeeded": "false",
          "resetNeeded": "true", "upgradeStatus": "None"}


def test_firmware_view_of_the_documented_status():
    view = audiocodes_rest.firmware_view(STATUS)
    assert view == {"version": "7.20A.200.014", "operational_state": "UNLOCKED", "upgrade_status": "None",
                    "uptime": 161446, "reset_needed": True}


@pytest.mark.parametrize("change, healthy", [
    ({}, True),
    ({"versionID": "7.20A.100.001"}, False),
    ({"operationalState": "LOCKED"}, False),
    ({"upgradeStatus": "In Progress"}, False),
])
def test_healthy_on_the_target_version(change, healthy):
    view = audiocodes_rest.firmware_view(dict(STATUS, **change))
    assert healthy_on(view, "7.20A.200.014") is healthy


def test_dispatcher_uri_of_a_gateway():
    assert base.dispatcher_uri({"name": "g", "sip_uri": "sip:10.0.0.1:5060"}) == "sip:10.0.0.1:5060"
    assert base.dispatcher_uri({"name": "g", "sip_uri": "sip:a", "dispatcher_uri": "sip:b"}) == "sip:b"
    assert base.dispatcher_uri({"name": "g", "host": "10.0.0.2"}) == "sip:10.0.0.2:5060"
    with pytest.raises(base.GatewayError) as err:
        base.dispatcher_uri({"name": "g1"})
    assert "g1" in str(err.value)


def test_families_without_a_management_api_refuse_firmware():
    generic = base.get_family("generic")
    with pytest.raises(base.GatewayError):
        generic.firmware_status({"name": "g"})
    assert base.get_family("audiocodes_rest").busy(audiocodes_rest.ApiError("x", 409))
    assert base.get_family("audiocodes_rest").bad_load(audiocodes_rest.ApiError("x", 400))
    assert not base.get_family("audiocodes_rest").busy(audiocodes_rest.ApiError("x", 400))


def test_api_url_gets_the_documented_prefix():
    assert audiocodes_rest.AudioCodesREST("https://10.0.0.5").base == "https://10.0.0.5/api/v1"
    assert audiocodes_rest.AudioCodesREST("https://10.0.0.5/api/v1/").base == "https://10.0.0.5/api/v1"


@pytest.mark.parametrize("text, found", [
    ("Mediant 1000, SW Version: 7.40A.250.001", True),
    ("Mediant 1000, SW Version: 7.40A.250.001.", True),
    ("Mediant 1000, SW Version: 7.40A.250.0012", False),
    ("Mediant 1000, SW Version: 17.40A.250.001", False),
    ("Mediant 1000, SW Version: 7.40A.100.001", False),
    (None, False),
])
def test_version_in_sys_descr(text, found):
    from ansible_collections.voipops.voip.plugins.module_utils.release.gateway import version_in
    assert version_in(text, "7.40A.250.001") is found


def test_sysdescr_gate_runs_before_the_return_to_service():
    """A gateway whose sysDescr keeps the old version is never returned to service: it stays drained."""
    from ansible_collections.voipops.voip.plugins.module_utils.release import gateway as rollout

    calls = []

    class Family(object):
        version = "7.40A.100.001"

        def firmware_status(self, gw, **conn):
            return {"version": self.version, "operational_state": "UNLOCKED", "upgrade_status": "None",
                    "uptime": 100 if self.version.endswith("100.001") else 1}

        def drain(self, gw, cs):
            calls.append("drain")

        def return_to_service(self, gw, cs):
            calls.append("return")

        def upload_firmware(self, gw, image, **conn):
            calls.append("upload")
            self.version = "7.40A.250.001"

    clock = [0.0]

    def sleep(seconds):
        clock[0] += max(seconds, 0.5)

    run = rollout.Rollout(Family(), None, "img", "7.40A.250.001", drain_timeout=0, gate_timeout=2, poll=0.5,
                          sys_descr=lambda target: ("Mediant, SW Version: 7.40A.100.001", None),
                          sleep=sleep, clock=lambda: clock[0])
    gw = {"name": "mgw1", "api_url": "http://127.0.0.1:1/api/v1", "sip_uri": "sip:127.0.0.1:5060",
          "snmp": {"port": 16100, "community": "secret-community"}}
    with pytest.raises(rollout.RolloutFailed) as err:
        run.run([gw])
    assert calls == ["drain", "upload"]
    res = err.value.result
    assert res["failed_gateway"] == "mgw1" and res["gateways"][0]["drained"]
    assert res["gateways"][0]["gate"]["snmp"]["passed"] is False
    assert "SNMP sysDescr of mgw1 does not show 7.40A.250.001" in str(err.value)
