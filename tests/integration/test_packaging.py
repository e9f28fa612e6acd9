"""What users get: the plugins ``ansible-doc`` lists and the tarball ``ansible-galaxy collection build`` makes.

The lab stays a lab: its modules (roles/lab/library) and its phone simulator (roles/lab/files/phonesim) ship with
the lab role, not as collection plugins; the development tree (tests, bench, tools, molecule, CI) does not ship.
No lab is needed for these tests.
"""
import json
import os
import subprocess
import sys
import tarfile

from conftest import ROOT, VENV_BIN, ansible_env

PRODUCT_MODULES = sorted(name[:-3] for name in os.listdir(os.path.join(ROOT, "plugins", "modules"))
                         if name.endswith(".py") and not name.startswith("_"))


def run(cmd, **kwargs):
    proc = subprocess.run(cmd, env=ansible_env(), capture_output=True, text=True, timeout=300, check=False, **kwargs)
    assert proc.returncode == 0, "%s failed (rc=%d):\n%s\n%s" % (cmd, proc.returncode, proc.stdout, proc.stderr)
    return proc.stdout


def test_ansible_doc_lists_the_product_modules_and_no_lab_module():
    listed = json.loads(run([os.path.join(VENV_BIN, "ansible-doc"), "-l", "-j", "voipops.voip"], cwd=ROOT))
    names = sorted(name.split(".", 2)[2] for name in listed)
    assert not [n for n in names if n.startswith("lab")], names
    assert "callserver_users" in PRODUCT_MODULES and "lab_daemon" not in PRODUCT_MODULES
    assert names == PRODUCT_MODULES


def build(tmp_path):
    out = tmp_path / "build"
    run([os.path.join(VENV_BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(out)], cwd=ROOT)
    (tarball,) = list(out.iterdir())
    return tarball


def test_the_tarball_holds_the_collection_and_its_docs_not_the_development_tree(tmp_path):
    tarball = build(tmp_path)
    with tarfile.open(str(tarball)) as tar:
        members = set(m.name for m in tar.getmembers())
        manifest = json.load(tar.extractfile("MANIFEST.json"))
        licence = tar.extractfile("LICENSE").read().decode("utf-8")
    for wanted in ("plugins/modules/callserver_users.py", "LICENSE", "README.md", "meta/runtime.yml", "docs/lab.md",
                   "roles/lab/tasks/main.yml", "roles/lab/library/lab_daemon.py", "roles/lab/library/lab_ports.py",
                   "roles/lab/module_utils/lab_supervisor.py", "roles/lab/files/phonesim/sim.py",
                   "roles/health_audit/tasks/main.yml", "playbooks/lab_up.yml", "inventories/lab/estate.yml"):
        assert wanted in members, wanted
    assert "docs" in members and [m for m in members if m.startswith("docs/") and m.endswith(".md")]
    for top in ("bench", "tools", "tests", "extensions", ".ci", ".state", ".venv", ".git", "changelogs/fragments",
                "ee", "collections"):
        assert not [m for m in members if m == top or m.startswith(top + "/")], top
    for dev_file in ("Makefile", "conftest.py", "pytest.ini", "requirements-dev.txt", "ansible.cfg", ".ansible-lint"):
        assert dev_file not in members, dev_file
    assert not [m for m in members if "__pycache__" in m or m.endswith(".pyc")]
    # the lab is not in the plugin surface
    assert not [m for m in members if m.startswith("plugins/") and ("phonesim" in m or "/lab" in m)]
    assert "GNU GENERAL PUBLIC LICENSE" in licence and "Version 3, 29 June 2007" in licence
    info = manifest["collection_info"]
    assert info["license"] == ["GPL-3.0-or-later"]
    assert info["repository"] == "https://github.com/voipops/voip"
    assert info["documentation"] == "https://github.com/voipops/voip/tree/main/docs"
    assert info["issues"] == "https://github.com/voipops/voip/issues"


def installed(tmp_path):
    """The tarball installed into a directory of its own, and the environment of an ansible run that uses it."""
    tarball = build(tmp_path)
    dest = tmp_path / "installed"
    run([os.path.join(VENV_BIN, "ansible-galaxy"), "collection", "install", "--force", str(tarball), "-p", str(dest)],
        cwd=str(tmp_path))
    cfg = tmp_path / "ansible.cfg"
    cfg.write_text("[defaults]\ncollections_path = %s\n" % dest)
    env = ansible_env({"ANSIBLE_CONFIG": str(cfg), "ANSIBLE_COLLECTIONS_PATH": str(dest),
                       "VOIPOPS_LAB_DIR": str(tmp_path / "no-lab")})
    return dest / "ansible_collections" / "voipops" / "voip", env


def playbook(env, cwd, *args):
    cmd = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", "-e", "ansible_python_interpreter=" + sys.executable]
    return subprocess.run(cmd + list(args), cwd=str(cwd),
                          env=env, capture_output=True, text=True, timeout=300, check=False)


def test_the_installed_lab_role_carries_its_modules_and_simulator(tmp_path):
    """Installed from the tarball (no checkout around it), the lab playbooks find the role's own modules (lab_down
    loads down.yml, which calls lab_daemon) and the role's phone simulator runs from where the role is, reading the
    lab estate that ships with it."""
    coll, env = installed(tmp_path)
    proc = playbook(env, tmp_path, "voipops.voip.lab_down")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Stop every lab daemon by its recorded pid" in proc.stdout
    fleet = json.loads(run([sys.executable, str(coll / "roles" / "lab" / "files" / "phonesim"), "estate",
                            "--estate", str(coll / "inventories" / "lab" / "estate.yml")], cwd=str(tmp_path)))
    assert fleet and all(h["vendor"] and h["running_firmware"] for h in fleet)
    assert not (coll / ".state").exists(), "the installed simulator imports the installed collection, no link needed"


def test_the_lab_role_loaded_by_its_collection_name_says_how_to_run_it(tmp_path):
    _coll, env = installed(tmp_path)
    (tmp_path / "mine.yml").write_text(
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n"
        "  roles:\n    - role: voipops.voip.lab\n      vars: {lab_state: stopped}\n")
    proc = playbook(env, tmp_path, "mine.yml")
    assert proc.returncode != 0
    assert "Run the lab with playbooks/lab_up.yml and lab_down.yml" in proc.stdout, proc.stdout
