"""Module wiring checks for the Terraform tree (what `terraform validate` would catch).

* every ``module`` block of a root resolves its local ``source``;
* every required module variable (no default) is passed;
* no argument is passed that the module does not declare;
* every ``module.<name>.<output>`` reference names an existing output;
* every declared variable is used in its own module (no unused variables);
* every ``var.<name>`` reference is declared;
* output names listed in the docs' output table exist in the root.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tf_schema_check import HCL_INTERNAL, _strip_comments, parse_hcl

MODULE_META = {"source", "version", "providers", "count", "for_each", "depends_on"}


@dataclass
class ModuleInfo:
    """Interface and body of one Terraform module directory."""

    path: Path
    variables: dict[str, bool] = field(default_factory=dict)  # name -> required
    outputs: set[str] = field(default_factory=set)
    required_providers: set[str] = field(default_factory=set)
    module_calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    text: str = ""


def load_module(path: Path) -> ModuleInfo:
    """Parse the .tf files directly in ``path`` (not recursive)."""
    info = ModuleInfo(path=path)
    texts: list[str] = []
    for tf in sorted(path.glob("*.tf")):
        texts.append(_strip_comments(tf.read_text(encoding="utf-8")))
        parsed = parse_hcl(tf)
        for entry in parsed.get("variable", []):
            for name, body in entry.items():
                info.variables[name] = "default" not in body
        for entry in parsed.get("output", []):
            info.outputs.update(k for k in entry if k not in HCL_INTERNAL)
        for block in parsed.get("terraform", []):
            for providers in block.get("required_providers", []):
                info.required_providers.update(k for k in providers if k not in HCL_INTERNAL)
        for entry in parsed.get("module", []):
            for name, body in entry.items():
                if name not in HCL_INTERNAL:
                    info.module_calls[name] = body
    info.text = "\n".join(texts)
    return info


def check_variables_used(info: ModuleInfo) -> list[str]:
    """Declared-but-unused and used-but-undeclared variables of one module."""
    used = set(re.findall(r"\bvar\.([A-Za-z_][A-Za-z0-9_-]*)", info.text))
    problems = [
        f"{info.path}: variable {v!r} is declared but never used"
        for v in sorted(set(info.variables) - used)
    ]
    problems += [
        f"{info.path}: var.{v} is used but not declared" for v in sorted(used - set(info.variables))
    ]
    return problems


def check_root(root: Path) -> list[str]:
    """Check the module calls of one root module (e.g. envs/dev)."""
    info = load_module(root)
    problems = check_variables_used(info)
    children: dict[str, ModuleInfo] = {}
    for name, body in info.module_calls.items():
        source = str(body.get("source", ""))
        if not source.startswith("."):
            problems.append(f"{root}: module {name!r} has a non-local source {source!r}")
            continue
        child_path = (root / source).resolve()
        if not child_path.is_dir():
            problems.append(f"{root}: module {name!r} source {source!r} does not exist")
            continue
        child = load_module(child_path)
        children[name] = child
        passed = {k for k in body if k not in HCL_INTERNAL and k not in MODULE_META}
        for arg in sorted(passed - set(child.variables)):
            problems.append(
                f"{root}: module {name!r} passes {arg!r}, which {source} does not declare"
            )
        providers = body.get("providers")
        if isinstance(providers, dict):
            # An explicit providers map disables implicit inheritance entirely.
            for missing in sorted(child.required_providers - set(providers)):
                problems.append(f"{root}: module {name!r} providers map lacks {missing!r}")
        for var, required in sorted(child.variables.items()):
            if required and var not in passed:
                problems.append(f"{root}: module {name!r} does not pass required variable {var!r}")
    for name, output in sorted(
        set(re.findall(r"\bmodule\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)", info.text))
    ):
        if name not in children:
            problems.append(f"{root}: reference module.{name}.{output} to an unknown module")
        elif output not in children[name].outputs:
            problems.append(
                f"{root}: module.{name}.{output} is not an output of {children[name].path.name}"
            )
    return problems


def doc_output_names(doc: Path, heading: str = "Outputs") -> list[str]:
    """Output names (first backticked cell of each table row) in the section ``heading``."""
    names: list[str] = []
    in_section = False
    for line in doc.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            in_section = line.lstrip("#").strip().lower().startswith(heading.lower())
            continue
        if in_section and line.startswith("|"):
            match = re.match(r"\|\s*`([a-z0-9_]+)`", line)
            if match:
                names.append(match.group(1))
    return names
