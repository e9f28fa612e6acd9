# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""AudioCodes Mediant gateways/SBCs through their REST API (family ``audiocodes_rest``).

What this file relies on is AudioCodes' own document, "REST API for Mediant Devices", version 7.40
(https://techdocs.audiocodes.com/session-border-controller-sbc/rest-api/version-740/):

- ``GET /api/v1/status`` ("Status"): ``versionID`` (software version), ``operationalState`` (``"UNLOCKED"`` /
  ``"LOCKED"``), ``highAvailability``, ``saveNeeded``, ``resetNeeded``, ``systemUpTime`` (seconds since the last
  reset) and ``upgradeStatus`` (``"None"``, ``"In Progress"``, ``"Hitless-..."``);
- ``PUT /api/v1/files/software`` ("Software Load"): multipart/form-data, the ``.cmp`` in the part named ``file``;
  200 ``{"description": "Device will reset now to activate new software load"}``, 400 when the load is incorrect,
  409 when the device state forbids it now (e.g. HA synchronization in progress); the upload triggers the reset;
- ``POST /api/v1/actions/reset`` ("Reset Device"): ``{"saveConfiguration": true, "gracefulTimeout": 0 | 1 | <sec>}``
  - 0 resets now, 1 waits for all calls to finish, N waits at most N seconds for them; 200, 400, 409;
- every request authenticates with HTTP Basic authentication.

The API has no active-call counter, so the family waits for a drained gateway's calls the way the document offers:
a graceful reset (``gracefulTimeout``) before the upload.  Everything else about a gateway (SNMP, SIP OPTIONS, the
callserver's dispatcher) is the generic family's: this class extends it with the firmware operations.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import traceback

from ansible_collections.voipops.voip.plugins.module_utils.gateways import base
from ansible_collections.voipops.voip.plugins.module_utils.gateways.generic import GenericGateways
from ansible_collections.voipops.voip.plugins.module_utils.fileio import mask_url

try:
    import requests

    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - exercised by ansible-test's import sanity
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

DOC = "AudioCodes REST API for Mediant Devices 7.40"


class ApiError(base.GatewayError):
    """A REST call failed; ``status`` is the HTTP status (None when the device did not answer)."""

    def __init__(self, message, status=None, description=None):
        super(ApiError, self).__init__(message)
        self.status = status
        self.description = description


class Unreachable(ApiError):
    """The device does not answer (resetting, or down)."""


class AudioCodesREST(object):
    """A small client of the documented endpoints of one device."""

    def __init__(self, api_url, username=None, password=None, timeout=10.0, validate_certs=True, session=None):
        if not HAS_REQUESTS:
            raise base.GatewayError("the Python library 'requests' is required for AudioCodes REST")
        self.base = api_url.rstrip("/")
        if not self.base.endswith("/api/v1"):
            self.base += "/api/v1"
        self.auth = (username, password) if username else None
        self.timeout = timeout
        self.verify = validate_certs
        self.session = session or requests.Session()

    def _call(self, method, path, **kwargs):
        url = self.base + path
        where = "%s %s at %s" % (method, path, mask_url(self.base.rsplit("/api/v1", 1)[0]))
        try:
            resp = self.session.request(method, url, auth=self.auth, timeout=kwargs.pop("timeout", self.timeout),
                                        verify=self.verify, **kwargs)
        except requests.exceptions.RequestException as exc:
            raise Unreachable("%s: no answer (%s)" % (where, exc.__class__.__name__))
        try:
            body = resp.json()
        except ValueError:
            body = {}
        description = body.get("description") if isinstance(body, dict) else None
        if resp.status_code == 401:
            raise ApiError("%s: 401 - the username or password is refused" % where, 401)
        if resp.status_code >= 400:
            raise ApiError("%s: %d %s" % (where, resp.status_code, description or resp.reason),
                           resp.status_code, description)
        return body

    def status(self):
        """``GET /status`` (the device's status record)."""
        return self._call("GET", "/status")

    def upload_software(self, path):
        """``PUT /files/software`` with the .cmp as multipart part ``file``; the device resets on 200."""
        with open(path, "rb") as handle:
            return self._call("PUT", "/files/software", timeout=max(self.timeout, 120.0),
                              files={"file": (os.path.basename(path), handle, "application/octet-stream")})

    def reset(self, graceful_timeout=0, save_configuration=True):
        """``POST /actions/reset``: 0 = now, 1 = when all calls have ended, N = after at most N seconds."""
        return self._call("POST", "/actions/reset", data=json.dumps(
            {"saveConfiguration": bool(save_configuration), "gracefulTimeout": int(graceful_timeout)}),
            headers={"Content-Type": "application/json"})


def firmware_view(status):
    """The firmware facts of a ``/status`` record (pure)."""
    status = status or {}
    return {"version": status.get("versionID"), "operational_state": status.get("operationalState"),
            "upgrade_status": status.get("upgradeStatus"), "uptime": status.get("systemUpTime"),
            "reset_needed": str(status.get("resetNeeded")).lower() == "true"}


@base.register
class AudioCodesRestGateways(GenericGateways):
    """Generic evidence (SNMP, OPTIONS, dispatcher) + firmware through the AudioCodes REST API."""

    family = "audiocodes_rest"

    def client(self, gateway, username=None, password=None, timeout=10.0, validate_certs=True):
        url = gateway.get("api_url")
        if not url:
            raise base.GatewayError("gateway %s has no api_url (its REST API, e.g. https://10.0.0.5/api/v1)"
                                    % gateway.get("name"))
        return AudioCodesREST(url, username, password, timeout=timeout, validate_certs=validate_certs)

    def firmware_status(self, gateway, **conn):
        return firmware_view(self.client(gateway, **conn).status())

    def upload_firmware(self, gateway, image, **conn):
        return self.client(gateway, **conn).upload_software(image)

    def reset(self, gateway, graceful_timeout=0, **conn):
        return self.client(gateway, **conn).reset(graceful_timeout)

    def busy(self, error):
        """A refusal that a later retry can clear (409: e.g. HA synchronization in progress)."""
        return isinstance(error, ApiError) and error.status == 409

    def bad_load(self, error):
        return isinstance(error, ApiError) and error.status == 400
