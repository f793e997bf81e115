"""The outbox relay: events leave right after checkout; a bus outage delays them, never loses
them; published rows are marked, then pruned after the retention period."""

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
import psycopg
import pytest

from dev.issuer import Issuer
from dev.serve import serve
from functions.orders import relay
from functions.shared.db import Database
from functions.shared.eventbus import PublishError
from functions.shared.eventbus.local_queue import LocalQueue, LocalQueuePublisher
from functions.shared.events import OutgoingMessage
from tests.conftest import orders_settings


class DownBus:
    """A bus that refuses everything (what the publisher sees during an outage)."""

    def publish(self, message: OutgoingMessage) -> None:
        raise PublishError("bus unavailable")

    def close(self) -> None:
        pass


def outbox(orders_db: str, order_id: str) -> tuple:
    with psycopg.connect(orders_db) as conn:
        return conn.execute(
            "SELECT published_at, attempts, last_error, next_attempt_at > now() "
            "FROM outbox WHERE order_id = %s",
            (order_id,),
        ).fetchone()


def wait_for(predicate, seconds: float = 10):
    deadline = time.monotonic() + seconds
    while not (result := predicate()):
        if time.monotonic() > deadline:
            return result
        time.sleep(0.05)
    return result


def make_due(orders_db: str, order_ids: list[str]) -> None:
    """End the backoff of these orders' rows, instead of waiting for it."""
    with psycopg.connect(orders_db, autocommit=True) as conn:
        conn.execute(
            "UPDATE outbox SET next_attempt_at = now() WHERE order_id = ANY(%s::uuid[])",
            (order_ids,),
        )


@contextmanager
def relay_database(orders_db: str) -> Iterator[Database]:
    db = Database(orders_settings(orders_db, "http://unused", "http://unused"), "test-relay")
    try:
        yield db
    finally:
        db.close()


def checkout(orders: httpx.Client, product_id: str = "knock-box") -> dict:
    orders.post("/cart/items", json={"productId": product_id, "quantity": 1})
    response = orders.post("/checkout")
    assert response.status_code == 201, response.text
    return response.json()


def drain(queue: LocalQueue) -> list:
    received = queue.receive(100)
    for m in received:
        queue.complete(m)
    return received


def test_the_event_is_published_right_after_checkout(
    orders: httpx.Client, orders_db: str, session_queue: LocalQueue
):
    order = checkout(orders)

    assert wait_for(lambda: outbox(orders_db, order["id"])[0] is not None)
    published = [m for m in drain(session_queue) if json.loads(m.body)["orderId"] == order["id"]]
    assert len(published) == 1
    [message] = published
    assert message.subject == "OrderPlaced"
    assert message.message_id == json.loads(message.body)["eventId"]
    assert message.application_properties["traceparent"].startswith("00-")


@pytest.fixture
def orders_with_bus_down(
    orders_db: str, catalog_url: str, issuer: Issuer, user: str
) -> httpx.Client:
    from functions.orders.api import create_app

    app = create_app(orders_settings(orders_db, catalog_url, issuer.url), publisher=DownBus())
    headers = {"Authorization": f"Bearer {issuer.token(user)}"}
    with serve(app) as url, httpx.Client(base_url=url, headers=headers, timeout=20) as client:
        yield client


def test_with_the_bus_down_the_order_is_created_and_the_sweep_publishes_it_later(
    orders_with_bus_down: httpx.Client, orders_db: str, bus_db: str
):
    order = checkout(orders_with_bus_down)
    assert wait_for(lambda: outbox(orders_db, order["id"])[1] == 1)  # the post-commit try
    published_at, attempts, last_error, waiting = outbox(orders_db, order["id"])
    assert (published_at, attempts, last_error, waiting) == (None, 1, "bus unavailable", True)
    assert orders_with_bus_down.get(f"/orders/{order['id']}").status_code == 200

    queue = LocalQueue(bus_db, queue=f"q-{uuid.uuid4().hex[:8]}")
    with relay_database(orders_db) as db:
        with psycopg.connect(orders_db, autocommit=True) as conn:  # skip the backoff wait
            conn.execute(
                "UPDATE outbox SET next_attempt_at = now() WHERE order_id = %s", (order["id"],)
            )
        result = relay.sweep(db, LocalQueuePublisher(queue), retention=timedelta(days=7))

    assert result.published >= 1
    assert outbox(orders_db, order["id"])[0] is not None
    assert order["id"] in [json.loads(m.body)["orderId"] for m in drain(queue)]


def test_failed_rows_back_off_exponentially():
    assert [relay.backoff(n).total_seconds() for n in (1, 2, 3, 8, 9, 20)] == [
        2,
        4,
        8,
        256,
        300,
        300,
    ]


def test_a_row_in_backoff_is_not_published_before_its_time(
    orders_with_bus_down: httpx.Client, orders_db: str, bus_db: str
):
    order = checkout(orders_with_bus_down)
    assert wait_for(lambda: outbox(orders_db, order["id"])[1] == 1)
    queue = LocalQueue(bus_db, queue=f"q-{uuid.uuid4().hex[:8]}")
    with relay_database(orders_db) as db:
        relay.publish_due(db, LocalQueuePublisher(queue), order_id=uuid.UUID(order["id"]))
    assert outbox(orders_db, order["id"])[0] is None
    assert queue.depth() == 0


def test_concurrent_relays_publish_each_row_once(
    orders_with_bus_down: httpx.Client, orders_db: str, bus_db: str
):
    products = ("knock-box", "moka-pot-6", "tamper-58")
    ids = [checkout(orders_with_bus_down, pid)["id"] for pid in products]
    assert wait_for(lambda: all(outbox(orders_db, i)[1] == 1 for i in ids))
    make_due(orders_db, ids)

    sent: list[str] = []
    lock = threading.Lock()

    class CountingBus:
        def publish(self, message: OutgoingMessage) -> None:
            time.sleep(0.05)  # hold the row locks while "publishing"
            with lock:
                sent.append(json.loads(message.body)["orderId"])

        def close(self) -> None:
            pass

    with relay_database(orders_db) as db:
        threads = [
            threading.Thread(target=relay.publish_due, args=(db, CountingBus())) for _ in "1234"
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    assert sorted(i for i in sent if i in ids) == sorted(ids)


def test_published_rows_are_kept_until_the_retention_period_ends(
    orders: httpx.Client, orders_db: str
):
    order = checkout(orders)
    assert wait_for(lambda: outbox(orders_db, order["id"])[0] is not None)
    with relay_database(orders_db) as db:
        relay.prune(db, timedelta(days=7))
        assert outbox(orders_db, order["id"]) is not None  # marked, not deleted
        with psycopg.connect(orders_db, autocommit=True) as conn:
            conn.execute(
                "UPDATE outbox SET published_at = now() - interval '8 days' WHERE order_id = %s",
                (order["id"],),
            )
        assert relay.prune(db, timedelta(days=7)) >= 1
    assert outbox(orders_db, order["id"]) is None


def test_a_publish_handed_over_after_the_relay_stopped_is_left_to_the_sweep(
    caplog: pytest.LogCaptureFixture,
):
    # Checkout hands the publish over with call_soon; the app may stop before it runs.
    after_commit = relay.PublishAfterCommit(db=None, publisher=DownBus(), slots=1)  # type: ignore[arg-type]
    after_commit.close()

    with caplog.at_level(logging.INFO, logger="tinyshop.orders.relay"):
        after_commit.submit(uuid.uuid4())
        after_commit.submit(uuid.uuid4())  # the first one gave its slot back

    assert caplog.text.count("left to the sweep: the relay has stopped") == 2
