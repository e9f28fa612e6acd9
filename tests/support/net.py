"""Loopback helpers shared by the tests."""
import socket


def free_udp_port():
    """A UDP port on 127.0.0.1 that nothing listens on (from the kernel's ephemeral range, as a phone would use)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port
