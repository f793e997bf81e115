"""Worker throughput (issue 17): the local worker — local queue → the `fulfil_order`
orchestration replayed by the local driver → activities → Cosmos stand-in — beside raw
azure-cosmos loops writing the same three documents per order (same ids and bodies, one order
after another per thread), at the same concurrency, with the same client, in the same run, in
alternating rounds so no side always gets the warmer machine:

- raw, 3 creates: `create_item` x 3, the way the worker wrote them before issue 17;
- raw, batch + create: `OrderPlaced` and the e-mail claim in one transactional batch, then
  `OrderConfirmed` — the way the worker writes them now (fulfilment.py). The worker does this
  and more (the queue, the orchestration, the e-mail), so this ratio stays below 1.0: the
  target that is honest about it is the one against the same writes.

Also recorded, deterministic where the wall clock is not: Cosmos requests and local-queue calls
per order, CPU per order of this process (the worker's threads or the raw loop's) and of the
Cosmos stand-in (Node), and the local driver's own CPU per orchestration (replays through the
SDK, no I/O). One Python process is GIL-bound: CPU per order is what bounds its throughput.

    python -m bench.worker [--quick]     (a harness suite too: `run(bench)` for `make bench`)
"""

import argparse
import json
import logging
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from azure.cosmos.container import ContainerProxy

from bench.cpu import cpu_seconds, spent
from bench.harness import Bench
from bench.results import Target, new_run, target_lines
from dev.cosmos import launcher as local_cosmos
from dev.postgres import launcher as postgres
from functions.shared import metrics, migrations
from functions.shared.eventbus.local_queue import MIGRATIONS, LocalQueue, ReceivedMessage
from functions.shared.events import OrderPlaced, OrderPlacedItem, OutgoingMessage
from functions.shared.timeline_store import CosmosSettings
from functions.worker import local_consumer
from functions.worker.handler import handle
from functions.worker.settings import WorkerSettings
from functions.worker.store import WorkerTimelineStore

CONCURRENCY = 4  # consumer threads = raw loop threads
SIDES = ("worker", "raw3", "rawbatch")
LABELS = {
    "worker": "worker (queue -> orchestration -> Cosmos)",
    "raw3": "raw loop, 3 x create_item",
    "rawbatch": "raw loop, batch(2 creates) + create_item",
}


def order_placed() -> OrderPlaced:
    """A one-item `OrderPlaced` with fresh ids (also bench/scaleout.py's backlog)."""
    return OrderPlaced(
        event_id=uuid.uuid4(),
        occurred_at=datetime.now(UTC),
        order_id=uuid.uuid4(),
        user_id="bench",
        currency="EUR",
        total=Decimal("39.30"),
        items=[
            OrderPlacedItem(
                product_id="french-press", name="Press", unit_price=Decimal("39.00"), quantity=1
            )
        ],
    )


class _CountingRequests:
    """Counts Cosmos HTTP responses (the stores' raw_response_hook)."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()
        self._real = metrics.cosmos_response

    def __call__(self, pipeline_response: Any) -> None:
        with self._lock:
            self.count += 1
        self._real(pipeline_response)


class _CountingQueue(LocalQueue):
    """The local queue, counting the consumer's calls (each is one pooled connection checkout
    and at least one round trip to the bus database)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: dict[str, int] = {}
        self._count_lock = threading.Lock()

    def _count(self, name: str) -> None:
        with self._count_lock:
            self.calls[name] = self.calls.get(name, 0) + 1

    def receive(self, max_messages: int = 1) -> list[ReceivedMessage]:
        self._count("receive")
        return super().receive(max_messages)

    def complete(self, message: ReceivedMessage) -> None:
        self._count("complete")
        super().complete(message)


def _in_threads(concurrency: int, work: Callable[[int], None]) -> float:
    threads = [threading.Thread(target=work, args=(i,)) for i in range(concurrency)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - began


@dataclass
class Round:
    orders: int
    seconds: float
    cpu_self: float  # CPU seconds of this process (the side's threads, and the rest)
    cpu_cosmos: float  # CPU seconds of the Cosmos stand-in
    requests: int  # Cosmos HTTP requests
    queue_calls: dict[str, int]

    @property
    def throughput(self) -> float:
        return self.orders / self.seconds


@contextmanager
def _measured(cosmos_pid: int, counting: _CountingRequests) -> Iterator[dict[str, float]]:
    out: dict[str, float] = {}
    before_cosmos = cpu_seconds([cosmos_pid])
    requests = counting.count
    began = time.process_time()
    yield out
    out["cpu_self"] = time.process_time() - began
    out["cpu_cosmos"] = spent(before_cosmos, cpu_seconds([cosmos_pid]))
    out["requests"] = counting.count - requests


def worker_round(
    bus_db: str, store: WorkerTimelineStore, orders: int, cosmos_pid: int, counting: Any
) -> Round:
    queue = _CountingQueue(bus_db, queue=f"bench-worker-{uuid.uuid4().hex[:8]}", lock_seconds=60)
    try:
        for _ in range(orders):
            e = order_placed()
            queue.send(
                OutgoingMessage.for_event(str(e.event_id), "OrderPlaced", e.to_json_dict(), {})
            )
        stop = threading.Event()
        settings = WorkerSettings(idle_seconds=0.02, batch_size=10)

        def consume(_: int) -> None:
            local_consumer.run(queue, store, settings, stop)

        def watch() -> None:  # every 20 ms: its own queries stay a small share of the CPU
            while queue.calls.get("complete", 0) < orders:
                time.sleep(0.02)
            stop.set()

        watcher = threading.Thread(target=watch)
        with _measured(cosmos_pid, counting) as m:
            watcher.start()
            elapsed = _in_threads(CONCURRENCY, consume)
            watcher.join()
        assert queue.depth() == 0
        assert queue.dead_letters() == []
        return Round(
            orders, elapsed, m["cpu_self"], m["cpu_cosmos"], int(m["requests"]), dict(queue.calls)
        )
    finally:
        queue.close()


def _documents(e: OrderPlaced) -> list[dict[str, Any]]:
    """The three documents the worker writes for one order, in its order."""
    order_id = str(e.order_id)
    now = datetime.now(UTC).isoformat()
    placed = {"eventId": str(e.event_id), "total": "39.30", "currency": "EUR", "itemCount": 1}
    return [
        {
            "id": f"{order_id}:{event_type}",
            "orderId": order_id,
            "type": event_type,
            "occurredAt": occurred_at,
            "data": data,
        }
        for event_type, occurred_at, data in (
            ("OrderPlaced", e.occurred_at.isoformat(), placed),
            ("ConfirmationEmailSent", now, {"to": "bench", "subject": "Your TinyShop order"}),
            ("OrderConfirmed", now, {}),
        )
    ]


def _three_creates(container: ContainerProxy, e: OrderPlaced) -> None:
    for document in _documents(e):
        container.create_item(document)


def _batch_then_create(container: ContainerProxy, e: OrderPlaced) -> None:
    placed, claim, confirmed = _documents(e)
    container.execute_item_batch(
        [("create", (placed,)), ("create", (claim,))], partition_key=placed["orderId"]
    )
    container.create_item(confirmed)


def raw_round(
    store: WorkerTimelineStore,
    orders: int,
    cosmos_pid: int,
    counting: Any,
    write: Callable[[ContainerProxy, OrderPlaced], None],
) -> Round:
    """The same documents, straight through the SDK, with the worker's client."""
    container = store.container
    per_thread = orders // CONCURRENCY

    def loop(_: int) -> None:
        for _ in range(per_thread):
            write(container, order_placed())

    with _measured(cosmos_pid, counting) as m:
        elapsed = _in_threads(CONCURRENCY, loop)
    return Round(
        per_thread * CONCURRENCY, elapsed, m["cpu_self"], m["cpu_cosmos"], int(m["requests"]), {}
    )


class _NullStore:
    def add(self, *_: object) -> bool:
        return True

    def add_all(self, _: str, events: list) -> list[bool]:
        return [True] * len(events)

    def events(self, order_id: str) -> list:
        return []


def driver_cpu_per_orchestration(orchestrations: int = 300) -> float:
    """CPU seconds the local driver spends per orchestration with a store that does nothing."""
    bodies = [json.dumps(order_placed().to_json_dict()) for _ in range(orchestrations)]
    store = _NullStore()
    began = time.process_time()
    for raw in bodies:
        handle("OrderPlaced", raw, store)
    return (time.process_time() - began) / orchestrations


def _record(bench: Bench, side: str, rounds: list[Round]) -> None:
    label = LABELS[side]
    last = rounds[-1]
    bench.record(
        f"worker.{side}.orders_per_s",
        statistics.median(r.throughput for r in rounds),
        "orders/s",
        label,
    )
    per = last.orders
    bench.record(
        f"worker.{side}.cpu_ms.self", 1e3 * last.cpu_self / per, "ms/order", label, "lower"
    )
    bench.record(
        f"worker.{side}.cpu_ms.cosmos", 1e3 * last.cpu_cosmos / per, "ms/order", label, "lower"
    )
    bench.record(f"worker.{side}.cosmos_requests", last.requests / per, "req/order", label, "lower")
    for name, calls in sorted(last.queue_calls.items()):
        bench.record(f"worker.{side}.queue_{name}", calls / per, "calls/order", label, "lower")
    queue = "  ".join(f"{n} {c / per:.2f}" for n, c in sorted(last.queue_calls.items()))
    print(
        f"  {label:<44} {statistics.median(r.throughput for r in rounds):7.0f} orders/s"
        f"  cpu ms/order: self {1e3 * last.cpu_self / per:.2f}"
        f"  cosmos {1e3 * last.cpu_cosmos / per:.2f}"
        f"  cosmos req/order {last.requests / per:.2f}"
        + (f"  queue calls/order: {queue}" * bool(queue)),
        flush=True,
    )


def run(bench: Bench) -> None:
    orders = 200 if bench.quick else 400
    rounds = 1 if bench.quick else 3
    logging.getLogger("tinyshop.worker").setLevel(logging.WARNING)  # no e-mail log lines
    counting = _CountingRequests()
    results: dict[str, list[Round]] = {side: [] for side in SIDES}
    with (
        postgres.fresh_database(postgres.admin_url(), "bench_worker_bus") as bus_db,
        local_cosmos.running(port=0) as cosmos,
    ):
        migrations.upgrade(bus_db, MIGRATIONS)
        # Batches on, as in Azure: the in-memory stand-in serves them (only `make dev`'s
        # journal does not keep them, hence the store's local default).
        settings = CosmosSettings(
            endpoint=cosmos.endpoint, key=cosmos.key, create_if_missing=True, batch_writes=True
        )
        assert cosmos.pid is not None
        pid = cosmos.pid
        metrics.cosmos_response, real_hook = counting, metrics.cosmos_response
        try:
            store = WorkerTimelineStore(settings)  # its client takes the counting hook
            store.container  # noqa: B018 - create database and container before timing
            sides: dict[str, Callable[[], Round]] = {
                "worker": lambda: worker_round(bus_db, store, orders, pid, counting),
                "raw3": lambda: raw_round(store, orders, pid, counting, _three_creates),
                "rawbatch": lambda: raw_round(store, orders, pid, counting, _batch_then_create),
            }
            worker_round(bus_db, store, 20, pid, counting)
            raw_round(store, 20, pid, counting, _three_creates)
            raw_round(store, 20, pid, counting, _batch_then_create)
            for i in range(rounds):  # alternate the order of the sides from round to round
                order = SIDES if i % 2 == 0 else tuple(reversed(SIDES))
                for side in order:
                    results[side].append(sides[side]())
        finally:
            metrics.cosmos_response = real_hook
    print(
        f"worker ({orders} OrderPlaced events x {rounds} rounds, {CONCURRENCY} threads, "
        "median orders/s; CPU and counts of the last round)"
    )
    for side in SIDES:
        _record(bench, side, results[side])
    # Ratios per round (both sides of a ratio saw the same machine), then their median.
    for key, other, label in (
        ("vs_same_writes", "rawbatch", "worker / raw loop writing the same way (batch + 1)"),
        ("vs_three_creates", "raw3", "worker / raw loop of 3 create_item (before #17)"),
    ):
        bench.ratio(f"worker.{key}", label, [w.throughput for w in results["worker"]],
                    [r.throughput for r in results[other]])  # fmt: skip
        cpu = results[other][-1].cpu_self / results["worker"][-1].cpu_self
        bench.record(f"worker.{key}.cpu", cpu, "x", label + ", CPU per order (last round)")
        print(f"  {label}: CPU per order ratio {cpu:.2f} (last round)")
    driver = driver_cpu_per_orchestration()
    bench.record(
        "worker.driver.cpu_ms", driver * 1e3, "ms/orchestration", "local driver, no I/O", "lower"
    )
    print(f"  local driver CPU per orchestration (no I/O): {driver * 1e3:.2f} ms")
    bench.target(
        Target(
            "worker.vs_same_writes",
            "worker vs raw loop writing the same way (batch + 1), median of rounds",
            "worker.vs_same_writes",
            ">=",
            1.0,
        ),
        Target(
            "worker.vs_three_creates",
            "worker vs raw loop of 3 create_item (before #17), median of rounds",
            "worker.vs_three_creates",
            ">=",
            1.0,
        ),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round of 200 orders")
    args = parser.parse_args()
    bench = Bench(new_run("worker"), quick=args.quick)
    run(bench)
    print("\n".join(target_lines(bench.run.targets, bench.run.figures)))


if __name__ == "__main__":
    main()
