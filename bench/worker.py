"""Worker throughput (issue 17): the local worker — local queue → the `fulfil_order`
orchestration replayed by the local driver → activities → Cosmos stand-in — beside a raw
azure-cosmos loop writing the same three documents the same way (`create_item` with the same
ids and bodies, one event after another per thread), at the same concurrency, in the same run,
alternating rounds so neither side always gets the warmer machine. Target: worker ≥ 1.0x raw.

Also printed, deterministic where the wall clock is not: Cosmos requests per event on both
sides, and the local driver's own CPU per orchestration (replays through the SDK, no I/O).

    python -m bench.worker [--events 400] [--concurrency 4] [--rounds 2]
"""

import argparse
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from dev.cosmos import launcher as local_cosmos
from dev.postgres import launcher as postgres
from functions.shared import metrics, migrations
from functions.shared.eventbus.local_queue import MIGRATIONS, LocalQueue
from functions.shared.events import OrderPlaced, OrderPlacedItem, OutgoingMessage
from functions.shared.timeline_store import CosmosSettings
from functions.worker import local_consumer
from functions.worker.handler import handle
from functions.worker.settings import WorkerSettings
from functions.worker.store import WorkerTimelineStore


def _event() -> OrderPlaced:
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
    """Counts Cosmos HTTP responses (the stores' raw_response_hook), by method."""

    def __init__(self) -> None:
        self.by_method: dict[str, int] = {}
        self._lock = threading.Lock()
        self._real = metrics.cosmos_response

    def __call__(self, pipeline_response: Any) -> None:
        with self._lock:
            method = pipeline_response.http_request.method
            self.by_method[method] = self.by_method.get(method, 0) + 1
        self._real(pipeline_response)


def _in_threads(concurrency: int, work: Callable[[int], None]) -> float:
    threads = [threading.Thread(target=work, args=(i,)) for i in range(concurrency)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - began


def worker_round(bus_db: str, store: WorkerTimelineStore, events: int, concurrency: int) -> float:
    queue = LocalQueue(bus_db, queue=f"bench-worker-{uuid.uuid4().hex[:8]}", lock_seconds=60)
    try:
        for _ in range(events):
            e = _event()
            queue.send(
                OutgoingMessage.for_event(str(e.event_id), "OrderPlaced", e.to_json_dict(), {})
            )
        stop = threading.Event()
        settings = WorkerSettings(idle_seconds=0.005, batch_size=10)

        def consume(_: int) -> None:
            local_consumer.run(queue, store, settings, stop)

        def watch() -> None:
            while queue.depth():
                time.sleep(0.005)
            stop.set()

        watcher = threading.Thread(target=watch)
        watcher.start()
        elapsed = _in_threads(concurrency, consume)
        watcher.join()
        assert queue.dead_letters() == []
        return events / elapsed
    finally:
        queue.close()


def raw_round(store: WorkerTimelineStore, events: int, concurrency: int) -> float:
    """The same documents the worker writes, created the same way, straight through the SDK."""
    container = store.container

    def write(worker: int) -> None:
        for _ in range(events // concurrency):
            e = _event()
            order_id = str(e.order_id)
            now = datetime.now(UTC).isoformat()
            documents = [
                (
                    "OrderPlaced",
                    e.occurred_at.isoformat(),
                    {
                        "eventId": str(e.event_id),
                        "total": "39.30",
                        "currency": "EUR",
                        "itemCount": 1,
                    },
                ),
                ("ConfirmationEmailSent", now, {"to": "bench", "subject": "Your TinyShop order"}),
                ("OrderConfirmed", now, {}),
            ]
            for event_type, occurred_at, data in documents:
                container.create_item(
                    {
                        "id": f"{order_id}:{event_type}",
                        "orderId": order_id,
                        "type": event_type,
                        "occurredAt": occurred_at,
                        "data": data,
                    }
                )

    return (events // concurrency * concurrency) / _in_threads(concurrency, write)


class _NullStore:
    def add(self, *_: object) -> bool:
        return True

    def events(self, order_id: str) -> list:
        return []


def driver_cpu_per_orchestration(orchestrations: int = 300) -> float:
    """CPU seconds the local driver spends per orchestration with a store that does nothing."""
    import json

    bodies = [json.dumps(_event().to_json_dict()) for _ in range(orchestrations)]
    store = _NullStore()
    began = time.process_time()
    for raw in bodies:
        handle("OrderPlaced", raw, store)
    return (time.process_time() - began) / orchestrations


def run(events: int = 400, concurrency: int = 4, rounds: int = 2) -> None:
    import logging

    logging.getLogger("tinyshop.worker").setLevel(logging.WARNING)  # no e-mail log lines
    counting = _CountingRequests()
    admin = postgres.admin_url()
    with (
        postgres.fresh_database(admin, "bench_worker_bus") as bus_db,
        local_cosmos.running(port=0) as cosmos,
    ):
        migrations.upgrade(bus_db, MIGRATIONS)
        settings = CosmosSettings(endpoint=cosmos.endpoint, key=cosmos.key, create_if_missing=True)
        store = WorkerTimelineStore(settings)
        metrics.cosmos_response, real_hook = counting, metrics.cosmos_response
        try:
            store.container  # noqa: B018 - create database and container before timing
            worker_round(bus_db, store, 20, concurrency)  # warm both paths up
            raw_round(store, 20, concurrency)
            ratios, workers, raws, requests, cpu_ms = [], [], [], {}, {}
            for _ in range(rounds):
                counting.by_method.clear()
                began = time.process_time()
                raws.append(raw_round(store, events, concurrency))
                cpu_ms["raw"] = (time.process_time() - began) / events * 1e3
                requests["raw"] = dict(counting.by_method)
                counting.by_method.clear()
                began = time.process_time()
                workers.append(worker_round(bus_db, store, events, concurrency))
                cpu_ms["worker"] = (time.process_time() - began) / events * 1e3
                requests["worker"] = dict(counting.by_method)
                ratios.append(workers[-1] / raws[-1])
        finally:
            metrics.cosmos_response = real_hook
    cpu = driver_cpu_per_orchestration()
    print(
        f"worker throughput ({events} OrderPlaced events x {rounds} rounds, {concurrency} threads)"
    )
    for i, (w, r) in enumerate(zip(workers, raws, strict=True), start=1):
        print(f"  round {i}: worker {w:7.0f} events/s   raw create_item loop {r:7.0f} events/s")
    print(f"  ratio worker/raw per round: {', '.join(f'{x:.2f}' for x in ratios)}")
    print(f"  median ratio: {statistics.median(ratios):.2f} (target >= 1.0)")
    per_event = {k: {m: n / events for m, n in v.items()} for k, v in requests.items()}
    print(f"  Cosmos requests per event (last round): {per_event}")
    cpu_text = ", ".join(f"{side} {ms:.2f}" for side, ms in cpu_ms.items())
    print(f"  CPU of this process per event, ms (last round): {cpu_text}")
    print(f"  local driver CPU per orchestration (no I/O): {cpu * 1e3:.2f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    run(args.events, args.concurrency, args.rounds)
