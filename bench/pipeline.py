"""The event pipeline: worker throughput (local queue → handler → Cosmos stand-in, end to end)
beside a raw azure-cosmos loop writing the same documents, and outbox relay throughput."""

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
from psycopg.types.json import Jsonb

from dev.cosmos import launcher as local_cosmos
from dev.postgres import launcher as postgres
from functions.orders import relay
from functions.orders.settings import OrdersSettings
from functions.shared import migrations
from functions.shared.db import Database
from functions.shared.eventbus.local_queue import MIGRATIONS, LocalQueue, LocalQueuePublisher
from functions.shared.events import OrderPlaced, OrderPlacedItem, OutgoingMessage
from functions.shared.timeline_store import CosmosSettings, CosmosTimelineStore
from functions.worker import local_consumer
from functions.worker.settings import WorkerSettings

EVENTS = 300


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


def _worker_throughput(queue: LocalQueue, store: CosmosTimelineStore) -> float:
    for _ in range(EVENTS):
        e = _event()
        queue.send(OutgoingMessage.for_event(str(e.event_id), "OrderPlaced", e.to_json_dict(), {}))
    stop = threading.Event()
    settings = WorkerSettings(idle_seconds=0.01, batch_size=20)
    began = time.perf_counter()
    worker = threading.Thread(target=local_consumer.run, args=(queue, store, settings, stop))
    worker.start()
    while queue.depth():
        time.sleep(0.01)
    elapsed = time.perf_counter() - began
    stop.set()
    worker.join()
    return EVENTS / elapsed


def _raw_cosmos_throughput(store: CosmosTimelineStore) -> float:
    """The same three documents per event, upserted straight through azure-cosmos."""
    container = store.container
    began = time.perf_counter()
    for _ in range(EVENTS):
        order_id = str(uuid.uuid4())
        now = datetime.now(UTC).isoformat()
        for event_type in ("OrderPlaced", "ConfirmationEmailSent", "OrderConfirmed"):
            container.upsert_item(
                {
                    "id": f"{order_id}:{event_type}",
                    "orderId": order_id,
                    "type": event_type,
                    "occurredAt": now,
                    "data": {},
                }
            )
    return EVENTS / (time.perf_counter() - began)


def _relay_throughput(orders_db: str, queue: LocalQueue) -> float:
    with psycopg.connect(orders_db, autocommit=True) as conn, conn.transaction():
        for _ in range(EVENTS):
            e = _event()
            conn.execute(
                "INSERT INTO orders (id, user_id, status, currency, total) "
                "VALUES (%s, 'bench', 'placed', 'EUR', 39.30)",
                (e.order_id,),
            )
            conn.execute(
                "INSERT INTO outbox (event_id, event_type, order_id, payload) "
                "VALUES (%s, 'OrderPlaced', %s, %s)",
                (e.event_id, e.order_id, Jsonb(e.to_json_dict())),
            )
    db = Database(OrdersSettings(database_url=orders_db), "bench-relay")
    try:
        began = time.perf_counter()
        result = relay.sweep(db, LocalQueuePublisher(queue), timedelta(days=7))
        elapsed = time.perf_counter() - began
    finally:
        db.close()
    assert result.published == EVENTS, result
    return EVENTS / elapsed


def run() -> None:
    admin = postgres.admin_url()
    with (
        postgres.fresh_database(admin, "bench_bus") as bus_db,
        postgres.fresh_database(admin, "bench_orders") as orders_db,
        local_cosmos.running(port=0) as cosmos,
    ):
        migrations.upgrade(bus_db, MIGRATIONS)
        migrations.upgrade(orders_db, postgres.REPO / "functions" / "orders" / "migrations")
        store = CosmosTimelineStore(
            CosmosSettings(endpoint=cosmos.endpoint, key=cosmos.key, create_if_missing=True)
        )
        worker = _worker_throughput(LocalQueue(bus_db, queue="bench-worker"), store)
        raw = _raw_cosmos_throughput(store)
        relayed = _relay_throughput(orders_db, LocalQueue(bus_db, queue="bench-relay"))
    print(f"event pipeline ({EVENTS} OrderPlaced events)")
    print(f"  worker, local queue -> handler -> Cosmos stand-in   {worker:8.0f} events/s")
    print(f"  raw azure-cosmos upserts of the same 3 documents    {raw:8.0f} events/s")
    print(f"  ratio: the worker reaches {worker / raw:.1%} of the raw write loop")
    print(f"  outbox relay, outbox -> local queue                 {relayed:8.0f} events/s")
