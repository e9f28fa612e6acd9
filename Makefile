# voipops.voip — one-command setup, demo and tests.  See README.md.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
ROOT := $(abspath .)
VENV ?= $(ROOT)/.venv
PY := $(VENV)/bin/python
STATE := $(ROOT)/.state
COLL := $(STATE)/collections/ansible_collections/voipops/voip
PYTHON ?= python3
export ANSIBLE_CONFIG := $(ROOT)/ansible.cfg
export ANSIBLE_COLLECTIONS_PATH := $(STATE)/collections
export ANSIBLE_LOCAL_TEMP := $(STATE)/tmp/local
export ANSIBLE_REMOTE_TEMP := $(STATE)/tmp/remote
export PATH := $(VENV)/bin:$(PATH)

.PHONY: help setup deps venv link demo lab-up lab-down test sanity lint unit integration future molecule matrix bench docs docsite clean

help:
	@echo "make demo      set everything up, start the embedded lab, run the main job (playbooks/demo.yml)"
	@echo "make test      set everything up and run sanity, lint, unit and integration tests"
	@echo "make lab-up / lab-down / bench / sanity / lint / unit / integration / future / molecule / matrix / docs"
	@echo "make docsite   the collection's docsite (antsibull-docs + Sphinx, offline) in .state/docsite/build/html"

## ---- setup -------------------------------------------------------------------------------------
setup: deps venv link

# Debian packages from bindep.txt (profiles: lab for the demo, test for the tests, bench for make bench's peers).
BINDEP_PROFILE ?= test
deps:
	@pkgs=$$(grep -v '^\s*#' bindep.txt | grep -E '\[.*\b($(BINDEP_PROFILE)|lab)\b.*\]' | awk '{print $$1}' | sort -u); \
	missing=$$(for p in $$pkgs; do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages present"; exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "deps: missing Debian packages. Run as root:"; \
	  echo "  apt-get update && apt-get install -y --no-install-recommends" $$missing; exit 1; fi; \
	echo "deps: installing" $$missing; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -qq; \
	apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	for svc in kamailio snmpd nginx postgresql prometheus-snmp-exporter; do \
	  if command -v systemctl >/dev/null && systemctl is-active -q $$svc 2>/dev/null; then systemctl stop $$svc || true; fi; \
	done

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip wheel
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

# Ansible loads collections from .../ansible_collections/<ns>/<name>: expose this checkout there.
link:
	@mkdir -p $(dir $(COLL)) $(STATE)/tmp/local $(STATE)/tmp/remote
	@[ "$$(readlink $(COLL) 2>/dev/null)" = "$(ROOT)" ] || ln -sfn $(ROOT) $(COLL)

## ---- the lab and the demo ------------------------------------------------------------------------
lab-up: BINDEP_PROFILE=lab
lab-up: setup
	$(VENV)/bin/ansible-playbook playbooks/lab_up.yml

lab-down: link
	$(VENV)/bin/ansible-playbook playbooks/lab_down.yml

demo: BINDEP_PROFILE=lab
demo: lab-up
	$(VENV)/bin/ansible-playbook -i inventories/lab/hosts.yml -i inventories/lab/estate.inventory.yml playbooks/demo.yml

## ---- tests ---------------------------------------------------------------------------------------
test: setup
	$(MAKE) --no-print-directory sanity lint docs unit
	@# the integration suite waits on the lab most of the time: the other ansible-core's unit and sanity run beside it
	$(MAKE) --no-print-directory -j2 --output-sync=target integration matrix
	$(MAKE) --no-print-directory future molecule
	@echo "make test: all passed"

sanity: setup
	bash tests/sanity/run.sh

lint: setup
	# a project-local ANSIBLE_HOME: an installed copy of this collection in ~/.ansible would shadow the checkout
	ANSIBLE_HOME=$(STATE)/ansible-home $(VENV)/bin/ansible-lint --offline

unit: setup
	$(PY) -m pytest tests/unit -q -p no:cacheprovider

integration: setup
	$(PY) -m pytest tests/integration -q -p no:cacheprovider

# The suite's date-sensitive parts with the clock a year ahead (libfaketime, every process of the run and of its
# lab): certificates, grants with `until`, cooling, SLA deadlines and HR dates must not depend on the day it runs.
FUTURE ?= +365d
FUTURE_TESTS := tests/integration/test_health_audit.py tests/integration/test_user_mutations_role.py \
	tests/integration/test_user_features.py
future: setup
	@# the clock really moved (a missing libfaketime would make this stage pass vacuously)
	test "$$(faketime -f '$(FUTURE)' date +%s)" -gt "$$(( $$(date +%s) + 86400 ))"
	faketime -f '$(FUTURE)' $(PY) -m pytest tests/unit -q -p no:cacheprovider
	VOIPOPS_TEST_LAB_DIR=$(STATE)/future-lab faketime -f '$(FUTURE)' $(PY) -m pytest $(FUTURE_TESTS) -q -p no:cacheprovider

# Molecule scenarios (default driver, localhost) against a lab of their own, taken down afterwards.
MOLECULE_LAB := $(STATE)/molecule-lab
molecule: setup
	@# a disposable lab: the scenarios' leavers put their numbers in cooling, so every run starts from a new database
	VOIPOPS_LAB_DIR=$(MOLECULE_LAB) $(VENV)/bin/ansible-playbook $(ROOT)/playbooks/lab_down.yml >/dev/null; rm -rf $(MOLECULE_LAB)
	@# molecule keeps each scenario's state ("prepared") in ANSIBLE_HOME: a run that failed half-way would make the next
	@# one skip prepare against the new, empty lab
	rm -rf $(STATE)/ansible-home/tmp/molecule.*
	rc=0; (cd extensions && VOIPOPS_LAB_DIR=$(MOLECULE_LAB) ANSIBLE_HOME=$(STATE)/ansible-home $(VENV)/bin/molecule test --all) || rc=$$?; \
	VOIPOPS_LAB_DIR=$(MOLECULE_LAB) $(VENV)/bin/ansible-playbook $(ROOT)/playbooks/lab_down.yml >/dev/null || true; \
	rm -rf $(MOLECULE_LAB); exit $$rc

# The lowest supported ansible-core (meta/runtime.yml requires_ansible) beside today's: the unit suite and ansible-test
# sanity again in a venv of its own.  The newest ansible-core on the package index is the main venv's (2.19).
MATRIX_CORE ?= 2.16
MATRIX := $(STATE)/matrix/core$(subst .,,$(MATRIX_CORE))
$(MATRIX)/.installed: requirements.txt requirements-dev.txt
	test -x $(MATRIX)/bin/python || $(PYTHON) -m venv $(MATRIX)
	$(MATRIX)/bin/pip install -q "ansible-core==$(MATRIX_CORE).*" $$(grep -v -e '^\s*#' -e '^ansible-core' requirements.txt) \
	  $$(grep -E '^(pytest|pytest-timeout|hypothesis)\b' requirements-dev.txt)
	touch $@

matrix: setup $(MATRIX)/.installed
	$(MATRIX)/bin/python -c "import ansible.release as r; print('matrix: ansible-core', r.__version__)"
	$(MATRIX)/bin/python -m pytest tests/unit -q -p no:cacheprovider
	VENV=$(MATRIX) VOIPOPS_SANITY_DIR=$${TMPDIR:-/tmp}/voipops-sanity-core$(subst .,,$(MATRIX_CORE))-$$(id -u) bash tests/sanity/run.sh

bench: BINDEP_PROFILE=test|bench
bench: setup
	$(PY) bench/run.py

docs: setup
	$(VENV)/bin/antsibull-docs lint-collection-docs --plugin-docs $(ROOT)

# The collection's docsite, built offline: antsibull-docs renders the plugin and role pages, Sphinx the HTML (with
# its bundled alabaster theme); intersphinx is off, so no inventory is fetched (links to docs.ansible.com labels stay
# plain text). Open $(DOCSITE)/build/html/index.html.
DOCSITE ?= $(STATE)/docsite
docsite: link
	rm -rf $(DOCSITE) && mkdir -p $(DOCSITE)/src
	$(VENV)/bin/antsibull-docs sphinx-init --use-current --squash-hierarchy --lenient --sphinx-theme alabaster \
	  --dest-dir $(DOCSITE)/src voipops.voip >/dev/null
	printf '\n# offline: no intersphinx inventory is fetched\nextensions = [e for e in extensions if e != "sphinx.ext.intersphinx"]\nintersphinx_mapping = {}\n' \
	  >> $(DOCSITE)/src/conf.py
	chmod og-w $(DOCSITE)/src/rst
	cd $(DOCSITE)/src && $(VENV)/bin/antsibull-docs --config-file antsibull-docs.cfg collection --cleanup everything \
	  --use-current --squash-hierarchy --dest-dir rst voipops.voip >/dev/null
	$(VENV)/bin/sphinx-build -M html $(DOCSITE)/src/rst $(DOCSITE)/build -q -c $(DOCSITE)/src
	@echo "docsite: $(DOCSITE)/build/html/index.html"

clean:
	-$(VENV)/bin/ansible-playbook playbooks/lab_down.yml
	rm -rf $(STATE) tests/output
