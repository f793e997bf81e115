#!/usr/bin/env bash
# Installs Debian's `chromium` for the browser journey (tests/ui/test_browser_journey.py) when it
# is missing. Playwright drives this browser through `executable_path`; it never downloads one
# (`playwright install` needs a CDN this project's machines cannot reach).
#
#   bash tests/ui/install_chromium.sh      # `make test` runs this before pytest
#
# Idempotent and quiet when Chromium is already there. Needs root (or sudo) for apt-get.
set -euo pipefail

CHROMIUM="${TINYSHOP_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "install_chromium: $CHROMIUM is missing and installing it needs root." >&2
    echo "  Run once: sudo apt-get update && sudo apt-get install -y chromium fonts-dejavu-core" >&2
    echo "  (or point TINYSHOP_CHROMIUM at an existing Chromium binary)." >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_chromium: no apt-get here; install Chromium and set TINYSHOP_CHROMIUM." >&2
  exit 1
fi

echo "install_chromium: installing Debian's chromium (once per machine)..."
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# fonts-dejavu-core: readable, deterministic text in the screenshots.
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
"$CHROMIUM" --version
