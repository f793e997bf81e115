"""Cut a provider schema (`terraform providers schema -json` of ONE provider) down to the types
TinyShop's Terraform uses, so the repository vendors kilobytes instead of the 3.5 MB azurerm file.

Usage (see schemas/README.md for where the full files come from):

    python schemas/terraform/trim.py FULL_SCHEMA.json [FULL_SCHEMA.json ...]

For each file it keeps every `resource` and `data` type that a `.tf` file under infra/terraform
declares, plus the types listed in `extra-types.txt` (types the offline checker's own tests use,
and types planned but not yet written), and writes `<provider>-<version>.json` beside this script.
The kept entries are copied unchanged, so the checker sees exactly the provider's schema.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
TERRAFORM = REPO / "infra" / "terraform"
EXTRA = HERE / "extra-types.txt"
_DECLARATION = re.compile(r'^\s*(resource|data)\s+"([a-z0-9_]+)"', re.MULTILINE)


def used_types() -> dict[str, set[str]]:
    """Resource and data-source types declared under infra/terraform and in extra-types.txt."""
    used: dict[str, set[str]] = {"resource": set(), "data": set()}
    for tf in sorted(TERRAFORM.rglob("*.tf")):
        for kind, name in _DECLARATION.findall(tf.read_text(encoding="utf-8")):
            used[kind].add(name)
    for line in EXTRA.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            kind, name = line.split()
            used[kind].add(name)
    return used


def trim(full: dict, used: dict[str, set[str]]) -> dict:
    """The same document with only the used types (a missing type is an error: wrong file?)."""
    prefix = full["provider"].rsplit("/", 1)[-1] + "_"
    out = {k: v for k, v in full.items() if k not in ("resource_schemas", "data_source_schemas")}
    for kind, key in (("resource", "resource_schemas"), ("data", "data_source_schemas")):
        wanted = sorted(t for t in used[kind] if t.startswith(prefix))
        missing = [t for t in wanted if t not in full[key]]
        if missing:
            raise SystemExit(f"{full['provider']} {full['provider_version']} lacks {missing}")
        out[key] = {t: full[key][t] for t in wanted}
    return out


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    used = used_types()
    for path in paths:
        full = json.loads(Path(path).read_text(encoding="utf-8"))
        trimmed = trim(full, used)
        name = f"{full['provider'].rsplit('/', 1)[-1]}-{full['provider_version']}.json"
        target = HERE / name
        target.write_text(json.dumps(trimmed, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        counts = len(trimmed["resource_schemas"]), len(trimmed["data_source_schemas"])
        print(f"{target.relative_to(REPO)}: {counts[0]} resources, {counts[1]} data sources")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
