"""Every variable default passes its own validation (the mistake: a default that the
variable's rule refuses, found only at `terraform plan`).

Terraform cannot run here, so the common validation shapes are evaluated in Python
(RE2 and Python `re` agree on the patterns used): `can(regex(P, var.x))`,
`contains([...], var.x)`, their `alltrue([for v in var.x : ...])` list forms and numeric
bounds (`var.x >= 1 && var.x <= 100`). Other
conditions are left to `terraform validate` in CI; the test asserts how many it evaluated,
so a parser change cannot turn it into a no-op.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from tf_access import blocks, expr, parse_dir

TF_DIR = Path(__file__).resolve().parents[2] / "infra" / "terraform"

_REGEX = re.compile(r'^can\(regex\("(?P<p>(?:[^"\\]|\\.)*)", (?P<v>var\.\w+|\w+)\)\)$')
_CONTAINS = re.compile(r"^contains\((?P<l>\[[^\]]*\]), (?P<v>var\.\w+|\w+)\)$")
_ALLTRUE = re.compile(r"^alltrue\(\[for (?P<x>\w+) in var\.\w+ : (?P<body>.+)\]\)$")
_COMPARE = re.compile(r"^var\.\w+ (?P<op>>=|<=|==|>|<) (?P<n>-?\d+)$")
_OPS = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
}


def _holds(condition: str, value: Any) -> bool | None:
    """True/False when the shape is known, None when it is not evaluated here."""
    found = _REGEX.match(condition)
    if found:
        pattern = found.group("p").encode().decode("unicode_escape")
        return isinstance(value, str) and re.search(pattern, value) is not None
    found = _CONTAINS.match(condition)
    if found:
        return value in json.loads(found.group("l"))
    terms = [_COMPARE.match(term) for term in condition.split(" && ")]
    if all(terms) and isinstance(value, int | float):
        return all(_OPS[t.group("op")](value, int(t.group("n"))) for t in terms if t)
    found = _ALLTRUE.match(condition)
    if found and isinstance(value, list):
        results = [_holds(found.group("body"), item) for item in value]
        return None if None in results else all(results)
    return None


def default_problems(tf: Path) -> tuple[list[str], int]:
    """(defaults that fail their validation, number of validations evaluated)."""
    problems: list[str] = []
    evaluated = 0
    roots = [tf / "envs" / "dev", *sorted(p for p in (tf / "modules").iterdir() if p.is_dir())]
    for root in roots:
        for name, body in blocks(parse_dir(root), "variable").items():
            if body.get("default") is None:
                continue
            for validation in body.get("validation", []):
                verdict = _holds(expr(validation["condition"]), body["default"])
                if verdict is None:
                    continue
                evaluated += 1
                if not verdict:
                    problems.append(f"{root.name}: default of {name} fails its validation")
    return problems, evaluated


def test_every_default_passes_its_validation() -> None:
    problems, evaluated = default_problems(TF_DIR)
    assert problems == []
    assert evaluated >= 45


def test_default_check_notices_a_default_its_rule_refuses(tmp_path: Path) -> None:
    copy = tmp_path / "terraform"
    shutil.copytree(TF_DIR, copy)
    variables = copy / "modules" / "aks" / "variables.tf"
    text = variables.read_text(encoding="utf-8")
    old = 'default     = "Standard_D4ds_v5"'
    assert old in text
    variables.write_text(text.replace(old, 'default     = "D4ds_v5"', 1), encoding="utf-8")
    problems, _ = default_problems(copy)
    assert problems == ["aks: default of system_node_vm_size fails its validation"]
