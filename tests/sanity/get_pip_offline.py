"""Stand-in for get-pip.py, used by ansible-test to bootstrap pip into its empty virtual environments.

ansible-test downloads get-pip.py from a host outside the package registries, which this project's machines
cannot reach. This script does the same job with what every CPython has: ``ensurepip`` installs the bundled pip,
which then installs the exact packages ansible-test asks for (pip==X, ...) from the package index.
"""
import subprocess
import sys

GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}

subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
subprocess.check_call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check"] + args)
