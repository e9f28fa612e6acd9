"""The execution environment an AWX administrator builds: runtime requirements only, and a definition that renders."""
import os
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)

pytestmark = pytest.mark.skipif(not os.path.exists(os.path.join(BIN, "ansible-builder")), reason="ansible-builder")


def test_introspection_gives_the_runtime_requirements_and_no_lab_or_test_package(tmp_path):
    ns = tmp_path / "ansible_collections" / "voipops"
    ns.mkdir(parents=True)
    os.symlink(ROOT, str(ns / "voip"))
    proc = subprocess.run([os.path.join(BIN, "ansible-builder"), "introspect", "--sanitize", str(tmp_path)],
                          capture_output=True, text=True, check=True)
    deps = yaml.safe_load(proc.stdout)
    python = " ".join(deps.get("python") or [])
    for package in ("psycopg", "pysnmp", "netaddr", "requests"):
        assert package in python, proc.stdout
    for dev in ("pytest", "molecule", "snmpsim", "ansible-lint"):
        assert dev not in python, proc.stdout
    system = " ".join(deps.get("system") or [])
    for lab in ("kamailio", "nginx", "chromium", "postgresql", "sip-tester", "snmpd"):
        assert lab not in system, proc.stdout


def test_the_ee_definition_renders_a_build_context_with_this_collection(tmp_path):
    with open(os.path.join(ROOT, "galaxy.yml")) as handle:
        version = yaml.safe_load(handle)["version"]
    subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path)],
                   cwd=ROOT, capture_output=True, check=True)
    for name in ("execution-environment.yml", "requirements.yml"):
        shutil.copy(os.path.join(ROOT, "ee", name), str(tmp_path / name))
    proc = subprocess.run([os.path.join(BIN, "ansible-builder"), "create", "-f", str(tmp_path / "execution-environment.yml"),
                           "-c", str(tmp_path / "context")], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    context = tmp_path / "context"
    assert (context / "_build" / "collections" / ("voipops-voip-%s.tar.gz" % version)).is_file()
    with open(str(context / "_build" / "requirements.yml")) as handle:
        wanted = yaml.safe_load(handle)["collections"]
    # the requirements name the tarball that the build copies in: its version follows galaxy.yml
    assert wanted == [{"name": "collections/voipops-voip-%s.tar.gz" % version, "type": "file"}]
    containerfile = [f.read_text() for f in (context / "Containerfile", context / "Dockerfile") if f.exists()][0]
    assert "ansible-galaxy" in containerfile and "introspect" in containerfile
