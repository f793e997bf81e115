"""The repository stands on its own: no tracked file reads or cites a path outside it.

A platform engineer clones TinyShop alone, so a test that reads a sibling folder, or a comment that
sends the reader to a document that is not in the clone, is a defect. `.ci/run` also runs the
suite from a fresh clone in an empty folder, which proves the same thing for everything executed.
"""

import ast
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Spelled in pieces so that this file does not match itself.
_OUTSIDE = re.compile("|".join([r"\.\./" + "shared", "DESIGN" + r"\.md", "DESIGN" + r" §"]))
_ROOT_NAMES = {"REPO", "REPO_ROOT", "ROOT"}


def tracked_text_files(root: Path) -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True
    ).stdout.split(b"\0")
    files = [root / name.decode() for name in listed if name]
    return [f for f in files if f.is_file() and b"\0" not in f.read_bytes()[:4096]]


def outside_references(path: Path, root: Path) -> list[str]:
    """Citations of outside documents, and Python expressions that climb above the repo root."""
    text = path.read_text(encoding="utf-8", errors="replace")
    findings = [
        f"{path.relative_to(root)}:{n}: {line.strip()}"
        for n, line in enumerate(text.splitlines(), 1)
        if _OUTSIDE.search(line)
    ]
    if path.suffix == ".py":
        depth = len(path.relative_to(root).parts) - 1  # parents[depth] is the repo root
        for node in ast.walk(ast.parse(text)):
            climbs = (
                isinstance(node, ast.Attribute)
                and node.attr == "parent"
                and isinstance(node.value, ast.Name)
                and node.value.id in _ROOT_NAMES
            ) or (
                isinstance(node, ast.Subscript)
                and isinstance(node.value, ast.Attribute)
                and node.value.attr == "parents"
                and isinstance(node.slice, ast.Constant)
                and isinstance(node.slice.value, int)
                and node.slice.value > depth
            )
            if climbs:
                findings.append(f"{path.relative_to(root)}:{node.lineno}: climbs above the repo")
    return findings


def test_no_tracked_file_refers_outside_the_repository() -> None:
    files = tracked_text_files(REPO)
    assert len(files) > 100  # the walk really saw the tree
    findings = [f for path in files for f in outside_references(path, REPO)]
    assert findings == []


def test_the_check_catches_a_sibling_path_a_design_citation_and_a_climb(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    cases = {
        "notes.md": "see ../" + "shared/schemas for the files\n",
        "pkg/cite.py": "# as DESIGN" + " §4 says\n",
        "pkg/climb.py": "from pathlib import Path\nX = Path(__file__).resolve().parents[2]\n",
        "pkg/sibling.py": "REPO = 1\nY = REPO.parent / 'elsewhere'\n",
        "pkg/fine.py": "from pathlib import Path\nX = Path(__file__).resolve().parents[1]\n",
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
    flagged = {name for name in cases if outside_references(tmp_path / name, tmp_path)}
    assert flagged == {"notes.md", "pkg/cite.py", "pkg/climb.py", "pkg/sibling.py"}
