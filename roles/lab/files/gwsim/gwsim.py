# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Simulated media gateway management plane: the REST API of an AudioCodes Mediant device.

    python roles/lab/files/gwsim/gwsim.py --port P|0 [--port-file F] [--version 7.40A.100.001] [--password-file F]

Follows AudioCodes' "REST API for Mediant Devices" version 7.40
(https://techdocs.audiocodes.com/session-border-controller-sbc/rest-api/version-740/), the pages Status, Software
Load and Reset Device:

- ``GET /api/v1/status``: ``versionID``, ``operationalState`` (UNLOCKED), ``highAvailability`` ("Not Operational"),
  ``systemUpTime``, ``saveNeeded``, ``resetNeeded``, ``upgradeStatus`` ("None" / "In Progress"), ``productType``...
- ``PUT /api/v1/files/software`` (multipart/form-data, part ``file``): 200 ``{"description": "Device will reset now to
  activate new software load"}`` and a reset; 400 when the load is incorrect; 409 while the device is busy
  ("Device is currently performing HA synchronization");
- ``POST /api/v1/actions/reset`` ``{"saveConfiguration": bool, "gracefulTimeout": 0 | 1 | <sec>}``: 200
  ``{"description": "Device will reset now"}``; 0 resets now, 1 when all calls have ended, N after at most N seconds
  (or earlier when the calls end); 400 for bad attributes; 409 while busy;
- HTTP Basic authentication (401 otherwise).

A dual-partition device: the new load goes to the inactive partition; a load that does not boot leaves the device on
its previous load after the reset.  While it resets the device does not answer at all (connections are closed).

What a real .cmp is, is AudioCodes' secret; the simulator's loads are text files: ``AUDIOCODES-CMP <version>`` on the
first line is a good load; a file without it is refused (400); a second line ``NOBOOT`` is accepted but fails to boot.

Simulator control (not part of the vendor API; the tests and the lab use it), under ``/sim/``:
``GET /sim/state``; ``POST /sim/control`` ``{"active_calls": n, "busy": k, "reset_seconds": s}`` - the number of calls
in progress (a graceful reset waits for them), how many next upload/reset requests answer 409, how long a reset takes.
"""
import argparse
import base64
import email.parser
import email.policy
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAGIC = "AUDIOCODES-CMP"


class Device(object):
    def __init__(self, version, reset_seconds=0.5):
        self.lock = threading.Condition()
        self.version = version
        self.previous = None
        self.booted = time.time()
        self.resetting = False
        self.upgrade = "None"
        self.active_calls = 0
        self.busy = 0
        self.reset_seconds = reset_seconds
        self.resets = 0
        self.uploads = []
        self.pending_reset = None  # description of a graceful reset waiting for calls

    def status(self, host):
        with self.lock:
            return {
                "localTimeStamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "ipAddress": host, "subnetMask": "255.0.0.0", "defaultGateway": host,
                "productType": "Mediant 1000 (simulated)", "versionID": self.version, "protocolType": "SIP",
                "operationalState": "UNLOCKED", "highAvailability": "Not Operational",
                "serialNumber": "SIM%08d" % (os.getpid() % 100000000), "macAddress": "00908f000001",
                "systemUpTime": int(time.time() - self.booted), "saveNeeded": "false",
                "resetNeeded": "false", "upgradeStatus": self.upgrade,
            }

    def take_busy(self):
        with self.lock:
            if self.busy > 0:
                self.busy -= 1
                return True
            return False

    def _reset(self, new_version=None, boots=True):
        with self.lock:
            self.resetting = True
            self.active_calls = 0  # a reset drops whatever is left
            self.pending_reset = None
        time.sleep(self.reset_seconds)
        with self.lock:
            if new_version is not None and boots:
                self.previous, self.version = self.version, new_version
            self.upgrade = "None"
            self.booted = time.time()
            self.resets += 1
            self.resetting = False
            self.lock.notify_all()

    def reset_later(self, graceful, new_version=None, boots=True):
        def run():
            if graceful:
                deadline = None if graceful == 1 else time.time() + graceful
                with self.lock:
                    self.pending_reset = "waiting for %d call(s)" % self.active_calls
                    while self.active_calls > 0 and (deadline is None or time.time() < deadline):
                        self.lock.wait(0.05 if deadline is None else max(0.0, min(0.05, deadline - time.time())))
            self._reset(new_version, boots)
        thread = threading.Thread(target=run)
        thread.daemon = True
        thread.start()


class Handler(BaseHTTPRequestHandler):
    server_version = "AudioCodes-sim"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # noqa: D401 - quiet unless asked
        if self.server.verbose:
            sys.stderr.write("%s - %s\n" % (self.address_string(), fmt % args))

    @property
    def device(self):
        return self.server.device

    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def gate(self, control=False):
        """False (and the connection dropped or 401 sent) when the request must not be served."""
        if self.device.resetting and not control:
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return False
        if control or not self.server.credentials:
            return True
        want = "Basic " + base64.b64encode(("%s:%s" % self.server.credentials).encode()).decode()
        if self.headers.get("Authorization") != want:
            self.body()
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="Mediant"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return False
        return True

    def do_GET(self):  # noqa: N802 - http.server's naming
        if self.path.startswith("/sim/"):
            self.gate(control=True)
            with self.device.lock:
                state = {"version": self.device.version, "previous": self.device.previous,
                         "resetting": self.device.resetting, "active_calls": self.device.active_calls,
                         "busy": self.device.busy, "resets": self.device.resets, "uploads": list(self.device.uploads),
                         "pending_reset": self.device.pending_reset}
            return self.reply(200, state)
        if not self.gate():
            return None
        if self.path.rstrip("/") == "/api/v1/status":
            return self.reply(200, self.device.status(self.server.server_address[0]))
        return self.reply(404, {"description": "Not found"})

    def do_POST(self):  # noqa: N802
        if self.path == "/sim/control":
            self.gate(control=True)
            ctl = json.loads(self.body() or b"{}")
            with self.device.lock:
                for key in ("active_calls", "busy", "reset_seconds"):
                    if key in ctl:
                        setattr(self.device, key, ctl[key])
                self.device.lock.notify_all()
            return self.reply(200, {"ok": True})
        if not self.gate():
            return None
        if self.path.rstrip("/") != "/api/v1/actions/reset":
            self.body()
            return self.reply(404, {"description": "Not found"})
        try:
            req = json.loads(self.body() or b"{}")
        except ValueError:
            return self.reply(400, {"description": "Invalid JSON"})
        save = req.get("saveConfiguration", True)
        graceful = req.get("gracefulTimeout", 0)
        if not isinstance(save, bool) or not isinstance(graceful, int) or isinstance(graceful, bool) or graceful < 0:
            return self.reply(400, {"description": "Invalid attribute value"})
        if self.device.take_busy():
            return self.reply(409, {"description": "Device is currently performing HA synchronization"})
        self.device.reset_later(graceful)
        return self.reply(200, {"description": "Device will reset now"})

    def do_PUT(self):  # noqa: N802
        if not self.gate():
            return None
        raw = self.body()
        if self.path.rstrip("/") != "/api/v1/files/software":
            return self.reply(404, {"description": "Not found"})
        ctype = self.headers.get("Content-Type", "")
        if not ctype.startswith("multipart/form-data"):
            return self.reply(400, {"description": "multipart/form-data expected"})
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + raw)
        load = None
        for part in msg.iter_parts():
            if part.get_param("name", header="content-disposition") == "file":
                load = part.get_payload(decode=True) or b""
        if load is None:
            return self.reply(400, {"description": "No file part"})
        lines = load.decode("utf-8", "replace").splitlines()
        first = lines[0].split() if lines else []
        if len(first) != 2 or first[0] != MAGIC:
            return self.reply(400, {"description": "Provided software load is incorrect"})
        if self.device.take_busy():
            return self.reply(409, {"description": "Device is currently performing HA synchronization"})
        boots = "NOBOOT" not in lines[1:2]
        with self.device.lock:
            self.device.uploads.append(first[1])
            self.device.upgrade = "In Progress"
        self.device.reset_later(0, new_version=first[1], boots=boots)
        return self.reply(200, {"description": "Device will reset now to activate new software load"})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="0: a free port, written to --port-file")
    parser.add_argument("--port-file", help="where to write the port once listening")
    parser.add_argument("--version", default="7.40A.100.001")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password-file", help="file holding the password (none: no authentication)")
    parser.add_argument("--reset-seconds", type=float, default=0.5)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as handle:
            handle.write("%d\n" % server.server_address[1])
        os.replace(tmp, args.port_file)
    server.device = Device(args.version, args.reset_seconds)
    server.verbose = args.verbose
    server.credentials = None
    if args.password_file:
        with open(args.password_file) as handle:
            server.credentials = (args.user, handle.read().strip())
    try:
        server.serve_forever(0.1)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
