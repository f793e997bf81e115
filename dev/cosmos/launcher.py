"""The launcher of the local Cosmos DB for NoSQL stand-in (see docs/architecture.md, "Local
stand-ins" and "Data ownership").

`server.js` beside this module (npm `@vercel/cosmosdb-server` behind a small launcher) serves
the Cosmos REST API over plain HTTP on http://127.0.0.1:8081/, in memory, or kept across restarts
in a journal (`--data-file`; `make dev` keeps it in .dev/cosmos/). This module

- installs its Node dependencies (`npm ci` in dev/cosmos when node_modules is missing or stale);
- gives the command that runs it (`python -m dev.cosmos` runs it in the foreground, the
  Procfile's `cosmos` process) with database `tinyshop` / container `order-events` (partition
  key `/orderId`) created before it reports that it listens, as Terraform creates them in Azure;
- gives the settings (`COSMOS_*`) the apps need to use it;
- gives `running()`, a stand-in on any port for tests and benchmarks that can be stopped and
  started again.

Why plain HTTP: no certificate to trust, and the launcher makes the stand-in advertise its own
http:// endpoint, so the SDK works with its defaults (endpoint discovery on, as in Azure).
Why any key works: the stand-in checks no signatures. Clients still sign every request, so they
use the Cosmos emulator's well-known key (`KEY`), a public constant that is no secret.
"""

import argparse
import contextlib
import os
import re
import shutil
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from dev.node import npm_ci
from dev.server_process import ProcessNotReady, ServerProcess

COSMOS_DIR = Path(__file__).resolve().parent
STATE_DIR = COSMOS_DIR.parents[1] / ".dev"  # git-ignored local state of `make dev`

HOST = "127.0.0.1"
PORT = 8081  # the Cosmos DB emulator's port
# The Cosmos DB emulator's documented, public account key. The stand-in accepts any key; this
# one is valid base64 (clients sign requests with it) and is recognisably not a real secret.
KEY = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="

DATABASE = "tinyshop"
CONTAINER = "order-events"
PARTITION_KEY_PATH = "/orderId"


@dataclass(frozen=True)
class ContainerSpec:
    """A container the stand-in creates at start (its store is empty on every start)."""

    database: str
    container: str
    partition_key_path: str

    def argument(self) -> str:
        return f"--container={self.database}/{self.container}={self.partition_key_path}"


# What the worker writes and orders reads (docs/architecture.md, "Data ownership").
CONTAINERS: tuple[ContainerSpec, ...] = (ContainerSpec(DATABASE, CONTAINER, PARTITION_KEY_PATH),)

# server.js prints this line once it listens and the containers exist.
LISTENING = re.compile(r"tinyshop-cosmos listening port=(?P<port>\d+) endpoint=(?P<endpoint>\S+)")


def endpoint_for(port: int = PORT, host: str = HOST) -> str:
    """The account endpoint (`COSMOS_ENDPOINT`) of a stand-in on `port`."""
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}/"


ENDPOINT = endpoint_for(PORT)


class CosmosStandInError(RuntimeError):
    """The local Cosmos stand-in could not be installed or started."""


def settings(endpoint: str = ENDPOINT) -> dict[str, str]:
    """The environment that points the apps' Cosmos settings (`COSMOS_*`) at a stand-in.

    `COSMOS_CREATE_IF_MISSING` is harmless with the launcher (it creates the container too) and
    keeps the apps working if the stand-in was started without it.
    """
    return {
        "COSMOS_ENDPOINT": endpoint,
        "COSMOS_KEY": KEY,
        "COSMOS_DATABASE": DATABASE,
        "COSMOS_CONTAINER": CONTAINER,
        "COSMOS_CREATE_IF_MISSING": "true",
    }


# ------------------------------------------------------------------------------ node


def ensure_node_modules() -> None:
    """`npm ci` in dev/cosmos unless node_modules matches the lockfile (see dev/node.py)."""
    try:
        npm_ci(COSMOS_DIR, STATE_DIR / "cosmos" / ".npm.lock")
    except FileNotFoundError as exc:
        raise CosmosStandInError(f"{exc} (the local Cosmos stand-in)") from exc


def server_command(
    port: int = PORT,
    host: str = HOST,
    containers: Sequence[ContainerSpec] = CONTAINERS,
    *,
    quiet: bool = False,
    data_file: Path | None = None,
) -> tuple[list[str], dict[str, str]]:
    """The argv and extra environment that run the stand-in in the foreground (for a Procfile
    or a subprocess); call `ensure_node_modules()` first. Port 0 lets it pick a free port (it
    prints `tinyshop-cosmos listening port=N endpoint=URL` when ready). `quiet` drops the
    per-request log lines. `data_file` keeps the data across restarts (a journal, see
    server.js); without it the store is in memory."""
    node = shutil.which("node")
    if node is None:
        raise CosmosStandInError("node is not on PATH: the local Cosmos stand-in needs Node >= 20")
    argv = [node, str(COSMOS_DIR / "server.js"), f"--host={host}", f"--port={port}"]
    argv += [spec.argument() for spec in containers]
    if quiet:
        argv.append("--quiet")
    if data_file is not None:
        argv.append(f"--data-file={data_file}")
    return argv, {}


# ------------------------------------------------------------------------------ tests, benchmarks


class LocalCosmos:
    """A stand-in run as a subprocess (see `running()`); `stop()` and `start()` restart it on
    the same port, which is how tests simulate a Cosmos outage. Without `data_file` the store
    is in memory: a restart loses every document, and only the `containers` exist again
    afterwards; with it, a restart finds every acknowledged write again."""

    def __init__(
        self,
        port: int = 0,
        host: str = HOST,
        containers: Sequence[ContainerSpec] = CONTAINERS,
        timeout: float = 30.0,
        data_file: Path | None = None,
    ) -> None:
        self.host = host
        self.data_file = data_file
        self.port = port  # 0 until the first start picked one; kept for every restart
        self.key = KEY
        self.containers = tuple(containers)
        self.timeout = timeout
        self._process: ServerProcess | None = None

    @property
    def endpoint(self) -> str:
        return endpoint_for(self.port, self.host)

    @property
    def pid(self) -> int | None:
        """The Node process id while started (tests check it is gone after `stop()`)."""
        return self._process.pid if self._process is not None else None

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.is_running

    @property
    def output(self) -> deque[str]:
        """The last lines it printed."""
        return self._process.output if self._process is not None else deque()

    def start(self) -> None:
        """Start it (on the port of the previous start, if any) and return once it serves."""
        if self.is_running:
            return
        ensure_node_modules()
        argv, extra_env = server_command(
            self.port, self.host, self.containers, quiet=True, data_file=self.data_file
        )
        self._process = ServerProcess(
            argv, LISTENING, name="local Cosmos", env=extra_env, timeout=self.timeout
        )
        try:
            listening = self._process.start()
        except ProcessNotReady as exc:
            self._process = None
            raise CosmosStandInError(
                f"the local Cosmos stand-in did not start on {self.host}:{self.port}: {exc}"
            ) from exc
        self.port = int(listening["port"])

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL after 5 s); open client connections are dropped."""
        if self._process is not None:
            self._process.stop()

    def settings(self) -> dict[str, str]:
        """`COSMOS_*` environment that points an app at this stand-in."""
        return settings(self.endpoint)


@contextlib.contextmanager
def running(
    port: int = 0,
    host: str = HOST,
    containers: Sequence[ContainerSpec] = CONTAINERS,
    timeout: float = 30.0,
    data_file: Path | None = None,
) -> Iterator[LocalCosmos]:
    """Run a stand-in until the block exits (tests: port 0 picks a free port, kept across
    `stop()`/`start()`). Node is always stopped on exit, also after a failed start."""
    cosmos = LocalCosmos(port, host, containers, timeout, data_file)
    try:
        cosmos.start()
        yield cosmos
    finally:
        cosmos.stop()


# ------------------------------------------------------------------------------ foreground


def main(argv: list[str] | None = None) -> int:
    """`python -m dev.cosmos`: prepare, then become the Node server (exec), so a process
    supervisor's signals reach Node directly."""
    parser = argparse.ArgumentParser(prog="python -m dev.cosmos", description=__doc__)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--quiet", action="store_true", help="no per-request log lines")
    parser.add_argument(
        "--data-file",
        type=Path,
        help="keep the data in this journal across restarts (`make dev`: .dev/cosmos/data.jsonl)",
    )
    args = parser.parse_args(argv)
    ensure_node_modules()
    command, extra_env = server_command(
        args.port, args.host, quiet=args.quiet, data_file=args.data_file
    )
    where = endpoint_for(args.port, args.host) if args.port else "a free port (printed below)"
    kept = f"kept in {args.data_file}" if args.data_file else "in memory (lost when it stops)"
    print(
        f"local Cosmos: {where}, data {kept}, any key works "
        f"(KEY in dev/cosmos/launcher.py is the emulator's); "
        f"{DATABASE}/{CONTAINER} by {PARTITION_KEY_PATH}",
        flush=True,
    )
    os.execve(command[0], command, {**os.environ, **extra_env})  # noqa: S606 (argv, no shell)
    return 0  # not reached
