"""What every benchmark suite uses: the run's settings (quick or full), HTTP measurements with
wrk + CPU per request of each process, concurrent raw-driver loops, the OTLP sink, and the
figures/targets of the run (results.py).

A suite is a module with `run(bench: Bench)`; it records figures and declares targets:

    result = bench.http("catalog.get_product", "GET /products/{id}", server.base_url,
                        wrk.paths_lua(paths), cpu={"catalog": {server.pid}, "postgres": pids})
    bench.target(Target("catalog.vs_point", "catalog >= 0.9x one-query endpoint",
                        "catalog.get_product.rps", ">=", 0.9, "reference.point.rps"))
"""

import asyncio
import os
import re
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench import wrk
from bench.cpu import CpuMeter, cpu_seconds
from bench.results import Figure, Run, Target
from bench.stats import per_round
from dev.server_process import ServerProcess

REPO = Path(__file__).resolve().parents[1]
CONNECTIONS = 16  # wrk keep-alive connections = the concurrency of every HTTP figure
# Tracing-ON runs: head sampling of 10% of the traces that start at the app (wrk sends no
# traceparent, so every request is a root). Production-like: all routes keep traces, the
# export volume (and the collector's load) is a tenth; a parent's decision is honoured.
TRACES_SAMPLER = "parentbased_traceidratio"
TRACES_SAMPLER_ARG = "0.1"


Pids = set[int] | Callable[[], set[int]]


def _resolve(groups: Mapping[str, Pids]) -> dict[str, set[int]]:
    return {name: pids() if callable(pids) else pids for name, pids in groups.items()}


@dataclass
class Bench:
    run: Run
    quick: bool = False
    connections: int = CONNECTIONS
    seconds: float = field(init=False)
    warmup: float = field(init=False)

    def __post_init__(self) -> None:
        self.seconds = 2.0 if self.quick else 5.0
        self.warmup = 1.0
        self.run.settings.update(
            {
                "connections": self.connections,
                "seconds_per_figure": self.seconds,
                "warmup_seconds": self.warmup,
                "cpus": os.cpu_count(),
                "loadavg_at_start": os.getloadavg()[0],
                "python": sys.version.split()[0],
            }
        )

    def record(
        self, key: str, value: float, unit: str, label: str = "", better: str = "higher"
    ) -> Figure:
        return self.run.record(Figure(key, value, unit, label, better))  # type: ignore[arg-type]

    def ratio(
        self,
        key: str,
        label: str,
        tops: Sequence[float],
        bottoms: Sequence[float],
        better: str = "higher",
    ) -> float:
        """Records the median of the per-round ratios `top / bottom` (bench/stats.py) as `key`,
        prints them, and returns the median."""
        ratios = per_round(tops, bottoms)
        median = statistics.median(ratios)
        self.record(key, median, "x", label + ", median of rounds", better)
        shown = ", ".join(f"{r:.2f}" for r in ratios)
        print(f"  {label}: per round {shown}; median {median:.2f}", flush=True)
        return median

    def target(self, *targets: Target) -> None:
        self.run.targets.extend(targets)

    def http(
        self,
        key: str,
        label: str,
        base_url: str,
        lua: str,
        cpu: Mapping[str, Pids],
    ) -> wrk.WrkResult:
        """Warm up, then one wrk run; records `key.rps`, `key.p50_ms`, `key.p99_ms` and
        `key.cpu_ms.<process>` (CPU milliseconds per request of each group, and of wrk).
        A group given as a callable is resolved after the warm-up (pools grow during it)."""
        wrk.run(base_url, lua, connections=self.connections, seconds=self.warmup)
        with CpuMeter(_resolve(cpu)) as meter:
            result = wrk.run(base_url, lua, connections=self.connections, seconds=self.seconds)
        self.record(f"{key}.rps", result.throughput, "req/s", label)
        self.record(f"{key}.p50_ms", result.p50_ms, "ms", label, "lower")
        self.record(f"{key}.p99_ms", result.p99_ms, "ms", label, "lower")
        per_request = meter.per_request_ms(result.requests)
        for name, ms in per_request.items():
            self.record(f"{key}.cpu_ms.{name}", ms, "ms/req", label, "lower")
        cpus = "  ".join(f"{name} {ms:.3f}" for name, ms in per_request.items())
        errors = f"  ERRORS {result.errors}" if result.failed else ""
        print(
            f"  {label:<46} {result.throughput:8.0f} req/s  p50 {result.p50_ms:6.2f} ms"
            f"  p99 {result.p99_ms:6.2f} ms  cpu ms/req: {cpus}{errors}",
            flush=True,
        )
        return result

    def http_rounds(self, entries: list["Http"], rounds: int | None = None) -> dict[str, "Rounds"]:
        """Several figures measured round-robin: each entry warms up, then every round runs
        each entry once (the run's duration split over the rounds), and the median of each
        figure is recorded. Figures compared with each other (a ratio, small vs large) then see
        the same machine, even one that other work slows down now and then. Prints one line per
        entry: medians, and the spread of req/s over the rounds. Returns each key's warm-up and
        measured rounds, for ratios taken round by round."""
        rounds = rounds or (2 if self.quick else 3)
        seconds = max(1.0, self.seconds / rounds)
        warmups = {
            e.key: wrk.run(e.base_url, e.lua, connections=self.connections, seconds=self.warmup)
            for e in entries
        }
        samples: dict[str, list[tuple[wrk.WrkResult, dict[str, float]]]] = {
            e.key: [] for e in entries
        }
        for _ in range(rounds):
            for e in entries:
                with CpuMeter(_resolve(e.cpu)) as meter:
                    result = wrk.run(
                        e.base_url, e.lua, connections=self.connections, seconds=seconds
                    )
                samples[e.key].append((result, meter.per_request_ms(result.requests)))
        for e in entries:
            runs = samples[e.key]
            rps = [r.throughput for r, _ in runs]
            self.record(f"{e.key}.rps", statistics.median(rps), "req/s", e.label)
            self.record(
                f"{e.key}.p50_ms",
                statistics.median(r.p50_ms for r, _ in runs),
                "ms",
                e.label,
                "lower",
            )
            self.record(
                f"{e.key}.p99_ms",
                statistics.median(r.p99_ms for r, _ in runs),
                "ms",
                e.label,
                "lower",
            )
            cpus = {name: statistics.median(c[name] for _, c in runs) for name in runs[0][1]}
            for name, ms in cpus.items():
                self.record(f"{e.key}.cpu_ms.{name}", ms, "ms/req", e.label, "lower")
            failed = sum(r.failed for r, _ in runs)
            shown = "  ".join(f"{name} {ms:.3f}" for name, ms in cpus.items())
            spread = f"({min(rps):.0f}-{max(rps):.0f})"
            print(
                f"  {e.label:<46} {statistics.median(rps):8.0f} req/s {spread}"
                f"  p50 {self.run.figures[f'{e.key}.p50_ms'].value:6.2f} ms"
                f"  cpu ms/req: {shown}{f'  ERRORS {failed}' if failed else ''}",
                flush=True,
            )
        return {
            e.key: Rounds(warmups[e.key], [Round(r, c) for r, c in samples[e.key]]) for e in entries
        }

    def loop(
        self,
        key: str,
        label: str,
        connect: Callable[[], Awaitable[Any]],
        operation: Callable[[Any], Awaitable[None]],
        cpu: Mapping[str, Pids],
    ) -> "LoopResult":
        """`self.connections` concurrent clients (asyncio tasks, each with its own client from
        `connect()`) calling `operation(client)` for the run's duration, after a warm-up; records
        the same figures as `http` (CPU of the bench process itself as `bench`)."""
        result, meter = asyncio.run(self._measured_loop(connect, operation, cpu))
        meter.seconds.pop("wrk", None)
        self.record(f"{key}.rps", result.throughput, "ops/s", label)
        self.record(f"{key}.p50_ms", result.percentile(50), "ms", label, "lower")
        self.record(f"{key}.p99_ms", result.percentile(99), "ms", label, "lower")
        per_op = meter.per_request_ms(result.operations)
        for name, ms in per_op.items():
            self.record(f"{key}.cpu_ms.{name}", ms, "ms/op", label, "lower")
        cpus = "  ".join(f"{name} {ms:.3f}" for name, ms in per_op.items())
        print(
            f"  {label:<46} {result.throughput:8.0f} ops/s  p50 {result.percentile(50):6.2f} ms"
            f"  p99 {result.percentile(99):6.2f} ms  cpu ms/op: {cpus}",
            flush=True,
        )
        return result

    async def _measured_loop(
        self,
        connect: Callable[[], Awaitable[Any]],
        operation: Callable[[Any], Awaitable[None]],
        cpu: Mapping[str, Pids],
    ) -> tuple["LoopResult", CpuMeter]:
        clients = [await connect() for _ in range(self.connections)]
        try:
            await concurrent_loop(clients, operation, self.warmup)
            with CpuMeter({"bench": {os.getpid()}, **_resolve(cpu)}) as meter:
                result = await concurrent_loop(clients, operation, self.seconds)
        finally:
            for client in clients:
                closing = client.close()
                if asyncio.iscoroutine(closing):
                    await closing
        return result, meter


@dataclass(frozen=True)
class Http:
    """One HTTP figure of `Bench.http_rounds`."""

    key: str
    label: str
    base_url: str
    lua: str
    cpu: Mapping[str, Pids]


@dataclass(frozen=True)
class Round:
    """One wrk run of `Bench.http_rounds` and the CPU milliseconds per request of each group."""

    result: wrk.WrkResult
    cpu_ms: Mapping[str, float]


@dataclass(frozen=True)
class Rounds:
    """One figure of `Bench.http_rounds`: its warm-up (not measured; its requests were still
    served, e.g. traced) and its measured rounds."""

    warmup: wrk.WrkResult
    measured: list[Round]


@dataclass(frozen=True)
class LoopResult:
    operations: int
    seconds: float
    latencies_ms: list[float]

    @property
    def throughput(self) -> float:
        return self.operations / self.seconds if self.seconds else 0.0

    def percentile(self, p: int) -> float:
        if len(self.latencies_ms) < 2:
            return self.latencies_ms[0] if self.latencies_ms else 0.0
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[p - 1]


async def concurrent_loop(
    clients: list[Any], operation: Callable[[Any], Awaitable[None]], seconds: float
) -> LoopResult:
    """One task per client, each looping `operation(client)` until `seconds` pass."""
    latencies: list[float] = []
    began = time.perf_counter()
    stop = began + seconds

    async def one(client: Any) -> None:
        while (now := time.perf_counter()) < stop:
            await operation(client)
            latencies.append((time.perf_counter() - now) * 1000)

    await asyncio.gather(*(one(c) for c in clients))
    return LoopResult(len(latencies), time.perf_counter() - began, latencies)


def postgres_backends(admin_url: str, dbname: str) -> set[int]:
    """The pids of the Postgres backends connected to `dbname` (their CPU is the database's
    share of a request; the pools keep them for the whole measurement)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (dbname,),
        ).fetchall()
    return {pid for (pid,) in rows}


@dataclass(frozen=True)
class Sink:
    url: str
    pid: int

    def stats(self) -> dict[str, int]:
        return httpx.get(self.url + "/stats", timeout=5).json()


@contextmanager
def otlp_sink() -> Iterator[Sink]:
    """The local OTLP/HTTP receiver (otlp_sink.py) as a child process on a free port."""
    argv = [sys.executable, "-m", "bench.otlp_sink", "--port", "0"]
    ready = re.compile(r"otlp sink listening port=(?P<port>\d+)")
    with ServerProcess(argv, ready, name="otlp-sink", cwd=REPO) as child:
        match = ready.search("\n".join(child.output))
        assert match is not None
        assert child.pid is not None
        yield Sink(f"http://127.0.0.1:{match['port']}", child.pid)


def tracing_env(sink: Sink) -> dict[str, str]:
    """The standard variables the OpenTelemetry SDK reads itself (observability.py only
    chooses the exporter from OTEL_EXPORTER_OTLP_ENDPOINT; TracerProvider() reads the sampler:
    https://opentelemetry-python.readthedocs.io/en/latest/sdk/trace.sampling.html)."""
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": sink.url,
        "OTEL_TRACES_SAMPLER": TRACES_SAMPLER,
        "OTEL_TRACES_SAMPLER_ARG": TRACES_SAMPLER_ARG,
    }


__all__ = [
    "Bench",
    "Http",
    "LoopResult",
    "Round",
    "Rounds",
    "cpu_seconds",
    "otlp_sink",
    "postgres_backends",
    "tracing_env",
]
