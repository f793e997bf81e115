"""What the Node-based local stand-ins (dev/oidc, dev/cosmos) share: a file lock and `npm ci`
from the committed lockfile, run only when node_modules does not match it."""

import contextlib
import fcntl
import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def locked(lock_file: Path) -> Iterator[None]:
    """Serialise `make dev` and test runs that prepare the same files."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def npm_ci(package_dir: Path, lock_file: Path) -> None:
    """`npm ci` in `package_dir` unless node_modules was installed from the current lockfile.

    A stamp with the lockfile's hash marks a complete install, so an interrupted `npm ci` or a
    changed lockfile triggers a fresh one. Raises FileNotFoundError when npm is missing.
    """
    digest = hashlib.sha256((package_dir / "package-lock.json").read_bytes()).hexdigest()
    stamp = package_dir / "node_modules" / ".tinyshop-lock.sha256"

    def installed() -> bool:
        return stamp.is_file() and stamp.read_text().strip() == digest

    if installed():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise FileNotFoundError("npm is not on PATH: the local stand-ins need Node >= 20.19")
    with locked(lock_file):
        if installed():  # another process installed while we waited
            return
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=package_dir, check=True)
        stamp.write_text(digest + "\n")
