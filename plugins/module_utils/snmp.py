# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SNMP engine of the collection: many agents at once, v2c and v3, numeric OIDs.

Built on pysnmp 7 (asyncio):

- **SNMPv2c** is encoded and decoded here (``encode_request``/``decode_response``: the handful of BER types a
  v2c message has, straight to plain Python values) over one asyncio UDP endpoint per agent.  That skips the
  SNMPv3 message-processing machinery that v2c does not need and pyasn1's object-per-value codec, which made the
  poller CPU-bound with hundreds of agents.
- **SNMPv3** (noAuthNoPriv / authNoPriv / authPriv, MD5/SHA-1/SHA-2, DES/3DES/AES) goes through
  ``pysnmp.hlapi.v3arch.asyncio`` with one shared ``SnmpEngine`` per poll.

Both speak the same walk algorithm (:func:`collect`): every column/subtree a target needs is walked *in
parallel in one GETBULK* (one repeater per column, scalars as non-repeaters), max-repetitions first a share
of a varbind budget, then sized to what the columns still need.  A target with ``system + interfaces + ds1``
and small tables costs a single request/response.  Once an agent of a poll needs several requests anyway,
the poller walks runs: sibling columns (or scalars) that follow each other in OID order share one repeater,
so the agent starts one lookup and sends one end-of-walk varbind per run, not per column.

Public API (all synchronous for callers; asyncio stays inside)::

    poller = SnmpPoller(timeout=2, retries=1, concurrency=64)
    results = poller.poll(targets, ["system", "interfaces", "ds1"])   # decoded facts per target
    values = poller.run(poller.aget(target, ["1.3.6.1.2.1.1.5.0"]))    # raw {oid: value}
    values = poller.run(poller.awalk(target, ["1.3.6.1.2.1.2.2.1.2"]))

A target is a dict (see :func:`normalize_target`).  Values are plain Python: ``int`` (INTEGER,
Counter32/64, Gauge32, TimeTicks), ``bytes`` (OCTET STRING, Opaque, BITS), ``str`` (OBJECT IDENTIFIER,
IpAddress as dotted quad).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import asyncio
import random
import time
import traceback

from ansible.module_utils.common.parameters import env_fallback

try:
    from pyasn1.type import univ as _univ
    from pysnmp.proto import rfc1902 as _rfc1902
    from pysnmp.proto import rfc1905 as _rfc1905
    HAS_PYSNMP = True
    PYSNMP_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - reported by the modules with missing_required_lib
    HAS_PYSNMP = False
    PYSNMP_IMPORT_ERROR = traceback.format_exc()

from ansible_collections.voipops.voip.plugins.module_utils import snmp_decode

DEFAULT_PORT = 161
DEFAULT_TIMEOUT = 2.0
DEFAULT_RETRIES = 1
DEFAULT_CONCURRENCY = 64
# varbinds asked for per GETBULK (spread over the unfinished columns); responses stay well under 64 KiB
DEFAULT_BULK_BUDGET = 160
MAX_REPETITIONS = 100
MAX_REQUESTS_PER_TARGET = 2000

AUTH_PROTOCOLS = ("md5", "sha", "sha224", "sha256", "sha384", "sha512")
PRIV_PROTOCOLS = ("des", "3des", "aes", "aes192", "aes256")
VERSIONS = ("2c", "3")


class SnmpError(Exception):
    """A target did not answer, or answered with an error (message names the target)."""


class _Marker(object):
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


END_OF_MIB = _Marker("endOfMibView")
NO_SUCH = _Marker("noSuchObject")


# --------------------------------------------------------------------------- targets
def normalize_target(target, defaults=None):
    """Merge ``defaults`` into ``target`` and check it.  Returns a new dict; raises ``ValueError``.

    Keys: ``host`` (required), ``port`` (161), ``name`` (default ``host:port``), ``version`` (``2c``/``3``),
    ``community`` (v2c), ``user``/``auth_protocol``/``auth_key``/``priv_protocol``/``priv_key`` (v3),
    ``context`` (v3 context name), ``timeout``, ``retries``.  A v3 security level follows from the keys
    given: ``auth_key`` -> authNoPriv, plus ``priv_key`` -> authPriv.
    """
    t = dict((k, v) for k, v in (defaults or {}).items() if v is not None)
    t.update(dict((k, v) for k, v in target.items() if v is not None))
    errors = []
    if not t.get("host"):
        errors.append("host is required")
    try:
        t["port"] = int(t["port"]) if t.get("port") is not None else DEFAULT_PORT
        if not 0 < t["port"] < 65536:
            raise ValueError()
    except (TypeError, ValueError):
        errors.append("port %r is not a UDP port" % (t.get("port"),))
    version = str(t.get("version") or "2c").lower().lstrip("v")
    if version == "2":
        version = "2c"
    if version not in VERSIONS:
        errors.append("version %r is not one of %s" % (t.get("version"), ", ".join(VERSIONS)))
    t["version"] = version
    if version == "2c":
        if not t.get("community"):
            errors.append("community is required for SNMP v2c")
    elif version == "3":
        if not t.get("user"):
            errors.append("user is required for SNMP v3")
        if t.get("priv_key") and not t.get("auth_key"):
            errors.append("priv_key needs auth_key (authPriv)")
        for key, allowed, default in (("auth_protocol", AUTH_PROTOCOLS, "sha"), ("priv_protocol", PRIV_PROTOCOLS, "aes")):
            value = str(t.get(key) or default).lower().replace("-", "")
            value = {"sha1": "sha", "aes128": "aes"}.get(value, value)
            if value not in allowed:
                errors.append("%s %r is not one of %s" % (key, t.get(key), ", ".join(allowed)))
            t[key] = value
        for key in ("auth_key", "priv_key"):
            if t.get(key) and len(str(t[key])) < 8:
                errors.append("%s must be at least 8 characters (RFC 3414)" % key)
    for key, default, conv in (("timeout", DEFAULT_TIMEOUT, float), ("retries", DEFAULT_RETRIES, int)):
        try:
            t[key] = conv(t[key]) if t.get(key) is not None else default
            if t[key] < 0:
                raise ValueError()
        except (TypeError, ValueError):
            errors.append("%s %r must be a non-negative number" % (key, t.get(key)))
    if not t.get("name"):
        t["name"] = "%s:%s" % (t.get("host"), t.get("port"))
    if errors:
        raise ValueError("SNMP target %s: %s" % (t.get("name"), "; ".join(errors)))
    return t


# --------------------------------------------------------------------------- values
def _oid_str(oid):
    return ".".join([str(x) for x in oid.asTuple()])


def to_python(value):
    """pyasn1 SNMP value -> plain Python value (see module doc)."""
    if HAS_PYSNMP:
        # first: pyasn1's Null (and so endOfMibView, noSuchObject, noSuchInstance) is a kind of OctetString
        if isinstance(value, _rfc1905.EndOfMibView):
            return END_OF_MIB
        if isinstance(value, _univ.Null):
            return NO_SUCH
        if isinstance(value, _univ.Integer):
            return int(value)
        if isinstance(value, _rfc1902.IpAddress):
            return ".".join(str(b) for b in bytearray(value.asOctets()))
        if isinstance(value, _univ.OctetString):
            return value.asOctets()
        if isinstance(value, _univ.ObjectIdentifier):
            return _oid_str(value)
    return NO_SUCH


def _oid_tuple(oid):
    return tuple(int(x) for x in oid.split("."))


def _check_oid(oid):
    oid = str(oid).strip().lstrip(".")
    try:
        parts = _oid_tuple(oid)
    except ValueError:
        raise ValueError("%r is not a numeric OID (use 1.3.6.1..., MIB names are not resolved)" % oid)
    if len(parts) < 2:
        raise ValueError("%r is too short to be an OID" % oid)
    return oid


# --------------------------------------------------------------------------- SNMPv2c on the wire
# A v2c message is five BER types deep (RFC 3416/2578: SEQUENCE, INTEGER, OCTET STRING, OBJECT IDENTIFIER, NULL and the
# SMI application types).  pyasn1 builds a Python object per value and spent 81% of the poller's CPU decoding GETBULK
# responses (docs/snmp_info.md), so requests are encoded and responses decoded here, straight to plain Python values;
# pyasn1 stays the reference the unit tests compare against.  SNMPv3 keeps pysnmp's own codec.
GET_REQUEST, GET_NEXT_REQUEST, RESPONSE, GET_BULK_REQUEST = 0xA0, 0xA1, 0xA2, 0xA5
_UNSIGNED = (0x41, 0x42, 0x43, 0x46)  # Counter32, Gauge32 (Unsigned32), TimeTicks, Counter64


class BerError(ValueError):
    """Bytes that are not a well-formed SNMPv2c message."""


def _ber_len(n):
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def _tlv(tag, body):
    return bytes((tag,)) + _ber_len(len(body)) + body


def _ber_int(value):
    return _tlv(0x02, int(value).to_bytes(max(1, (int(value).bit_length() + 8) // 8), "big", signed=True))


def _ber_oid(oid):
    arcs = _oid_tuple(oid) if isinstance(oid, str) else tuple(oid)
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] > 39):
        raise BerError("%r is not an encodable OID" % (oid,))
    out = bytearray()
    for arc in (arcs[0] * 40 + arcs[1],) + tuple(arcs[2:]):
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out.extend(reversed(chunk))
    return _tlv(0x06, bytes(out))


def encode_request(community, pdu_type, request_id, oids, non_repeaters=0, max_repetitions=0):
    """A v2c GET/GETNEXT/GETBULK message asking for ``oids`` (numeric OID strings), as bytes."""
    if isinstance(community, str):
        community = community.encode("utf-8")
    varbinds = b"".join(_tlv(0x30, _ber_oid(o) + b"\x05\x00") for o in oids)
    pdu = _tlv(pdu_type, _ber_int(request_id) + _ber_int(non_repeaters) + _ber_int(max_repetitions) + _tlv(0x30, varbinds))
    return _tlv(0x30, _ber_int(1) + _tlv(0x04, community) + pdu)


def _read(data, pos, end):
    """(tag, start of value, end of value) of the TLV at ``pos``."""
    if pos + 2 > end:
        raise BerError("truncated at byte %d" % pos)
    tag = data[pos]
    n = data[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        if not 0 < k <= 4 or pos + k > end:
            raise BerError("bad length at byte %d" % (pos - 1))
        n = int.from_bytes(data[pos:pos + k], "big")
        pos += k
    if pos + n > end:
        raise BerError("value of tag 0x%02x at byte %d runs past its container" % (tag, pos))
    return tag, pos, pos + n


def _expect(data, pos, end, tag):
    got, start, stop = _read(data, pos, end)
    if got != tag:
        raise BerError("expected tag 0x%02x at byte %d, found 0x%02x" % (tag, pos, got))
    return start, stop


def _oid_text(data, start, stop):
    if start == stop:
        raise BerError("empty OBJECT IDENTIFIER")
    arcs = []
    arc = 0
    for b in data[start:stop]:
        arc = (arc << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(arc)
            arc = 0
    if data[stop - 1] & 0x80:
        raise BerError("unterminated OBJECT IDENTIFIER arc")
    first = arcs[0]
    head = (first // 40, first % 40) if first < 80 else (2, first - 80)
    return ".".join(map(str, head + tuple(arcs[1:])))


def _value(data, tag, start, stop):
    if tag == 0x02:
        return int.from_bytes(data[start:stop], "big", signed=True)
    if tag in _UNSIGNED:
        return int.from_bytes(data[start:stop], "big")
    if tag in (0x04, 0x44):  # OCTET STRING (and BITS), Opaque
        return bytes(data[start:stop])
    if tag == 0x06:
        return _oid_text(data, start, stop)
    if tag == 0x40:
        return ".".join(str(b) for b in data[start:stop])
    if tag == 0x82:
        return END_OF_MIB
    if tag in (0x05, 0x80, 0x81):  # NULL, noSuchObject, noSuchInstance
        return NO_SUCH
    raise BerError("unknown value type 0x%02x at byte %d" % (tag, start))


def decode_response(data):
    """A v2c Response message -> (request_id, error_status, error_index, [(oid, value), ...]) with plain values
    (see :func:`to_python`); ``BerError`` when it is not one."""
    data = memoryview(data).cast("B") if not isinstance(data, (bytes, bytearray)) else data
    end = len(data)
    start, stop = _expect(data, 0, end, 0x30)
    if stop != end:
        raise BerError("%d bytes after the message" % (end - stop))
    pos, stop_v = _expect(data, start, stop, 0x02)
    if int.from_bytes(data[pos:stop_v], "big", signed=True) != 1:
        raise BerError("not an SNMPv2c message")
    _c, pos = _expect(data, stop_v, stop, 0x04)
    pos, stop = _expect(data, pos, stop, RESPONSE)
    head = []
    for _i in range(3):
        start, pos = _expect(data, pos, stop, 0x02)
        head.append(int.from_bytes(data[start:pos], "big", signed=True))
    pos, stop = _expect(data, pos, stop, 0x30)
    varbinds = []
    while pos < stop:
        start, pos = _expect(data, pos, stop, 0x30)
        o_start, o_stop = _expect(data, start, pos, 0x06)
        tag, v_start, v_stop = _read(data, o_stop, pos)
        if v_stop != pos:
            raise BerError("extra bytes in a varbind at byte %d" % v_stop)
        varbinds.append((_oid_text(data, o_start, o_stop), _value(data, tag, v_start, v_stop)))
    return head[0], head[1], head[2], varbinds


# --------------------------------------------------------------------------- transports
class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self):
        self.waiters = {}
        self.transport = None
        self.error = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        try:
            response = decode_response(data)
        except BerError:  # garbage on the wire is ignored, the request times out
            return
        fut = self.waiters.pop(response[0], None)
        if fut is not None and not fut.done():
            fut.set_result(response)

    def error_received(self, exc):
        # ICMP port unreachable on loopback: nobody listens
        self.error = exc
        for fut in list(self.waiters.values()):
            if not fut.done():
                fut.set_exception(exc)
        self.waiters.clear()

    def connection_lost(self, exc):
        pass


# RFC 3416 error-status names
ERROR_STATUS = dict(enumerate((
    "noError", "tooBig", "noSuchName", "badValue", "readOnly", "genErr", "noAccess", "wrongType", "wrongLength",
    "wrongEncoding", "wrongValue", "noCreation", "inconsistentValue", "resourceUnavailable", "commitFailed",
    "undoFailed", "authorizationError", "notWritable", "inconsistentName")))


class V2cSession(object):
    """SNMPv2c to one agent over its own UDP socket (the codec above)."""

    def __init__(self, target):
        self.target = target
        self.name = target["name"]
        self.timeout = target["timeout"]
        self.retries = target["retries"]
        self.community = target["community"]
        self.transport = None
        self.protocol = None
        self.requests = 0

    async def open(self):
        loop = asyncio.get_running_loop()
        try:
            self.transport, self.protocol = await loop.create_datagram_endpoint(
                _UdpProtocol, remote_addr=(self.target["host"], self.target["port"]))
        except OSError as exc:
            raise SnmpError("%s: cannot open UDP socket: %s" % (self.name, exc))

    def close(self):
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    async def _exchange(self, pdu_type, oids, non_repeaters=0, max_repetitions=0):
        req_id = random.randint(1, 0x7FFFFFFF)
        data = encode_request(self.community, pdu_type, req_id, oids, non_repeaters, max_repetitions)
        loop = asyncio.get_running_loop()
        for _attempt in range(self.retries + 1):
            fut = loop.create_future()
            self.protocol.waiters[req_id] = fut
            self.requests += 1
            self.transport.sendto(data)
            try:
                rsp = await asyncio.wait_for(fut, self.timeout)
            except asyncio.TimeoutError:
                continue
            except OSError as exc:
                raise SnmpError("%s: %s" % (self.name, exc))
            finally:
                self.protocol.waiters.pop(req_id, None)
            _req, status, index, varbinds = rsp
            if status:
                raise SnmpError("%s: agent answered %s (error index %d)" % (
                    self.name, ERROR_STATUS.get(status, status), index))
            return varbinds
        raise SnmpError("%s: no SNMP response within %.1fs x %d tries (host %s port %d, community or ACL wrong, "
                        "or agent down)" % (self.name, self.timeout, self.retries + 1, self.target["host"],
                                            self.target["port"]))

    async def get(self, oids):
        return await self._exchange(GET_REQUEST, oids)

    async def bulk(self, non_repeaters, max_repetitions, oids):
        return await self._exchange(GET_BULK_REQUEST, oids, non_repeaters, max_repetitions)


class V3Session(object):
    """SNMPv3 (USM) to one agent through pysnmp's hlapi and a shared SnmpEngine."""

    def __init__(self, target, engine):
        self.target = target
        self.name = target["name"]
        self.engine = engine
        self.requests = 0
        self.transport = None
        from pysnmp.hlapi.v3arch import asyncio as hl
        self.hl = hl
        auth = {
            "md5": hl.usmHMACMD5AuthProtocol, "sha": hl.usmHMACSHAAuthProtocol,
            "sha224": hl.usmHMAC128SHA224AuthProtocol, "sha256": hl.usmHMAC192SHA256AuthProtocol,
            "sha384": hl.usmHMAC256SHA384AuthProtocol, "sha512": hl.usmHMAC384SHA512AuthProtocol,
        }
        priv = {
            "des": hl.usmDESPrivProtocol, "3des": hl.usm3DESEDEPrivProtocol, "aes": hl.usmAesCfb128Protocol,
            "aes192": hl.usmAesCfb192Protocol, "aes256": hl.usmAesCfb256Protocol,
        }
        kwargs = {}
        if target.get("auth_key"):
            kwargs["authKey"] = str(target["auth_key"])
            kwargs["authProtocol"] = auth[target["auth_protocol"]]
            if target.get("priv_key"):
                kwargs["privKey"] = str(target["priv_key"])
                kwargs["privProtocol"] = priv[target["priv_protocol"]]
        self.auth = hl.UsmUserData(str(target["user"]), **kwargs)
        self.context = hl.ContextData(contextName=target.get("context") or "")

    async def open(self):
        try:
            self.transport = await self.hl.UdpTransportTarget.create(
                (self.target["host"], self.target["port"]), timeout=self.target["timeout"],
                retries=self.target["retries"])
        except Exception as exc:  # noqa: BLE001 - pysnmp raises its own error types for resolution failures
            raise SnmpError("%s: %s" % (self.name, exc))

    def close(self):
        pass

    def _result(self, res):
        error_indication, error_status, error_index, var_binds = res
        if error_indication:
            hint = ""
            if "timeout" in str(error_indication).lower():
                hint = " (%.1fs x %d tries; wrong auth_key/priv_key/protocols, or agent down)" % (
                    self.target["timeout"], self.target["retries"] + 1)
            raise SnmpError("%s: %s%s" % (self.name, error_indication, hint))
        if error_status and int(error_status):
            raise SnmpError("%s: agent answered %s (error index %s)" % (
                self.name, error_status.prettyPrint() if hasattr(error_status, "prettyPrint") else error_status,
                error_index))
        return [(_oid_str(vb[0]), to_python(vb[1])) for vb in var_binds]

    def _vbs(self, oids):
        return [self.hl.ObjectType(self.hl.ObjectIdentity(o)) for o in oids]

    async def get(self, oids):
        self.requests += 1
        res = await self.hl.get_cmd(self.engine, self.auth, self.transport, self.context, *self._vbs(oids),
                                    lookupMib=False)
        return self._result(res)

    async def bulk(self, non_repeaters, max_repetitions, oids):
        self.requests += 1
        res = await self.hl.bulk_cmd(self.engine, self.auth, self.transport, self.context, non_repeaters,
                                     max_repetitions, *self._vbs(oids), lookupMib=False)
        return self._result(res)


# --------------------------------------------------------------------------- walking
# an extra request costs the agent about what this many varbinds cost (snmpsim: 0.47 ms a request, 0.06-0.2 ms a
# varbind; docs/snmp_info.md); used to choose between wasted repetitions and one more round trip
REQUEST_COST_VARBINDS = 6


class _Stream(object):
    """One GETBULK repeater: a run of sibling subtrees that follow each other in OID order.

    ``base`` is the common parent, ``lo``..``hi`` the first and last sibling arc.  A column run (``exact`` is
    None) keeps every OID under ``base.lo`` .. ``base.hi`` (nothing else can sit between ``base.c.*`` and
    ``base.(c+1).*``), so it returns what walking each column alone returns, with one search and one end
    varbind for the run instead of one per column.  A scalar run (``exact``: the ``base.c.0`` instances
    wanted) keeps exactly those and ends on the last of them.
    """

    def __init__(self, base, lo, hi, exact=None):
        self.base = base
        self.depth = len(base)
        self.lo, self.hi = lo, hi
        self.exact = exact
        self.exact_t = sorted(_oid_tuple(o) for o in exact) if exact else []
        self.exact_last = self.exact_t[-1] if exact else None
        self.start = ".".join(map(str, base + (lo,)))
        self.last = self.start
        self.last_t = base + (lo,)
        self.arc = None  # sibling the stream is in
        self.rows = 0  # rows seen in that sibling

    def take(self, oid, value, result, finished):
        """Record one answered varbind; ``True`` while the stream goes on."""
        if value is END_OF_MIB:
            return self._end(finished)
        t = _oid_tuple(oid)
        if t <= self.last_t:
            return self._end(finished)  # agent went backwards or repeated itself: stop rather than loop
        if t[:self.depth] != self.base or len(t) == self.depth or not self.lo <= t[self.depth] <= self.hi:
            return self._end(finished)
        self.last, self.last_t = oid, t
        arc = t[self.depth]
        if arc != self.arc:
            self._end(finished)
            self.arc, self.rows = arc, 0
        if self.exact is None:
            if len(t) > self.depth + 1:
                result[oid] = value
                self.rows += 1
            return True
        if oid in self.exact:
            if value is not NO_SUCH:
                result[oid] = value
            self.rows += 1
        return t < self.exact_last

    def _end(self, finished):
        if self.exact is None and self.arc is not None:
            finished[self.base] = max(finished.get(self.base, 0), self.rows)
        return False

    def need(self, finished):
        """Varbinds this stream still needs (known for scalars; for columns from finished sibling columns of
        the same table, which usually have the same rows), or ``None``."""
        if self.exact is not None:
            return max(1, sum(1 for t in self.exact_t if t > self.last_t))
        rows = finished.get(self.base)
        if rows is None:
            return None
        arc = self.lo if self.arc is None else self.arc
        done = 0 if self.arc is None else self.rows
        if done > rows:
            return None
        return (self.hi - arc + 1) * rows - done + 1


def _streams(scalars, columns, runs=True):
    """Group ``.0`` scalars and walked subtrees into runs of consecutive sibling arcs (order of first appearance);
    with ``runs=False`` every subtree is its own stream and no scalar is (they go as non-repeaters)."""
    groups = {}
    order = []
    for kind, oids in (("scalar", [s for s in scalars if s.endswith(".0")] if runs else []), ("column", columns)):
        for oid in oids:
            t = _oid_tuple(oid)
            base, arc = (t[:-2], t[-2]) if kind == "scalar" else (t[:-1], t[-1])
            key = (kind, base)
            if key not in groups:
                groups[key] = set()
                order.append(key)
            groups[key].add(arc)
    streams = []
    for kind, base in order:
        arcs = sorted(groups[(kind, base)])
        chunks = [[arcs[0], arcs[0]]]
        for a in arcs[1:]:
            if a == chunks[-1][1] + 1 and runs:
                chunks[-1][1] = a
            else:
                chunks.append([a, a])
        for lo, hi in chunks:
            if kind == "column":
                streams.append(_Stream(base, lo, hi))
            else:
                streams.append(_Stream(base, lo, hi, exact=set(".".join(map(str, base + (a, 0))) for a in range(lo, hi + 1))))
    return streams


def _repetitions(needs, budget):
    """max-repetitions for repeaters needing ``needs`` varbinds (``None`` = unknown): the budget shared out
    while anything is unknown, else the need that wastes least, counting a round trip as
    ``REQUEST_COST_VARBINDS`` varbinds (longer streams finish in the next request, sized to them alone)."""
    share = max(1, min(MAX_REPETITIONS, budget // len(needs)))
    if any(n is None for n in needs):
        # nothing known about some tables: the budget shared out, or what a known run (scalars) needs to finish now
        return max([share] + [min(n, MAX_REPETITIONS) for n in needs if n is not None])
    top = max(needs)

    def cost(r):
        return sum(r - n for n in needs if n < r) + (REQUEST_COST_VARBINDS if top > r else 0)

    best = min(sorted(set(needs)), key=cost)
    return max(1, min(share, best))


async def collect(session, scalars=(), columns=(), budget=DEFAULT_BULK_BUDGET, runs=True):
    """Fetch ``scalars`` (exact instances) and walk every subtree in ``columns``; ``{oid: value}``.

    Every unfinished subtree shares each GETBULK.  Sibling subtrees that follow each other (``ifEntry.2`` ..
    ``ifEntry.10``; ``sysDescr.0`` .. ``sysServices.0``) are walked as one run, so an agent searches once per
    run and sends one end-of-run varbind instead of one per column.  Other scalars ride as non-repeaters of the
    first request (GETNEXT of the parent returns the ``.0`` instance).  After the first response,
    max-repetitions is sized to what the runs still need (a table's finished columns tell its rows), a run that
    needs one varbind rides as a non-repeater, and finished runs are dropped.  Missing objects are left out.

    ``runs=False`` walks every column on its own and sends all scalars as non-repeaters: more lookups and
    end-of-column varbinds for the agent, but small tables come back in ONE response (a run of nine columns needs
    nine times the repetitions of one column).  ``session.walk_requests`` tells how many requests the walk took;
    :class:`SnmpPoller` walks runs once an agent of the poll needed more than one.
    """
    result = {}
    scalars = list(scalars)
    if scalars and not columns:
        for oid, value in await session.get(scalars):
            if value is not NO_SUCH and value is not END_OF_MIB:
                result[oid] = value
        return result
    pending = _streams(scalars, list(columns), runs)
    # instances of columns (and, without runs, every scalar): GETNEXT of their parent, as asked
    loose = [s for s in scalars if not s.endswith(".0") or not runs]
    finished = {}  # table entry -> most rows of a finished column of it
    first = True
    requests = 0
    while pending:
        requests += 1
        if requests > MAX_REQUESTS_PER_TARGET:
            raise SnmpError("%s: walk did not finish after %d requests (agent loops?)" % (session.name, requests - 1))
        nr = loose if first else []
        needs = [s.need(finished) for s in pending]
        single = [s for s, n in zip(pending, needs) if n == 1 and not first]
        repeat = [s for s, n in zip(pending, needs) if n != 1 or first]
        reps = _repetitions([n for s, n in zip(pending, needs) if s in repeat], budget) if repeat else 0
        req = [s.rsplit(".", 1)[0] for s in nr] + [s.last for s in single] + [s.last for s in repeat]
        rsp = await session.bulk(len(nr) + len(single), reps, req)
        for i, scalar in enumerate(nr):
            if i < len(rsp) and rsp[i][0] == scalar and rsp[i][1] is not END_OF_MIB and rsp[i][1] is not NO_SUCH:
                result[scalar] = rsp[i][1]
        # (stream, varbind) in the order the agent answered: the non-repeaters, then row by row of repetitions
        k = len(repeat)
        answers = list(zip(single, rsp[len(nr):len(nr) + len(single)]))
        if k:
            answers += [(repeat[j % k], vb) for j, vb in enumerate(rsp[len(nr) + len(single):])]
        done = set()
        progressed = False
        for stream, (oid, value) in answers:
            if id(stream) in done:
                continue
            before = stream.last
            if stream.take(oid, value, result, finished):
                progressed = True
            else:
                done.add(id(stream))
                progressed = progressed or stream.last != before
        if not progressed and not done:
            raise SnmpError("%s: empty GETBULK response" % session.name)
        pending = [s for s in pending if id(s) not in done]
        first = False
    session.walk_requests = requests
    return result


# --------------------------------------------------------------------------- poller
class SnmpPoller(object):
    """Poll many agents concurrently on one asyncio loop."""

    def __init__(self, timeout=DEFAULT_TIMEOUT, retries=DEFAULT_RETRIES, concurrency=DEFAULT_CONCURRENCY,
                 budget=DEFAULT_BULK_BUDGET):
        self.defaults = {"timeout": timeout, "retries": retries}
        self.concurrency = max(1, int(concurrency))
        self.budget = max(1, int(budget))
        # walk runs of sibling columns once an agent of this poll needed more than one request: one request per
        # agent is kept where columns get it; where the walk takes several anyway, runs cut the agent's work
        self.runs = False
        self._engine = None
        self._sem = None

    # -- sessions
    def _engine_for(self, t):
        # pysnmp keeps one USM entry per user name in an engine: two devices with the same user but
        # different keys need separate engines, or the second clobbers the first.
        key = (t.get("user"), t.get("auth_protocol"), t.get("auth_key"), t.get("priv_protocol"), t.get("priv_key"))
        if self._engine is None:
            self._engine = {}
        engine = self._engine.get(key)
        if engine is None:
            from pysnmp.hlapi.v3arch.asyncio import SnmpEngine
            engine = self._engine[key] = SnmpEngine()
        return engine

    def _close_engine(self):
        for engine in (self._engine or {}).values():
            try:
                engine.close_dispatcher()
            except Exception:  # noqa: BLE001 - best effort at shutdown
                pass
        self._engine = None

    async def _session(self, target):
        t = normalize_target(target, self.defaults)
        session = V2cSession(t) if t["version"] == "2c" else V3Session(t, self._engine_for(t))
        await session.open()
        return session

    # -- raw access
    async def aget(self, target, oids):
        session = await self._session(target)
        try:
            return await collect(session, scalars=[_check_oid(o) for o in oids])
        finally:
            session.close()

    async def awalk(self, target, subtrees):
        session = await self._session(target)
        try:
            return await collect(session, columns=[_check_oid(o) for o in subtrees], budget=self.budget, runs=self.runs)
        finally:
            session.close()

    # -- fact groups
    async def apoll_one(self, target, groups, extra_get=(), extra_walk=()):
        """Poll one target; never raises for agent problems: the error goes into the result."""
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.concurrency)
        started = time.monotonic()
        try:
            t = normalize_target(target, self.defaults)
        except ValueError as exc:
            return {"name": target.get("name") or target.get("host"), "host": target.get("host"),
                    "port": target.get("port"), "ok": False, "error": str(exc), "facts": {}}
        result = {"name": t["name"], "host": t["host"], "port": t["port"], "version": t["version"],
                  "ok": False, "error": None, "facts": {}}
        scalars, columns = snmp_decode.requests_for(groups)
        scalars = scalars + [o for o in (_check_oid(x) for x in extra_get) if o not in scalars]
        columns = columns + [o for o in (_check_oid(x) for x in extra_walk) if o not in columns]
        async with self._sem:
            session = None
            try:
                session = await self._session(t)
                values = await collect(session, scalars, columns, budget=self.budget, runs=self.runs)
            except SnmpError as exc:
                result["error"] = str(exc)
                return result
            except (OSError, asyncio.TimeoutError) as exc:
                result["error"] = "%s: %s" % (t["name"], exc or exc.__class__.__name__)
                return result
            finally:
                if session is not None:
                    result["requests"] = session.requests
                    self.runs = self.runs or getattr(session, "walk_requests", 1) > 1
                    session.close()
        result["facts"] = snmp_decode.decode(groups, values)
        if extra_get or extra_walk:
            wanted = set(_check_oid(x) for x in extra_get)
            prefixes = tuple(_check_oid(x) + "." for x in extra_walk)
            result["values"] = dict((oid, _jsonable(v)) for oid, v in sorted(values.items(), key=lambda kv: _oid_tuple(kv[0]))
                                    if oid in wanted or oid.startswith(prefixes))
        result["ok"] = True
        result["elapsed"] = round(time.monotonic() - started, 3)
        return result

    async def apoll(self, targets, groups, extra_get=(), extra_walk=()):
        self._sem = asyncio.Semaphore(self.concurrency)
        try:
            return await asyncio.gather(*[self.apoll_one(t, groups, extra_get, extra_walk) for t in targets])
        finally:
            self._close_engine()
            self._sem = None

    def poll(self, targets, groups=("system",), extra_get=(), extra_walk=()):
        """Poll every target for ``groups``; results in the order of ``targets``."""
        for g in groups:
            if g not in snmp_decode.GROUPS:
                raise ValueError("unknown fact group %r (known: %s)" % (g, ", ".join(snmp_decode.GROUP_NAMES)))
        return self.run(self.apoll(list(targets), list(groups), extra_get, extra_walk))

    def run(self, coro):
        """Run a coroutine of this poller on a fresh event loop."""
        try:
            return asyncio.run(coro)
        finally:
            self._close_engine()


def _jsonable(value):
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return "0x" + value.hex()
    if value is END_OF_MIB or value is NO_SUCH:
        return None
    return value


# --------------------------------------------------------------------------- module argument specs
def credential_spec(with_defaults=True):
    """Argument spec of the SNMP connection options (doc fragment ``voipops.voip.snmp``).

    With ``with_defaults`` (the module-level options), the SNMPv3 options also come from the environment
    (``VOIPOPS_SNMP_*``: an AWX credential injects them); per-target options (``with_defaults=False``) do not.
    """
    def env(name):
        return dict(fallback=(env_fallback, ["VOIPOPS_SNMP_" + name])) if with_defaults else {}

    return dict(
        port=dict(type="int", default=DEFAULT_PORT if with_defaults else None),
        version=dict(type="str", choices=["2c", "3"], default="2c" if with_defaults else None, **env("VERSION")),
        community=dict(type="str", no_log=True),
        user=dict(type="str", **env("USER")),
        auth_protocol=dict(type="str", choices=list(AUTH_PROTOCOLS), no_log=False, **env("AUTH_PROTOCOL")),
        auth_key=dict(type="str", no_log=True, **env("AUTH_KEY")),
        priv_protocol=dict(type="str", choices=list(PRIV_PROTOCOLS), no_log=False, **env("PRIV_PROTOCOL")),
        priv_key=dict(type="str", no_log=True, **env("PRIV_KEY")),
        context=dict(type="str"),
        timeout=dict(type="float", default=DEFAULT_TIMEOUT if with_defaults else None),
        retries=dict(type="int", default=DEFAULT_RETRIES if with_defaults else None),
    )


CREDENTIAL_KEYS = ("port", "version", "community", "user", "auth_protocol", "auth_key", "priv_protocol", "priv_key",
                   "context", "timeout", "retries")
