"""The lab's provisioning tree and its nginx: only phone files are served, by an unprivileged worker; files that
hold SIP passwords are not world-readable; the lab database and secrets are owner-only."""
import grp
import http.client
import os
import pwd
import stat

import pytest

from conftest import LAB_DIR

pytestmark = pytest.mark.lab


def get(lab, path, method="GET"):
    """One request with ``path`` sent as is (no client-side clean-up of ``..``): (status, body)."""
    port = int(lab["provisioning"]["url"].rstrip("/").rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def phone_files(root):
    """The files phones request: not the firmware, not dotfiles (the index of a provisioning root inside this tree, e.g.
    a test's sub-root, is a dotfile beside that root and is not served)."""
    for base, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != "firmware" and not d.startswith(".")]
        for name in files:
            if not name.startswith("."):
                yield os.path.join(base, name)


def nginx_workers():
    """(pid, real uid) of every nginx worker: the children of the lab's nginx master."""
    with open(os.path.join(LAB_DIR, "nginx", "nginx.pid")) as handle:
        master = int(handle.read().strip())
    workers = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/status" % pid) as handle:
                fields = dict(line.split(":", 1) for line in handle if ":" in line)
        except OSError:
            continue
        if int(fields["PPid"]) == master:
            workers.append((int(pid), int(fields["Uid"].split()[0])))
    return master, workers


def web_group():
    return "www-data" if os.geteuid() == 0 else grp.getgrgid(os.getegid()).gr_name


def test_files_holding_passwords_are_not_world_readable_and_the_lab_secrets_are_owner_only(lab):
    root = lab["provisioning"]["root"]
    gid = grp.getgrnam(web_group()).gr_gid
    assert mode(root) & 0o007 == 0 and mode(root) & stat.S_ISGID and os.stat(root).st_gid == gid
    files = list(phone_files(root))
    assert files, "the lab wrote no phone files"
    for path in files:
        # phone configuration holds SIP passwords: owner and the nginx workers' group only
        assert mode(path) & 0o007 == 0, "%s is world-readable (%o)" % (path, mode(path))
        assert os.stat(path).st_gid == gid, path
    assert mode(lab["callserver"]["db_path"]) == 0o600
    secrets = os.path.join(LAB_DIR, "secrets")
    assert mode(secrets) == 0o700 and all(mode(os.path.join(secrets, n)) == 0o600 for n in os.listdir(secrets))
    assert mode(os.path.join(LAB_DIR, "phones", "users.json")) == 0o600


def test_nginx_workers_do_not_run_as_root(lab):
    master, workers = nginx_workers()
    assert workers, "no worker process of nginx master %d" % master
    want = pwd.getpwnam("www-data").pw_uid if os.geteuid() == 0 else os.geteuid()
    uids = [uid for pid, uid in workers]
    assert uids == [want] * len(workers) and 0 not in uids


def test_only_the_files_phones_request_are_served(lab):
    root = lab["provisioning"]["root"]
    phone = sorted(phone_files(root))[0]
    rel = "/" + os.path.relpath(phone, root)
    status, body = get(lab, rel)
    assert status == 200 and body == open(phone, "rb").read()    # a phone gets its file (read by the worker)
    # a dotfile (an atomic write's temporary file, an index, .git) and a dot-directory are never served
    planted = os.path.join(root, ".voipops-test-secret")
    os.makedirs(os.path.join(root, ".git"), exist_ok=True)
    with open(planted, "w") as handle:
        handle.write("secret")
    with open(os.path.join(root, ".git", "config"), "w") as handle:
        handle.write("secret")
    link = os.path.join(root, "link-to-nginx.conf")
    os.symlink(os.path.join(LAB_DIR, "nginx", "nginx.conf"), link)
    for path in (planted, os.path.join(root, ".git", "config")):
        os.chmod(path, 0o644)
    try:
        assert get(lab, "/.voipops-test-secret")[0] == 404
        assert get(lab, "/.git/config")[0] == 404
        assert get(lab, "/firmware/%2egit/config")[0] == 404
        # no listing or directory page, with or without the slash
        for path in ("/", "/firmware/", "/firmware", "/firmware/?C=M;O=D"):
            status, body = get(lab, path)
            assert status in (403, 404) and b"Index of" not in body, (path, status)
        # nothing outside the tree: .. in any spelling, and a symlink pointing out
        for path in ("/../nginx/nginx.conf", "/firmware/../../nginx/nginx.conf", "/%2e%2e/nginx/nginx.conf",
                     "/firmware/..%2f..%2fnginx/nginx.conf", "/link-to-nginx.conf"):
            status, body = get(lab, path)
            assert status in (400, 403, 404) and b"worker_processes" not in body, (path, status)
        # phones only read
        assert get(lab, rel, method="PUT")[0] in (403, 405)
        assert get(lab, rel, method="DELETE")[0] in (403, 405)
    finally:
        os.unlink(planted)
        os.unlink(link)
        os.unlink(os.path.join(root, ".git", "config"))
        os.rmdir(os.path.join(root, ".git"))
