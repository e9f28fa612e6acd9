"""Entry point of the phone simulator: ``python <roles/lab>/files/phonesim --config fleet.yml --state-dir D`` (the lab
role runs it so), or ``python -m tools.phonesim ...`` from a checkout.  Subcommands: ``ctl`` (control a running
fleet), ``estate`` (print the estate's handsets as a fleet).

The simulator imports the collection as ``ansible_collections.voipops.voip``.  In an installed collection (and
through the checkout's link under .state/collections, the path Ansible gives the role) the directory above
``ansible_collections`` goes on sys.path; from a plain checkout a symlink tree under .state is made first, like the
root conftest.py does for pytest.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# phonesim -> files -> lab -> roles -> the collection root
COLLECTION = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(HERE))))


def collections_root():
    """The directory holding ``ansible_collections/voipops/voip`` for this copy of the collection."""
    head, name = os.path.split(COLLECTION)
    head, namespace = os.path.split(head)
    root, top = os.path.split(head)
    if (top, namespace, name) == ("ansible_collections", "voipops", "voip"):
        return root
    root = os.path.join(os.environ.get("VOIPOPS_STATE_DIR", os.path.join(COLLECTION, ".state")), "collections")
    link = os.path.join(root, "ansible_collections", "voipops", "voip")
    if not (os.path.islink(link) and os.path.realpath(link) == os.path.realpath(COLLECTION)):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        tmp = link + ".tmp.%d" % os.getpid()
        os.symlink(os.path.realpath(COLLECTION), tmp)
        os.replace(tmp, link)
    return root


if __name__ == "__main__":
    if collections_root() not in sys.path:
        sys.path.insert(0, collections_root())
    from ansible_collections.voipops.voip.roles.lab.files.phonesim.sim import main

    rc, text = main(sys.argv[1:])
    if text:
        print(text)
    sys.exit(rc)
