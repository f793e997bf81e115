"""Latency/throughput bookkeeping shared by the benchmarks."""

import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    name: str
    operations: int
    seconds: float
    latencies_ms: list[float]

    @property
    def throughput(self) -> float:
        return self.operations / self.seconds

    def percentile(self, p: float) -> float:
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[int(p) - 1]

    def line(self) -> str:
        return (
            f"  {self.name:<34} {self.throughput:9.0f} ops/s   p50 {self.percentile(50):7.2f} ms"
            f"   p99 {self.percentile(99):7.2f} ms   ({self.operations} ops)"
        )


def compare(app: Result, baseline: Result) -> str:
    return (
        f"  ratio: {app.name} reaches {app.throughput / baseline.throughput:.1%} of the "
        f"baseline's throughput; p50 x{app.percentile(50) / baseline.percentile(50):.1f}"
    )
