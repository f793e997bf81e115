"""The promote workflow's only edit: environments/<env>/images.yaml.

The script is .github/scripts/set_image_tags.py; these tests run it on a copy of the repository.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / ".github" / "scripts" / "set_image_tags.py"
SHA_A = "a" * 40
SHA_B = "0123456789abcdef0123456789abcdef01234567"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("set_image_tags", SCRIPT)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tags = _load()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with the real environments/dev/images.yaml and an empty `prod`."""
    shutil.copytree(REPO_ROOT / "environments" / "dev", tmp_path / "environments" / "dev")
    (tmp_path / "environments" / "prod").mkdir()
    return tmp_path


def _images(repo: Path, env: str) -> dict[str, str]:
    data = yaml.safe_load((repo / "environments" / env / "images.yaml").read_text())
    return {name: entry["tag"] for name, entry in data["images"].items()}


def test_the_committed_file_is_in_the_shape_the_script_owns() -> None:
    path = REPO_ROOT / "environments" / "dev" / "images.yaml"
    assert set(tags.read_tags(path)) == {"functions", "ui"}
    # A rewrite with the same tags reproduces the file byte for byte.
    assert tags.render(tags.header_of(path), tags.read_tags(path)) == path.read_text()


def test_a_new_sha_tags_both_images_and_keeps_the_header(repo: Path) -> None:
    header = tags.header_of(repo / "environments/dev/images.yaml")
    assert tags.promote(repo, "dev", sha=SHA_B) is True
    assert _images(repo, "dev") == {"functions": SHA_B, "ui": SHA_B}
    assert (repo / "environments/dev/images.yaml").read_text().startswith(header)
    assert header.count("\n") >= 3


def test_promoting_the_same_sha_again_changes_nothing(repo: Path) -> None:
    assert tags.promote(repo, "dev", sha=SHA_B) is True
    before = (repo / "environments/dev/images.yaml").read_bytes()
    assert tags.promote(repo, "dev", sha=SHA_B) is False
    assert (repo / "environments/dev/images.yaml").read_bytes() == before


def test_a_later_environment_gets_exactly_what_the_earlier_one_runs(repo: Path) -> None:
    tags.promote(repo, "dev", sha=SHA_A)
    assert tags.promote(repo, "prod", from_env="dev") is True
    assert _images(repo, "prod") == {"functions": SHA_A, "ui": SHA_A}


@pytest.mark.parametrize("bad", ["latest", "abc123", SHA_A.upper(), SHA_A + "0", "", "v1.2.3"])
def test_only_full_commit_shas_are_tags(repo: Path, bad: str) -> None:
    with pytest.raises(tags.PromoteError, match="sha"):
        tags.promote(repo, "dev", sha=bad)
    assert _images(repo, "dev") == tags.read_tags(REPO_ROOT / "environments/dev/images.yaml")


@pytest.mark.parametrize("env", ["staging", "../dev", "Dev", "dev/../../x"])
def test_unknown_or_malformed_environments_are_refused(repo: Path, env: str) -> None:
    with pytest.raises(tags.PromoteError):
        tags.promote(repo, env, sha=SHA_A)


def test_a_file_that_is_not_ours_is_not_overwritten(repo: Path) -> None:
    path = repo / "environments/dev/images.yaml"
    path.write_text("images:\n  functions:\n    tag: latest\n  ui:\n    tag: latest\n")
    with pytest.raises(tags.PromoteError):
        tags.promote(repo, "dev", sha=SHA_A)
    path.write_text("images:\n  functions:\n    tag: " + SHA_A + "\n  extra: 1\n")
    with pytest.raises(tags.PromoteError, match="shape"):
        tags.promote(repo, "dev", sha=SHA_A)


def test_exactly_one_source_of_tags(repo: Path) -> None:
    with pytest.raises(tags.PromoteError, match="exactly one"):
        tags.promote(repo, "dev")
    with pytest.raises(tags.PromoteError, match="another environment"):
        tags.promote(repo, "dev", from_env="dev")


def test_command_line_exit_codes(repo: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(SCRIPT), "--root", str(repo), *args],
            capture_output=True,
            text=True,
            check=False,
        )

    ok = run("--env", "dev", "--sha", SHA_B)
    assert ok.returncode == 0
    assert "updated" in ok.stdout
    assert run("--env", "dev", "--sha", SHA_B).stdout.strip().endswith("already up to date")
    bad = run("--env", "dev", "--sha", "latest")
    assert bad.returncode == 2
    assert "40-character" in bad.stderr
    assert run("--env", "dev").returncode == 2  # argparse: one of --sha/--from-env required
