"""Dependencies come from one declared source (pyproject.toml) through hash locks that uv
generates (tools/locks.py). A lock that drifts from pyproject.toml fails here, not in an image."""

import shutil
from pathlib import Path

import pytest

from tools import locks

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """pyproject.toml, uv.lock and the exported locks, as committed, in a scratch folder."""
    for name in ["pyproject.toml", "uv.lock", *locks.LOCKS]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, tmp_path / name)
    return tmp_path


def test_every_lock_is_current_with_pyproject() -> None:
    assert locks.stale() == []


def test_every_lock_pins_every_package_with_a_hash() -> None:
    for path in locks.LOCKS:
        requirements = [
            line
            for line in (REPO / path).read_text(encoding="utf-8").splitlines()
            if line and not line.startswith((" ", "#"))
        ]
        assert requirements, path
        for line in requirements:
            assert "==" in line, f"{path}: {line}"
            assert line.rstrip().endswith("\\"), f"{path}: {line} has no hash"


def test_a_changed_pin_in_pyproject_makes_the_locks_stale(repo_copy: Path) -> None:
    pyproject = repo_copy / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    assert '"tenacity==9.2.1"' in text
    pyproject.write_text(text.replace('"tenacity==9.2.1"', '"tenacity==9.1.2"'), encoding="utf-8")
    assert any(problem.startswith("uv.lock") for problem in locks.stale(repo_copy))


def test_a_hand_edited_lock_is_stale(repo_copy: Path) -> None:
    ui_lock = repo_copy / "ui" / "requirements.txt"
    ui_lock.write_text(ui_lock.read_text(encoding="utf-8") + "six==1.16.0\n", encoding="utf-8")
    assert locks.stale(repo_copy) == ["ui/requirements.txt"]
