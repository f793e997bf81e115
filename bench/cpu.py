"""CPU seconds of processes, from /proc/<pid>/stat: what a request costs each process.

Wall-clock throughput on a shared 2-core machine swings with whatever else runs; the CPU a
process spent per request (user + system, summed over its threads) barely does, so the bench
reports it beside every throughput figure.
"""

import os
import resource
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def parse_stat(line: str, ticks_per_second: int = CLOCK_TICKS) -> tuple[int, float]:
    """(parent pid, utime + stime in seconds) from one /proc/<pid>/stat line.

    The command name (field 2) is in parentheses and may itself contain spaces or parentheses,
    so the fields are counted from the LAST ')' (proc(5): ppid is field 4, utime 14, stime 15).
    """
    rest = line[line.rindex(")") + 2 :].split()
    # rest[0] is field 3 (state): field n is rest[n - 3].
    ppid, utime, stime = int(rest[1]), int(rest[11]), int(rest[12])
    return ppid, (utime + stime) / ticks_per_second


def _read_stat(pid: int) -> tuple[int, float] | None:
    try:
        return parse_stat(Path(f"/proc/{pid}/stat").read_text())
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return None  # the process ended in the meantime


def descendants(pid: int) -> set[int]:
    """`pid` and every process below it (uvicorn `--workers N` forks workers)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _read_stat(int(entry.name))) is not None:
            parents.setdefault(stat[0], []).append(int(entry.name))
    found, todo = {pid}, [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def cpu_seconds(pids: Iterable[int]) -> dict[int, float]:
    """CPU seconds so far of each pid still alive."""
    return {pid: stat[1] for pid in pids if (stat := _read_stat(pid)) is not None}


def children_cpu_seconds() -> float:
    """CPU seconds of this process's children that have been waited for (wrk runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def spent(before: Mapping[int, float], after: Mapping[int, float]) -> float:
    """CPU seconds spent between two samples, over the pids present in both (a process that
    started or ended in between is left out rather than counted from zero)."""
    return sum(after[pid] - before[pid] for pid in before.keys() & after.keys())


@dataclass
class CpuMeter:
    """CPU seconds of named groups of processes over a block:

        meter = CpuMeter({"catalog": descendants(server.pid), "postgres": backend_pids})
        with meter:
            result = wrk.run(...)
        meter.per_request_ms(result.requests)  # {"catalog": 0.41, "postgres": 0.08, "wrk": ...}

    `wrk` (the load generator) is the children of this process reaped during the block.
    """

    groups: Mapping[str, Iterable[int]]
    seconds: dict[str, float] = field(default_factory=dict)

    def __enter__(self) -> "CpuMeter":
        self._pids = {name: set(pids) for name, pids in self.groups.items()}
        self._before = {name: cpu_seconds(pids) for name, pids in self._pids.items()}
        self._children = children_cpu_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        for name, pids in self._pids.items():
            self.seconds[name] = spent(self._before[name], cpu_seconds(pids))
        self.seconds["wrk"] = children_cpu_seconds() - self._children

    def per_request_ms(self, requests: int) -> dict[str, float]:
        return {name: 1000 * s / requests for name, s in self.seconds.items()} if requests else {}
