"""`make docsite`: the collection's docsite built offline by antsibull-docs and Sphinx, opened in headless Chromium -
what a reader sees: the collection index lists every module and role, a module page shows its options (and no
default of an option that carries a secret), a role page shows its entry point's options."""
import glob
import html
import os
import re
import shutil
import subprocess
from unittest import mock

import pytest
import yaml

from ansible.module_utils import basic
from ansible_collections.voipops.voip.plugins.modules import callserver_users
from conftest import ROOT, ansible_env

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (bindep.txt, profile test)")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    dest = tmp_path_factory.mktemp("docsite")
    proc = subprocess.run(["make", "-s", "docsite", "DOCSITE=%s" % dest], cwd=ROOT, env=ansible_env(),
                          capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    html_dir = dest / "build" / "html"
    assert (html_dir / "index.html").exists(), proc.stdout[-2000:]
    # offline: intersphinx is off, so Sphinx fetched no inventory from the network
    assert "loading intersphinx inventory" not in proc.stdout + proc.stderr
    return {"html": html_dir, "profile": tmp_path_factory.mktemp("chromium")}


def dom(site, page):
    """The page as Chromium renders it (headless, a private profile; --no-sandbox only as root)."""
    flags = [CHROMIUM, "--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--user-data-dir=%s" % site["profile"]]
    if os.geteuid() == 0:
        flags.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    proc = subprocess.run(flags + ["--dump-dom", "file://%s" % (site["html"] / page)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0 and "</html>" in proc.stdout, proc.stderr[-2000:]
    return proc.stdout


def text(fragment):
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


def option_rows(page):
    """{option anchor id: the visible text of its table row} of a rendered plugin or role page."""
    rows = {}
    for row in re.findall(r"<tr\b.*?</tr>", page, flags=re.S):
        for anchor in re.findall(r'class="ansibleOptionAnchor" id="(parameter-[^"]+)"', row):
            rows[anchor] = text(row)
    return rows


def argument_spec(module):
    """The module's real argument spec (captured from its AnsibleModule call)."""
    spec = {}

    class Captured(Exception):
        pass

    def capture(self, argument_spec=None, **_kwargs):
        spec.update(argument_spec)
        raise Captured()

    with mock.patch.object(basic.AnsibleModule, "__init__", capture):
        with pytest.raises(Captured):
            module.main()
    return spec


def test_the_index_lists_every_module_and_role(site):
    page = dom(site, "index.html")
    links = dict((href, text(label)) for href, label in
                 re.findall(r'<a class="reference internal" href="([a-z0-9_]+_(?:module|role)\.html)[^"]*">(.*?)</a>', page,
                            flags=re.S))
    modules = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(ROOT, "plugins", "modules", "*.py"))
                     if not p.endswith("__init__.py"))
    roles = sorted(os.path.basename(os.path.dirname(os.path.dirname(p)))
                   for p in glob.glob(os.path.join(ROOT, "roles", "*", "meta", "argument_specs.yml")))
    assert len(modules) > 10 and {"health_audit", "user_mutations", "release_rollout", "lab"} <= set(roles)
    for name in modules:
        assert links.get(name + "_module.html", "").startswith("voipops.voip.%s module – " % name), (name, sorted(links))
    for name in roles:
        assert links.get(name + "_role.html", "").startswith("voipops.voip.%s role – " % name), (name, sorted(links))


def test_a_module_page_shows_its_options_and_no_secret_default(site):
    page = dom(site, "callserver_users_module.html")
    rows = option_rows(page)
    spec = argument_spec(callserver_users)
    # every option of the argument spec is documented on the page a reader opens
    missing = [name for name in spec if "parameter-%s" % name not in rows]
    assert not missing, missing
    secrets = sorted(name for name, opt in spec.items() if opt.get("no_log"))
    assert "db_url" in secrets
    for name in secrets:
        assert "Default:" not in rows["parameter-%s" % name] and "(default)" not in rows["parameter-%s" % name], name
    # a default a reader needs is shown (the check above can see one)
    assert "Default: 5.0" in rows["parameter-timeout"]
    assert "Never logged or returned" in rows["parameter-db_url"]


def test_a_role_page_shows_its_entry_point_options(site):
    page = dom(site, "health_audit_role.html")
    assert "Entry point main" in text(page)
    with open(os.path.join(ROOT, "roles", "health_audit", "meta", "argument_specs.yml")) as handle:
        options = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
    rows = option_rows(page)
    for name, opt in options.items():
        row = rows.get("parameter-main--%s" % name)
        assert row is not None and name in row, name
        if "default" in opt and opt["default"] not in ([], {}, ""):
            assert str(opt["default"]).lower() in row.lower(), (name, row)
