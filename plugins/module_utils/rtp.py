# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Media of a test call: RTP packets, receiver statistics and an E-model MOS estimate (pure functions).

- RTP fixed header (RFC 3550 section 5.1): version 2, payload type, sequence number, timestamp, SSRC.
- Receiver statistics (RFC 3550 appendix A.1/A.3): sequence numbers extended over their 16-bit wrap; packets
  expected = extended highest - base + 1; lost = expected - received (RFC 3550 6.4.1 "cumulative number of packets
  lost"; duplicates can make it negative, the percentage is clamped at 0).
- Interarrival jitter (RFC 3550 section 6.4.1, code in A.8): D(i,j) = (Rj - Ri) - (Sj - Si) in timestamp units,
  J += (|D| - J) / 16, reported in milliseconds (PCMA: 8000 timestamp units a second).
- Round trip: when the far end echoes our packets (the lab gateway's RTP echo) each payload carries our sequence
  number and SSRC, so the echo of a packet is matched to its sending time; the one-way delay is half the round trip.
- Loss burstiness (ITU-T G.107 (06/2015) section 7.2, a two-state Markov model of the loss): BurstR = 1 / (p + q),
  p = P(lost | previous received), q = P(received | previous lost); 1 for random loss.
- E-model (ITU-T G.107 (06/2015), with every parameter at its default value but delay and loss):
  R = 93.2 - Id - Ie_eff;  Id = Idd(Ta) (equation 7-27: 0 up to Ta = 100 ms, then
  25 * ((1 + X^6)^(1/6) - 3 * (1 + (X/3)^6)^(1/6) + 2), X = log2(Ta / 100));
  Ie_eff = Ie + (95 - Ie) * Ppl / (Ppl / BurstR + Bpl) (equation 7-29) with G.711's Ie = 0 and Bpl = 25.1 with
  packet loss concealment or 4.3 without (ITU-T G.113 Appendix I, table I.3);
  MOS = 1 + 0.035 R + R (R - 60) (100 - R) 7e-6 for 0 < R < 100, 1 below, 4.5 above (G.107 Annex B, B-4).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import struct

RTP_VERSION = 2
PT_PCMA = 8
CLOCK_RATE = 8000
PTIME_MS = 20
SAMPLES = CLOCK_RATE * PTIME_MS // 1000          # 160 timestamp units (and PCMA bytes) a packet
PCMA_SILENCE = b"\xd5"
TAG = b"VOIPOPS1"                                # the head of our payloads: TAG, our seq (H), our SSRC (I)
R_DEFAULT = 93.2                                 # G.107 R with all default parameters
BPL_PLC = 25.1                                   # G.711 with packet loss concealment (G.113 App. I)
BPL_NO_PLC = 4.3                                 # G.711 without
IE_G711 = 0.0
_HEADER = struct.Struct("!BBHII")


def build_packet(seq, timestamp, ssrc, payload_type=PT_PCMA, marker=False, payload=b""):
    """One RTP packet (RFC 3550 5.1: V=2, no padding, no extension, no CSRC)."""
    return _HEADER.pack(RTP_VERSION << 6, (0x80 if marker else 0) | (payload_type & 0x7F), seq & 0xFFFF,
                        timestamp & 0xFFFFFFFF, ssrc & 0xFFFFFFFF) + payload


def probe_payload(seq, ssrc, size=SAMPLES):
    """A PCMA payload of ``size`` bytes: A-law silence headed by TAG, our sequence number and SSRC (for the echo)."""
    head = TAG + struct.pack("!HI", seq & 0xFFFF, ssrc & 0xFFFFFFFF)
    return head + PCMA_SILENCE * max(0, size - len(head))


def parse_packet(data):
    """``(payload_type, marker, seq, timestamp, ssrc, payload)`` of an RTP packet, or None when it is not one."""
    if len(data) < 12:
        return None
    b0, b1, seq, ts, ssrc = _HEADER.unpack_from(data)
    if b0 >> 6 != RTP_VERSION:
        return None
    offset = 12 + 4 * (b0 & 0x0F)
    if b0 & 0x10:                                  # header extension: 4 bytes, then its length in words
        if len(data) < offset + 4:
            return None
        offset += 4 + 4 * struct.unpack_from("!H", data, offset + 2)[0]
    end = len(data)
    if b0 & 0x20 and end > offset:                 # padding: the last byte counts it
        end -= data[-1]
    if end < offset:
        return None
    return b1 & 0x7F, bool(b1 & 0x80), seq, ts, ssrc, data[offset:end]


def echo_of(payload):
    """``(seq, ssrc)`` that one of our payloads carries (see :func:`probe_payload`), else None."""
    if len(payload) >= len(TAG) + 6 and payload[:len(TAG)] == TAG:
        return struct.unpack_from("!HI", payload, len(TAG))
    return None


class ReceiverStats(object):
    """RFC 3550 receiver statistics of one RTP stream (one SSRC): loss from sequence numbers, interarrival jitter.

    ``add(seq, timestamp, arrival)``: ``arrival`` in seconds (any clock), ``timestamp`` in RTP units of
    ``clock_rate``.  The first SSRC seen is the stream; :meth:`result` gives the figures."""

    def __init__(self, clock_rate=CLOCK_RATE):
        self.clock_rate = clock_rate
        self.received = 0
        self.base = None              # extended seq of the first packet
        self.max_ext = None           # extended highest seq
        self.cycles = 0
        self.max_seq = None
        self.jitter = 0.0             # RFC 3550 J, in timestamp units
        self.transit = None
        self.seen = set()
        self.duplicates = 0
        self.out_of_order = 0
        self.sequence = []            # extended seqs in arrival order (for the loss pattern)

    def _extend(self, seq):
        """Extended sequence number (RFC 3550 A.1: count wraps of the 16-bit number)."""
        if self.max_seq is None:
            self.max_seq = seq
            return seq
        delta = (seq - self.max_seq) & 0xFFFF
        if delta < 0x8000:                         # in order (maybe after a gap), maybe wrapped
            if seq < self.max_seq:
                self.cycles += 0x10000
            self.max_seq = seq
            return self.cycles + seq
        # older than the highest: late or duplicate; it belongs to this cycle or the previous one
        ext = self.cycles + seq
        if seq > self.max_seq:
            ext -= 0x10000
        return ext

    def add(self, seq, timestamp, arrival):
        ext = self._extend(seq)
        if ext in self.seen:
            self.duplicates += 1
            return
        self.seen.add(ext)
        self.received += 1
        self.sequence.append(ext)
        if self.base is None:
            self.base = self.max_ext = ext
        elif ext > self.max_ext:
            self.max_ext = ext
        else:
            self.out_of_order += 1
        if ext < self.base:
            self.base = ext
        # RFC 3550 A.8: transit = arrival (in timestamp units) - RTP timestamp; J += (|D| - J) / 16
        transit = arrival * self.clock_rate - timestamp
        if self.transit is not None:
            d = abs(transit - self.transit)
            self.jitter += (d - self.jitter) / 16.0
        self.transit = transit

    @property
    def expected(self):
        return 0 if self.base is None else self.max_ext - self.base + 1

    def result(self):
        expected = self.expected
        lost = expected - self.received
        return {
            "received": self.received, "expected": expected, "lost": max(0, lost),
            "loss_pct": round(100.0 * max(0, lost) / expected, 2) if expected else None,
            "jitter_ms": round(self.jitter * 1000.0 / self.clock_rate, 2),
            "duplicates": self.duplicates, "out_of_order": self.out_of_order,
            "burst_ratio": burst_ratio(loss_pattern(self.seen, self.base, self.max_ext)) if expected else None,
        }


def loss_pattern(seen, first, last):
    """Booleans (True = lost) for each sequence number from ``first`` to ``last`` (extended)."""
    if first is None:
        return []
    return [n not in seen for n in range(first, last + 1)]


def burst_ratio(pattern):
    """ITU-T G.107 BurstR of a loss pattern (True = lost): 1 / (p + q) of the two-state Markov model; None when
    nothing or everything was lost (no transition to count)."""
    found_to_lost = found = lost_to_found = lost = 0
    for prev, cur in zip(pattern, pattern[1:]):
        if prev:
            lost += 1
            lost_to_found += not cur
        else:
            found += 1
            found_to_lost += cur
    if not found or not lost:
        return 1.0 if not any(pattern) and pattern else None
    p, q = found_to_lost / found, lost_to_found / lost
    return round(1.0 / (p + q), 3) if p + q else None


def delay_impairment(ta_ms):
    """G.107 Idd: the impairment of a one-way (mouth-to-ear) delay ``ta_ms`` (equation 7-27, mT = 100 ms, sT = 1)."""
    if ta_ms is None or ta_ms <= 100:
        return 0.0
    x = math.log(ta_ms / 100.0) / math.log(2.0)
    return 25.0 * ((1 + x ** 6) ** (1.0 / 6) - 3 * (1 + (x / 3.0) ** 6) ** (1.0 / 6) + 2)


def effective_equipment_impairment(loss_pct, burst=1.0, ie=IE_G711, bpl=BPL_PLC):
    """G.107 Ie,eff = Ie + (95 - Ie) * Ppl / (Ppl / BurstR + Bpl) (equation 7-29); ``loss_pct`` is Ppl in percent."""
    ppl = max(0.0, float(loss_pct or 0.0))
    burst = burst or 1.0
    return ie + (95.0 - ie) * ppl / (ppl / burst + bpl)


def r_factor(loss_pct=0.0, one_way_ms=0.0, burst=1.0, plc=True, ie=IE_G711):
    """G.107 transmission rating R = 93.2 - Id - Ie,eff (every other parameter at its default)."""
    bpl = BPL_PLC if plc else BPL_NO_PLC
    return R_DEFAULT - delay_impairment(one_way_ms) - effective_equipment_impairment(loss_pct, burst, ie, bpl)


def mos_from_r(r):
    """G.107 Annex B (B-4): the estimated MOS (conversational quality, CQE) of a rating R."""
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6


def quality(loss_pct, one_way_ms=None, burst=None, plc=True):
    """``{"r_factor", "mos"}`` of a G.711 call with this loss (percent), one-way delay and BurstR."""
    r = r_factor(loss_pct or 0.0, one_way_ms or 0.0, burst or 1.0, plc)
    return {"r_factor": round(r, 1), "mos": round(mos_from_r(r), 2)}
