# TinyShop developer commands. `make dev` runs the shop locally; `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.DEFAULT_GOAL := help
.PHONY: help dev test lint bench token screenshots clean

help: ## List the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==26.3

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt requirements-oidc.txt \
		requirements-cosmos.txt ui/requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

$(VENV)/.test-installed: $(VENV)/.dev-installed requirements-test.txt requirements-infra.txt \
		requirements-ui.txt
	$(PY) -m pip install --quiet -r requirements-test.txt
	touch $@

dev: $(VENV)/.dev-installed ## Run the whole shop locally (Ctrl-C stops it)
	$(PY) -m dev.stack

lint: $(VENV)/.test-installed ## ruff lint and format check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test: lint ## All tests and checks (installs Debian's chromium and shellcheck if missing)
	bash tests/ui/install_chromium.sh
	bash tests/gitops/install_shellcheck.sh
	$(PY) -m pytest

screenshots: $(VENV)/.test-installed ## Refresh the README's screenshots (docs/screenshots/)
	bash tests/ui/install_chromium.sh
	TINYSHOP_SCREENSHOTS=docs/screenshots $(PY) -m pytest -q tests/ui/test_browser_journey.py

token: $(VENV)/.dev-installed ## Print an access token for a local user: make token USER=alice
	@if [ "$(origin USER)" != "command line" ]; then echo "usage: make token USER=<name>" >&2; exit 2; fi
	@$(PY) -m dev.token "$(USER)"

bench: $(VENV)/.test-installed ## Benchmarks (not tests): throughput and latency against real servers
	$(PY) -m bench

clean: ## Remove the virtualenv and local state (embedded Postgres data)
	rm -rf $(VENV) .dev .pytest_cache .ruff_cache
