# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab gateway simulator's RTP echo (roles/lab/files/gwsim/gwsim.py MediaEcho): each packet back to its source
with the gateway's own SSRC, gaps kept; rtp_loss drops an even share; the counters."""
import importlib.util
import os
import socket
import struct
import threading

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


def load_gwsim():
    spec = importlib.util.spec_from_file_location("gwsim", os.path.join(ROOT, "roles/lab/files/gwsim/gwsim.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def echo():
    gwsim = load_gwsim()
    device = gwsim.Device("7.40A.100.001")
    media = gwsim.MediaEcho(device, "127.0.0.1", 0)
    thread = threading.Thread(target=media.serve)
    thread.daemon = True
    thread.start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    yield device, media, sock
    sock.close()
    media.sock.close()


def packet(seq, ts, ssrc=0x11111111):
    return struct.pack("!BBHII", 0x80, 8, seq, ts, ssrc) + b"\xd5" * 160


def exchange(media, sock, seqs):
    for seq in seqs:
        sock.sendto(packet(seq, seq * 160), ("127.0.0.1", media.port))
    out = []
    sock.settimeout(0.5)
    try:
        while True:
            out.append(struct.unpack_from("!BBHII", sock.recv(2048)))
    except socket.timeout:
        pass
    return out


def test_echo_keeps_gaps_with_its_own_ssrc(echo):
    _device, media, sock = echo
    back = exchange(media, sock, [100, 101, 103, 104])          # 102 lost on the way there
    assert len(back) == 4 and {b[4] for b in back} != {0x11111111} and len({b[4] for b in back}) == 1
    base_seq, base_ts = back[0][2], back[0][3]
    assert [(b[2] - base_seq) & 0xFFFF for b in back] == [0, 1, 3, 4]
    assert [(b[3] - base_ts) & 0xFFFFFFFF for b in back] == [0, 160, 480, 640]


def test_rtp_loss_drops_an_even_share_and_counts(echo):
    device, media, sock = echo
    device.rtp_loss = 0.2
    back = exchange(media, sock, range(20))
    assert len(back) == 16
    assert device.rtp == {"received": 20, "echoed": 16, "dropped": 4}
    offsets = sorted((b[2] - back[0][2]) & 0xFFFF for b in back)
    assert [n for n in range(20) if n not in offsets] == [4, 9, 14, 19]   # every fifth, as numbered by the sender


def test_rtcp_and_garbage_are_not_echoed(echo):
    device, media, sock = echo
    sock.sendto(b"\x81\xc8" + b"\x00" * 26, ("127.0.0.1", media.port))   # RTCP sender report
    sock.sendto(b"hello", ("127.0.0.1", media.port))
    assert exchange(media, sock, []) == [] and device.rtp["received"] == 0
