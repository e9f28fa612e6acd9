# -*- coding: utf-8 -*-
"""callserver_info against services that are not (quite) Kamailio: a clear error naming the URL, never a traceback."""
import http.server
import json
import threading

import pytest
from tests.support.modargs import patch_module_args

from ansible_collections.voipops.voip.plugins.modules import callserver_info


class ForeignRpc(object):
    """Another application's JSON-RPC 2.0 endpoint: it answers every method, with its own shapes."""

    def __init__(self, result):
        outer = self
        self.result = result

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802  pylint: disable=invalid-name
                req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                body = json.dumps({"jsonrpc": "2.0", "id": req.get("id"), "result": outer.result}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # pylint: disable=arguments-differ
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/RPC" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("result", [{"status": "ok", "items": [1, 2]}, [1, 2, 3], 42])
def test_a_foreign_json_rpc_service_is_named_as_such(capsys, result):
    svc = ForeignRpc(result)
    try:
        with patch_module_args({"rpc_url": svc.url, "gather": ["version", "uptime", "registrations", "gateways"]}):
            with pytest.raises(SystemExit):
                callserver_info.main()
    finally:
        svc.close()
    res = json.loads(capsys.readouterr().out)
    assert res["failed"] and "not like Kamailio" in res["msg"] and svc.url in res["msg"], res
    assert "Traceback" not in json.dumps(res)
