# picf: `make demo` runs the main job on the simulated LAN, `make test` sets up and passes every test.
# Both need root on Debian 12 / Ubuntu (the simulator builds network namespaces).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.picf-installed
LINT_DIRS := picf tui tests $(wildcard bench)

APT_PACKAGES := openssh-server openssh-client iproute2 sudo python3-apt qemu-user-static binfmt-support \
	golang-go gcc gcc-arm-linux-gnueabihf gcc-aarch64-linux-gnu libc6-dev-armhf-cross libc6-dev-arm64-cross \
	avahi-daemon avahi-utils tmux python3-venv git make wget util-linux bubblewrap ruby

.PHONY: setup system-packages sim-packages venv analyzer lint typecheck ansible-lint test test-loaded test-unit test-integration demo demo-down bench clean

setup: system-packages sim-packages venv analyzer

# The .deb files of what a stock Raspberry Pi OS lacks (monit): the simulated LAN serves them to its nodes.
SIM_DEBS := /var/cache/picf-sim/debs
sim-packages: system-packages
	@ls $(SIM_DEBS)/monit_*.deb >/dev/null 2>&1 || { \
		if [ "$$(id -u)" != 0 ]; then echo "make setup: not root, skipping the simulator's packages"; exit 0; fi; \
		mkdir -p $(SIM_DEBS) && cd $(SIM_DEBS) && \
		{ apt-get download -qq monit 2>/dev/null || { apt-get update -qq && apt-get download -qq monit; }; }; }

# apt only runs when something is missing, so a second `make setup` takes a second.
system-packages:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "make setup: need root to install: $$missing" >&2; exit 1; fi; \
		echo "installing system packages: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

venv: $(STAMP)

# The lint's Go analyzer (picf/releases/lint/golint, built with Debian's Go, cached by the hash of its source) and the
# standard library's export data for linux/arm and arm64 (Go's build cache keeps it): about a minute the first time.
analyzer: system-packages venv
	$(BIN)/python -m picf.releases.lint.gotypes arm arm64

$(STAMP): pyproject.toml tests/tui/constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]' -c tests/tui/constraints.txt
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

# Two workers (pytest-xdist), a test module at a time each, each with a simulated LAN of its own; then the tests
# that resolve a .local name, alone (every LAN's nodes answer for pi-N.local). Nothing is skipped.
PYTEST_PARALLEL := -n 2 --dist loadfile -m "not alone"
PYTEST_ALONE := -m alone

test: setup lint typecheck ansible-lint
	$(BIN)/pytest $(PYTEST_PARALLEL) tests
	$(BIN)/pytest $(PYTEST_ALONE) tests

# The suite on a busy machine: a CPU hog on every core beside pytest (tests must not depend on speed).
test-loaded: setup lint typecheck ansible-lint
	$(BIN)/python tests/loaded.py -- $(BIN)/pytest $(PYTEST_PARALLEL) tests
	$(BIN)/python tests/loaded.py -- $(BIN)/pytest $(PYTEST_ALONE) tests

# The main job on the simulated LAN (`picf demo`): three Pis (3B+ armv7, 4B arm64, 3B+ armv7) found by mDNS,
# the example release built without the ARM patches and deployed, the armv7 crash loop shown and diagnosed,
# then built with the patches and redeployed. The dashboard in a terminal, every step printed otherwise.
demo: setup
	$(BIN)/picf demo

demo-down: venv
	$(BIN)/picf demo --down

bench: setup
	$(BIN)/python bench/sim_up.py
	$(BIN)/python bench/discover.py
	$(BIN)/python bench/build_cache.py
	$(BIN)/python bench/render.py
	$(BIN)/python bench/compile_modes.py
	$(BIN)/python bench/poll.py
	$(BIN)/python bench/deadlines.py
	$(BIN)/python bench/dashboard.py
	$(BIN)/python bench/preflight.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
