# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read the certificates of many TLS endpoints at once (SIP-TLS, HTTPS provisioning, management UIs).

One asyncio loop, bounded concurrency, one TLS handshake per endpoint.  The handshake does not verify the
chain, so that an expired or self-signed certificate is still read and reported (that is the point of an
expiry audit); whether the chain verifies against the system store (or ``ca_path``) is reported separately
in ``verified``/``verify_error`` from the same connection's certificate.

Result per target (the ``certificates`` input of ``audit_report``):
``{name, host, port, server_name, ok, error, not_before, not_after, days_left, subject, issuer, san,
self_signed, serial, sha256_fingerprint, verified, verify_error}``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import asyncio
import datetime
import hashlib
import socket
import ssl
import traceback

try:
    from cryptography import x509
    from cryptography.x509.oid import NameOID, ExtensionOID

    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - cryptography comes with ansible-core
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()


def parse_target(target, default_port=443):
    """``"host:port"``, ``"host"`` or a dict ``{host, port, name, server_name}`` -> normalised dict."""
    if isinstance(target, dict):
        host = target.get("host") or target.get("address")
        if not host:
            raise ValueError("target %r has no host" % (target,))
        port = int(target.get("port") or default_port)
        name = target.get("name") or "%s:%d" % (host, port)
        return {"name": name, "host": host, "port": port, "server_name": target.get("server_name") or host}
    text = str(target).strip()
    for prefix in ("https://", "sips:", "tls://"):
        if text.startswith(prefix):
            text = text[len(prefix):]
    text = text.split("/", 1)[0].split(";", 1)[0]
    if "@" in text:
        text = text.split("@", 1)[1]
    if text.startswith("["):
        host, _sep, rest = text[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else default_port
    elif text.count(":") == 1:
        host, port_text = text.split(":")
        port = int(port_text)
    else:
        host, port = text, default_port
    if not host:
        raise ValueError("target %r has no host" % (target,))
    return {"name": "%s:%d" % (host, port), "host": host, "port": port, "server_name": host}


def _name_text(name):
    try:
        cns = name.get_attributes_for_oid(NameOID.COMMON_NAME)
        if cns:
            return "CN=%s" % cns[0].value
    except Exception:  # pylint: disable=broad-exception-caught
        pass
    return name.rfc4514_string()


def describe_certificate(der, now=None):
    """DER bytes -> facts (pure; used by tests with certificates made by openssl)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    cert = x509.load_der_x509_certificate(der)
    not_after = getattr(cert, "not_valid_after_utc", None) or cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    not_before = getattr(cert, "not_valid_before_utc", None) or cert.not_valid_before.replace(tzinfo=datetime.timezone.utc)
    san = []
    try:
        ext = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
        san = [str(v) for v in ext.get_values_for_type(x509.DNSName)]
        san += [str(v) for v in ext.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        pass
    seconds_left = (not_after - now).total_seconds()
    return {
        "subject": _name_text(cert.subject),
        "issuer": _name_text(cert.issuer),
        "self_signed": cert.subject == cert.issuer,
        "serial": format(cert.serial_number, "x"),
        "not_before": not_before.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "not_after": not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "days_left": int(seconds_left // 86400),
        "expired": seconds_left < 0,
        "san": san,
        "sha256_fingerprint": hashlib.sha256(der).hexdigest(),
    }


async def _read_one(target, timeout, ca_path):
    res = dict(target)
    res.update({"ok": False, "error": None})
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    writer = None
    try:
        _reader, writer = await asyncio.wait_for(
            asyncio.open_connection(target["host"], target["port"], ssl=ctx, server_hostname=target["server_name"]),
            timeout)
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        if not der:
            res["error"] = "the server sent no certificate"
            return res
        res.update(describe_certificate(der))
        res["ok"] = True
        if ca_path:
            verify_ctx = ssl.create_default_context(cafile=ca_path)
            verify_ctx.check_hostname = True
            try:
                _r2, w2 = await asyncio.wait_for(asyncio.open_connection(
                    target["host"], target["port"], ssl=verify_ctx, server_hostname=target["server_name"]), timeout)
                w2.close()
                res["verified"], res["verify_error"] = True, None
            except ssl.SSLCertVerificationError as exc:
                res["verified"], res["verify_error"] = False, exc.verify_message or str(exc)
    except asyncio.TimeoutError:
        res["error"] = "timeout: no TLS handshake within %.1f s" % timeout
    except ConnectionRefusedError:
        res["error"] = "refused: nothing listens on %s:%d" % (target["host"], target["port"])
    except ssl.SSLError as exc:
        res["error"] = "tls_error: %s" % (exc.reason or exc)
    except socket.gaierror as exc:
        res["error"] = "dns_error: %s" % exc
    except OSError as exc:
        res["error"] = "error: %s" % (exc.strerror or exc)
    finally:
        if writer is not None:
            writer.close()
    return res


async def read_many_async(targets, timeout=5.0, concurrency=100, ca_path=None):
    sem = asyncio.Semaphore(max(1, int(concurrency)))

    async def guarded(t):
        async with sem:
            return await _read_one(t, timeout, ca_path)

    return await asyncio.gather(*(guarded(parse_target(t)) for t in targets))


def read_many(targets, timeout=5.0, concurrency=100, ca_path=None):
    """Read every target's certificate (strings or dicts, see parse_target); results in input order."""
    return asyncio.run(read_many_async(targets, timeout, concurrency, ca_path))


def summarize(results, warn_days=30):
    return {
        "total": len(results),
        "ok": sum(1 for r in results if r["ok"]),
        "failed": sum(1 for r in results if not r["ok"]),
        "expired": sum(1 for r in results if r.get("expired")),
        "expiring": sum(1 for r in results if r["ok"] and not r.get("expired") and r["days_left"] <= warn_days),
        "min_days_left": min([r["days_left"] for r in results if r["ok"]] or [None], key=lambda v: (v is None, v)),
    }
