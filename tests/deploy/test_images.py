"""The two Dockerfiles: hadolint clean, build contexts that carry only what each image copies,
hash-locked installs, non-root users, and an extension bundle the base image really ships."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deploy import bundle
from tests.deploy.render import REPO

IMAGES = {
    # Dockerfile -> its ignore file (BuildKit reads <Dockerfile>.dockerignore before .dockerignore)
    REPO / "Dockerfile": REPO / ".dockerignore",
    REPO / "ui" / "Dockerfile": REPO / "ui" / "Dockerfile.dockerignore",
}


def _hadolint() -> str:
    found = Path(sys.executable).parent / "hadolint"
    return str(found) if found.exists() else (shutil.which("hadolint") or "hadolint")


@pytest.mark.parametrize("dockerfile", list(IMAGES), ids=["functions", "ui"])
def test_hadolint_finds_nothing(dockerfile: Path):
    result = subprocess.run(
        [_hadolint(), "--no-color", str(dockerfile)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_really_lints(tmp_path: Path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\n", encoding="utf-8")
    result = subprocess.run([_hadolint(), "--no-color", str(bad)], capture_output=True, text=True)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # `latest`


# ----------------------------------------------------------------------------- build contexts


def _ignore_rules(path: Path) -> list[tuple[bool, str]]:
    rules = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            rules.append((line.startswith("!"), line.lstrip("!").rstrip("/")))
    return rules


def _matches(pattern: str, path: str) -> bool:
    """Docker's rule: a pattern matches a path or any parent directory of it."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    regex = re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*")
    regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
    return any(re.fullmatch(regex, c) for c in candidates)


def build_context(ignore_file: Path, files: list[str]) -> set[str]:
    """The files of `files` that reach the build context (the last matching rule wins)."""
    rules = _ignore_rules(ignore_file)
    kept = set()
    for path in files:
        included = True
        for negated, pattern in rules:
            if _matches(pattern, path):
                included = negated
        if included:
            kept.add(path)
    return kept


@pytest.fixture(scope="module")
def repo_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line for line in out.splitlines() if (REPO / line).is_file()]


def _copied_sources(dockerfile: Path) -> list[str]:
    sources = []
    for line in dockerfile.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^COPY\s+(?!--from)(.+)$", line.strip())
        if match:
            sources += match.group(1).split()[:-1]
    return sources


@pytest.mark.parametrize(("dockerfile", "ignore"), list(IMAGES.items()), ids=["functions", "ui"])
def test_every_copied_path_is_in_the_build_context(dockerfile, ignore, repo_files):
    context = build_context(ignore, repo_files)
    for source in _copied_sources(dockerfile):
        assert any(f == source or f.startswith(source.rstrip("/") + "/") for f in context), source


def test_the_functions_image_gets_no_test_dev_or_ui_code(repo_files):
    context = build_context(REPO / ".dockerignore", repo_files)
    assert "function_app.py" in context
    assert "functions/orders/relay.py" in context
    allowed = {"functions", "function_app.py", "host.json", "requirements.txt"}
    leaked = [f for f in context if f.split("/")[0] not in allowed]
    assert leaked == []


def test_the_ui_image_gets_the_ui_and_only_the_shared_helper_and_identifiers(repo_files):
    context = build_context(REPO / "ui" / "Dockerfile.dockerignore", repo_files)
    outside_ui = {f for f in context if not f.startswith("ui/")}
    assert outside_ui <= {
        "functions/__init__.py",
        "functions/shared/__init__.py",
        "functions/shared/migrations.py",
        "functions/shared/db_roles.py",
        "functions/shared/identifiers.py",
        "functions/shared/logs.py",
        "functions/shared/observability.py",
    }
    assert "ui/app/views.py" in context
    assert not any(f.startswith("ui/") and "test" in f for f in context)


def test_the_context_check_sees_a_leak(tmp_path: Path, repo_files):
    leaky = tmp_path / ".dockerignore"
    leaky.write_text("*\n!functions/\n!tests/\n", encoding="utf-8")
    assert any(f.startswith("tests/") for f in build_context(leaky, repo_files))


# ----------------------------------------------------------------------- image construction


@pytest.mark.parametrize("dockerfile", list(IMAGES), ids=["functions", "ui"])
def test_installs_come_from_the_hash_lock_and_the_image_runs_as_a_fixed_uid(dockerfile: Path):
    text = dockerfile.read_text(encoding="utf-8")
    assert "pip install --no-cache-dir --require-hashes --no-deps -r" in text
    users = re.findall(r"^USER\s+(\S+)$", text, re.M)
    assert users == ["10001:10001"]


def test_the_functions_image_listens_on_8080_without_file_logs_and_is_no_appservice_tag():
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert "ASPNETCORE_URLS=http://+:8080" in text
    assert "AzureFunctionsJobHost__Logging__FileLoggingMode=Never" in text
    base = re.search(r"^ARG BASE_IMAGE=(\S+)$", text, re.M).group(1)
    assert base == "mcr.microsoft.com/azure-functions/python:4-python3.12"
    assert "appservice" not in base


def test_host_json_accepts_the_extension_bundle_the_base_image_ships():
    pinned = re.search(
        r"^ARG EXTENSION_BUNDLE_VERSION=(\S+)$", (REPO / "Dockerfile").read_text(), re.M
    ).group(1)
    interval = bundle.host_range(REPO / "host.json")
    assert bundle.range_contains(interval, pinned), (interval, pinned)


@pytest.mark.parametrize(
    ("interval", "version", "inside"),
    [
        ("[4.*, 5.0.0)", "4.20.0", True),
        ("[4.*, 5.0.0)", "5.0.0", False),
        ("[4.*, 5.0.0)", "3.29.0", False),
        ("[4.21.0, 5.0.0)", "4.20.0", False),
    ],
)
def test_the_bundle_range_check_can_fail(interval: str, version: str, inside: bool):
    assert bundle.range_contains(interval, version) is inside


def test_the_workflow_check_fails_when_the_image_ships_no_accepted_bundle(capsys):
    assert bundle.main([str(REPO / "host.json"), "3.29.0", "5.1.0"]) == 1
    assert "the image ships ['3.29.0', '5.1.0']" in capsys.readouterr().err
    assert bundle.main([str(REPO / "host.json"), "3.29.0", "4.20.0"]) == 0
