"""Make this checkout importable as ``ansible_collections.voipops.voip`` for pytest.

The repository root is the collection root.  Ansible imports collection code as
``ansible_collections.<namespace>.<name>``, so we expose the checkout through a symlink
tree under ``.state/collections`` (outside the tracked tree, never committed) and put it
first on ``sys.path``.  Tests then import exactly what Ansible imports.
"""
import os
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
STATE = os.environ.get("VOIPOPS_STATE_DIR", os.path.join(ROOT, ".state"))
COLL_ROOT = os.path.join(STATE, "collections")
LINK = os.path.join(COLL_ROOT, "ansible_collections", "voipops", "voip")


def _ensure_link():
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    if os.path.islink(LINK) and os.path.realpath(LINK) == ROOT:
        return
    tmp = LINK + ".tmp.%d" % os.getpid()
    os.symlink(ROOT, tmp)
    os.replace(tmp, LINK)


_ensure_link()
if COLL_ROOT not in sys.path:
    sys.path.insert(0, COLL_ROOT)
os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", COLL_ROOT)
