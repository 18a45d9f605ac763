# stacklab: the two commands a user needs are
#   sudo make scenario vxlan-instance     build a scenario, check it, report, then CLI or teardown
#   sudo make test                        the whole test suite
# Both install what is missing first (scripts/setup.sh is idempotent).

VENV      ?= .venv
STACKLAB  := $(VENV)/bin/stacklab
PYTEST    := $(VENV)/bin/python -m pytest
SETUP_OK  := $(VENV)/.stacklab-installed

# `make scenario NAME`: NAME is an argument, not a target. Turn the words after
# `scenario` (and `up`, `down`, `bench`) into SCENARIO and make them no-op goals.
ARG_GOALS := scenario up down exercise
ifneq ($(filter $(firstword $(MAKECMDGOALS)),$(ARG_GOALS)),)
  SCENARIO := $(wordlist 2,$(words $(MAKECMDGOALS)),$(MAKECMDGOALS))
  ifneq ($(SCENARIO),)
    $(eval $(SCENARIO):;@:)
  endif
endif

.PHONY: help setup scenario exercise exercises up down test test-scale unit integration bench lint list clean box vm-up vm-ssh vm-destroy vm-smoke vm-test

help:
	@echo "sudo make scenario NAME   build scenarios/NAME.yaml, run its checks, report, then CLI (with a tty) and teardown"
	@echo "sudo make exercise NAME   start a hands-on exercise (see: make exercises), then its CLI"
	@echo "sudo make test            install what is missing, then run every test (unit and integration)"
	@echo "sudo make test-scale      the slow suite: a 50-compute lab, 100 up/down cycles (CI runs it too)"
	@echo "make unit                 unit tests only (no root needed once set up)"
	@echo "sudo make bench           print the build/teardown/scale figures"
	@echo "make list                 the scenarios"
	@echo "sudo make vm-test         the two commands above inside the Vagrant VM (Debian 12), results in reports/vm/"
	@echo "sudo make vm-smoke        a shorter VM run: one scenario with the kernel datapath"
	@echo "sudo make box             build the Vagrant box stacklab/bookworm from the Debian mirror (cached)"
	@echo "scenario/up take DATAPATH=system for the kernel datapath (needs the openvswitch module)"

setup:
	@bash scripts/setup.sh

$(SETUP_OK): pyproject.toml scripts/setup.sh
	@bash scripts/setup.sh

scenario: $(SETUP_OK)
	@test -n "$(SCENARIO)" || { echo "usage: sudo make scenario NAME (see: make list)"; exit 2; }
	@$(STACKLAB) run $(if $(DATAPATH),--datapath $(DATAPATH)) $(SCENARIO)

exercise: $(SETUP_OK)
	@test -n "$(SCENARIO)" || { echo "usage: sudo make exercise NAME (see: make exercises)"; exit 2; }
	@$(STACKLAB) exercise start --cli $(SCENARIO)

exercises: $(SETUP_OK)
	@$(STACKLAB) exercise list

up: $(SETUP_OK)
	@$(STACKLAB) up $(if $(DATAPATH),--datapath $(DATAPATH)) $(SCENARIO)

down: $(SETUP_OK)
	@$(STACKLAB) down $(if $(SCENARIO),$(SCENARIO),--all)

list: $(SETUP_OK)
	@$(STACKLAB) list

test: $(SETUP_OK)
	@$(PYTEST) -q -ra tests

test-scale: $(SETUP_OK)
	@$(PYTEST) -q -ra -m scale tests

unit: $(SETUP_OK)
	@$(PYTEST) -q -ra tests/unit

integration: $(SETUP_OK)
	@$(PYTEST) -q -ra tests/integration

bench: $(SETUP_OK)
	@$(VENV)/bin/python bench/bench_runtime.py
	@$(VENV)/bin/python bench/bench_agent.py
	@$(VENV)/bin/python bench/bench_checks.py
	@$(VENV)/bin/python bench/bench_services.py
	@$(VENV)/bin/python bench/bench_netvirt.py
	@$(VENV)/bin/python bench/bench_exercises.py
	@$(VENV)/bin/python bench/bench_datapath.py
	@$(VENV)/bin/python bench/bench_ovn.py
	@$(VENV)/bin/python bench/bench_ha.py

# The Vagrant VM (Debian 12; Vagrantfile, scripts/vm.sh): KVM where a guest runs under it, else TCG.
box:
	@bash scripts/build-box.sh

vm-up:
	@bash scripts/vm.sh up

vm-ssh:
	@vagrant ssh

vm-destroy:
	@bash scripts/vm.sh destroy

vm-smoke:
	@bash scripts/vm.sh smoke

vm-test:
	@bash scripts/vm.sh test

clean:
	rm -rf $(VENV) build *.egg-info reports
