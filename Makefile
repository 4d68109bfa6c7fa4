# picf: `make demo` runs the main job on the simulated LAN, `make test` sets up and passes every test.
# Both need root on Debian 12 / Ubuntu (the simulator builds network namespaces).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.picf-installed
LINT_DIRS := picf tui tests $(wildcard bench)

APT_PACKAGES := openssh-server openssh-client iproute2 monit qemu-user-static binfmt-support \
	golang-go gcc gcc-arm-linux-gnueabihf gcc-aarch64-linux-gnu libc6-dev-armhf-cross libc6-dev-arm64-cross \
	avahi-daemon avahi-utils tmux python3-venv git make wget util-linux

.PHONY: setup system-packages venv lint typecheck ansible-lint test test-unit test-integration demo demo-down bench clean

setup: system-packages venv

# apt only runs when something is missing, so a second `make setup` takes a second.
system-packages:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "make setup: need root to install: $$missing" >&2; exit 1; fi; \
		echo "installing system packages: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

lint: venv
	$(BIN)/ruff check $(LINT_DIRS)
	$(BIN)/ruff format --check $(LINT_DIRS)

typecheck: venv
	$(BIN)/mypy picf tui

ansible-lint: venv
	@if ls playbooks/*.yml >/dev/null 2>&1; then $(BIN)/ansible-lint playbooks; else echo "ansible-lint: no playbooks yet"; fi

test-unit: setup
	$(BIN)/pytest tests/unit

test-integration: setup
	$(BIN)/pytest tests/integration

test: setup lint typecheck ansible-lint
	$(BIN)/pytest tests

# The main job on the simulated LAN: three Pis (3B+ armv7, 4B arm64, 3B+ armv7) found by mDNS, given roles,
# the example release linted, built for both arches with the ARM patches, deployed with canaries, running
# under monit. Running it again changes nothing. `make demo-down` removes the LAN.
DEMO_INVENTORY := inventory/sim-cluster.yml
DEMO_KEY := /run/picf-sim/picf0/id_ed25519

demo: setup
	@# A LAN built anew has new host keys: an inventory pinned to an old LAN would (rightly) report impostors.
	@$(BIN)/picf sim status >/dev/null 2>&1 || rm -f $(DEMO_INVENTORY) $(DEMO_INVENTORY).bak
	$(BIN)/picf sim up --nodes 3 --models 3b+,4b
	$(BIN)/picf discover --interface picf0 --write=$(DEMO_INVENTORY) --user root --key $(DEMO_KEY) --cluster-name pi-demo --yes
	for node in pi-1 pi-2 pi-3; do $(BIN)/picf inventory roles $$node +doppler --inventory $(DEMO_INVENTORY); done
	-$(BIN)/picf release lint examples/releases/logfwd --arch armv7
	$(BIN)/picf release build examples/releases/logfwd --arch armv7 --patch
	$(BIN)/picf release build examples/releases/logfwd --arch arm64 --patch
	$(BIN)/picf deploy --inventory $(DEMO_INVENTORY) --manifest inventory/deployment.yml --yes
	$(BIN)/picf sim status
	@echo "next: .venv/bin/picf sim shell pi-1 (then: monit -c /var/vcap/monit/monitrc summary) | make demo-down"

demo-down: venv
	$(BIN)/picf sim down
	rm -f $(DEMO_INVENTORY) $(DEMO_INVENTORY).bak

bench: setup
	$(BIN)/python bench/sim_up.py
	$(BIN)/python bench/discover.py
	$(BIN)/python bench/build_cache.py
	$(BIN)/python bench/poll.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
