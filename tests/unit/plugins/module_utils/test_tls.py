"""tls: certificate facts from real openssl certificates, served by a real TLS server on loopback."""
import datetime
import socket
import ssl
import subprocess
import threading

import pytest

from ansible_collections.voipops.voip.plugins.module_utils import tls


def make_cert(tmp_path, days, cn="sbc1.voip.test", san="DNS:sbc1.voip.test,IP:127.0.0.1"):
    key, crt = tmp_path / ("%s-%d.key" % (cn, days)), tmp_path / ("%s-%d.crt" % (cn, days))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", str(days),
                    "-subj", "/CN=%s" % cn, "-addext", "subjectAltName=%s" % san, "-keyout", str(key), "-out", str(crt)],
                   check=True, capture_output=True)
    return str(key), str(crt)


class TlsServer(object):
    """A real TLS server on a free loopback port, accepting handshakes until stopped."""

    def __init__(self, key, crt):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(crt, key)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(50)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stop.is_set():
            try:
                conn, _addr = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            try:
                conn.settimeout(2)
                with self.ctx.wrap_socket(conn, server_side=True) as tconn:
                    try:
                        tconn.recv(1)
                    except (OSError, ssl.SSLError):
                        pass
            except (OSError, ssl.SSLError):
                pass

    def close(self):
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def server_factory(tmp_path):
    servers = []

    def make(days, **kw):
        key, crt = make_cert(tmp_path, days, **kw)
        srv = TlsServer(key, crt)
        servers.append(srv)
        return srv, crt
    yield make
    for srv in servers:
        srv.close()


@pytest.mark.parametrize("text,expected", [
    ("prov.example.org", ("prov.example.org", 443)),
    ("prov.example.org:8443", ("prov.example.org", 8443)),
    ("https://prov.example.org:9443/cfg/", ("prov.example.org", 9443)),
    ("sips:sbc1.example.org:5061;transport=tls", ("sbc1.example.org", 5061)),
    ("[::1]:5061", ("::1", 5061)),
])
def test_parse_target_forms(text, expected):
    t = tls.parse_target(text)
    assert (t["host"], t["port"]) == expected
    assert t["name"] == "%s:%d" % expected


def test_parse_target_dict_keeps_the_component_name():
    t = tls.parse_target({"name": "sbc1", "host": "127.0.0.1", "port": 5061, "server_name": "sbc1.voip.test"})
    assert t == {"name": "sbc1", "host": "127.0.0.1", "port": 5061, "server_name": "sbc1.voip.test"}
    with pytest.raises(ValueError):
        tls.parse_target({"port": 5061})


def test_reads_certificate_facts_and_days_left(server_factory):
    srv, crt = server_factory(5)
    res = tls.read_many([{"name": "sbc1", "host": "127.0.0.1", "port": srv.port}], timeout=5)[0]
    assert res["ok"] is True and res["error"] is None
    assert res["name"] == "sbc1"
    assert res["subject"] == "CN=sbc1.voip.test" and res["self_signed"] is True
    assert res["days_left"] in (4, 5)
    assert res["expired"] is False
    assert set(res["san"]) == {"sbc1.voip.test", "127.0.0.1"}
    not_after = datetime.datetime.strptime(res["not_after"], "%Y-%m-%dT%H:%M:%SZ")
    assert abs((not_after - datetime.datetime.utcnow()).total_seconds() - 5 * 86400) < 3600
    with open(crt) as handle:
        der = ssl.PEM_cert_to_DER_cert(handle.read())
    assert res["sha256_fingerprint"] == __import__("hashlib").sha256(der).hexdigest()


def test_many_endpoints_at_once_in_order_with_exact_failures(server_factory):
    long_srv, _crt = server_factory(400)
    short_srv, _crt = server_factory(3)
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_port = dead.getsockname()[1]
    dead.close()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(5)  # accepts TCP, never speaks TLS
    try:
        ports = (long_srv.port, dead_port, short_srv.port, silent.getsockname()[1])
        targets = [tls.parse_target("127.0.0.1:%d" % p) for p in ports]
        results = tls.read_many(targets, timeout=1.0, concurrency=2)
    finally:
        silent.close()
    assert [r["port"] for r in results] == [t["port"] for t in targets]
    assert results[0]["ok"] and results[0]["days_left"] >= 398
    assert results[1]["ok"] is False and results[1]["error"].startswith("refused")
    assert results[2]["ok"] and results[2]["days_left"] <= 3
    assert results[3]["ok"] is False and results[3]["error"].startswith("timeout")
    summary = tls.summarize(results, warn_days=30)
    assert summary == {"total": 4, "ok": 2, "failed": 2, "expired": 0, "expiring": 1,
                       "min_days_left": results[2]["days_left"]}


def test_verification_against_a_ca_bundle(server_factory):
    srv, crt = server_factory(30)
    ok = tls.read_many([{"host": "127.0.0.1", "port": srv.port, "server_name": "sbc1.voip.test"}], ca_path=crt)[0]
    assert ok["verified"] is True and ok["verify_error"] is None
    wrong_name = tls.read_many([{"host": "127.0.0.1", "port": srv.port, "server_name": "other.voip.test"}],
                               ca_path=crt)[0]
    assert wrong_name["ok"] is True and wrong_name["verified"] is False
    assert "mismatch" in wrong_name["verify_error"].lower() or "hostname" in wrong_name["verify_error"].lower()


def test_expired_certificate_is_read_and_flagged(tmp_path):
    der_path = tmp_path / "old.der"
    _key, crt = make_cert(tmp_path, 1, cn="old.voip.test", san="DNS:old.voip.test")
    subprocess.run(["openssl", "x509", "-in", crt, "-outform", "DER", "-out", str(der_path)], check=True)
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=3)
    facts = tls.describe_certificate(der_path.read_bytes(), now=later)
    assert facts["expired"] is True and facts["days_left"] < 0
    assert facts["subject"] == "CN=old.voip.test" and facts["san"] == ["old.voip.test"]
