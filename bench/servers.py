"""Start the apps as real uvicorn processes for benchmarks."""

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from dev.server_process import ServerProcess

# uvicorn logs this (at INFO) once it has bound its socket and the app's startup has finished.
_RUNNING = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(?P<port>\d+)")


@contextmanager
def uvicorn_process(factory: str, port: int, ready_path: str, env: dict[str, str]) -> Iterator[str]:
    """Run `factory` (module:function) under uvicorn on `port` until the block exits; yields
    once uvicorn says it runs and `ready_path` answers 200."""
    argv = [sys.executable, "-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--no-access-log", "--log-level", "info"]
    with ServerProcess(argv, _RUNNING, name=factory, env={"LOG_LEVEL": "WARNING", **env}):
        base_url = f"http://127.0.0.1:{port}"
        ready = httpx.get(base_url + ready_path, timeout=10)
        if ready.status_code != 200:
            raise RuntimeError(f"{factory} is not ready: {ready.status_code} {ready.text}")
        yield base_url
