"""What both values generators share (`deploy/values.py`, `deploy/platform_values.py`): reading
`terraform output -json`, a small YAML writer, and the command line that writes the files.
Standard library only, so `make values` runs before any virtualenv exists."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


class OutputsError(ValueError):
    """The Terraform outputs lack something the generated values need."""


def flatten(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """`terraform output -json` wraps each value: {"value": ..., "type": ..., "sensitive": ...}."""
    return {name: entry["value"] for name, entry in outputs.items()}


def require(values: Mapping[str, Any], name: str) -> Any:
    value = values.get(name)
    if value in (None, "", [], {}):
        raise OutputsError(f"terraform output {name!r} is missing or empty")
    return value


def to_yaml(data: Mapping[str, Any], indent: int = 0) -> str:
    """Block-style YAML of nested mappings; scalars as JSON, which is valid YAML."""
    lines = []
    for key, value in data.items():
        pad = "  " * indent
        name = json.dumps(key) if not key.replace("-", "").replace("_", "").isalnum() else key
        if isinstance(value, Mapping):
            lines.append(f"{pad}{name}:")
            lines.append(to_yaml(value, indent + 1))
        else:
            lines.append(f"{pad}{name}: {json.dumps(value)}")
    return "\n".join(lines)


def main(
    prog: str,
    description: str | None,
    render: Callable[[Mapping[str, Any], str], dict[str, str]],
    subdir: str = "",
    argv: list[str] | None = None,
) -> int:
    """`--env ENV [--outputs FILE] [--dest DIR]`: render and write environments/ENV/<subdir>/."""
    parser = argparse.ArgumentParser(prog=f"python -m {prog}", description=description)
    parser.add_argument("--env", required=True, help="environment name, e.g. dev")
    parser.add_argument("--outputs", type=Path, help="terraform output -json file (default stdin)")
    parser.add_argument("--dest", type=Path, default=REPO / "environments")
    args = parser.parse_args(argv)
    raw = args.outputs.read_text(encoding="utf-8") if args.outputs else sys.stdin.read()
    try:
        files = render(json.loads(raw), args.env)
    except (OutputsError, KeyError, json.JSONDecodeError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    target = args.dest / args.env / subdir
    target.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (target / name).write_text(content, encoding="utf-8")
        print(f"wrote {target / name}")
    return 0
