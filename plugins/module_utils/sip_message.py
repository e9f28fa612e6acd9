# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SIP messages (RFC 3261 section 7): build, serialise and parse requests and responses.

Public API (re-exported by ``sip.py``):

- :class:`SipParseError` - the ONE exception any malformed input raises (a ``ValueError``).
- :class:`Headers` - ordered, case-insensitive, compact-form aware multi-map
  (``get``, ``get_all`` for repeated headers, ``get_list`` for comma-separated values across
  repeats, ``add``, ``set``, ``remove``).
- :class:`SipRequest` / :class:`SipResponse` - ``to_bytes()`` sets Content-Length; handy
  properties ``call_id``, ``cseq`` (number, method), ``top_via`` (:class:`Via`), ``branch``,
  ``from_tag``, ``to_tag``; ``SipResponse.for_request(req, code, reason)`` builds a UAS answer.
- :func:`parse_response_lean` (fast path for a response datagram in the common shape: the same
  :class:`SipResponse` as :func:`parse_message`, or ``None`` to fall back to it).
- :func:`parse_message` (one datagram, or one framed stream message) and :class:`StreamFramer`
  (Content-Length framing on TCP/TLS, ignores CRLF keep-alives).
- :class:`SipUri` (``sip:``/``sips:`` URIs, IPv6 references), :class:`NameAddr`
  (``"Display" <uri>;tag=x``), :class:`Via`, :func:`split_header_list` (comma split that
  respects quotes and angle brackets), :func:`parse_params`.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

SIP_VERSION = "SIP/2.0"

# RFC 3261 7.3.3 + later RFCs (Event, Allow-Events, Refer-To, Referred-By, Session-Expires, ...)
COMPACT_FORMS = {
    "i": "call-id", "m": "contact", "e": "content-encoding", "l": "content-length",
    "c": "content-type", "f": "from", "s": "subject", "k": "supported", "t": "to", "v": "via",
    "o": "event", "u": "allow-events", "r": "refer-to", "b": "referred-by", "x": "session-expires",
    "a": "accept-contact", "j": "reject-contact", "d": "request-disposition", "y": "identity",
    "n": "identity-info",
}

_CANONICAL = {}
for _name in (
        "Via", "From", "To", "Call-ID", "CSeq", "Contact", "Max-Forwards", "Content-Length",
        "Content-Type", "Content-Encoding", "Content-Disposition", "Content-Language", "Allow",
        "Supported", "Require", "Proxy-Require", "Unsupported", "Accept", "Accept-Encoding",
        "Accept-Language", "User-Agent", "Server", "Expires", "Min-Expires", "Route", "Record-Route",
        "WWW-Authenticate", "Authorization", "Proxy-Authenticate", "Proxy-Authorization",
        "Authentication-Info", "Event", "Allow-Events", "Subscription-State", "Subject", "Date",
        "Timestamp", "Retry-After", "Warning", "Organization", "Priority", "Reply-To", "In-Reply-To",
        "Call-Info", "Alert-Info", "Error-Info", "MIME-Version", "Refer-To", "Referred-By",
        "Session-Expires", "Min-SE", "RSeq", "RAck", "Path", "Service-Route", "P-Asserted-Identity",
        "Identity", "Identity-Info", "Accept-Contact", "Reject-Contact", "Request-Disposition"):
    _CANONICAL[_name.lower()] = _name
del _name

# headers whose values are comma-separated lists (RFC 3261 7.3.1); auth headers are NOT lists
LIST_HEADERS = frozenset((
    "via", "contact", "route", "record-route", "allow", "supported", "require", "proxy-require",
    "unsupported", "accept", "accept-encoding", "accept-language", "allow-events", "content-encoding",
    "content-language", "in-reply-to", "warning", "call-info", "alert-info", "error-info", "path",
    "service-route", "p-asserted-identity",
))

_DIGITS_RE = re.compile(r"^[0-9]+\Z")
_TOKEN_RE = re.compile(r"^[A-Za-z0-9.!%*_+`'~\-]+\Z")
_HOSTPORT_RE = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-_]+)(?::([0-9]{1,5}))?\Z")
_MAX_CSEQ = 2 ** 31 - 1
MAX_HEADER_BYTES = 65536
MAX_BODY_BYTES = 1024 * 1024


class SipParseError(ValueError):
    """Malformed SIP input (message, header, URI, digest parameter).  The only error the parsers raise."""


def header_key(name):
    """Lower-case full form of a header name (``"v"`` -> ``"via"``, ``"CALL-ID"`` -> ``"call-id"``)."""
    key = name.strip().lower()
    return COMPACT_FORMS.get(key, key)


def canonical_name(name):
    """Conventional spelling of a header name (``"call-id"``/``"i"`` -> ``"Call-ID"``)."""
    key = header_key(name)
    return _CANONICAL.get(key) or name.strip()


def split_header_list(value):
    """Split a comma-separated header value, ignoring commas inside quotes or ``<...>``."""
    if "," not in value:
        v = value.strip()
        return [v] if v else []
    if '"' not in value and "<" not in value:
        # nothing to protect (no quoted string, no <uri>): a plain split gives what the scan below gives
        return [v for v in (item.strip() for item in value.split(",")) if v]
    out = []
    buf = []
    in_quote = False
    in_angle = False
    escape = False
    for ch in value:
        if escape:
            escape = False
            buf.append(ch)
            continue
        if in_quote:
            if ch == "\\":
                escape = True
            elif ch == '"':
                in_quote = False
            buf.append(ch)
            continue
        if ch == '"':
            in_quote = True
        elif ch == "<":
            in_angle = True
        elif ch == ">":
            in_angle = False
        elif ch == "," and not in_angle:
            item = "".join(buf).strip()
            if item:
                out.append(item)
            buf = []
            continue
        buf.append(ch)
    if in_quote:
        raise SipParseError("unterminated quoted string in %r" % value[:80])
    item = "".join(buf).strip()
    if item:
        out.append(item)
    return out


def parse_params(text, sep=";"):
    """Parse ``;a=1;b;c="x y"`` (leading separator optional) into an ordered dict with lower-case keys.

    A parameter without ``=`` maps to ``None``.  Quoted values are unquoted.
    """
    params = {}
    if not text:
        return params
    for part in _split_outside_quotes(text, sep):
        part = part.strip()
        if not part:
            continue
        if "=" in part:
            k, v = part.split("=", 1)
            k = k.strip()
            v = v.strip()
            if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
                v = _unquote(v[1:-1])
        else:
            k, v = part, None
        if not k or not _TOKEN_RE.match(k):
            raise SipParseError("bad parameter name %r" % k[:40])
        params[k.lower()] = v
    return params


def _unquote(v):
    if "\\" not in v:
        return v
    out = []
    it = iter(v)
    for ch in it:
        if ch == "\\":
            ch = next(it, "")
        out.append(ch)
    return "".join(out)


def quote(value):
    """Quote a string for a SIP quoted-string."""
    return '"%s"' % str(value).replace("\\", "\\\\").replace('"', '\\"')


def _split_outside_quotes(text, sep):
    if '"' not in text:
        return text.split(sep)
    parts = []
    buf = []
    in_quote = False
    escape = False
    for ch in text:
        if escape:
            escape = False
        elif in_quote and ch == "\\":
            escape = True
        elif ch == '"':
            in_quote = not in_quote
        elif ch == sep and not in_quote:
            parts.append("".join(buf))
            buf = []
            continue
        buf.append(ch)
    if in_quote:
        raise SipParseError("unterminated quoted string in %r" % text[:80])
    parts.append("".join(buf))
    return parts


def _format_params(params):
    out = []
    for k, v in params.items():
        if v is None:
            out.append(";%s" % k)
        else:
            v = str(v)
            if v and not _TOKEN_RE.match(v) and not _HOSTPORT_RE.match(v):
                v = quote(v)
            out.append(";%s=%s" % (k, v))
    return "".join(out)


def split_hostport(text, default_port=None):
    """``host``, ``host:port``, ``[v6]``, ``[v6]:port`` -> (host without brackets, port or default)."""
    m = _HOSTPORT_RE.match(text.strip())
    if not m:
        raise SipParseError("bad host[:port] %r" % text[:80])
    host = m.group(1)
    if host.startswith("["):
        host = host[1:-1]
    port = int(m.group(2)) if m.group(2) else default_port
    if port is not None and not 0 < port < 65536:
        raise SipParseError("port out of range in %r" % text[:80])
    return host, port


_LOOSE_URI_RE = re.compile(r"^(?:sips?:)?(?:[^@;>]*@)?(\[[^\]]+\]|[^:;>]+)(?::(\d+))?")


def host_port(uri, default_port=5060):
    """Lenient ``(host, port)`` of a SIP URI or ``host[:port]`` as registrations and dispatchers print them
    (``sip:1001@10.0.0.5:5062;ob``, ``sip:192.0.2.7:40123``, ``10.0.0.9``); ``(None, None)`` when there is none."""
    match = _LOOSE_URI_RE.match(str(uri or "").strip())
    if not match:
        return None, None
    host = match.group(1).strip("[]")
    return host, int(match.group(2)) if match.group(2) else default_port


def format_hostport(host, port=None):
    if ":" in host and not host.startswith("["):
        host = "[%s]" % host
    return host if port is None else "%s:%d" % (host, port)


class SipUri(object):
    """A ``sip:`` or ``sips:`` URI: ``scheme``, ``user``, ``password``, ``host``, ``port`` (None if
    absent), ``params`` (dict, lower-case keys) and ``headers`` (the ``?...`` part, raw)."""

    __slots__ = ("scheme", "user", "password", "host", "port", "params", "headers")

    def __init__(self, host, port=None, user=None, scheme="sip", params=None, password=None, headers=None):
        self.scheme = scheme
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.params = dict(params or {})
        self.headers = headers

    @classmethod
    def parse(cls, text):
        text = text.strip()
        if text.startswith("<") and text.endswith(">"):
            text = text[1:-1]
        scheme, sep, rest = text.partition(":")
        scheme = scheme.lower()
        if not sep or scheme not in ("sip", "sips"):
            raise SipParseError("not a sip/sips URI: %r" % text[:80])
        headers = None
        if "?" in rest:
            rest, headers = rest.split("?", 1)
        user = password = None
        if "@" in rest:
            userinfo, rest = rest.rsplit("@", 1)
            if ":" in userinfo:
                user, password = userinfo.split(":", 1)
            else:
                user = userinfo
            if not user:
                raise SipParseError("empty user part in %r" % text[:80])
        hostport, _sep, ptext = rest.partition(";")
        if not hostport:
            raise SipParseError("no host in %r" % text[:80])
        host, port = split_hostport(hostport)
        params = parse_params(ptext) if ptext else {}
        return cls(host, port, user, scheme, params, password, headers)

    @property
    def transport(self):
        t = self.params.get("transport")
        if t:
            return t.lower()
        return "tls" if self.scheme == "sips" else "udp"

    def __str__(self):
        userinfo = ""
        if self.user is not None:
            userinfo = self.user + (":" + self.password if self.password is not None else "") + "@"
        s = "%s:%s%s%s" % (self.scheme, userinfo, format_hostport(self.host, self.port), _format_params(self.params))
        if self.headers:
            s += "?" + self.headers
        return s

    def __repr__(self):
        return "SipUri(%r)" % str(self)

    def __eq__(self, other):
        return isinstance(other, SipUri) and str(self) == str(other)

    def __hash__(self):
        return hash(str(self))


class NameAddr(object):
    """``"Display" <sip:u@h>;tag=x`` or ``sip:u@h;tag=x`` (params after an addr-spec belong to the header)."""

    __slots__ = ("display", "uri", "params")

    def __init__(self, uri, display=None, params=None):
        self.display = display
        self.uri = uri
        self.params = dict(params or {})

    @classmethod
    def parse(cls, text):
        text = text.strip()
        display = None
        if "<" in text:
            lt = _index_outside_quotes(text, "<")
            gt = text.find(">", lt)
            if lt < 0 or gt < 0:
                raise SipParseError("unbalanced <> in %r" % text[:80])
            disp = text[:lt].strip()
            if disp.startswith('"'):
                if len(disp) < 2 or not disp.endswith('"'):
                    raise SipParseError("bad display name in %r" % text[:80])
                disp = _unquote(disp[1:-1])
            display = disp or None
            uri = text[lt + 1:gt].strip()
            rest = text[gt + 1:].strip()
            if rest and not rest.startswith(";"):
                raise SipParseError("junk after > in %r" % text[:80])
        else:
            uri, _sep, rest = text.partition(";")
            uri = uri.strip()
            rest = ";" + rest if rest else ""
        if not uri or ":" not in uri or any(c in uri for c in " \t"):
            raise SipParseError("bad URI in %r" % text[:80])
        return cls(uri, display, parse_params(rest) if rest else {})

    @property
    def tag(self):
        return self.params.get("tag")

    def sip_uri(self):
        return SipUri.parse(self.uri)

    def __str__(self):
        disp = (quote(self.display) + " ") if self.display else ""
        return "%s<%s>%s" % (disp, self.uri, _format_params(self.params))


def _index_outside_quotes(text, ch):
    in_quote = False
    escape = False
    for i, c in enumerate(text):
        if escape:
            escape = False
        elif in_quote and c == "\\":
            escape = True
        elif c == '"':
            in_quote = not in_quote
        elif c == ch and not in_quote:
            return i
    return -1


class Via(object):
    """One Via value: ``transport`` (upper), ``host``, ``port`` (None if absent), ``params``."""

    __slots__ = ("transport", "host", "port", "params")

    def __init__(self, transport, host, port=None, params=None):
        self.transport = transport.upper()
        self.host = host
        self.port = port
        self.params = dict(params or {})

    @classmethod
    def parse(cls, text):
        text = text.strip()
        proto, sep, rest = text.partition(" ")
        if not sep:
            proto, sep, rest = text.partition("\t")
        parts = [p.strip() for p in proto.split("/")]
        if len(parts) != 3 or parts[0].upper() != "SIP" or parts[1] != "2.0" or not _TOKEN_RE.match(parts[2]):
            # RFC 4475 allows LWS around the slashes: "SIP / 2.0 / UDP host"
            m = re.match(r"^\s*SIP\s*/\s*2\.0\s*/\s*([A-Za-z0-9.!%*_+`'~\-]+)\s+(.*)$", text, re.I)
            if not m:
                raise SipParseError("bad Via %r" % text[:80])
            parts = ["SIP", "2.0", m.group(1)]
            rest = m.group(2)
        rest = rest.strip()
        hostport, _sep, ptext = rest.partition(";")
        hostport = hostport.strip()
        # allow "host : port" (LWS around colon)
        if " " in hostport or "\t" in hostport:
            hostport = re.sub(r"\s+", "", hostport)
        host, port = split_hostport(hostport)
        params = parse_params(ptext) if ptext else {}
        return cls(parts[2], host, port, params)

    @property
    def branch(self):
        return self.params.get("branch")

    def __str__(self):
        return "SIP/2.0/%s %s%s" % (self.transport, format_hostport(self.host, self.port), _format_params(self.params))


class Headers(object):
    """Ordered multi-map of SIP headers; lookup is case-insensitive and knows compact forms."""

    __slots__ = ("_items",)

    def __init__(self, items=None):
        self._items = []
        if items:
            if isinstance(items, dict):
                items = items.items()
            for name, value in items:
                if isinstance(value, (list, tuple)):
                    for v in value:
                        self.add(name, v)
                else:
                    self.add(name, value)

    def add(self, name, value):
        self._items.append((canonical_name(name), str(value), header_key(name)))

    def set(self, name, value):
        """Replace every occurrence of ``name`` with one header (at the first occurrence's position)."""
        key = header_key(name)
        new = (canonical_name(name), str(value), key)
        for i, item in enumerate(self._items):
            if item[2] == key:
                self._items[i] = new
                self._items = [it for j, it in enumerate(self._items) if j <= i or it[2] != key]
                return
        self._items.append(new)

    def prepend(self, name, value):
        self._items.insert(0, (canonical_name(name), str(value), header_key(name)))

    def remove(self, name):
        key = header_key(name)
        self._items = [it for it in self._items if it[2] != key]

    def get(self, name, default=None):
        key = header_key(name)
        for item in self._items:
            if item[2] == key:
                return item[1]
        return default

    def get_all(self, name):
        """Every value of a (possibly repeated) header, unsplit."""
        key = header_key(name)
        return [item[1] for item in self._items if item[2] == key]

    def get_list(self, name):
        """All comma-separated elements of a header across repeats (``Allow: A, B`` + ``Allow: C``)."""
        out = []
        for value in self.get_all(name):
            out.extend(split_header_list(value))
        return out

    def __contains__(self, name):
        key = header_key(name)
        return any(item[2] == key for item in self._items)

    def __iter__(self):
        return ((item[0], item[1]) for item in self._items)

    def items(self):
        return [(item[0], item[1]) for item in self._items]

    def __len__(self):
        return len(self._items)

    def copy(self):
        h = Headers()
        h._items = list(self._items)
        return h

    def __repr__(self):
        return "Headers(%r)" % self.items()


class SipMessage(object):
    """Common part of requests and responses."""

    __slots__ = ("headers", "body", "_via")

    def __init__(self, headers=None, body=b""):
        if headers is None:
            headers = Headers()
        elif not isinstance(headers, Headers):
            headers = Headers(headers)
        self.headers = headers
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.body = body or b""
        self._via = None

    # --- convenience accessors -------------------------------------------------
    @property
    def call_id(self):
        return self.headers.get("call-id")

    @property
    def cseq(self):
        """``(number, METHOD)`` from CSeq; raises :class:`SipParseError` when malformed."""
        return _parse_cseq(self.headers.get("cseq"))

    @property
    def top_via(self):
        if self._via is None:
            value = self.headers.get("via")
            if value is None:
                raise SipParseError("no Via header")
            first = value.split(",", 1)[0] if '"' not in value else split_header_list(value)[0]
            self._via = Via.parse(first)
        return self._via

    @property
    def vias(self):
        return [Via.parse(v) for v in self.headers.get_list("via")]

    @property
    def branch(self):
        return self.top_via.branch

    @property
    def from_addr(self):
        return NameAddr.parse(self.headers.get("from", ""))

    @property
    def to_addr(self):
        return NameAddr.parse(self.headers.get("to", ""))

    @property
    def from_tag(self):
        return self.from_addr.tag

    @property
    def to_tag(self):
        return self.to_addr.tag

    def _start_line(self):
        raise NotImplementedError

    def to_bytes(self):
        """Serialise; Content-Length always reflects the body."""
        lines = [self._start_line()]
        for name, value, key in self.headers._items:
            if key != "content-length":
                lines.append("%s: %s" % (name, value))
        lines.append("Content-Length: %d" % len(self.body))
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + self.body

    def __bytes__(self):
        return self.to_bytes()


class SipRequest(SipMessage):
    """A SIP request.  ``uri`` is the Request-URI as a string; ``ruri`` parses it as :class:`SipUri`."""

    __slots__ = ("method", "uri")

    def __init__(self, method, uri, headers=None, body=b""):
        super(SipRequest, self).__init__(headers, body)
        self.method = method
        self.uri = str(uri)

    @property
    def ruri(self):
        return SipUri.parse(self.uri)

    def _start_line(self):
        return "%s %s %s" % (self.method, self.uri, SIP_VERSION)

    def __repr__(self):
        return "<SipRequest %s %s>" % (self.method, self.uri)


class SipResponse(SipMessage):
    """A SIP response: ``code`` (int), ``reason`` (str)."""

    __slots__ = ("code", "reason", "rtt_ms", "authenticated")

    def __init__(self, code, reason="", headers=None, body=b""):
        super(SipResponse, self).__init__(headers, body)
        self.code = int(code)
        self.reason = reason
        self.rtt_ms = None  # set by the client transaction
        self.authenticated = False  # True when the request was re-sent with Digest credentials

    @classmethod
    def for_request(cls, request, code, reason=None, to_tag=None, headers=None, body=b""):
        """Answer ``request`` (RFC 3261 8.2.6): copies Via, From, To (+ ``to_tag`` if it has none),
        Call-ID, CSeq; ``headers`` (pairs or dict) are appended."""
        h = Headers()
        for value in request.headers.get_all("via"):
            h.add("Via", value)
        h.add("From", request.headers.get("from", ""))
        to = request.headers.get("to", "")
        if to_tag and code > 100:
            try:
                has_tag = NameAddr.parse(to).tag is not None
            except SipParseError:
                has_tag = True
            if not has_tag:
                to = "%s;tag=%s" % (to, to_tag)
        h.add("To", to)
        h.add("Call-ID", request.headers.get("call-id", ""))
        h.add("CSeq", request.headers.get("cseq", ""))
        if headers:
            for name, value in (headers.items() if isinstance(headers, dict) else headers):
                h.add(name, value)
        return cls(code, reason if reason is not None else REASONS.get(code, ""), h, body)

    def _start_line(self):
        return "%s %d %s" % (SIP_VERSION, self.code, self.reason)

    def __repr__(self):
        return "<SipResponse %d %s>" % (self.code, self.reason)


REASONS = {
    100: "Trying", 180: "Ringing", 183: "Session Progress", 200: "OK", 202: "Accepted",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 407: "Proxy Authentication Required", 408: "Request Timeout",
    481: "Call/Transaction Does Not Exist", 486: "Busy Here", 489: "Bad Event",
    500: "Server Internal Error", 501: "Not Implemented", 503: "Service Unavailable",
}


def _parse_cseq(value):
    if value is None:
        raise SipParseError("no CSeq header")
    parts = value.split()
    if len(parts) != 2 or not _DIGITS_RE.match(parts[0]) or not _TOKEN_RE.match(parts[1]):
        raise SipParseError("bad CSeq %r" % value[:80])
    num = int(parts[0])
    if num > _MAX_CSEQ:
        raise SipParseError("CSeq number out of range %r" % value[:80])
    return num, parts[1]


_REQUIRED = ("via", "from", "to", "call-id", "cseq")


def _parse_head(head):
    """Parse the start line + headers (text without the blank line).  Returns (msg, content_length)."""
    if "\r" in head:
        head = head.replace("\r\n", "\n")
        if "\r" in head:
            raise SipParseError("stray CR in message head")
    lines = head.split("\n")
    start = lines[0]
    if start.startswith("SIP/") or start[:4].upper() == "SIP/":
        parts = start.split(" ", 2)
        if len(parts) < 2 or parts[0].upper() != SIP_VERSION:
            raise SipParseError("bad status line %r" % start[:80])
        code = parts[1]
        if len(code) != 3 or not _DIGITS_RE.match(code) or not "100" <= code <= "699":
            raise SipParseError("bad status code in %r" % start[:80])
        msg = SipResponse(int(code), parts[2].strip() if len(parts) > 2 else "")
    else:
        parts = start.split(" ")
        if len(parts) != 3:
            raise SipParseError("bad request line %r" % start[:80])
        method, uri, version = parts
        if not _TOKEN_RE.match(method):
            raise SipParseError("bad method %r" % method[:40])
        if version.upper() != SIP_VERSION:
            raise SipParseError("unsupported SIP version %r" % version[:40])
        scheme, colon, _rest = uri.partition(":")
        if not colon or not scheme or not re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*$", scheme):
            raise SipParseError("bad Request-URI %r" % uri[:80])
        msg = SipRequest(method, uri)
    items = msg.headers._items
    last = None
    for line in lines[1:]:
        if not line:
            raise SipParseError("empty line inside headers")
        if line[0] in " \t":
            if last is None:
                raise SipParseError("continuation line before any header")
            name, value, key = items[-1]
            value = (value + " " + line.strip()).strip()
            items[-1] = (name, value, key)
            continue
        name, colon, value = line.partition(":")
        name = name.rstrip(" \t")
        if not colon or not name or not _TOKEN_RE.match(name):
            raise SipParseError("bad header line %r" % line[:80])
        key = name.lower()
        key = COMPACT_FORMS.get(key, key)
        items.append((_CANONICAL.get(key, name), value.strip(), key))
        last = key
    present = set(item[2] for item in items)
    for req in _REQUIRED:
        if req not in present:
            raise SipParseError("missing %s header" % canonical_name(req))
    num, cseq_method = _parse_cseq(msg.headers.get("cseq"))
    if isinstance(msg, SipRequest) and cseq_method != msg.method:
        raise SipParseError("CSeq method %r does not match request method %r" % (cseq_method, msg.method))
    _top_via = msg.top_via  # validate the top Via eagerly: responses are matched on its branch
    NameAddr.parse(msg.headers.get("from"))
    NameAddr.parse(msg.headers.get("to"))
    clen = None
    cl_values = msg.headers.get_all("content-length")
    if cl_values:
        if len(set(v.strip() for v in cl_values)) > 1:
            raise SipParseError("conflicting Content-Length headers")
        cl = cl_values[0].strip()
        if not _DIGITS_RE.match(cl) or len(cl) > 9:
            raise SipParseError("bad Content-Length %r" % cl[:20])
        clen = int(cl)
    return msg, clen


def _find_head_end(data):
    crlf = data.find(b"\r\n\r\n")
    lf = data.find(b"\n\n", 0, crlf if crlf >= 0 else len(data))
    if lf >= 0:
        return (lf - 1 if lf and data[lf - 1] == 13 else lf), lf + 2
    if crlf >= 0:
        return crlf, crlf + 4
    return -1, -1


def parse_message(data, stream=False):
    """Parse one SIP message from ``bytes``.

    Datagram rules (default): the body is what follows the blank line, cut to Content-Length;
    a Content-Length larger than the body is an error.  ``stream=True`` requires Content-Length
    and exactly one message (use :class:`StreamFramer` for a byte stream).
    Raises :class:`SipParseError` for every malformed input.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise SipParseError("expected bytes, got %s" % type(data).__name__)
    data = bytes(data)
    data = data.lstrip(b"\r\n")
    if not data:
        raise SipParseError("empty message")
    end, body_start = _find_head_end(data)
    if end < 0:
        raise SipParseError("no blank line after headers")
    if end > MAX_HEADER_BYTES:
        raise SipParseError("message head too large")
    try:
        head = data[:end].decode("utf-8")
    except UnicodeDecodeError:
        head = data[:end].decode("utf-8", "replace")
    msg, clen = _parse_head(head)
    rest = data[body_start:]
    if clen is None:
        if stream:
            raise SipParseError("missing Content-Length on a stream transport")
        msg.body = rest
    else:
        if len(rest) < clen:
            raise SipParseError("Content-Length %d larger than body (%d bytes)" % (clen, len(rest)))
        if stream and len(rest) > clen:
            raise SipParseError("extra bytes after Content-Length body")
        msg.body = rest[:clen]
    return msg


# ---------------------------------------------------------------------- lean response path
# The bulk OPTIONS sweep parses thousands of responses a second; most come in the plain shape every
# server sends (one header per line, no folding, an ASCII head, From/To as <uri> or a simple display
# name, a top Via with token parameters).  parse_response_lean() checks exactly that shape with cheap
# tests that are a strict SUBSET of what _parse_head accepts, and builds the same SipResponse (same
# header items, code, reason, body, and the top Via already parsed).  Anything else returns None and the
# caller falls back to parse_message(), which stays the reference (tests compare the two on a corpus
# and with hypothesis).
_TOKEN_CHARS = r"A-Za-z0-9.!%*_+`'~\-"
_LEAN_VIA_RE = re.compile(
    r"SIP/2\.0/([%s]+) (\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-_]+)(?::([0-9]{1,5}))?"
    r"((?:;[%s]+(?:=[^;\"\s]+)?)*)\Z" % (_TOKEN_CHARS, _TOKEN_CHARS))
_LEAN_PARAMS = r"(?:;[%s]+(?:=[%s]+)?)*\Z" % (_TOKEN_CHARS, _TOKEN_CHARS)
_LEAN_NAMEADDR_RE = re.compile(
    r"(?:(?:\"[^\"\\<>]*\"[ \t]*|[%s \t]*)<[^<>\"\s]*:[^<>\"\s]*>|[^<>\"\s;,]*:[^<>\"\s;]*)%s"
    % (_TOKEN_CHARS, _LEAN_PARAMS))
# every header line after the status line: "\r\n" name ":" value; a line this does not match (no colon) makes
# the number of matches differ from the number of lines
_LEAN_LINE_RE = re.compile(r"\r\n([^:\r\n]*):([^\r\n]*)")
_LEAN_SHAPES = {}  # tuple of raw header names as sent -> what _lean_shape() says about them
_LEAN_SHAPES_MAX = 256
_LEAN_FIRST = ("via", "from", "to", "call-id", "cseq")


def _lean_shape(raw_names):
    """For a sequence of raw header names: (canonical names, keys, index of the first Via, From, To, Call-ID,
    CSeq, indexes of Content-Length), or None when a name is not a token or a required header is missing.
    Responses from one kind of server repeat the same sequence, so the answer is cached."""
    canon, keys = [], []
    for raw in raw_names:
        name = raw.rstrip(" \t")
        if not name or not _TOKEN_RE.match(name):
            return None
        key = name.lower()
        key = COMPACT_FORMS.get(key, key)
        canon.append(_CANONICAL.get(key, name))
        keys.append(key)
    first = []
    for req in _LEAN_FIRST:
        if req not in keys:
            return None
        first.append(keys.index(req))
    clens = tuple(i for i, key in enumerate(keys) if key == "content-length")
    shape = (tuple(canon), tuple(keys), tuple(first), clens)
    if len(_LEAN_SHAPES) < _LEAN_SHAPES_MAX:
        _LEAN_SHAPES[raw_names] = shape
    return shape


def parse_response_lean(data):
    """Fast path for a response datagram in the common shape; returns a :class:`SipResponse` equal to
    what :func:`parse_message` returns, or ``None`` when the input is not in that shape (then use
    :func:`parse_message`, which also tells what is wrong).  Never raises for any ``bytes`` input."""
    if data[:8] != b"SIP/2.0 ":
        return None
    end = data.find(b"\r\n\r\n")
    if end < 0 or end > MAX_HEADER_BYTES:
        return None
    try:
        head = data[:end].decode("ascii")
    except (UnicodeDecodeError, AttributeError):
        return None
    ncrlf = head.count("\r\n")
    if head.count("\r") != ncrlf or head.count("\n") != ncrlf:
        return None  # bare CR or LF: the strict parser decides
    first = head.find("\r\n")
    start = head if first < 0 else head[:first]
    code = start[8:11]
    if len(start) < 11 or not "100" <= code <= "699" or not code.isdigit() or (len(start) > 11 and start[11] != " "):
        return None
    pairs = _LEAN_LINE_RE.findall(head)
    if len(pairs) != ncrlf:
        return None  # a line without a colon, or a folded one: strict path
    raw_names = tuple([pair[0] for pair in pairs])
    shape = _LEAN_SHAPES.get(raw_names)
    if shape is None:
        shape = _lean_shape(raw_names)
        if shape is None:
            return None
    canon, keys, first, clen_at = shape
    values = [pair[1].strip() for pair in pairs]
    msg = SipResponse(int(code), start[12:].strip())
    msg.headers._items = list(zip(canon, values, keys))
    i_via, i_from, i_to, _i_callid, i_cseq = first
    clens = [values[i] for i in clen_at]
    try:
        _parse_cseq(values[i_cseq])
    except SipParseError:
        return None
    via = values[i_via]
    if '"' in via:
        return None
    m = _LEAN_VIA_RE.match(via.split(",", 1)[0].strip())
    if m is None:
        return None
    host, port = m.group(2), m.group(3)
    if port is not None:
        port = int(port)
        if not 0 < port < 65536:
            return None
    if host[0] == "[":
        host = host[1:-1]
    if _LEAN_NAMEADDR_RE.match(values[i_from]) is None or _LEAN_NAMEADDR_RE.match(values[i_to]) is None:
        return None
    body = data[end + 4:]
    if clens:
        cl = clens[0]
        if len(clens) > 1 and len(set(clens)) > 1:
            return None
        if not cl.isdigit() or not cl.isascii() or len(cl) > 9:
            return None
        clen = int(cl)
        if len(body) < clen:
            return None
        body = body[:clen]
    msg.body = bytes(body)
    params = {}
    ptext = m.group(4)
    if ptext:  # ";name[=value]..." already checked by the regex: no quotes, no blanks, no empty names
        for part in ptext[1:].split(";"):
            name, eq, value = part.partition("=")
            params[name.lower()] = value if eq else None
    msg._via = Via(m.group(1), host, port, params)
    return msg


class StreamFramer(object):
    """Content-Length framing for TCP/TLS: ``feed(bytes)`` returns the complete messages so far.

    CRLF keep-alives between messages are skipped.  Malformed framing raises :class:`SipParseError`
    (the connection should then be closed).
    """

    __slots__ = ("_buf", "max_body")

    def __init__(self, max_body=MAX_BODY_BYTES):
        self._buf = bytearray()
        self.max_body = max_body

    def feed(self, data):
        self._buf.extend(data)
        out = []
        while True:
            buf = self._buf
            i = 0
            n = len(buf)
            while i < n and buf[i] in (13, 10):
                i += 1
            if i:
                del buf[:i]
            if not buf:
                break
            end, body_start = _find_head_end(bytes(buf[:MAX_HEADER_BYTES + 4]))
            if end < 0:
                if len(buf) > MAX_HEADER_BYTES:
                    raise SipParseError("message head too large")
                break
            try:
                head = bytes(buf[:end]).decode("utf-8")
            except UnicodeDecodeError:
                head = bytes(buf[:end]).decode("utf-8", "replace")
            msg, clen = _parse_head(head)
            if clen is None:
                raise SipParseError("missing Content-Length on a stream transport")
            if clen > self.max_body:
                raise SipParseError("body too large (%d bytes)" % clen)
            if len(buf) - body_start < clen:
                break
            msg.body = bytes(buf[body_start:body_start + clen])
            del buf[:body_start + clen]
            out.append(msg)
        return out

    @property
    def pending(self):
        return len(self._buf)
