"""`make dev` installs requirements-dev.txt only (the Makefile's `.dev-installed`), not the test
packages: every process dev/Procfile starts, and the stack that starts them, must import
nothing that lock does not hold. The tests run with the test packages installed, so a missing
one shows only on a developer's machine: a process that crash-loops under the supervisor. Read
statically: the modules each entry point reaches inside this repository (imports under
`if TYPE_CHECKING:` aside), and the installed distribution behind each outside import."""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import re
import sys
from functools import cache
from pathlib import Path

from tests.conftest import REPO

LOCAL_PACKAGES = ("functions", "dev", "ui")


def procfile_modules(repo: Path) -> set[str]:
    """The modules `make dev` runs: dev.stack, the supervisor, each Procfile command's
    `-m module`, and the apps its servers import (`module:factory` arguments)."""
    modules = {"dev.stack", "dev.supervisor"}
    for line in (repo / "dev" / "Procfile").read_text().splitlines():
        if line.startswith("#") or ":" not in line:
            continue
        command = line.partition(":")[2]
        modules.update(re.findall(r"-m ([\w.]+)", command))
        modules.update(re.findall(r"(?<![\w.])([A-Za-z_][\w.]*):[A-Za-z_]\w*", command))
    modules.discard("gunicorn")  # a package of the lock, checked as an import below
    return modules


def _module_files(repo: Path, module: str) -> list[Path]:
    base = repo.joinpath(*module.split("."))
    if base.is_dir():
        return [p for p in (base / "__init__.py", base / "__main__.py") if p.exists()]
    return [base.with_suffix(".py")] if base.with_suffix(".py").exists() else []


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path, module: str) -> set[str]:
    """Dotted names imported by a file (relative imports resolved)."""
    package = module if path.name in ("__init__.py", "__main__.py") else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def outside_imports(repo: Path, entries: set[str], local: tuple[str, ...]) -> set[str]:
    """Every import outside the repository (and the standard library) that `entries` reach."""
    seen: set[str] = set()
    todo = list(entries)
    outside: set[str] = set()
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        for path in _module_files(repo, module):
            for name in _imports(path, module):
                top = name.split(".")[0]
                if top in local:
                    if _module_files(repo, name):
                        todo.append(name)
                elif top not in sys.stdlib_module_names and top != "__future__":
                    outside.add(name)
    return outside


@cache
def _installers() -> dict[str, list[str]]:
    """Top-level import name -> the distributions installing it (several for a namespace
    package such as azure)."""
    return importlib.metadata.packages_distributions()


@cache
def _files_of(distribution: str) -> frozenset[Path]:
    dist = importlib.metadata.distribution(distribution)
    return frozenset(Path(dist.locate_file(f)).resolve() for f in dist.files or [])


def _owner(top: str, origin: Path) -> str | None:
    """Of the distributions installing `top`, the one whose files hold `origin`."""
    for distribution in _installers().get(top, []):
        if origin in _files_of(distribution):
            return _normal(importlib.metadata.distribution(distribution).metadata["Name"])
    return None


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


NAMESPACE = "(a namespace package: its modules are checked one by one)"


def distribution_of(name: str) -> str | None:
    """The installed distribution whose files hold `name` (a module, or a package's
    __init__); for `from package import name` of a non-module, its package's."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        try:
            spec = importlib.util.find_spec(".".join(parts[:end]))
        except (ImportError, ValueError):
            continue
        if spec is None:
            continue
        if spec.origin is None and spec.submodule_search_locations is not None:
            return NAMESPACE if end == len(parts) else None
        if spec.origin and spec.origin not in ("built-in", "frozen"):
            return _owner(parts[0], Path(spec.origin).resolve())
    return None


def lock_names(lock: Path) -> set[str]:
    return {
        _normal(match.group(1))
        for match in re.finditer(r"^([A-Za-z0-9][\w.-]*)==", lock.read_text(), re.M)
    }


def missing_from_dev_lock(repo: Path) -> dict[str, str | None]:
    """Outside import -> its distribution, for each one requirements-dev.txt does not hold."""
    locked = lock_names(repo / "requirements-dev.txt")
    result = {}
    for name in sorted(outside_imports(repo, procfile_modules(repo), LOCAL_PACKAGES)):
        dist = distribution_of(name)
        if dist != NAMESPACE and dist not in locked:
            result[name] = dist
    return result


def test_make_dev_imports_only_what_requirements_dev_installs():
    assert {"functions.catalog.api", "functions.orders.api", "ui.app"} <= procfile_modules(REPO)
    imports = outside_imports(REPO, procfile_modules(REPO), LOCAL_PACKAGES)
    assert {"uvicorn", "flask", "psycopg"} <= {name.split(".")[0] for name in imports}
    assert missing_from_dev_lock(REPO) == {}


def test_the_check_sees_an_import_the_dev_lock_lacks(tmp_path: Path):
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "Procfile").write_text("tool: $PYTHON -m dev.tool\n")
    (tmp_path / "dev" / "__init__.py").write_text("")
    (tmp_path / "dev" / "tool.py").write_text("from . import helper\n")
    (tmp_path / "dev" / "helper.py").write_text("def f():\n    import yaml\n")
    (tmp_path / "dev" / "stack.py").write_text("")
    (tmp_path / "dev" / "supervisor.py").write_text("")
    (tmp_path / "requirements-dev.txt").write_text("flask==3.1.2 \\\n")

    assert missing_from_dev_lock(tmp_path) == {"yaml": "pyyaml"}
