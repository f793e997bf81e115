"""Does host.json's extension bundle range accept a bundle the Functions image ships?

The host downloads a bundle at start-up when the range in host.json is not satisfied by one
pre-extracted in /FuncExtensionBundles, and the cluster's egress firewall blocks that CDN, so a
mismatch is a host that never starts. tests/deploy checks the version pinned in the Dockerfile;
the images workflow checks the versions really in the built image:

    python3 -m deploy.bundle host.json $(docker run --rm --entrypoint ls IMAGE \\
        /FuncExtensionBundles/Microsoft.Azure.Functions.ExtensionBundle)

And does that bundle carry what the worker's orchestration needs: the Durable Functions
extension and its Microsoft SQL (MSSQL) storage provider (host.json `storageProvider.type`
"mssql")? The host loads extensions from the bundle's `bin/extensions.json` (azure-functions-host
ScriptStartupTypeLocator); v4 bundles list `Microsoft.DurableTask.SqlServer.AzureFunctions`
since the v4 preview (azure-functions-extension-bundles pull request 128, "Add new DF backends
to V4 preview"), so the pinned 4.x bundle should; the workflow checks the real file:

    docker run --rm --entrypoint cat IMAGE /FuncExtensionBundles/\\
        Microsoft.Azure.Functions.ExtensionBundle/<version>/bin/extensions.json \\
        | python3 -m deploy.bundle --durable-mssql -

Standard library only, so it runs on a bare CI runner.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

BUNDLE_ID = "Microsoft.Azure.Functions.ExtensionBundle"


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


def range_contains(interval: str, version: str) -> bool:
    """NuGet interval notation of host.json's extensionBundle.version ("[4.*, 5.0.0)")."""
    match = re.fullmatch(r"([\[(])\s*([\d.*]+)\s*,\s*([\d.*]+)\s*([\])])", interval.strip())
    if not match:
        raise ValueError(f"not an interval: {interval}")
    low_incl, low, high, high_incl = match.groups()
    low_v = _version(low.replace(".*", ".0").replace("*", "0"))
    high_v = _version(high)
    v = _version(version)
    above = v >= low_v if low_incl == "[" else v > low_v
    below = v <= high_v if high_incl == "]" else v < high_v
    return above and below


def host_range(host_json: Path) -> str:
    bundle = json.loads(host_json.read_text(encoding="utf-8"))["extensionBundle"]
    if bundle["id"] != BUNDLE_ID:
        raise ValueError(f"host.json names bundle {bundle['id']}, not {BUNDLE_ID}")
    return bundle["version"]


# What the worker needs from the bundle, by package id (the bundle's source extensions.json) and
# by the assembly its startup type lives in (the extracted bundle's bin/extensions.json).
_DURABLE = "Microsoft.Azure.WebJobs.Extensions.DurableTask"
DURABLE_EXTENSIONS = {
    _DURABLE: _DURABLE,
    "Microsoft.DurableTask.SqlServer.AzureFunctions": "DurableTask.SqlServer.AzureFunctions",
}
# Bindings the worker's functions use (functions/worker/function.py).
DURABLE_BINDINGS = {"orchestrationtrigger", "activitytrigger", "durableclient"}


def missing_durable_extensions(extensions_json: str) -> list[str]:
    """The durable packages the bundle's extensions.json lacks, or whose bindings do not cover
    the worker's (empty: the bundle can run the fulfilment orchestration on MSSQL)."""
    data = json.loads(extensions_json)
    entries = data["extensions"] if isinstance(data, dict) else data
    missing = []
    for package, assembly in DURABLE_EXTENSIONS.items():
        found = [
            e
            for e in entries
            if e.get("id") == package or f", {assembly}," in f"{e.get('typeName', '')},"
        ]
        bindings = {b.lower() for e in found for b in e.get("bindings", [])}
        if not found or not bindings >= DURABLE_BINDINGS:
            missing.append(package)
    return missing


def main(argv: list[str]) -> int:
    if argv[:1] == ["--durable-mssql"] and len(argv) == 2:
        text = sys.stdin.read() if argv[1] == "-" else Path(argv[1]).read_text(encoding="utf-8")
        missing = missing_durable_extensions(text)
        if missing:
            print(f"the extension bundle lacks {missing}", file=sys.stderr)
            return 1
        print("the extension bundle carries Durable Functions and its MSSQL provider")
        return 0
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    interval = host_range(Path(argv[0]))
    shipped = argv[1:]
    accepted = [v for v in shipped if range_contains(interval, v)]
    if not accepted:
        print(f"host.json wants {interval}; the image ships {shipped}", file=sys.stderr)
        return 1
    print(f"host.json {interval} is satisfied by {accepted}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
