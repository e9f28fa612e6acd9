# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Application links of the estate (CTI, contact centre, voicemail, directory, paging, alarm, recording, carrier SBC):
their endpoints and the bulk probe that checks each by the endpoint's scheme.

- ``tcp://host:port``: a TCP connect;
- ``tls://host:port``: a TLS handshake and the certificate's expiry (:mod:`.tls`, the reader of ``tls_info``);
- ``http(s)://...``: the HTTP status (``expect.status``, default any 2xx/3xx) and a body match (``expect.body``, a
  regular expression searched in the body), with the ``requests`` library; ``https`` also reads the certificate;
- ``sip:``/``sips:``: SIP OPTIONS through the SIP engine's :func:`.sip.probe_many` (any response = up, unless
  ``expect.status`` lists the codes that count);
- ``ldap(s)://host:port``: a bind (``ldap.bind_dn`` with a password given by reference, or anonymous) and a search
  under ``ldap.search_base`` with ``ldap.filter`` returning at least ``ldap.min_entries`` entries, with ``ldap3``.

A password is never part of a target: the target names it (``{env: NAME}``, ``{file: PATH}`` or ``{var: NAME}``,
the latter looked up in the ``secrets`` the caller passes) and :func:`resolve_password` reads it at probe time.
Each result: ``{name, kind, endpoint, scheme, status (ok|down|error), ok, rtt_ms, error, details}``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import asyncio
import importlib.util
import io
import math
import os
import re
import socket
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

HAS_REQUESTS = importlib.util.find_spec("requests") is not None
REQUESTS_IMPORT_ERROR = None if HAS_REQUESTS else "No module named 'requests'"
# ldap3 is imported where an LDAP link is probed (the audit, which reads these endpoints, does not pay its import)
HAS_LDAP3 = importlib.util.find_spec("ldap3") is not None
LDAP3_IMPORT_ERROR = None if HAS_LDAP3 else "No module named 'ldap3'"

SCHEMES = {"tcp": None, "tls": None, "http": 80, "https": 443, "sip": 5060, "sips": 5061, "ldap": 389, "ldaps": 636}
REFERENCE_KINDS = ("env", "file", "var")
_SIP_RE = re.compile(r"^(sips?):(?:([^@;?]+)@)?(\[[0-9A-Fa-f:.]+\]|[^:;?]+)(?::(\d+))?([;?].*)?$")


def parse_endpoint(text):
    """``{url, scheme, host, port, path}`` of an application endpoint; ValueError naming what is wrong."""
    text = str(text or "").strip()
    scheme = text.split(":", 1)[0].lower() if ":" in text else ""
    if scheme not in SCHEMES:
        raise ValueError("%r is not an endpoint like tcp://host:port, tls://host:port, http(s)://host/path, "
                         "sip:host:port or ldap://host:port" % text)
    if scheme in ("sip", "sips"):
        match = _SIP_RE.match(text)
        if not match:
            raise ValueError("%r is not a SIP URI like sip:host:port" % text)
        port = int(match.group(4)) if match.group(4) else SCHEMES[scheme]
        host, path = match.group(3).strip("[]"), ""
    else:
        parts = urlsplit(text)
        if not text.lower().startswith(scheme + "://") or not parts.hostname:
            raise ValueError("%r has no host (write %s://host:port)" % (text, scheme))
        if parts.username or parts.password:
            raise ValueError("%r carries credentials: give them in the link's settings (a password by reference)"
                             % text)
        try:
            port = parts.port or SCHEMES[scheme]
        except ValueError:
            raise ValueError("%r has an invalid port" % text)
        if port is None:
            raise ValueError("%r needs a port (%s://host:port)" % (text, scheme))
        host, path = parts.hostname, parts.path
    if not 1 <= port <= 65535:
        raise ValueError("%r: port %d is not 1-65535" % (text, port))
    return {"url": text, "scheme": scheme, "host": host, "port": port, "path": path}


def resolve_password(ref, secrets=None, base_dir=None):
    """The password a reference names: ``{env: NAME}``, ``{file: PATH}`` (first line; relative to ``base_dir``) or
    ``{var: NAME}`` (a key of ``secrets``).  ValueError says which reference could not be read, never a value."""
    if not isinstance(ref, dict) or len(ref) != 1 or list(ref)[0] not in REFERENCE_KINDS:
        raise ValueError("the password must be a reference {env: NAME}, {file: PATH} or {var: NAME}")
    kind, name = list(ref.items())[0]
    name = str(name)
    if kind == "env":
        if name not in os.environ:
            raise ValueError("the environment variable %s (the password) is not set" % name)
        return os.environ[name]
    if kind == "var":
        if name not in (secrets or {}):
            raise ValueError("no secret %r was passed (the password is given as {var: %s})" % (name, name))
        return str(secrets[name])
    path = name if os.path.isabs(name) or not base_dir else os.path.join(base_dir, name)
    try:
        with io.open(path, "r", encoding="utf-8") as handle:
            return handle.readline().rstrip("\r\n")
    except (IOError, OSError) as exc:
        raise ValueError("cannot read the password file %s: %s" % (path, exc.strerror or exc))


# --------------------------------------------------------------------------------------------
# One probe per scheme (each returns the result's status, error and details; timing is done by the caller)
# --------------------------------------------------------------------------------------------

def _codes(value):
    """``expect.status``: a code or a list of codes (ints or digit strings) -> [int]; ValueError otherwise."""
    if value in (None, "", []):
        return []
    try:
        return [int(v) for v in (value if isinstance(value, list) else [value])]
    except (TypeError, ValueError):
        raise ValueError("expect.status %r is not a status code or a list of them" % (value,))


def _tcp(target, ep, timeout, _secrets):
    sock = socket.create_connection((ep["host"], ep["port"]), timeout=timeout)
    sock.close()
    return "ok", None, {}


def _cert_details(ep, timeout):
    from ansible_collections.voipops.voip.plugins.module_utils import tls  # cryptography only when a TLS link exists
    res = tls.read_many([{"host": ep["host"], "port": ep["port"]}], timeout=timeout)[0]
    if not res.get("ok"):
        return None, res.get("error") or "no certificate"
    return dict((k, res.get(k)) for k in ("subject", "not_after", "days_left", "expired")), None


def _tls(target, ep, timeout, _secrets):
    cert, error = _cert_details(ep, timeout)
    if error:
        return "down", error, {}
    return "ok", None, {"certificate": cert}


def _http(target, ep, timeout, _secrets):
    import requests  # pylint: disable=import-outside-toplevel
    expect = target.get("expect") or {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # InsecureRequestWarning: a health URL; its certificate's expiry is read below
            resp = requests.get(ep["url"], timeout=timeout, verify=False, allow_redirects=False,  # nosec
                                headers={"User-Agent": "voipops.voip-app_probe"})
    except requests.exceptions.Timeout:
        return "down", "timeout: no HTTP answer within %.1f s" % timeout, {}
    except requests.exceptions.ConnectionError as exc:
        text = str(exc)
        return "down", "refused: nothing answers on %s:%d" % (ep["host"], ep["port"]) if "refused" in text \
            else "error: %s" % text[:200], {}
    details = {"status_code": resp.status_code}
    wanted = _codes(expect.get("status"))
    if wanted:
        if resp.status_code not in wanted:
            return "error", "HTTP %d, expected %s" % (resp.status_code, ", ".join(str(s) for s in wanted)), details
    elif not 200 <= resp.status_code < 400:
        return "error", "HTTP %d" % resp.status_code, details
    if expect.get("body") and not re.search(expect["body"], resp.text or ""):
        return "error", "the body does not match %r" % expect["body"], details
    if ep["scheme"] == "https":
        cert, _error = _cert_details(ep, timeout)
        if cert:
            details["certificate"] = cert
    return "ok", None, details


def _sip(target, ep, timeout, _secrets):
    from ansible_collections.voipops.voip.plugins.module_utils import sip  # pylint: disable=import-outside-toplevel
    res = sip.run_sync(sip.probe_many([ep["url"]], timeout=timeout))[0]
    details = {"code": res.get("code"), "reason": res.get("reason")}
    wanted = _codes((target.get("expect") or {}).get("status"))
    if not res.get("reachable"):
        return "down", "%s: %s" % (res.get("status"), res.get("error") or "no answer"), details
    if wanted and res.get("code") not in wanted:
        return "error", "SIP %s %s, expected %s" % (res.get("code"), res.get("reason") or "",
                                                    ", ".join(str(s) for s in wanted)), details
    return "ok", None, details


def _ldap(target, ep, timeout, secrets):
    import ldap3  # pylint: disable=import-outside-toplevel
    settings = target.get("ldap") or {}
    server = ldap3.Server(ep["host"], port=ep["port"], use_ssl=ep["scheme"] == "ldaps", connect_timeout=timeout,
                          get_info=ldap3.NONE)
    user = settings.get("bind_dn")
    password = resolve_password(settings.get("password"), secrets, target.get("base_dir")) if user else None
    conn = ldap3.Connection(server, user=user, password=password, receive_timeout=max(1, int(math.ceil(timeout))), raise_exceptions=False,
                            auto_bind=ldap3.AUTO_BIND_NONE, read_only=True)
    try:
        try:
            bound = conn.bind()
        except ldap3.core.exceptions.LDAPSocketOpenError as exc:
            return "down", "refused: %s" % str(exc).split(" - ", maxsplit=1)[0][:200], {}
        except ldap3.core.exceptions.LDAPException as exc:
            return "down", "error: %s" % str(exc)[:200], {}
        if not bound:
            return "error", "bind as %s failed: %s" % (user or "anonymous", conn.result.get("description")), {}
        details = {"bound_as": user or "anonymous"}
        if settings.get("search_base"):
            conn.search(settings["search_base"], settings.get("filter") or "(objectClass=*)",
                        attributes=[], size_limit=max(1, int(settings.get("min_entries") or 1)))
            if conn.result.get("result") not in (0, 4):  # success, sizeLimitExceeded (enough entries)
                why = conn.result.get("description")
                return "error", "search under %s failed: %s" % (settings["search_base"], why), details
            details["entries"] = len(conn.entries)
            wanted = int(settings.get("min_entries") or 1)
            if len(conn.entries) < wanted:
                return "error", "search under %s found %d entries, expected at least %d" % (
                    settings["search_base"], len(conn.entries), wanted), details
        return "ok", None, details
    finally:
        conn.unbind()


PROBES = {"tcp": _tcp, "tls": _tls, "http": _http, "https": _http, "sip": _sip, "sips": _sip, "ldap": _ldap,
          "ldaps": _ldap}


def probe_one(target, timeout=5.0, secrets=None):
    """Probe one link target ``{name, kind, endpoint, expect, ldap, timeout, base_dir}``; never raises."""
    result = {"name": target.get("name"), "kind": target.get("kind"), "endpoint": target.get("endpoint"),
              "scheme": None, "status": "error", "ok": False, "rtt_ms": None, "error": None, "details": {}}
    started = time.monotonic()
    try:
        ep = parse_endpoint(target.get("endpoint"))
        result["scheme"] = ep["scheme"]
        status, error, details = PROBES[ep["scheme"]](target, ep, float(target.get("timeout") or timeout), secrets)
    except (socket.timeout, asyncio.TimeoutError):
        status, error, details = "down", "timeout: no answer within %.1f s" % float(target.get("timeout") or timeout), {}
    except ConnectionRefusedError:
        status, error, details = "down", "refused: nothing listens there", {}
    except (OSError, ValueError) as exc:
        status, error, details = "down" if isinstance(exc, OSError) else "error", "%s" % (exc.strerror if isinstance(
            exc, OSError) and exc.strerror else exc), {}
    # a library's surprise is this link's error, not the whole run's
    except Exception as exc:  # pylint: disable=broad-except
        status, error, details = "error", "%s: %s" % (type(exc).__name__, exc), {}
    result.update(status=status, ok=status == "ok", error=error, details=details,
                  rtt_ms=round((time.monotonic() - started) * 1000.0, 1))
    return result


def probe_many(targets, timeout=5.0, concurrency=20, secrets=None):
    """Probe every target concurrently (threads: the probes block); results in input order."""
    if not targets:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(int(concurrency), len(targets)))) as pool:
        return list(pool.map(lambda t: probe_one(t, timeout, secrets), targets))


def missing_libraries(targets):
    """The libraries the targets' schemes need that are not installed: [(name, import error)]."""
    schemes = set()
    for t in targets:
        try:
            schemes.add(parse_endpoint(t.get("endpoint"))["scheme"])
        except ValueError:
            continue
    missing = []
    if schemes & {"http", "https"} and not HAS_REQUESTS:
        missing.append(("requests", REQUESTS_IMPORT_ERROR))
    if schemes & {"ldap", "ldaps"} and not HAS_LDAP3:
        missing.append(("ldap3", LDAP3_IMPORT_ERROR))
    if schemes & {"tls", "https"} and importlib.util.find_spec("cryptography") is None:
        missing.append(("cryptography", "No module named 'cryptography'"))
    return missing


def summarize(results):
    by_status = {"ok": 0, "down": 0, "error": 0}
    for r in results:
        by_status[r["status"]] = by_status.get(r["status"], 0) + 1
    return {"total": len(results), "ok": by_status["ok"], "failed": len(results) - by_status["ok"],
            "by_status": by_status}
