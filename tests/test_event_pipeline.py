"""The event pipeline end to end over real HTTP: checkout → outbox → local queue → worker →
Cosmos DB stand-in → the order's timeline. Duplicates, poison messages, a Cosmos outage and
parallel consumers included."""

import json
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import psycopg
import pytest

from dev.cosmos import launcher as local_cosmos
from dev.cosmos.launcher import LocalCosmos
from dev.issuer import Issuer
from dev.serve import serve
from functions.shared.eventbus.local_queue import LocalQueue, LocalQueuePublisher
from functions.shared.events import OutgoingMessage
from functions.shared.timeline_store import CosmosTimelineStore
from functions.worker import local_consumer
from functions.worker.settings import WorkerSettings
from tests.conftest import cosmos_settings, orders_settings

TIMELINE = ["OrderPlaced", "ConfirmationEmailSent", "OrderConfirmed"]


@dataclass
class Pipeline:
    orders_db: str
    orders: httpx.Client
    queue: LocalQueue
    cosmos: LocalCosmos

    def checkout(self, product_id: str = "knock-box") -> dict:
        self.orders.post("/cart/items", json={"productId": product_id, "quantity": 1})
        response = self.orders.post("/checkout")
        assert response.status_code == 201, response.text
        return response.json()

    def timeline(self, order_id: str) -> dict:
        response = self.orders.get(f"/orders/{order_id}")
        assert response.status_code == 200, response.text
        return response.json()["timeline"]

    def wait_for_timeline(self, order_id: str, seconds: float = 15) -> list[str]:
        deadline = time.monotonic() + seconds
        while True:
            timeline = self.timeline(order_id)
            types = [e["type"] for e in timeline["events"]]
            if types == TIMELINE or time.monotonic() > deadline:
                return types
            time.sleep(0.1)


@contextmanager
def consumers(queue: LocalQueue, store: CosmosTimelineStore, count: int = 1) -> Iterator[None]:
    stop = threading.Event()
    settings = WorkerSettings(idle_seconds=0.05, retry_pause_seconds=0.2, batch_size=5)
    threads = [
        threading.Thread(target=local_consumer.run, args=(queue, store, settings, stop))
        for _ in range(count)
    ]
    for t in threads:
        t.start()
    try:
        yield
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)


@contextmanager
def pipeline(
    orders_db: str,
    catalog_url: str,
    issuer: Issuer,
    bus_db: str,
    cosmos: LocalCosmos,
    workers: int = 1,
    max_delivery_count: int = 10,
) -> Iterator[Pipeline]:
    from functions.orders.api import create_app

    queue = LocalQueue(
        bus_db,
        queue=f"q-{uuid.uuid4().hex[:8]}",
        lock_seconds=5,
        max_delivery_count=max_delivery_count,
    )
    app = create_app(
        orders_settings(orders_db, catalog_url, issuer.url),
        publisher=LocalQueuePublisher(queue),
        events=CosmosTimelineStore(cosmos_settings(cosmos, retry_total=0)),
    )
    worker_store = CosmosTimelineStore(cosmos_settings(cosmos, retry_total=0, timeout=1))
    headers = {"Authorization": f"Bearer {issuer.token(f'shopper-{uuid.uuid4().hex[:8]}')}"}
    with (
        serve(app) as url,
        httpx.Client(base_url=url, headers=headers, timeout=20) as client,
        consumers(queue, worker_store, workers),
    ):
        yield Pipeline(orders_db, client, queue, cosmos)


@pytest.fixture
def shop(
    orders_db: str, catalog_url: str, issuer: Issuer, bus_db: str, cosmos: LocalCosmos
) -> Iterator[Pipeline]:
    with pipeline(orders_db, catalog_url, issuer, bus_db, cosmos) as p:
        yield p


def test_a_checkouts_timeline_fills_in_within_seconds(shop: Pipeline):
    order = shop.checkout()

    assert shop.wait_for_timeline(order["id"]) == TIMELINE
    timeline = shop.timeline(order["id"])
    assert timeline["available"] is True
    placed = timeline["events"][0]
    assert placed["data"]["total"] == order["total"]
    assert shop.queue.depth() == 0


def test_a_duplicate_delivery_adds_no_documents(shop: Pipeline):
    order = shop.checkout()
    assert shop.wait_for_timeline(order["id"]) == TIMELINE
    before = shop.timeline(order["id"])["events"]
    with psycopg.connect(shop.orders_db) as conn:
        [(payload,)] = conn.execute(
            "SELECT payload FROM outbox WHERE order_id = %s", (order["id"],)
        ).fetchall()
    # The same event delivered again, as after a lost lock (a new delivery, the same body).
    shop.queue.send(OutgoingMessage(str(uuid.uuid4()), "OrderPlaced", json.dumps(payload).encode()))
    deadline = time.monotonic() + 10
    while shop.queue.depth() and time.monotonic() < deadline:
        time.sleep(0.05)

    assert shop.queue.depth() == 0
    assert shop.timeline(order["id"])["events"] == before


def test_a_poison_message_is_dead_lettered_and_others_keep_flowing(shop: Pipeline):
    shop.queue.send(OutgoingMessage(str(uuid.uuid4()), "OrderPlaced", b'{"version": 2}'))
    order = shop.checkout()

    assert shop.wait_for_timeline(order["id"]) == TIMELINE
    [dead] = shop.queue.dead_letters()
    assert dead.reason == "UnsupportedVersion"
    assert "version 2" in dead.description
    assert dead.delivery_count == 1  # never retried: it can never succeed


def test_with_cosmos_down_longer_than_the_retry_window_messages_wait_and_none_is_lost(
    orders_db: str, catalog_url: str, issuer: Issuer, bus_db: str
):
    """Max delivery count 2 and 0.2 s pauses: an outage of 3 s outlasts any retry budget, so
    only a consumer that pauses instead of burning deliveries loses nothing."""
    with (
        local_cosmos.running(port=0) as cosmos,
        pipeline(orders_db, catalog_url, issuer, bus_db, cosmos, max_delivery_count=2) as shop,
    ):
        cosmos.stop()
        orders = [shop.checkout(pid) for pid in ("knock-box", "moka-pot-6", "tamper-58")]

        unavailable = shop.timeline(orders[0]["id"])  # the order page does not fail
        time.sleep(3)  # the worker meets the outage again and again
        cosmos.start()

        timelines = [shop.wait_for_timeline(o["id"], seconds=30) for o in orders]

    assert unavailable == {"available": False, "events": []}
    assert timelines == [TIMELINE] * 3
    assert shop.queue.dead_letters() == []  # none lost


def test_two_consumers_in_parallel_process_each_event_once(
    orders_db: str,
    catalog_url: str,
    issuer: Issuer,
    bus_db: str,
    cosmos: LocalCosmos,
    caplog: pytest.LogCaptureFixture,
):
    with (
        caplog.at_level(logging.INFO, logger="tinyshop.worker"),
        pipeline(orders_db, catalog_url, issuer, bus_db, cosmos, workers=2) as shop,
    ):
        orders = [
            shop.checkout(pid) for pid in ("knock-box", "moka-pot-6", "tamper-58", "french-press")
        ] * 1
        timelines = [shop.wait_for_timeline(o["id"]) for o in orders]

    assert timelines == [TIMELINE] * len(orders)
    emails = Counter(
        r.order_id for r in caplog.records if r.getMessage() == "confirmation e-mail sent"
    )
    assert emails == Counter({o["id"]: 1 for o in orders})
