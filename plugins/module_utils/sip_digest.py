# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP Digest authentication for SIP (RFC 3261 22, RFC 2617, RFC 7616, RFC 8760).

Client side:
- ``DigestChallenge.parse(www_authenticate_value)`` -> realm, nonce, opaque, algorithm, qop list, stale.
- ``digest_response(challenge, username, password, method, uri, ...)`` -> dict of Authorization params
  (``response`` included); ``authorization_value(...)`` -> the full ``Digest ...`` header value.
  Algorithms: MD5, MD5-sess, SHA-256, SHA-256-sess (and SHA-512-256 when hashlib has it);
  qop ``auth`` (preferred), ``auth-int`` or none (RFC 2069 compatibility).
- ``ha1`` may be given instead of the password (Kamailio stores ha1 = md5(user:realm:password)).

Server side (phones challenge NOTIFY, the simulated fleet challenges too):
- ``DigestServer(realm, algorithm="MD5", secret=None, nonce_ttl=300)``; ``challenge(stale=False)`` returns a
  ``WWW-Authenticate`` value with a stateless HMAC-signed nonce; ``check(authorization_value, method,
  password=None, ha1=None, body=b"")`` returns ``"ok"``, ``"stale"`` (good response, expired nonce:
  re-challenge with ``stale=true``) or ``"bad"``; ``verify(...)`` is ``check(...) == "ok"``.
- ``DigestAuthorization.parse(authorization_value)`` exposes the client's parameters (username, realm, ...).

Malformed headers raise :class:`SipParseError` (the same typed error as the message parser).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import hmac
import os
import time

from ansible_collections.voipops.voip.plugins.module_utils.sip_message import SipParseError, quote

_HASHES = {
    "MD5": hashlib.md5,
    "SHA-256": hashlib.sha256,
}
if "sha512_256" in hashlib.algorithms_available:  # pragma: no branch
    def _sha512_256(data=b""):
        return hashlib.new("sha512_256", data)
    _HASHES["SHA-512-256"] = _sha512_256

ALGORITHMS = tuple(sorted(_HASHES)) + tuple(a + "-sess" for a in sorted(_HASHES))


def _split_algorithm(algorithm):
    alg = (algorithm or "MD5").strip()
    upper = alg.upper()
    sess = upper.endswith("-SESS")
    base = upper[:-5] if sess else upper
    if base not in _HASHES:
        raise SipParseError("unsupported digest algorithm %r" % alg[:40])
    return base, sess


def _h(base, text):
    if isinstance(text, str):
        text = text.encode("utf-8")
    return _HASHES[base](text).hexdigest()


def parse_auth_params(text):
    """``a=b, c="d,e", f=g`` -> dict with lower-case keys and unquoted values."""
    params = {}
    i = 0
    n = len(text)
    while i < n:
        while i < n and text[i] in " \t,":
            i += 1
        if i >= n:
            break
        eq = text.find("=", i)
        if eq < 0:
            raise SipParseError("bad auth parameter near %r" % text[i:i + 40])
        key = text[i:eq].strip().lower()
        if not key or any(c in key for c in ' \t,"'):
            raise SipParseError("bad auth parameter name %r" % key[:40])
        i = eq + 1
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] == '"':
            i += 1
            buf = []
            while True:
                if i >= n:
                    raise SipParseError("unterminated quoted auth parameter %r" % key)
                ch = text[i]
                if ch == "\\" and i + 1 < n:
                    buf.append(text[i + 1])
                    i += 2
                    continue
                if ch == '"':
                    i += 1
                    break
                buf.append(ch)
                i += 1
            value = "".join(buf)
            while i < n and text[i] in " \t":
                i += 1
            if i < n and text[i] != ",":
                raise SipParseError("junk after quoted auth parameter %r" % key)
        else:
            comma = text.find(",", i)
            if comma < 0:
                comma = n
            value = text[i:comma].strip()
            i = comma
        params[key] = value
    return params


def _split_scheme(value):
    value = (value or "").strip()
    scheme, _sep, rest = value.partition(" ")
    if scheme.lower() != "digest":
        raise SipParseError("not a Digest header: %r" % value[:60])
    return rest


class DigestChallenge(object):
    """A parsed ``WWW-Authenticate`` / ``Proxy-Authenticate`` Digest challenge."""

    def __init__(self, realm, nonce, algorithm="MD5", qop=None, opaque=None, stale=False, domain=None,
                 userhash=False):
        self.realm = realm
        self.nonce = nonce
        self.algorithm = algorithm or "MD5"
        self.qop = list(qop or [])
        self.opaque = opaque
        self.stale = stale
        self.domain = domain
        self.userhash = userhash

    @classmethod
    def parse(cls, value):
        params = parse_auth_params(_split_scheme(value))
        if "realm" not in params or "nonce" not in params:
            raise SipParseError("Digest challenge without realm or nonce: %r" % value[:80])
        qop = [q.strip().lower() for q in params.get("qop", "").split(",") if q.strip()]
        algorithm = params.get("algorithm") or "MD5"
        _split_algorithm(algorithm)
        return cls(params["realm"], params["nonce"], algorithm, qop, params.get("opaque"),
                   params.get("stale", "").lower() == "true", params.get("domain"),
                   params.get("userhash", "").lower() == "true")

    def to_header(self):
        parts = ['realm=%s' % quote(self.realm), 'nonce=%s' % quote(self.nonce)]
        if self.opaque is not None:
            parts.append("opaque=%s" % quote(self.opaque))
        parts.append("algorithm=%s" % self.algorithm)
        if self.qop:
            parts.append('qop="%s"' % ",".join(self.qop))
        if self.stale:
            parts.append("stale=true")
        return "Digest " + ", ".join(parts)

    __str__ = to_header


def compute_ha1(username, realm, password, algorithm="MD5"):
    """H(username:realm:password) with the algorithm's hash (``-sess`` ignored)."""
    base, _sess = _split_algorithm(algorithm)
    return _h(base, "%s:%s:%s" % (username, realm, password))


def _response(base, sess, ha1, nonce, cnonce, nc, qop, method, uri, body):
    if sess:
        ha1 = _h(base, "%s:%s:%s" % (ha1, nonce, cnonce))
    if qop == "auth-int":
        ha2 = _h(base, "%s:%s:%s" % (method, uri, _h(base, body or b"")))
    else:
        ha2 = _h(base, "%s:%s" % (method, uri))
    if qop:
        return _h(base, "%s:%s:%s:%s:%s:%s" % (ha1, nonce, nc, cnonce, qop, ha2))
    return _h(base, "%s:%s:%s" % (ha1, nonce, ha2))


def digest_response(challenge, username, password, method, uri, body=b"", nc=1, cnonce=None, ha1=None,
                    qop=None):
    """Answer ``challenge`` (a :class:`DigestChallenge` or header string).

    Returns the Authorization parameters as a dict: username, realm, nonce, uri, response, algorithm,
    and when a qop is used also qop, nc (8 hex digits), cnonce; opaque when the challenge had one.
    ``qop`` forces a qop; by default ``auth`` is chosen when offered, then ``auth-int``, else none.
    """
    if not isinstance(challenge, DigestChallenge):
        challenge = DigestChallenge.parse(challenge)
    base, sess = _split_algorithm(challenge.algorithm)
    if qop is None:
        if "auth" in challenge.qop:
            qop = "auth"
        elif "auth-int" in challenge.qop:
            qop = "auth-int"
        elif challenge.qop:
            raise SipParseError("no supported qop in %r" % ",".join(challenge.qop))
    if ha1 is None:
        ha1 = _h(base, "%s:%s:%s" % (username, challenge.realm, password))
    if (qop or sess) and cnonce is None:
        cnonce = base64.b16encode(os.urandom(8)).decode("ascii").lower()
    ncs = "%08x" % nc if isinstance(nc, int) else nc
    resp = _response(base, sess, ha1, challenge.nonce, cnonce, ncs, qop, method, uri, body)
    out = {"username": username, "realm": challenge.realm, "nonce": challenge.nonce, "uri": uri,
           "response": resp, "algorithm": challenge.algorithm}
    if challenge.opaque is not None:
        out["opaque"] = challenge.opaque
    if qop:
        out.update(qop=qop, nc=ncs, cnonce=cnonce)
    elif sess:
        out["cnonce"] = cnonce
    return out


_UNQUOTED = ("algorithm", "qop", "nc", "stale")


def format_authorization(params):
    """Dict from :func:`digest_response` -> ``Digest username="..", ...`` header value."""
    order = ("username", "realm", "nonce", "uri", "response", "algorithm", "cnonce", "opaque", "qop", "nc")
    parts = []
    for key in order + tuple(k for k in params if k not in order):
        if key in params and params[key] is not None:
            value = params[key]
            parts.append("%s=%s" % (key, value if key in _UNQUOTED else quote(value)))
    return "Digest " + ", ".join(parts)


def authorization_value(challenge, username, password, method, uri, **kwargs):
    """Full ``Authorization``/``Proxy-Authorization`` value answering ``challenge``."""
    return format_authorization(digest_response(challenge, username, password, method, uri, **kwargs))


class DigestAuthorization(object):
    """A parsed ``Authorization`` / ``Proxy-Authorization`` Digest header (server side)."""

    def __init__(self, params):
        self.params = params

    @classmethod
    def parse(cls, value):
        params = parse_auth_params(_split_scheme(value))
        for key in ("username", "realm", "nonce", "uri", "response"):
            if key not in params:
                raise SipParseError("Digest credentials without %s" % key)
        if params.get("qop") and ("nc" not in params or "cnonce" not in params):
            raise SipParseError("Digest credentials with qop but without nc/cnonce")
        _split_algorithm(params.get("algorithm"))
        return cls(params)

    def __getattr__(self, name):
        try:
            return self.__dict__["params"][name]
        except KeyError:
            raise AttributeError(name)

    @property
    def algorithm(self):
        return self.params.get("algorithm") or "MD5"

    def expected_response(self, method, password=None, ha1=None, body=b""):
        base, sess = _split_algorithm(self.algorithm)
        if ha1 is None:
            if password is None:
                raise ValueError("password or ha1 is required")
            ha1 = _h(base, "%s:%s:%s" % (self.params["username"], self.params["realm"], password))
        return _response(base, sess, ha1, self.params["nonce"], self.params.get("cnonce"),
                         self.params.get("nc"), self.params.get("qop"), method, self.params["uri"], body)

    def matches(self, method, password=None, ha1=None, body=b""):
        expected = self.expected_response(method, password, ha1, body)
        return hmac.compare_digest(expected, self.params["response"].lower())


class DigestServer(object):
    """Issue challenges and verify answers, statelessly (nonce = timestamp + HMAC)."""

    def __init__(self, realm, algorithm="MD5", qop="auth", secret=None, nonce_ttl=300, opaque=None):
        _split_algorithm(algorithm)
        self.realm = realm
        self.algorithm = algorithm
        self.qop = qop
        self.secret = secret if secret is not None else os.urandom(16)
        if isinstance(self.secret, str):
            self.secret = self.secret.encode("utf-8")
        self.nonce_ttl = nonce_ttl
        self.opaque = opaque

    def _sign(self, stamp):
        return hmac.new(self.secret, ("%s:%s" % (stamp, self.realm)).encode("utf-8"), hashlib.sha256).hexdigest()[:32]

    def make_nonce(self, now=None):
        stamp = "%x" % int(now if now is not None else time.time())
        return "%s.%s" % (stamp, self._sign(stamp))

    def nonce_state(self, nonce, now=None):
        """``"ok"``, ``"stale"`` (signed by us, expired) or ``"bad"``."""
        stamp, dot, sig = (nonce or "").partition(".")
        if not dot or not hmac.compare_digest(self._sign(stamp), sig):
            return "bad"
        try:
            issued = int(stamp, 16)
        except ValueError:
            return "bad"
        now = now if now is not None else time.time()
        return "ok" if issued <= now + 1 and now - issued <= self.nonce_ttl else "stale"

    def challenge(self, stale=False):
        """A ``WWW-Authenticate`` (or ``Proxy-Authenticate``) header value."""
        return DigestChallenge(self.realm, self.make_nonce(), self.algorithm, [self.qop] if self.qop else [],
                               self.opaque, stale).to_header()

    def check(self, authorization, method, password=None, ha1=None, body=b""):
        """Verify an Authorization header value (or parsed :class:`DigestAuthorization`)."""
        try:
            auth = authorization if isinstance(authorization, DigestAuthorization) else \
                DigestAuthorization.parse(authorization)
        except SipParseError:
            return "bad"
        if auth.params.get("realm") != self.realm:
            return "bad"
        if self.qop and auth.params.get("qop") != self.qop:
            return "bad"
        if _split_algorithm(auth.algorithm) != _split_algorithm(self.algorithm):
            return "bad"
        if not auth.matches(method, password, ha1, body):
            return "bad"
        return self.nonce_state(auth.params["nonce"])

    def verify(self, authorization, method, password=None, ha1=None, body=b""):
        return self.check(authorization, method, password, ha1, body) == "ok"
