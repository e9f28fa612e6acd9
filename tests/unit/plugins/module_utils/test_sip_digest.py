# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Digest authentication against the worked examples of RFC 2617 (3.5) and RFC 7616 (3.9.1)."""

from __future__ import absolute_import, division, print_function

import hashlib

import pytest

from ansible_collections.voipops.voip.plugins.module_utils.sip_digest import (
    DigestAuthorization, DigestChallenge, DigestServer, authorization_value, compute_ha1, digest_response,
    parse_auth_params,
)
from ansible_collections.voipops.voip.plugins.module_utils.sip_message import SipParseError

RFC2617_CHALLENGE = ('Digest realm="testrealm@host.com", qop="auth,auth-int", '
                     'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"')
RFC7616_CHALLENGE = ('Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=%s, '
                     'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
                     'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"')
RFC7616_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"


def test_rfc2617_worked_example():
    chal = DigestChallenge.parse(RFC2617_CHALLENGE)
    assert chal.realm == "testrealm@host.com" and chal.qop == ["auth", "auth-int"] and chal.algorithm == "MD5"
    params = digest_response(chal, "Mufasa", "Circle Of Life", "GET", "/dir/index.html", cnonce="0a4f113b", nc=1)
    assert params["response"] == "6629fae49393a05397450978507c4ef1"
    assert params["qop"] == "auth" and params["nc"] == "00000001"
    assert params["opaque"] == "5ccc069c403ebaf9f0171e9517f40e41"


@pytest.mark.parametrize("algorithm, expected", [
    ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
    ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
])
def test_rfc7616_worked_examples(algorithm, expected):
    value = authorization_value(RFC7616_CHALLENGE % algorithm, "Mufasa", "Circle of Life", "GET", "/dir/index.html",
                                cnonce=RFC7616_CNONCE, nc=1)
    parsed = DigestAuthorization.parse(value)
    assert parsed.response == expected
    assert parsed.algorithm == algorithm
    assert 'qop=auth,' in value and "nc=00000001" in value and 'algorithm=%s' % algorithm in value
    # the server side accepts exactly that answer
    assert parsed.matches("GET", password="Circle of Life")
    assert not parsed.matches("GET", password="Circle of life")
    assert not parsed.matches("POST", password="Circle of Life")


def test_ha1_instead_of_password_gives_same_answer():
    ha1 = compute_ha1("1001", "voip.lab", "s3cret")
    assert ha1 == hashlib.md5(b"1001:voip.lab:s3cret").hexdigest()
    chal = 'Digest realm="voip.lab", nonce="abc", qop="auth"'
    a = digest_response(chal, "1001", "s3cret", "REGISTER", "sip:voip.lab", cnonce="c", nc=1)
    b = digest_response(chal, "1001", None, "REGISTER", "sip:voip.lab", cnonce="c", nc=1, ha1=ha1)
    assert a["response"] == b["response"]


def test_rfc2069_compat_without_qop():
    # RFC 2069 2.4 as corrected by its erratum: response=1949323746fe6a43ef61f9606e7febea
    chal = 'Digest realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093"'
    params = digest_response(chal, "Mufasa", "CircleOfLife", "GET", "/dir/index.html")
    assert params["response"] == "1949323746fe6a43ef61f9606e7febea"
    assert "qop" not in params and "nc" not in params


def test_server_challenge_then_verify_round_trip():
    server = DigestServer("phones.lab", algorithm="SHA-256", secret=b"k")
    chal = server.challenge()
    assert DigestChallenge.parse(chal).qop == ["auth"]
    good = authorization_value(chal, "admin", "pw", "NOTIFY", "sip:1001@127.0.0.1:5070")
    assert server.check(good, "NOTIFY", password="pw") == "ok"
    assert server.verify(good, "NOTIFY", ha1=compute_ha1("admin", "phones.lab", "pw", "SHA-256"))
    assert server.check(good, "NOTIFY", password="wrong") == "bad"
    assert server.check(good, "OPTIONS", password="pw") == "bad"
    other = DigestServer("phones.lab", algorithm="SHA-256", secret=b"other")
    assert other.check(good, "NOTIFY", password="pw") == "bad"  # nonce not signed by this server
    assert server.check("Digest garbage", "NOTIFY", password="pw") == "bad"
    assert server.check("Basic YWxhZGRpbjpvcGVu", "NOTIFY", password="pw") == "bad"


def test_expired_nonce_is_stale_not_bad():
    server = DigestServer("r", secret=b"k", nonce_ttl=30)
    old_nonce = server.make_nonce(now=1000)
    chal = DigestChallenge("r", old_nonce, "MD5", ["auth"])
    value = authorization_value(chal, "u", "p", "NOTIFY", "sip:x")
    assert server.nonce_state(old_nonce, now=1010) == "ok"
    assert server.check(value, "NOTIFY", password="p") == "stale"
    assert DigestChallenge.parse(server.challenge(stale=True)).stale is True


def test_auth_params_quoting():
    params = parse_auth_params('realm="a, \\"b\\"", nonce=xyz , qop="auth"')
    assert params == {"realm": 'a, "b"', "nonce": "xyz", "qop": "auth"}


@pytest.mark.parametrize("value", [
    'Basic realm="x"', 'Digest nonce="x"', 'Digest realm="x"', 'Digest realm="x", nonce="y", algorithm=ROT13',
    'Digest realm="unterminated, nonce="y"', 'Digest realm', 'Digest ="x"',
])
def test_bad_challenges_raise_typed_error(value):
    with pytest.raises(SipParseError):
        DigestChallenge.parse(value)
