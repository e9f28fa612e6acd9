"""Certificates whose validity comes from the clock a test reasons with, not from the day the test runs.

A test that audits at a frozen ``now`` must also make the certificates it audits relative to that ``now``:
``openssl req -days N`` counts from the real clock, so a frozen audit would see a different number of days left
on every day the suite runs.
"""
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def write_self_signed(cert_path, key_path, common_name, not_before, not_after, ip="127.0.0.1"):
    """Write a self-signed certificate valid from ``not_before`` to ``not_after`` (aware datetimes) and its key.

    The key is written 0600 (it is a secret), the certificate 0644, both replaced atomically.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name),
                                                        x509.IPAddress(ipaddress.ip_address(ip))]), critical=False)
            .sign(key, hashes.SHA256()))
    for path, data, mode in (
            (key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()), 0o600),
            (cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)):
        tmp = path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    return cert
