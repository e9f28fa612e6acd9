"""``python -m tools.phonesim --config fleet.yml --state-dir D`` (from the repo root), or by path
``python tools/phonesim ...``: runs the lab's phone simulator, which ships with the lab role
(``roles/lab/files/phonesim``, where its engine and docs live), with the same arguments.  Subcommands: ``ctl``
(control a running fleet), ``estate`` (print the estate's handsets as a fleet).
"""
import os
import runpy

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))

runpy.run_path(os.path.join(ROOT, "roles", "lab", "files", "phonesim"), run_name="__main__")
