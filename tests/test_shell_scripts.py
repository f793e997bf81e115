"""Every shell script of the repository passes shellcheck (installed by `make test`)."""

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shell_scripts() -> list[str]:
    return subprocess.run(
        ["git", "ls-files", "*.sh", ".ci/run"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()


def shellcheck(*paths: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("shellcheck")
    if exe is None:
        pytest.fail("shellcheck missing: bash tools/apt_install.sh shellcheck shellcheck")
    return subprocess.run(
        [exe, "--format=gcc", *paths], cwd=REPO, capture_output=True, text=True, check=False
    )


def test_every_shell_script_is_shellcheck_clean() -> None:
    scripts = shell_scripts()
    assert ".ci/run" in scripts
    assert "tools/apt_install.sh" in scripts
    result = shellcheck(*scripts)
    assert result.returncode == 0, result.stdout


def test_shellcheck_flags_a_broken_script(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/usr/bin/env bash\nrm -rf $1/*\n", encoding="utf-8")
    result = shellcheck(str(bad))
    assert result.returncode != 0
    assert "SC2086" in result.stdout
