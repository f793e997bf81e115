#!/usr/bin/env bash
# Installs Debian's `shellcheck` when it is missing: actionlint runs it on every
# `run:` script of .github/workflows (tests/gitops/test_workflows.py). Without it
# actionlint silently skips those scripts, so the test refuses to run without it.
#
#   bash tests/gitops/install_shellcheck.sh      # `make test` runs this before pytest
#
# Idempotent and quiet when shellcheck is already there. Needs root (or sudo) for apt-get.
set -euo pipefail

if command -v shellcheck >/dev/null 2>&1; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "install_shellcheck: shellcheck is missing and installing it needs root." >&2
    echo "  Run once: sudo apt-get update && sudo apt-get install -y shellcheck" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_shellcheck: no apt-get here; install shellcheck from your package manager." >&2
  exit 1
fi

echo "install_shellcheck: installing Debian's shellcheck (once per machine)..."
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends shellcheck >/dev/null
shellcheck --version
