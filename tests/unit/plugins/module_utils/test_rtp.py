# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""RTP statistics (RFC 3550) and the E-model (ITU-T G.107) of module_utils/rtp.py, against worked values."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.voipops.voip.plugins.module_utils import rtp


# ------------------------------------------------------------------------------ packets
def test_packet_round_trip_and_the_echo_tag():
    pkt = rtp.build_packet(65535, 4294967200, 0xDEADBEEF, marker=True, payload=rtp.probe_payload(65535, 0xDEADBEEF))
    assert len(pkt) == 12 + 160 and pkt[0] == 0x80 and pkt[1] == 0x80 | 8
    pt, marker, seq, ts, ssrc, payload = rtp.parse_packet(pkt)
    assert (pt, marker, seq, ts, ssrc) == (8, True, 65535, 4294967200, 0xDEADBEEF)
    assert rtp.echo_of(payload) == (65535, 0xDEADBEEF)
    assert rtp.echo_of(b"\xd5" * 160) is None


def test_not_rtp_and_padding_and_csrc():
    assert rtp.parse_packet(b"\x80\x08") is None                    # too short
    assert rtp.parse_packet(b"\x40" + b"\x00" * 20) is None           # version 1
    # version 2, padding (2 bytes), one CSRC
    pkt = bytes([0xA1, 8]) + b"\x00\x01" + b"\x00" * 8 + b"\x00\x00\x00\x07" + b"abc" + b"\x00\x02"
    assert rtp.parse_packet(pkt)[5] == b"abc"


# ------------------------------------------------------------------------------ loss (RFC 3550 A.3)
def feed(seqs, step=0.02, clock=8000, transit=None):
    st = rtp.ReceiverStats(clock)
    for i, seq in enumerate(seqs):
        ts = i * 160 if transit is None else seq * 160
        st.add(seq & 0xFFFF, ts, i * step + (transit[i] if transit else 0.0))
    return st.result()


def test_every_fifth_packet_lost_is_twenty_percent():
    res = feed([n for n in range(50) if n % 5 != 2])
    assert (res["expected"], res["received"], res["lost"], res["loss_pct"]) == (50, 40, 10, 20.0)
    assert res["duplicates"] == 0 and res["out_of_order"] == 0


def test_sequence_numbers_wrap():
    res = feed(list(range(65530, 65536)) + list(range(0, 6)))
    assert (res["expected"], res["lost"], res["loss_pct"]) == (12, 0, 0.0)
    res = feed(list(range(65530, 65536)) + list(range(1, 6)))      # seq 0 lost across the wrap
    assert (res["expected"], res["lost"]) == (12, 1)


def test_duplicates_and_reordering_are_not_loss():
    res = feed([0, 1, 3, 2, 4, 4, 5])
    assert (res["expected"], res["received"], res["lost"], res["duplicates"], res["out_of_order"]) == (6, 6, 0, 1, 1)


def test_nothing_received():
    res = rtp.ReceiverStats().result()
    assert res["expected"] == 0 and res["loss_pct"] is None


# ------------------------------------------------------------------------------ jitter (RFC 3550 6.4.1 / A.8)
def test_steady_stream_has_no_jitter():
    assert feed(list(range(100)))["jitter_ms"] == 0.0


def test_one_late_packet_worked_value():
    # packet 2 arrives 20 ms late: D = 160 units -> J = 160/16 = 10 units = 1.25 ms
    assert feed([0, 1], transit=[0.0, 0.02])["jitter_ms"] == 1.25


def test_alternating_transit_converges_to_the_swing():
    # transit alternates 0 / 10 ms: |D| = 80 units every packet, J -> 80 units = 10 ms (80 * (1 - (15/16)^n))
    res = feed(list(range(400)), transit=[0.01 * (i % 2) for i in range(400)])
    assert res["jitter_ms"] == pytest.approx(10.0, abs=0.01)
    res = feed(list(range(3)), transit=[0.0, 0.01, 0.0])
    assert res["jitter_ms"] == pytest.approx(80 * (1 - (15 / 16.0) ** 2) / 8, abs=0.005)    # 1.21 ms


# ------------------------------------------------------------------------------ BurstR (G.107 7.2)
def test_burst_ratio():
    assert rtp.burst_ratio([False] * 10) == 1.0
    assert rtp.burst_ratio([True] * 10) is None
    # every fifth lost: of the 49 transitions, 39 start on a packet received and 10 of them go to a loss
    # (p = 10/39); a loss is always followed by a packet (q = 1): BurstR = 0.796, smoother than random
    even = [n % 5 == 2 for n in range(50)]
    assert rtp.burst_ratio(even) == pytest.approx(1 / (10 / 39.0 + 1), abs=0.001)
    # ten lost in a row: p = 1/39, q = 1/10 -> BurstR = 7.96 (bursty)
    burst = [False] * 20 + [True] * 10 + [False] * 20
    assert rtp.burst_ratio(burst) == pytest.approx(1 / (1 / 39.0 + 1 / 10.0), abs=0.001)


# ------------------------------------------------------------------------------ the E-model (G.107)
@pytest.mark.parametrize("r, mos", [(93.2, 4.409), (70, 3.597), (50, 2.575), (0, 1.0), (-5, 1.0), (100, 4.5),
                                    (120, 4.5)])
def test_mos_from_r_worked_values(r, mos):
    assert rtp.mos_from_r(r) == pytest.approx(mos, abs=0.001)


@pytest.mark.parametrize("ta, idd", [(0, 0.0), (100, 0.0), (200, 3.044), (400, 24.070)])
def test_delay_impairment_worked_values(ta, idd):
    assert rtp.delay_impairment(ta) == pytest.approx(idd, abs=0.002)


def test_effective_equipment_impairment_worked_values():
    assert rtp.effective_equipment_impairment(0) == 0.0
    assert rtp.effective_equipment_impairment(20) == pytest.approx(1900 / 45.1, abs=1e-6)             # 42.13
    assert rtp.effective_equipment_impairment(20, bpl=rtp.BPL_NO_PLC) == pytest.approx(1900 / 24.3)    # 78.19
    assert rtp.effective_equipment_impairment(1) == pytest.approx(95 / 26.1)                            # 3.64
    # bursty loss hurts more than the same loss at random
    assert rtp.effective_equipment_impairment(5, burst=3) > rtp.effective_equipment_impairment(5, burst=1)


def test_quality_of_whole_calls():
    assert rtp.quality(0.0) == {"r_factor": 93.2, "mos": 4.41}
    assert rtp.quality(1.0) == {"r_factor": 89.6, "mos": 4.33}          # R 89.56
    assert rtp.quality(20.0) == {"r_factor": 51.1, "mos": 2.63}         # R 51.07
    assert rtp.quality(20.0, plc=False)["mos"] < 1.5                     # R 15.0 without concealment
    assert rtp.quality(0.0, one_way_ms=400) == {"r_factor": 69.1, "mos": 3.56}   # 93.2 - 24.07
    # G.107 is not made for no audio at all: 100% loss still leaves R 17.26 (MOS 1.18); the call says "no RTP"
    assert rtp.quality(100.0) == {"r_factor": 17.3, "mos": 1.18}
