"""The process supervisor of `make dev`: runs every process of dev/Procfile, prefixes their
output with their name, and restarts the one that dies while the others keep running.

honcho, used before, stops every process when one exits, so one crash ended the whole stack —
no good for failure drills (stop the Cosmos stand-in, kill the worker, and watch the rest cope).
Here a process that exits on its own is reported (name, exit status or signal, how long it ran)
and started again after a pause that doubles while it keeps dying quickly (up to 30 s; back to
the first pause once it has run for a minute). Ctrl-C or SIGTERM stops them all: SIGTERM to
each process group, SIGKILL after 5 s.

Each process runs in its own session, so a terminal's Ctrl-C reaches only the supervisor, which
then stops them in order instead of racing their own reactions to the signal.

    python -m dev.supervisor dev/Procfile [--first-delay 1]
"""

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

MAX_DELAY = 30.0
STABLE_AFTER = 60.0  # seconds of uptime after which a crash starts the backoff afresh
STOP_GRACE = 5.0
_LINE = re.compile(r"^(?P<name>[A-Za-z0-9_-]+):\s*(?P<command>.+)$")


@dataclass(frozen=True)
class Program:
    name: str
    command: str


def read_procfile(path: Path) -> list[Program]:
    programs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            match = _LINE.match(line.strip())
            if match is None:
                raise ValueError(f"{path}: not a Procfile line: {line!r}")
            programs.append(Program(match["name"], match["command"]))
    return programs


@dataclass
class _Running:
    program: Program
    process: subprocess.Popen
    started: float
    delay: float
    restarts: int = 0
    reader: threading.Thread | None = field(default=None, repr=False)


class Supervisor:
    def __init__(
        self,
        programs: list[Program],
        env: Mapping[str, str],
        cwd: Path,
        first_delay: float = 1.0,
    ) -> None:
        self.programs = programs
        self.env = dict(env)
        self.cwd = cwd
        self.first_delay = first_delay
        self.stopping = threading.Event()
        self._print_lock = threading.Lock()
        self._width = max(len(p.name) for p in programs)

    def say(self, name: str, text: str) -> None:
        with self._print_lock:
            print(f"{name:<{self._width}} | {text}", flush=True)

    def _start(self, program: Program, delay: float, restarts: int = 0) -> _Running:
        process = subprocess.Popen(  # noqa: S602 - Procfile lines are shell commands by design
            f"exec {program.command}",
            shell=True,
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,  # its own process group: stopped as a whole, spared Ctrl-C
        )
        running = _Running(program, process, time.monotonic(), delay, restarts)
        running.reader = threading.Thread(
            target=self._relay, args=(program.name, process), daemon=True
        )
        running.reader.start()
        self.say("supervisor", f"started {program.name} (pid {process.pid})")
        return running

    def _relay(self, name: str, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.say(name, line.rstrip("\n"))

    @staticmethod
    def _describe(code: int) -> str:
        if code < 0:
            return f"signal {signal.Signals(-code).name}"
        return f"status {code}"

    def run(self) -> int:
        """Supervise until `stopping` is set (by a signal); returns the exit status."""
        running = [self._start(p, self.first_delay) for p in self.programs]
        restart_at: dict[str, float] = {}
        while not self.stopping.wait(0.2):
            for index, item in enumerate(running):
                name = item.program.name
                code = item.process.poll()
                if code is None:
                    continue
                if name not in restart_at:
                    uptime = time.monotonic() - item.started
                    delay = self.first_delay if uptime > STABLE_AFTER else item.delay
                    item.delay = min(delay * 2, MAX_DELAY)
                    restart_at[name] = time.monotonic() + delay
                    if item.reader is not None:
                        item.reader.join(timeout=1)  # its last lines first
                    self.say(
                        "supervisor",
                        f"{name} exited with {self._describe(code)} after {uptime:.1f} s "
                        f"(see its last lines above); restarting in {delay:g} s "
                        f"(restart {item.restarts + 1})",
                    )
                elif time.monotonic() >= restart_at[name]:
                    del restart_at[name]
                    running[index] = self._start(item.program, item.delay, item.restarts + 1)
        self.say("supervisor", "stopping every process")
        self._stop_all(running)
        return 0

    def _stop_all(self, running: list[_Running]) -> None:
        alive = [item for item in running if item.process.poll() is None]
        for item in alive:
            self._signal(item.process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for item in alive:
            try:
                item.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                self.say("supervisor", f"{item.program.name} ignored SIGTERM: killing it")
                self._signal(item.process, signal.SIGKILL)
                item.process.wait(timeout=5)
        for item in running:
            if item.reader is not None:
                item.reader.join(timeout=1)

    @staticmethod
    def _signal(process: subprocess.Popen, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)  # the process and anything it started


def supervise(
    programs: list[Program], env: Mapping[str, str], cwd: Path, first_delay: float = 1.0
) -> int:
    """Run `programs` until Ctrl-C or SIGTERM (call from the main thread)."""
    supervisor = Supervisor(programs, env, cwd, first_delay)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: supervisor.stopping.set())
    return supervisor.run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.supervisor", description=__doc__)
    parser.add_argument("procfile", type=Path)
    parser.add_argument("--first-delay", type=float, default=1.0, help="first restart pause (s)")
    args = parser.parse_args(argv)
    return supervise(
        read_procfile(args.procfile), os.environ, Path.cwd(), first_delay=args.first_delay
    )


if __name__ == "__main__":
    sys.exit(main())
