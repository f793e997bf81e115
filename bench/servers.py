"""Start the apps as real server processes for benchmarks, on free ports.

Every HTTP server of the bench (the apps and the minimal reference app) runs under
`python -m functions.shared.local_server`, the very command `make dev` uses (dev/Procfile), so
loop, HTTP protocol and worker count are the same ones (docs/performance.md, "Server settings").
It binds port 0 and the bench reads the port from the child's own "Uvicorn running on" line, so
two benches never collide and readiness can only pass against the server this bench started.
"""

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from dev.server_process import ServerProcess

# uvicorn logs this (at INFO) once it has bound its socket and the app's startup has finished;
# with port 0 it logs the port the kernel picked.
REPO = Path(__file__).resolve().parents[1]
_RUNNING = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(?P<port>\d+)")


@dataclass(frozen=True)
class Server:
    name: str
    base_url: str
    pid: int


@contextmanager
def app_server(
    factory: str,
    ready_path: str,
    env: dict[str, str],
    name: str | None = None,
    root: Path = REPO,
    python: Path = Path(sys.executable),
) -> Iterator[Server]:
    """Serve `factory` (module:function building an ASGI app) with the local server settings
    until the block exits; yields once the child printed its port and `ready_path` answers 200
    on that port. `root` is the tree whose `functions` package is served and `python` the
    interpreter with its packages (another commit's: bench/before.py)."""
    argv = [str(python), "-m", "functions.shared.local_server", factory, "--port", "0"]
    name = name or factory
    env = {"LOG_LEVEL": "WARNING", **env}
    with ServerProcess(argv, _RUNNING, name=name, env=env, cwd=root) as child:
        assert child.pid is not None
        match = child.ready.search("\n".join(child.output))
        assert match is not None
        base_url = f"http://127.0.0.1:{match['port']}"
        ready = httpx.get(base_url + ready_path, timeout=10)
        if ready.status_code != 200:
            raise RuntimeError(f"{name} is not ready: {ready.status_code} {ready.text}")
        yield Server(name, base_url, child.pid)
