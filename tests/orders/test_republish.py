"""Rebuilding lost timelines from the source of truth: `python -m functions.orders republish`
re-publishes orders' `OrderPlaced` from the orders database, and the idempotent worker
rebuilds their timelines in the Cosmos stand-in. Run as the operator would: a subprocess."""

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from dev.cosmos.launcher import LocalCosmos
from dev.issuer import Issuer
from dev.serve import serve
from functions.shared.eventbus.local_queue import LocalQueue, LocalQueuePublisher
from functions.shared.timeline_store import CosmosTimelineStore
from functions.worker import local_consumer
from functions.worker.settings import WorkerSettings
from tests.conftest import REPO, cosmos_settings, orders_settings

TIMELINE = ["OrderPlaced", "ConfirmationEmailSent", "OrderConfirmed"]


@pytest.fixture
def bus(bus_db: str) -> Iterator[LocalQueue]:
    queue = LocalQueue(bus_db, queue=f"q-{uuid.uuid4().hex[:8]}", lock_seconds=5)
    yield queue
    queue.close()


@pytest.fixture
def store(cosmos: LocalCosmos) -> CosmosTimelineStore:
    return CosmosTimelineStore(cosmos_settings(cosmos, retry_total=0))


@pytest.fixture
def worker(bus: LocalQueue, store: CosmosTimelineStore) -> Iterator[None]:
    stop = threading.Event()
    settings = WorkerSettings(idle_seconds=0.05, retry_pause_seconds=0.1)
    thread = threading.Thread(target=local_consumer.run, args=(bus, store, settings, stop))
    thread.start()
    yield
    stop.set()
    thread.join(timeout=10)


@pytest.fixture
def shop(
    orders_db: str, catalog_url: str, issuer: Issuer, bus: LocalQueue, worker: None
) -> Iterator[httpx.Client]:
    from functions.orders.api import create_app

    app = create_app(
        orders_settings(orders_db, catalog_url, issuer.url), publisher=LocalQueuePublisher(bus)
    )
    headers = {"Authorization": f"Bearer {issuer.token(f'shopper-{uuid.uuid4().hex[:8]}')}"}
    with serve(app) as url, httpx.Client(base_url=url, headers=headers, timeout=20) as client:
        yield client


def checkout(shop: httpx.Client, product_id: str) -> str:
    shop.post("/cart/items", json={"productId": product_id, "quantity": 1})
    response = shop.post("/checkout")
    assert response.status_code == 201, response.text
    return response.json()["id"]


def timeline(store: CosmosTimelineStore, order_id: str, seconds: float = 15) -> list[str]:
    deadline = time.monotonic() + seconds
    while True:
        types = [e["type"] for e in store.events(order_id)]
        if types == TIMELINE or time.monotonic() > deadline:
            return types
        time.sleep(0.1)


def lose_timeline(store: CosmosTimelineStore, order_id: str) -> None:
    """What a Cosmos incident (or a restarted in-memory stand-in) leaves: no documents."""
    for event_type in TIMELINE:
        store.container.delete_item(f"{order_id}:{event_type}", partition_key=order_id)
    assert store.events(order_id) == []


def republish(orders_db: str, bus: LocalQueue, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {
        "ORDERS_DATABASE_URL": orders_db,
        "EVENT_BUS": "local",
        "LOCAL_BUS_DATABASE_URL": bus.database_url,
        "EVENT_BUS_QUEUE": bus.queue,
    }
    return subprocess.run(
        [sys.executable, "-m", "functions.orders", "republish", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_republishing_orders_rebuilds_their_lost_timelines(
    shop: httpx.Client, store: CosmosTimelineStore, orders_db: str, bus: LocalQueue
):
    orders = [checkout(shop, "knock-box"), checkout(shop, "moka-pot-6")]
    assert [timeline(store, o) for o in orders] == [TIMELINE, TIMELINE]
    before = {o: store.events(o) for o in orders}
    for order_id in orders:
        lose_timeline(store, order_id)

    done = republish(orders_db, bus, *orders)

    assert done.returncode == 0, done.stderr
    assert "2 orders re-published" in done.stdout
    assert [timeline(store, o) for o in orders] == [TIMELINE, TIMELINE]
    # the order's own time, from the orders database
    assert [store.events(o)[0]["occurredAt"] for o in orders] == [
        before[o][0]["occurredAt"] for o in orders
    ]


def test_republishing_an_intact_timeline_changes_nothing(
    shop: httpx.Client, store: CosmosTimelineStore, orders_db: str, bus: LocalQueue
):
    since = datetime.now(UTC).isoformat()
    order_id = checkout(shop, "tamper-58")
    assert timeline(store, order_id) == TIMELINE
    before = store.events(order_id)

    done = republish(orders_db, bus, "--since", since)

    assert done.returncode == 0, done.stderr
    assert "1 orders re-published" in done.stdout
    deadline = time.monotonic() + 10
    while bus.depth() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert bus.depth() == 0
    assert store.events(order_id) == before


def test_republishing_an_unknown_order_fails_and_says_which(orders_db: str, bus: LocalQueue):
    unknown = str(uuid.uuid4())

    done = republish(orders_db, bus, unknown)

    assert done.returncode != 0
    assert unknown in done.stderr
    assert bus.depth() == 0
