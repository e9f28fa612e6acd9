# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWX configuration as code (awx/*.yml, playbooks/awx_configure.yml) against the real awx.awx collection.

The awx.awx collection comes from the ``ansible`` package on PyPI whose major version goes with the ansible-core
of the venv (core 2.19 -> ansible 12): its wheel is downloaded once with ``pip download`` (the venv is not touched)
and only ``ansible_collections/awx/awx`` is extracted into ``.state/awx-collection/``, reused by later runs.
Without PyPI the tests skip, saying so.

What is checked: the playbook passes ``--syntax-check`` with that collection; every option an awx.awx task sets is
in the module's argument spec (``ansible-doc -j``) and every data key of awx/*.yml reaches a task; values have the
option's type and one of its choices; surveys, schedules and workflow links are consistent; the credential types'
injectors only use declared inputs and set environment variables that the collection's modules really read
(their argument specs' ``env_fallback``), secret inputs only into ``no_log`` options. Finally the whole playbook runs
against a controller address nobody listens on: every awx.awx module call then gets past its own argument
validation (with the values rendered from the data) and fails only on the connection.
"""
import glob
import importlib
import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from ansible.parsing.yaml.loader import AnsibleLoader

from tests.support.awx import awx_collection_path

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
PLAYBOOK = os.path.join(ROOT, "playbooks", "awx_configure.yml")
CACHE = os.path.join(os.environ.get("VOIPOPS_STATE_DIR", os.path.join(ROOT, ".state")), "awx-collection")

# Survey question types of the AWX API (awx/main/models/mixins.py SurveyJobTemplateMixin, "type" of a spec item).
SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}
# Environment variables a credential type injects although no module reads them yet: handset_provision has no
# env_fallback for provisioning_url/root (tracked in docs/awx.md). Once it has, they leave this set by themselves.
NOT_READ_YET = set()  # every variable a credential type injects is read by a module (handset_provision: root, url)
# Playbooks that job templates name and that another change brings (the test only insists they are named).
PLAYBOOKS_TO_COME = {"playbooks/release_rollout.yml"}


def load_yaml(path):
    with open(path) as handle:
        return AnsibleLoader(handle).get_single_data()  # understands !unsafe like Ansible does


@pytest.fixture(scope="session")
def awx_collection():
    """A collections path holding the real awx.awx collection (downloaded once, then reused)."""
    return awx_collection_path(CACHE)


def env_for(collections):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections + os.pathsep + os.path.join(ROOT, ".state", "collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_HOME=os.path.join(CACHE, "ansible-home"))
    env.pop("ANSIBLE_CONFIG", None)
    return env


@pytest.fixture(scope="session")
def awx_docs(awx_collection):
    """Argument specs of the awx.awx modules the playbook uses, from ansible-doc -j."""
    names = sorted(set(t["module"] for t in awx_tasks()))
    proc = subprocess.run([os.path.join(BIN, "ansible-doc"), "-j"] + names, capture_output=True, text=True,
                          env=env_for(awx_collection), check=True)
    docs = json.loads(proc.stdout)
    assert set(docs) == set(names), proc.stderr
    return dict((name, docs[name]["doc"]["options"]) for name in names)


def awx_tasks():
    play = load_yaml(PLAYBOOK)[0]
    tasks = []
    for task in play["tasks"]:
        modules = [k for k in task if k.startswith("awx.awx.")]
        if modules:
            tasks.append({"name": task["name"], "module": modules[0], "args": task[modules[0]],
                          "loop": task.get("loop", ""), "no_log": task.get("no_log", False)})
    return tasks


def data():
    out = {}
    for name in ("credential_types.yml", "resources.yml"):
        out.update(load_yaml(os.path.join(ROOT, "awx", name)))
    return out


def option(spec, key):
    """The option ``key`` (or the option it is an alias of) of an argument spec, or None."""
    if key in spec:
        return spec[key]
    for opt in spec.values():
        if key in (opt.get("aliases") or []):
            return opt
    return None


def type_ok(value, opt):
    kind = opt.get("type", "str")
    if isinstance(value, str) and "{{" in value:
        return True  # rendered at run time (checked by test_every_module_call_passes_its_argument_validation)
    return {"str": isinstance(value, str), "bool": isinstance(value, bool), "dict": isinstance(value, dict),
            "list": isinstance(value, list), "int": isinstance(value, int) and not isinstance(value, bool),
            "float": isinstance(value, (int, float)) and not isinstance(value, bool)}.get(kind, True)


# ------------------------------------------------------------------------------------------ playbook and modules
def test_the_playbook_passes_syntax_check_with_the_real_awx_collection(awx_collection):
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "--syntax-check", PLAYBOOK], capture_output=True,
                          text=True, env=env_for(awx_collection), check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # and without the collection it would not (the check does look the modules up)
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "--syntax-check", PLAYBOOK], capture_output=True,
                          text=True, env=env_for(os.path.join(CACHE, "empty")), check=False)
    assert proc.returncode != 0 and "awx.awx" in proc.stdout + proc.stderr


def test_every_awx_task_sets_only_options_of_its_module_and_all_required_ones(awx_docs):
    tasks = awx_tasks()
    assert set(t["module"] for t in tasks) >= {
        "awx.awx.credential_type", "awx.awx.credential", "awx.awx.project", "awx.awx.inventory",
        "awx.awx.inventory_source", "awx.awx.job_template", "awx.awx.schedule", "awx.awx.workflow_job_template",
        "awx.awx.workflow_job_template_node"}
    for task in tasks:
        spec = awx_docs[task["module"]]
        unknown = [k for k in task["args"] if option(spec, k) is None]
        assert not unknown, "%s: %s are not options of %s" % (task["name"], unknown, task["module"])
        for name, opt in spec.items():
            if opt.get("required"):
                assert name in task["args"] or set(opt.get("aliases") or []) & set(task["args"]), (task["name"], name)
        for key, value in task["args"].items():
            opt = option(spec, key)
            assert type_ok(value, opt), "%s: %s=%r is not a %s" % (task["name"], key, value, opt.get("type"))
            if opt.get("choices") and not (isinstance(value, str) and "{{" in value):
                assert value in opt["choices"], (task["name"], key, value)


def consumer(loop_var):
    """The awx.awx task that consumes the data list ``loop_var``, and the item keys it reads."""
    for task in awx_tasks():
        if loop_var in str(task["loop"]):
            text = json.dumps(task["args"])
            return task, set(re.findall(r"item(?:\.1)?\.(\w+)", text))
    raise AssertionError("no task loops over %s" % loop_var)


@pytest.mark.parametrize("loop_var,extra", [
    ("awx_credential_types", set()),
    ("awx_credentials", {"secret_inputs"}),  # the playbook's own key: which inputs come from awx_secrets
    ("awx_job_templates", set()),
    ("awx_schedules", set()),
    ("awx_workflows", {"nodes"}),
])
def test_every_data_key_reaches_an_option_with_a_valid_value(awx_docs, loop_var, extra):
    task, read = consumer(loop_var)
    spec = awx_docs[task["module"]]
    items = data()[loop_var]
    assert items
    for item in items:
        dropped = set(item) - read - extra
        assert not dropped, "%s %r: %s are not passed to %s" % (loop_var, item["name"], dropped, task["module"])
        for key, value in item.items():
            opt = option(spec, key)
            if key in extra:
                continue
            assert opt is not None, (loop_var, key)
            assert type_ok(value, opt), "%s %r: %s=%r is not a %s" % (loop_var, item["name"], key, value, opt["type"])
            if opt.get("choices"):
                assert value in opt["choices"], (loop_var, item["name"], key, value, opt["choices"])


def test_workflow_nodes_are_job_templates_or_approvals_linked_inside_their_workflow(awx_docs):
    task, read = consumer("awx_workflows | subelements('nodes')")
    spec = awx_docs[task["module"]]
    d = data()
    templates = set(t["name"] for t in d["awx_job_templates"])
    kinds = {}
    for wf in d["awx_workflows"]:
        ids = [n["identifier"] for n in wf["nodes"]]
        assert len(ids) == len(set(ids)), wf["name"]
        for pos, node in enumerate(wf["nodes"]):
            assert not set(node) - read, (wf["name"], node["identifier"], set(node) - read)
            assert ("unified_job_template" in node) != ("approval_node" in node), node["identifier"]
            if "approval_node" in node:
                sub = spec["approval_node"]["suboptions"]
                assert set(node["approval_node"]) <= set(sub) and "name" in node["approval_node"]
                assert isinstance(node["approval_node"].get("timeout", 0), int)
                kinds[(wf["name"], node["identifier"])] = "approval"
            else:
                assert node["unified_job_template"] in templates, node["unified_job_template"]
                kinds[(wf["name"], node["identifier"])] = node["unified_job_template"]
            for link in ("success_nodes", "failure_nodes", "always_nodes"):
                for target in node.get(link, []):
                    # created in reverse order: a node's successors come after it in the list
                    assert target in ids[pos + 1:], "%s: %s -> %s" % (wf["name"], node["identifier"], target)
    # what the issue asks for: mutations check -> approval -> apply; release wave -> approval -> wave, failure -> revert
    mut = dict((n["identifier"], n) for n in d["awx_workflows"][0]["nodes"])
    assert mut["check"]["success_nodes"] == ["approve"] and mut["approve"]["success_nodes"] == ["apply"]
    jts = dict((t["name"], t) for t in d["awx_job_templates"])
    assert jts[mut["check"]["unified_job_template"]]["job_type"] == "check"
    assert jts[mut["apply"]["unified_job_template"]]["job_type"] == "run"
    rel = d["awx_workflows"][1]["nodes"]
    waves = [n for n in rel if n.get("unified_job_template") == "VoIP release - wave"]
    assert len(waves) >= 2 and all(n["failure_nodes"] == ["revert"] for n in waves)
    assert all(kinds[(d["awx_workflows"][1]["name"], n["success_nodes"][0])] == "approval" for n in waves[:-1])


def test_job_templates_surveys_and_schedules_are_consistent():
    d = data()
    creds = set(c["name"] for c in d["awx_credentials"])
    for jt in d["awx_job_templates"]:
        assert jt["playbook"] in PLAYBOOKS_TO_COME or os.path.isfile(os.path.join(ROOT, jt["playbook"])), jt["playbook"]
        assert set(jt.get("credentials", [])) <= creds, jt["name"]
        survey = jt.get("survey_spec")
        assert bool(survey) == bool(jt.get("survey_enabled")), jt["name"]
        for q in (survey or {}).get("spec", []):
            assert q["type"] in SURVEY_TYPES and q["variable"] and q["question_name"], q
            if q["type"] in ("multiplechoice", "multiselect"):
                assert "default" not in q or q["default"] in q["choices"], q
    by_var = dict((q["variable"], jt["name"]) for jt in d["awx_job_templates"]
                  for q in (jt.get("survey_spec") or {}).get("spec", []))
    # the variables the issue names: HR file path, release file; the audit's verdict is a role option
    assert {"user_mutations_source", "release_file", "health_audit_fail_on_priority"} <= set(by_var)
    for var, role in (("user_mutations_source", "user_mutations"), ("health_audit_fail_on_priority", "health_audit")):
        with open(os.path.join(ROOT, "roles", role, "defaults", "main.yml")) as handle:
            assert re.search(r"^%s:" % var, handle.read(), re.M), var
    names = set(jt["name"] for jt in d["awx_job_templates"])
    for sched in d["awx_schedules"]:
        assert sched["unified_job_template"] in names
        assert re.match(r"^DTSTART(;TZID=[A-Za-z_]+/[A-Za-z_]+)?:\d{8}T\d{6}Z? RRULE:FREQ=(MINUTELY|HOURLY|DAILY|WEEKLY|MONTHLY)"
                        r"(;[A-Z]+=[A-Z0-9,+-]+)*$", sched["rrule"]), sched["rrule"]
    audit = [s for s in d["awx_schedules"] if s["unified_job_template"] == "VoIP daily health audit"]
    assert audit and "FREQ=DAILY" in audit[0]["rrule"]


# ------------------------------------------------------------------------------------------ credential types
def module_env_options():
    """{env var: no_log} for every env_fallback in the argument specs of this collection's modules (as they run)."""
    from ansible.module_utils import basic

    class Captured(Exception):
        pass

    found = {}

    def walk(spec):
        for opt in spec.values():
            fb = opt.get("fallback")
            if fb and fb[0].__name__ == "env_fallback":
                for var in fb[1]:
                    found[var] = found.get(var, True) and bool(opt.get("no_log"))
            walk(opt.get("options") or {})

    class Recorder(basic.AnsibleModule):
        def __init__(self, argument_spec=None, **kwargs):  # pylint: disable=super-init-not-called
            walk(argument_spec or {})
            raise Captured()

    for path in sorted(glob.glob(os.path.join(ROOT, "plugins", "modules", "*.py"))):
        name = os.path.basename(path)[:-3]
        if name == "__init__":
            continue
        mod = importlib.import_module("ansible_collections.voipops.voip.plugins.modules." + name)
        real = mod.AnsibleModule
        mod.AnsibleModule = Recorder
        try:
            mod.main()
        except Captured:
            pass
        finally:
            mod.AnsibleModule = real
    return found


def test_credential_types_inject_declared_inputs_into_variables_the_modules_read():
    env_opts = module_env_options()
    assert {"VOIPOPS_CALLSERVER_RPC_URL", "VOIPOPS_CALLSERVER_DB_URL"} <= set(env_opts)  # the recorder works
    d = data()
    types = dict((t["name"], t) for t in d["awx_credential_types"])
    assert len(types) == 6
    for ct in d["awx_credential_types"]:
        assert ct["kind"] in ("cloud", "net")  # the kinds AWX allows for custom credential types
        fields = dict((f["id"], f) for f in ct["inputs"]["fields"])
        assert set(ct["inputs"].get("required", [])) <= set(fields), ct["name"]
        injected = ct["injectors"]["env"]
        assert set(ct["injectors"]) == {"env"}, "secrets go into the environment only, never into extra vars"
        used = set()
        for var, template in injected.items():
            refs = set(re.findall(r"{{\s*(\w+)\s*}}", str(template)))
            assert refs <= set(fields), "%s: %s uses undeclared %s" % (ct["name"], var, refs - set(fields))
            used |= refs
            assert var in env_opts or var in NOT_READ_YET, "%s injects %s, which no module reads" % (ct["name"], var)
            if any(fields[r].get("secret") for r in refs) and var in env_opts:
                assert env_opts[var] is True, "%s carries a secret into an option without no_log" % var
        assert used == set(fields), "%s: inputs never injected: %s" % (ct["name"], set(fields) - used)
        for f in fields.values():
            assert f["type"] in ("string", "boolean") and f["label"]
            if "choices" in f and "default" in f:
                assert f["default"] in f["choices"]
    # the callserver's DB URL, the SNMPv3 keys, the webhook URL and token are secret
    secret = set((ct["name"], f["id"]) for ct in d["awx_credential_types"] for f in ct["inputs"]["fields"] if f.get("secret"))
    assert secret == {("VoIP callserver (voipops.voip)", "db_url"), ("VoIP SNMPv3 (voipops.voip)", "auth_key"),
                      ("VoIP SNMPv3 (voipops.voip)", "priv_key"), ("VoIP ticket webhook (voipops.voip)", "webhook_url"),
                      ("VoIP ticket webhook (voipops.voip)", "token"), ("VoIP test-call account (voipops.voip)", "password"),
                      ("VoIP gateway management (voipops.voip)", "password")}
    # credentials: one per type, non-secret inputs as data, secret ones only named (values come from awx_secrets)
    for cred in d["awx_credentials"]:
        ct = types[cred["credential_type"]]
        fields = dict((f["id"], f) for f in ct["inputs"]["fields"])
        assert set(cred["inputs"]) <= set(fields) and not any(fields[k].get("secret") for k in cred["inputs"])
        assert set(cred["secret_inputs"]) == set(k for k, f in fields.items() if f.get("secret")), cred["name"]
        assert set(ct["inputs"].get("required", [])) <= set(cred["inputs"]) | set(cred["secret_inputs"])
        for key, value in cred["inputs"].items():
            if "choices" in fields[key]:
                assert value in fields[key]["choices"], (cred["name"], key)
    assert not [t for t in awx_tasks() if t["module"] == "awx.awx.credential" and not t["no_log"]]


# ------------------------------------------------------------------------------------------ the modules, really
def test_every_module_call_passes_its_argument_validation(awx_collection, tmp_path):
    """Run the playbook against a controller nobody listens on: argument errors would show before the connection."""
    plays = load_yaml(PLAYBOOK)
    plays[0]["ignore_errors"] = True
    for task in plays[0]["tasks"]:
        task.pop("no_log", None)  # to see every module's answer; the secret must still not show (the module hides it)
    plays[0]["vars_files"] = [os.path.normpath(os.path.join(os.path.dirname(PLAYBOOK), f)) for f in plays[0]["vars_files"]]
    probe = tmp_path / "probe.yml"
    probe.write_text(yaml.safe_dump(json.loads(json.dumps(plays))))  # the data files keep their !unsafe
    secrets = {"awx_secrets": {"VoIP callserver": {"db_url": "postgresql://voipops:S3cr3t-db-pw@db/kamailio"}}}
    env = dict(env_for(awx_collection), CONTROLLER_HOST="http://127.0.0.1:9", CONTROLLER_OAUTH_TOKEN="x",
               ANSIBLE_CALLBACK_RESULT_FORMAT="json", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"))
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), str(probe), "-e", json.dumps(secrets)],
                          capture_output=True, text=True, env=env, timeout=900, check=False)
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-2000:]
    failures = re.findall(r'^(?:failed|fatal): \[localhost\].*$', out, re.M)
    d = data()
    calls = (len(d["awx_credential_types"]) + len(d["awx_credentials"]) + 3 + len(d["awx_job_templates"])
             + len(d["awx_schedules"]) + len(d["awx_workflows"]) + sum(len(w["nodes"]) for w in d["awx_workflows"]))
    assert len(failures) == calls, out[-3000:]
    msgs = re.findall(r'"msg": "([^"]*)"', out)
    assert len(msgs) == calls and all("Connection refused" in m for m in msgs), [m for m in msgs if "refused" not in m]
    assert "S3cr3t-db-pw" not in out + proc.stderr
