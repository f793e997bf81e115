"""What one request costs in calls, counted exactly: round trips to the orders database (from
libpq's protocol trace, tests/orders/round_trips.py) and requests to catalog (issue 17's
targets: a checkout makes at most 8 round trips, a cart update calls catalog once).

Counts, never timings: the timings are `make bench`'s."""

import dataclasses
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import psycopg
import pytest
from psycopg.types.json import Jsonb

from dev.issuer import Issuer
from dev.postgres.launcher import fresh_database
from dev.serve import serve
from functions.orders import relay
from functions.orders.dependencies import get_dependencies
from functions.shared import migrations
from functions.shared.db import Database
from functions.shared.eventbus import PublishError
from functions.shared.eventbus.local_queue import LocalQueue, LocalQueuePublisher
from functions.shared.events import OutgoingMessage
from tests.conftest import ORDERS_MIGRATIONS, orders_settings
from tests.orders.round_trips import (
    CountingAsyncDatabase,
    CountingCatalog,
    CountingDatabase,
    Tally,
    counting_queue,
)

CHECKOUT_MAX_ROUND_TRIPS = 8  # what the raw SQL of the same transaction needs (issue 17)


@dataclass
class Counted:
    http: httpx.Client
    db: CountingAsyncDatabase
    catalog: CountingCatalog

    def reset(self) -> None:
        self.db.tally.reset()
        self.catalog.requests = 0


@pytest.fixture(scope="module")
def counted_app(orders_db: str, catalog_url: str, issuer: Issuer, bus_db: str) -> Iterator:
    from functions.orders.api import create_app

    settings = orders_settings(orders_db, catalog_url, issuer.url)
    queue = LocalQueue(bus_db, queue=f"rt-{uuid.uuid4().hex[:8]}")
    app = create_app(settings, publisher=LocalQueuePublisher(queue))
    db = CountingAsyncDatabase(app.state.dependencies.db)
    catalog = CountingCatalog(app.state.dependencies.catalog)
    counted = dataclasses.replace(app.state.dependencies, db=db)
    app.dependency_overrides[get_dependencies] = lambda: counted
    with serve(app) as url:
        yield url, db, catalog


@pytest.fixture
def counted(counted_app, issuer: Issuer, user: str) -> Iterator[Counted]:
    url, db, catalog = counted_app
    headers = {"Authorization": f"Bearer {issuer.token(user)}"}
    with httpx.Client(base_url=url, headers=headers, timeout=20) as http:
        yield Counted(http, db, catalog)


def put(counted: Counted, product_id: str, quantity: int) -> dict:
    response = counted.http.post(
        "/cart/items", json={"productId": product_id, "quantity": quantity}
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("key", [None, "rt-key-1"], ids=["no-key", "idempotency-key"])
def test_a_checkout_makes_at_most_8_round_trips_to_the_orders_database(
    counted: Counted, key: str | None
):
    put(counted, "french-press", 1)
    put(counted, "tea-infuser", 3)
    counted.reset()

    response = counted.http.post("/checkout", headers={"Idempotency-Key": key} if key else {})

    assert response.status_code == 201, response.text
    tally = counted.db.tally
    assert 0 < tally.round_trips <= CHECKOUT_MAX_ROUND_TRIPS, tally.sql
    assert counted.catalog.requests == 1


def test_a_replayed_checkout_makes_one_round_trip_and_no_catalog_call(counted: Counted):
    put(counted, "french-press", 1)
    first = counted.http.post("/checkout", headers={"Idempotency-Key": "rt-replay"})
    assert first.status_code == 201, first.text
    counted.reset()

    again = counted.http.post("/checkout", headers={"Idempotency-Key": "rt-replay"})

    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert counted.db.tally.round_trips <= 2, counted.db.tally.sql
    assert counted.catalog.requests == 0


@pytest.mark.parametrize(
    ("before", "change"),
    [
        ({}, ("french-press", 1)),  # a new cart
        ({"french-press": 1}, ("tea-infuser", 2)),  # another product
        ({"french-press": 1, "tea-infuser": 2}, ("tea-infuser", 5)),  # a new quantity
        ({"french-press": 1, "tea-infuser": 2}, ("tea-infuser", 0)),  # removed
    ],
    ids=["first-item", "new-product", "new-quantity", "remove"],
)
def test_a_cart_update_calls_catalog_exactly_once(
    counted: Counted, before: dict[str, int], change: tuple[str, int]
):
    for product_id, quantity in before.items():
        put(counted, product_id, quantity)
    counted.reset()

    cart = put(counted, *change)

    assert counted.catalog.requests == 1
    expected = {**before, change[0]: change[1]}
    assert {i["productId"]: i["quantity"] for i in cart["items"]} == {
        p: q for p, q in expected.items() if q
    }
    assert all(i["available"] for i in cart["items"])


def test_an_unknown_product_costs_one_catalog_call_and_writes_nothing(counted: Counted):
    put(counted, "french-press", 1)
    counted.reset()

    response = counted.http.post("/cart/items", json={"productId": "no-such-thing", "quantity": 1})

    assert response.status_code == 422, response.text
    assert counted.catalog.requests == 1
    assert not [s for s in counted.db.tally.sql if not s.startswith("SELECT")], counted.db.tally.sql
    assert [i["productId"] for i in counted.http.get("/cart").json()["items"]] == ["french-press"]


# --- the outbox relay ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def relay_db(postgres_admin_url: str) -> Iterator[str]:
    """An orders database of this module only: no other test's outbox rows come due in it."""
    with fresh_database(postgres_admin_url, "test_relay_round_trips") as url:
        migrations.upgrade(url, ORDERS_MIGRATIONS)
        yield url


def due_orders(orders_db: str, count: int) -> list[uuid.UUID]:
    """`count` orders with their due OrderPlaced outbox rows, as checkout writes them."""
    ids = [uuid.uuid4() for _ in range(count)]
    with psycopg.connect(orders_db, autocommit=True) as conn, conn.transaction():
        for order_id in ids:
            conn.execute(
                "INSERT INTO orders (id, user_id, status, currency, total) "
                "VALUES (%s, 'rt', 'placed', 'EUR', 1)",
                (order_id,),
            )
            conn.execute(
                "INSERT INTO outbox (event_id, event_type, order_id, payload) "
                "VALUES (%s, 'OrderPlaced', %s, %s)",
                (uuid.uuid4(), order_id, Jsonb({"orderId": str(order_id)})),
            )
    return ids


@pytest.fixture
def counted_relay(relay_db: str, bus_db: str) -> Iterator[tuple[CountingDatabase, Tally, str]]:
    db = Database(orders_settings(relay_db, "http://unused", "http://unused"), "rt-relay")
    queue = LocalQueue(bus_db, queue=f"rt-{uuid.uuid4().hex[:8]}")
    # Warm-up: the first send prunes the seen ids, and psycopg prepares a statement once it ran
    # `prepare_threshold` (5) times on a connection (one more round trip, once): both are
    # behind us after these.
    for _ in range(8):
        queue.send(OutgoingMessage.for_event(str(uuid.uuid4()), "Warm", {}, {}))
    yield CountingDatabase(db), counting_queue(queue), queue
    queue.close()
    db.close()


def test_publishing_one_order_after_checkout_costs_three_round_trips(counted_relay, relay_db):
    db, bus, queue = counted_relay
    [order_id] = due_orders(relay_db, 1)

    result = relay.publish_due(db, LocalQueuePublisher(queue), order_id=order_id)

    assert result == relay.RelayResult(published=1, failed=0)
    # claim + mark on the orders database, the send on the bus
    assert (db.tally.round_trips, bus.round_trips) == (2, 1), (db.tally.sql, bus.sql)


def test_a_sweep_costs_one_round_trip_per_event_plus_three(counted_relay, relay_db):
    db, bus, queue = counted_relay
    due_orders(relay_db, 5)

    result = relay.sweep(db, LocalQueuePublisher(queue), timedelta(days=7))

    assert result == relay.RelayResult(published=5, failed=0)
    # claim, mark and prune on the orders database; one send per event on the bus
    assert (db.tally.round_trips, bus.round_trips) == (3, 5), (db.tally.sql, bus.sql)


def test_a_batch_stopped_by_a_failure_marks_both_in_one_round_trip(counted_relay, relay_db):
    """What was published is marked published, the failing row backs off, the rest waits for
    its lease; one round trip for the marks."""
    db, _, _ = counted_relay
    ids = due_orders(relay_db, 3)
    sent: list[str] = []

    class FailsSecond:
        def publish(self, message: OutgoingMessage) -> None:
            if len(sent) == 1:
                raise PublishError("bus hiccup")
            sent.append(message.message_id)

        def close(self) -> None:
            pass

    for order_id in ids:  # only these orders' rows, in order
        with psycopg.connect(relay_db, autocommit=True) as conn:
            conn.execute(
                "UPDATE outbox SET created_at = clock_timestamp() WHERE order_id = %s", (order_id,)
            )
    result = relay.publish_due(db, FailsSecond())

    assert result == relay.RelayResult(published=1, failed=1)
    assert db.tally.round_trips == 2, db.tally.sql  # the claim, then both marks
    with psycopg.connect(relay_db) as conn:
        rows = conn.execute(
            "SELECT published_at IS NOT NULL, attempts, last_error, next_attempt_at > now() "
            "FROM outbox WHERE order_id = ANY(%s) ORDER BY created_at",
            (ids,),
        ).fetchall()
    assert rows == [(True, 1, None, True), (False, 1, "bus hiccup", True), (False, 0, None, True)]
