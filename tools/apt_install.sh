#!/usr/bin/env bash
# Installs Debian packages for a tool the tests need, when the tool is missing:
#
#   bash tools/apt_install.sh COMMAND PACKAGE...
#
# COMMAND is a name on PATH, a path to an executable, or lib:SONAME for a shared library the
# dynamic linker must find (`ldconfig -p`); when it is already there this does
# nothing (idempotent, quiet). `make test` runs it for Debian's chromium (the browser journey:
# Playwright drives it through `executable_path` and never downloads a browser, its CDN is not
# reachable here) and shellcheck (actionlint runs it on every `run:` script of the workflows;
# without it actionlint silently skips them). Needs root (or passwordless sudo) for apt-get.
set -euo pipefail

if [ "$#" -lt 2 ]; then
  echo "usage: $0 COMMAND PACKAGE..." >&2
  exit 2
fi
tool="$1"
shift
present() {
  if [[ "$tool" == lib:* ]]; then
    # The whole list first: `grep -q` would stop reading early, and under pipefail the
    # SIGPIPE of ldconfig would read as "missing".
    local libraries
    libraries="$(/sbin/ldconfig -p)"
    [[ "$libraries" == *"${tool#lib:} "* ]]
  else
    command -v "$tool" >/dev/null 2>&1 || [ -x "$tool" ]
  fi
}
if present; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "apt_install: $tool is missing and installing it needs root." >&2
    echo "  Run once: sudo apt-get update && sudo apt-get install -y $*" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "apt_install: no apt-get here; install $* with your package manager." >&2
  exit 1
fi

echo "apt_install: installing Debian's $* for $tool (once per machine)..."
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
if ! present; then
  echo "apt_install: $* installed, but $tool is still missing." >&2
  exit 1
fi
if [[ "$tool" != lib:* ]]; then
  "$tool" --version
fi
