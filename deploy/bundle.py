"""Does host.json's extension bundle range accept a bundle the Functions image ships?

The host downloads a bundle at start-up when the range in host.json is not satisfied by one
pre-extracted in /FuncExtensionBundles, and the cluster's egress firewall blocks that CDN, so a
mismatch is a host that never starts. tests/deploy checks the version pinned in the Dockerfile;
the images workflow checks the versions really in the built image:

    python3 -m deploy.bundle host.json $(docker run --rm --entrypoint ls IMAGE \\
        /FuncExtensionBundles/Microsoft.Azure.Functions.ExtensionBundle)

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


def main(argv: list[str]) -> int:
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
