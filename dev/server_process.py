"""Start a server as a child process and wait until it says it is ready: the one readiness
helper of the local stand-ins, the test fixtures and the benchmarks.

Ready means the child itself printed a line matching `ready` (the stand-ins print
`... listening port=N ...`, uvicorn `Uvicorn running on ...`). Polling the port instead could
be fooled by something else already listening there; the child's own line cannot, and a child
that fails to bind exits, which ends the wait at once with its output in the error.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float,
    alive: Callable[[], bool] = lambda: True,
    interval: float = 0.01,
) -> bool:
    """Poll `condition` until it holds (True), or until `alive()` turns false or `timeout`
    seconds pass (False, after one last look). The only wait-until-ready loop of the repo."""
    deadline = time.monotonic() + timeout
    while not condition():
        if not alive() or time.monotonic() > deadline:
            return condition()
        time.sleep(interval)
    return True


class ProcessNotReady(RuntimeError):
    """The child exited or stayed silent past the timeout; the message ends with its output."""


class ServerProcess:
    """A server child process: `start()` returns the match of its ready line, `stop()` ends it.

    Its output (stdout and stderr, merged) is read all the time, so a chatty server never
    blocks on a full pipe; the last 200 lines stay in `output` for error messages.
    """

    def __init__(
        self,
        argv: Sequence[str],
        ready: re.Pattern[str],
        *,
        name: str,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.argv = list(argv)
        self.ready = ready
        self.name = name
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd
        self.timeout = timeout
        self.output: deque[str] = deque(maxlen=200)
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> re.Match[str]:
        """Start the child and return once it printed its ready line (the match, so callers
        read the port it picked); raise ProcessNotReady, with the child stopped, otherwise."""
        self.output.clear()
        process = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._process = process
        found: list[re.Match[str]] = []

        def read() -> None:  # ends when the child closes its output, i.e. when it exits
            assert process.stdout is not None
            for line in process.stdout:
                self.output.append(line.rstrip())
                if not found and (match := self.ready.search(line)):
                    found.append(match)

        self._reader = threading.Thread(target=read, name=f"{self.name}-output", daemon=True)
        self._reader.start()
        reader = self._reader
        if not wait_until(lambda: bool(found), timeout=self.timeout, alive=reader.is_alive):
            self.stop()
            raise ProcessNotReady(
                f"{self.name} did not become ready within {self.timeout:g} s "
                f"(exit status {process.returncode}):\n" + "\n".join(self.output)
            )
        return found[0]

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after 5 s; returns the exit status once the child is reaped
        (None if it was not started)."""
        process, self._process = self._process, None
        if process is None:
            return None
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._reader is not None:
            self._reader.join(timeout=2)
            self._reader = None
        if process.stdout is not None:
            process.stdout.close()
        return process.returncode

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
