"""The one atomic writer and the one URL mask."""
import os
import stat

import pytest

from ansible_collections.voipops.voip.plugins.module_utils import fileio


def test_atomic_write_sets_mode_before_the_rename_and_replaces_whole(tmp_path):
    target = tmp_path / "sub" / "creds.json"
    fileio.atomic_write(str(target), "first", mode=0o600)
    assert target.read_text() == "first"
    assert stat.S_IMODE(os.stat(str(target)).st_mode) == 0o600
    fileio.atomic_write(str(target), b"second", mode=0o640)
    assert target.read_bytes() == b"second"
    assert stat.S_IMODE(os.stat(str(target)).st_mode) == 0o640
    assert os.listdir(str(target.parent)) == ["creds.json"]


def test_atomic_write_failure_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "a.txt"
    target.write_text("old")

    def boom(*_args):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        fileio.atomic_write(str(target), "new")
    assert target.read_text() == "old"
    assert os.listdir(str(tmp_path)) == ["a.txt"]


@pytest.mark.parametrize("url,masked", [
    ("postgresql://voip:s3cret@db.example:5432/kamailio", "postgresql://voip:********@db.example:5432/kamailio"),
    ("https://hooks.example/services/T00/B00/XYZsecret", "https://hooks.example/services/********"),
    ("https://tickets.example/api?token=abc123&x=1", "https://tickets.example/api?token=********&x=1"),
    ("http://127.0.0.1:5071/RPC", "http://127.0.0.1:5071/RPC"),
    ("sqlite:////var/lib/kamailio/kamailio.db", "sqlite:////var/lib/kamailio/kamailio.db"),
    ("not a url", "not a url"),
])
def test_mask_url(url, masked):
    assert fileio.mask_url(url) == masked
    for secret in ("s3cret", "XYZsecret", "abc123"):
        assert secret not in fileio.mask_url(url)


def test_mask_urls_in_text_masks_only_url_passwords():
    from ansible_collections.voipops.voip.plugins.module_utils.fileio import mask_urls_in_text
    text = ('modparam("usrloc", "db_url", "postgres://kam:p4ss@db:5432/kam")\n'
            'modparam("x", "url", "http://user@host/path")\n# sqlite:////var/lib/kamailio.db\nplain: a:b@c\n')
    masked = mask_urls_in_text(text)
    assert "p4ss" not in masked
    assert 'postgres://kam:********@db:5432/kam' in masked
    assert masked.replace('kam:********@', 'kam:p4ss@') == text


@pytest.mark.parametrize("url", [
    "postgresql://voip:s3cret@db.example:5432/kamailio",
    "postgres://kam:p4@ss@db:5432/kam",  # an "@" in the password: the userinfo ends at the last "@"
    "mysql://kam:@db/kam",               # an empty password is still the password's place
    "http://user@host/path",             # no colon: no password
    "sqlite:////var/lib/kamailio/kamailio.db",
])
def test_one_userinfo_rule_for_a_url_and_for_urls_in_text(url):
    line = 'modparam("usrloc", "db_url", "%s")\n' % url
    assert fileio.mask_urls_in_text(line) == line.replace(url, fileio.mask_url(url))
    for secret in ("s3cret", "p4@ss", "ss@db"):
        assert secret not in fileio.mask_urls_in_text(line)


def test_mask_url_keeps_the_user_of_an_unparseable_url_and_masks_its_password():
    # urlsplit() refuses an unclosed IPv6 bracket; the userinfo rule still applies, not a second one
    assert fileio.mask_url("http://ops:p4ss@[::1/RPC") == "http://ops:********@[::1/RPC"
    assert fileio.mask_url("http://[::1/RPC") == "http://[::1/RPC"
