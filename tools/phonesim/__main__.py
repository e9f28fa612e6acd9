"""Entry point: ``python -m tools.phonesim --config fleet.yml --state-dir D`` (from the repo root), or by path:
``python tools/phonesim --config ...``.  Subcommands: ``ctl`` (control a running fleet), ``estate`` (print the
estate's handsets as a fleet).

Makes the checkout importable as ``ansible_collections.voipops.voip`` (a symlink tree under .state, like
the root conftest.py does for pytest) and runs the simulator in plugins/module_utils/phonesim.py.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
STATE = os.environ.get("VOIPOPS_STATE_DIR", os.path.join(ROOT, ".state"))
COLL_ROOT = os.path.join(STATE, "collections")
LINK = os.path.join(COLL_ROOT, "ansible_collections", "voipops", "voip")

if not (os.path.islink(LINK) and os.path.realpath(LINK) == ROOT):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    tmp = LINK + ".tmp.%d" % os.getpid()
    os.symlink(ROOT, tmp)
    os.replace(tmp, LINK)
if COLL_ROOT not in sys.path:
    sys.path.insert(0, COLL_ROOT)

from ansible_collections.voipops.voip.plugins.module_utils.phonesim import main  # noqa: E402

rc, text = main(sys.argv[1:])
if text:
    print(text)
sys.exit(rc)
