"""Mutation tests of the Terraform checks: a copy of infra/terraform with one careless change,
on which the check under test must then complain."""

import shutil
from pathlib import Path

TF_DIR = Path(__file__).resolve().parents[2] / "infra" / "terraform"


def mutated_copy(tmp_path: Path, path: str, old: str, new: str) -> Path:
    """A copy of infra/terraform under `tmp_path` whose `path` has `old` (found exactly once)
    replaced by `new`."""
    copy = tmp_path / "terraform"
    shutil.copytree(TF_DIR, copy)
    target = copy / path
    text = target.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"mutation anchor not found once in {path}"
    target.write_text(text.replace(old, new), encoding="utf-8")
    return copy
