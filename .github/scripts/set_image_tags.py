"""Write image tags into environments/<env>/images.yaml (the promote workflow's only edit).

The file is an extra Helm values file of charts/tinyshop with a fixed shape
(`images.<name>.tag`), so it is rewritten whole from that shape: no YAML
library is needed on the runner, comments above the mapping are kept, and a
malformed file or tag fails loudly instead of being half-edited.

    python .github/scripts/set_image_tags.py --env dev --sha <40-hex commit>
    python .github/scripts/set_image_tags.py --env prod --from-env dev

`--from-env` copies the tags an earlier environment runs, so a later
environment gets exactly the images that were tested there.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGES = ("functions", "ui")
SHA = re.compile(r"^[0-9a-f]{40}$")
ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
TAG_LINE = re.compile(r'^    tag: "?([^"\s]*)"?\s*$')


class PromoteError(ValueError):
    """A tag, environment or images.yaml that must not be written."""


def images_file(root: Path, env: str) -> Path:
    """Path of an environment's images.yaml; the environment directory must exist."""
    if not ENV_NAME.match(env):
        raise PromoteError(f"environment {env!r} must be a short lowercase DNS label")
    env_dir = root / "environments" / env
    if not env_dir.is_dir():
        raise PromoteError(f"{env_dir} does not exist: create the environment first")
    return env_dir / "images.yaml"


def check_sha(sha: str) -> str:
    """A full lowercase commit sha: tags are immutable commit ids, never `latest`."""
    if not SHA.match(sha):
        raise PromoteError(f"tag {sha!r} is not a 40-character lowercase hex commit sha")
    return sha


def read_tags(path: Path) -> dict[str, str]:
    """The tags in an images.yaml of the canonical shape (see render)."""
    lines = [
        line
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    expected_keys = ["images:"]
    for name in IMAGES:
        expected_keys += [f"  {name}:", "    tag:"]
    if len(lines) != len(expected_keys):
        raise PromoteError(f"{path}: unexpected shape ({len(lines)} lines of content)")
    tags: dict[str, str] = {}
    for index, (line, prefix) in enumerate(zip(lines, expected_keys, strict=True)):
        if prefix == "    tag:":
            match = TAG_LINE.match(line)
            if not match:
                raise PromoteError(f"{path}: line {line!r} is not `    tag: <sha>`")
            tags[IMAGES[(index - 1) // 2]] = check_sha(match.group(1))
        elif line.rstrip() != prefix:
            raise PromoteError(f"{path}: expected {prefix!r}, found {line!r}")
    return tags


def render(header: str, tags: dict[str, str]) -> str:
    """The canonical file: the header comment, then images.<name>.tag for every image."""
    body = ["images:"]
    for name in IMAGES:
        body += [f"  {name}:", f'    tag: "{check_sha(tags[name])}"']
    return header + "\n".join(body) + "\n"


def header_of(path: Path) -> str:
    """The leading comment block of an existing file (kept across rewrites)."""
    if not path.exists():
        return "# Image tags, written by the promote workflow (docs/gitops.md).\n"
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        kept.append(line)
    return "".join(f"{line}\n" for line in kept)


def promote(root: Path, env: str, sha: str | None = None, from_env: str | None = None) -> bool:
    """Write the new tags; returns whether the file changed."""
    if (sha is None) == (from_env is None):
        raise PromoteError("give exactly one of --sha and --from-env")
    target = images_file(root, env)
    if from_env is not None:
        if from_env == env:
            raise PromoteError("--from-env must name another environment")
        tags = read_tags(images_file(root, from_env))
    else:
        tags = dict.fromkeys(IMAGES, check_sha(sha or ""))
    if target.exists():
        read_tags(target)  # refuse to overwrite a file that is not ours
    text = render(header_of(target), tags)
    if target.exists() and target.read_text(encoding="utf-8") == text:
        return False
    target.write_text(text, encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True, help="environment directory under environments/")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--sha", help="commit sha the images were built from (the image tag)")
    source.add_argument("--from-env", help="copy the tags this environment runs")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        changed = promote(args.root, args.env, sha=args.sha, from_env=args.from_env)
    except PromoteError as error:
        print(f"set_image_tags: {error}", file=sys.stderr)
        return 2
    print(f"environments/{args.env}/images.yaml {'updated' if changed else 'already up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
