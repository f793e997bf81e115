"""How fast does a backlog drain as the worker scales out? (`make bench-scaleout`)

MEASURED: N worker processes (`python -m functions.worker`, the local consumer around the same
handler as the Service Bus trigger) drain a fixed backlog of real `OrderPlaced` messages from
the local queue into the Cosmos stand-in, for N = 1, 2, 4; per-replica throughput and scaling
efficiency = throughput(N) / (N x throughput(1)). Every process shares this machine's 2 cores
with Postgres and the stand-in, so efficiency here is a floor, not what separate nodes give.

MODELLED: bench/keda_model.py replays the ScaledObject's rule (keda/values.yaml) over those
measured rates for a burst, and writes the queue length and replicas over time to
docs/scaleout.png and the figures to docs/scaleout.md.
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from bench import keda_model
from bench.worker import order_placed
from dev.cosmos import launcher as local_cosmos
from dev.postgres import launcher as postgres
from functions.shared import migrations
from functions.shared.eventbus.local_queue import MIGRATIONS, LocalQueue
from functions.shared.events import OutgoingMessage
from functions.shared.timeline_store import CosmosSettings, CosmosTimelineStore

REPO = Path(__file__).resolve().parents[1]
BACKLOG = 600
REPLICAS = (1, 2, 4)
RUNS = 3  # per replica count; the median is reported (other load on the machine swings a run)
BURST = 60_000  # messages in the modelled burst
START_SECONDS = 20  # assumed Functions host start in a new pod (modelled)


def _enqueue(queue: LocalQueue, count: int) -> None:
    for _ in range(count):
        e = order_placed()
        queue.send(OutgoingMessage.for_event(str(e.event_id), "OrderPlaced", e.to_json_dict(), {}))


def drain(bus_db: str, cosmos: local_cosmos.LocalCosmos, replicas: int) -> float:
    """Messages/s that `replicas` worker processes drain, from the first completed message to
    an empty queue (process start-up is not counted)."""
    queue = LocalQueue(bus_db, queue=f"scaleout-{replicas}-{uuid.uuid4().hex[:8]}")
    _enqueue(queue, BACKLOG)
    env = {
        **os.environ,
        "LOCAL_BUS_DATABASE_URL": bus_db,
        "EVENT_BUS_QUEUE": queue.queue,
        "COSMOS_ENDPOINT": cosmos.endpoint,
        "COSMOS_KEY": cosmos.key,
        "WORKER_BATCH_SIZE": "8",
        "WORKER_IDLE_SECONDS": "0.05",
        "LOG_LEVEL": "WARNING",
    }
    workers = [
        subprocess.Popen([sys.executable, "-m", "functions.worker"], cwd=REPO, env=env)
        for _ in range(replicas)
    ]
    try:
        while queue.depth() == BACKLOG:
            time.sleep(0.01)
        began = time.perf_counter()
        remaining = queue.depth()
        while queue.depth():
            time.sleep(0.02)
        return remaining / (time.perf_counter() - began)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
        queue.close()


def _plot(points: list[keda_model.Point], linear: list[keda_model.Point], target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [p.second / 60 for p in points]
    fig, left = plt.subplots(figsize=(9, 4.5), dpi=110)
    left.plot(
        minutes, [p.queue for p in points], color="tab:blue", label="queue (measured efficiency)"
    )
    left.plot(
        [p.second / 60 for p in linear],
        [p.queue for p in linear],
        color="tab:blue",
        linestyle=":",
        label="queue (linear scaling)",
    )
    left.set_xlabel("minutes after the burst (modelled)")
    left.set_ylabel("messages in the queue", color="tab:blue")
    right = left.twinx()
    right.step(
        minutes,
        [p.replicas for p in points],
        where="post",
        color="tab:orange",
        label="replicas (scheduled)",
    )
    right.step(
        minutes,
        [p.consuming for p in points],
        where="post",
        color="tab:green",
        linestyle="--",
        label="replicas (consuming)",
    )
    right.set_ylabel("worker replicas", color="tab:orange")
    fig.legend(loc="center right", bbox_to_anchor=(0.88, 0.55))
    left.set_title(f"KEDA replay: a burst of {BURST:,} OrderPlaced at measured per-replica rates")
    fig.tight_layout()
    fig.savefig(target)
    plt.close(fig)


def run(write_docs: bool = True) -> None:
    admin = postgres.admin_url()
    with (
        postgres.fresh_database(admin, "bench_scaleout") as bus_db,
        local_cosmos.running(port=0) as cosmos,
    ):
        migrations.upgrade(bus_db, MIGRATIONS)
        CosmosTimelineStore(
            CosmosSettings(endpoint=cosmos.endpoint, key=cosmos.key, create_if_missing=True)
        )
        runs = {n: sorted(drain(bus_db, cosmos, n) for _ in range(RUNS)) for n in REPLICAS}
    rates = {n: statistics.median(r) for n, r in runs.items()}

    one = rates[1]
    efficiency = {n: rates[n] / (n * one) for n in REPLICAS}
    print(f"worker scale-out: {BACKLOG} OrderPlaced, local queue -> handler -> Cosmos stand-in")
    print("  MEASURED (all processes on this machine's cores)")
    print(f"  replicas   events/s (median of {RUNS}, range)   per replica   efficiency")
    for n in REPLICAS:
        spread = f"{runs[n][0]:.0f}..{runs[n][-1]:.0f}"
        print(f"  {n:8d} {rates[n]:10.0f} ({spread:>9}) {rates[n] / n:19.0f} {efficiency[n]:12.0%}")

    # Modelled: each replica drains at the 1-replica rate times the efficiency measured at the
    # nearest replica count not above it (the last measured one beyond 4).
    def throughput(consuming: int) -> float:
        nearest = max(n for n in REPLICAS if n <= consuming)
        return consuming * one * efficiency[nearest]

    rule = keda_model.ScalingRule.from_chart()
    points = keda_model.simulate(rule, BURST, throughput, start_seconds=START_SECONDS)
    drained = keda_model.drain_second(points)
    # The same rule if every replica kept the 1-replica rate (its own CPU, as on AKS nodes,
    # with Cosmos DB not yet the limit).
    linear = keda_model.simulate(rule, BURST, lambda n: n * one, start_seconds=START_SECONDS)
    drained_linear = keda_model.drain_second(linear)
    single = math.ceil(BURST / one)
    peak = max(p.replicas for p in points)
    print(f"  MODELLED (keda/values.yaml rule, host start {START_SECONDS} s assumed)")
    print(
        f"  a burst of {BURST} drains in {drained} s with up to {peak} replicas "
        f"(one replica alone: {single} s); back to 0 replicas at {points[-1].second} s"
    )
    print(f"  with linear scaling (each replica its own CPU) it drains in {drained_linear} s")
    if not write_docs:
        return
    docs = REPO / "docs"
    _plot(points, linear, docs / "scaleout.png")
    marks = [p for p in points if p.second % 30 == 0][:24]
    rows = "\n".join(
        f"| {p.second} | {p.queue:,.0f} | {p.replicas} | {p.consuming} |" for p in marks
    )
    measured = "\n".join(
        f"| {n} | {rates[n]:.0f} ({runs[n][0]:.0f}..{runs[n][-1]:.0f}) | {rates[n] / n:.0f} "
        f"| {efficiency[n]:.0%} |"
        for n in REPLICAS
    )
    (docs / "scaleout.md").write_text(
        _REPORT.format(
            backlog=BACKLOG,
            runs=RUNS,
            measured=measured,
            burst=f"{BURST:,}",
            start=START_SECONDS,
            drained=drained,
            drained_linear=drained_linear,
            peak=peak,
            single=single,
            zero=points[-1].second,
            rows=rows,
            rule=rule,
        ),
        encoding="utf-8",
    )
    print("  wrote docs/scaleout.md and docs/scaleout.png")


_REPORT = """# Worker scale-out: measured and modelled

Generated by `make bench-scaleout` (bench/scaleout.py) on the 2-core development machine.
Nothing here is a test; rerun it to refresh the figures.

## Measured

N worker processes (`python -m functions.worker`: the local consumer around the same handler
the Service Bus trigger calls) drain {backlog} real `OrderPlaced` messages from the local queue
into the Cosmos stand-in (3 documents per event). Timed from the first completed message to an
empty queue. All processes share this machine's 2 cores with Postgres and the stand-in, so the
efficiency is a floor: on AKS each replica has its own CPU and the limit moves to Cosmos RU/s.

| replicas | events/s, median of {runs} (range) | per replica | scaling efficiency |
|---|---|---|---|
{measured}

## Modelled

bench/keda_model.py replays the ScaledObject's rule from keda/values.yaml over the measured
rates, for a burst of {burst} messages arriving at once into an idle worker:

- `messageCount` {rule.message_count}, activation above {rule.activation_message_count} messages,
  {rule.min_replicas}..{rule.max_replicas} replicas, polling every {rule.polling_interval} s,
  cooldown {rule.cooldown_period} s;
- scale-up by max({rule.up_percent} %, {rule.up_pods} pods) per {rule.up_period} s; scale-down by
  {rule.down_pods} pod per {rule.down_period} s after a {rule.down_window} s stabilization window;
  the HPA syncs every 15 s;
- a new pod consumes {start} s after it is scheduled (the Functions host's start, assumed).

Results:

- At the scaling efficiency measured here, the burst drains in **{drained} s** with up to
  **{peak}** replicas (one replica alone: {single} s).
- If every replica kept the 1-replica rate (its own CPU, as on separate AKS nodes, with Cosmos
  DB RU/s not yet the limit), it would drain in **{drained_linear} s** (dotted line).
- After the queue empties, the scale-down stabilization window holds the replicas (no
  flapping while orders trickle in), and KEDA takes the worker to zero once the queue has been
  empty for the cooldown period: back at 0 at {zero} s. Shorter windows save idle pods at the
  price of cold starts for the next burst.

![queue length and replicas over time](scaleout.png)

| second | queue | replicas (scheduled) | replicas (consuming) |
|---|---|---|---|
{rows}
"""


if __name__ == "__main__":
    run()
