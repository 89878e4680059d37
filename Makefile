# Confidant: two commands do everything on a fresh machine.
#   make run    set up (Python venv, web client build) and serve Confidant on http://127.0.0.1:8080
#               (RUN_ARGS=--log-requests adds one log line per HTTP request; see `confidant serve --help`)
#   make test   set up (including redis-server, coturn, chromium) and run the whole test suite
VENV    ?= .venv
PY      := $(VENV)/bin/python
PYTEST_ARGS ?=
HOST    ?= 127.0.0.1
PORT    ?= 8080
RUN_ARGS ?=

.PHONY: run test setup system-deps web bench lint clean

run: setup
	@$(VENV)/bin/confidant serve --host $(HOST) --port $(PORT) $(RUN_ARGS)

test: setup system-deps
	# The suite runs in a private network namespace with only loopback: WebRTC peers, coturn, Redis and
	# Chromium talk to each other and nothing else (no traffic can leave the machine).
	unshare -n sh -c 'ip link set lo up && exec $(PY) -m pytest $(PYTEST_ARGS)'

setup: $(VENV)/.installed web

$(VENV)/.installed: pyproject.toml
	sh scripts/install-system-deps.sh base
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

system-deps:
	sh scripts/install-system-deps.sh test

web:
	@sh scripts/build-web.sh

BENCH_ARGS ?=
bench: setup system-deps
	unshare -n sh -c 'ip link set lo up && exec $(PY) bench/run_all.py $(BENCH_ARGS)'

lint: setup
	$(VENV)/bin/ruff check server storage crypto signaling client tests bench scripts
	$(VENV)/bin/mypy
	@# A test module that fails to import (or warns at import) must fail here, not silently in CI's test run:
	@# collection only (no test runs, no network), printed in full when it fails.
	@out=$$($(PY) -m pytest --collect-only -q -p no:cacheprovider 2>&1) || \
		{ printf '%s\n' "$$out"; echo "pytest collection failed"; exit 1; }; printf '%s\n' "$$out" | tail -n 1

clean:
	rm -rf $(VENV) web-client/node_modules web-client/dist .pytest_cache
