"""checkov from an isolated, cached virtualenv, shared by tests/infra and tests/deploy.

checkov pins ``packaging<24`` and installs ``bc-python-hcl2``, a fork that overwrites the ``hcl2``
package python-hcl2 provides, so it must not live in the repo venv. The venv is built once from
tests/infra/requirements-checkov.txt and cached under ~/.cache/tinyshop (keyed by that lock and
the Python version); TINYSHOP_CHECKOV points at an existing checkov instead.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parents[1] / "infra" / "requirements-checkov.txt"


class CheckovInstallError(RuntimeError):
    """pip could not build the checkov virtualenv."""


def _venv_dir() -> Path:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes() + sys.version.encode()).hexdigest()[:12]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "tinyshop" / f"checkov-venv-{digest}"


def checkov_executable() -> Path:
    """Path of a checkov executable, installing it on first use."""
    override = os.environ.get("TINYSHOP_CHECKOV")
    if override:
        return Path(override)
    target = _venv_dir()
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
            str(REQUIREMENTS),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if result.returncode != 0:
        raise CheckovInstallError(
            f"installing checkov into {target} failed:\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    marker.write_text(REQUIREMENTS.read_text(encoding="utf-8"), encoding="utf-8")
    return exe
