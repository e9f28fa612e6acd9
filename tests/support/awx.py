# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The real awx.awx collection for tests: taken from the ``ansible`` package on PyPI whose major version goes with the
venv's ansible-core (core 2.19 -> ansible 12); its wheel is downloaded once with ``pip download`` (the venv is not
touched) and only ``ansible_collections/awx/awx`` is extracted into the cache, reused by later runs."""
import glob
import os
import re
import shutil
import subprocess
import sys
import zipfile

import pytest

from ansible.module_utils.ansible_release import __version__ as CORE_VERSION


def ansible_major():
    major, minor = (int(x) for x in CORE_VERSION.split(".")[:2])
    return minor - 7 if major == 2 and minor >= 16 else None  # core 2.16 -> ansible 9, ..., 2.19 -> ansible 12


def awx_collection_path(cache):
    """A collections path holding the real awx.awx collection, downloaded once into ``cache``, then reused; skips the
    calling test, saying why, when PyPI cannot be reached."""
    major = ansible_major()
    if major is None:
        pytest.skip("no ansible package is known for ansible-core %s" % CORE_VERSION)
    dest = os.path.join(cache, "ansible-%d" % major)
    if os.path.isfile(os.path.join(dest, "ansible_collections", "awx", "awx", "MANIFEST.json")):
        return dest
    work = dest + ".download"
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--timeout", "30",
                           "--retries", "1", "-d", work, "ansible>=%d,<%d" % (major, major + 1)],
                          capture_output=True, text=True, check=False)
    wheels = glob.glob(os.path.join(work, "ansible-*.whl"))
    if proc.returncode != 0 or not wheels:
        shutil.rmtree(work, ignore_errors=True)
        text = proc.stdout + proc.stderr
        if re.search(r"(Connection|Network|resolve|Temporary failure|timed out|ProxyError|Max retries)", text, re.I):
            pytest.skip("PyPI is not reachable, cannot get awx.awx from the ansible package: %s" % text.strip()[-300:])
        pytest.fail("pip download ansible>=%d,<%d failed:\n%s" % (major, major + 1, text))
    with zipfile.ZipFile(wheels[0]) as wheel:
        for name in wheel.namelist():
            if name.startswith("ansible_collections/awx/awx/"):
                wheel.extract(name, work + ".tree")
    shutil.rmtree(work)
    shutil.rmtree(dest, ignore_errors=True)
    os.rename(work + ".tree", dest)
    return dest
