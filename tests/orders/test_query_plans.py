"""Each hot statement of orders uses its index on large tables (issue 17, "cost as the data
grows"): a shopper with 10k orders, carts at the item cap, an outbox with 100k published rows.
A dropped or unusable index fails here, not in a benchmark. Plans, never timings."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from dev.postgres.launcher import fresh_database
from functions.orders import history, relay, repository
from functions.orders.domain import CartLine, CatalogProduct, new_order
from functions.shared import migrations
from functions.shared.events import OutgoingMessage
from tests.conftest import ORDERS_MIGRATIONS
from tests.support.query_plans import (
    OneAsyncConnection,
    OneConnection,
    assert_indexed,
    one,
    recorded_async,
    recording,
)

HEAVY = "heavy-shopper"
BACKLOG = 5000
NOW = datetime(2026, 1, 2, tzinfo=UTC)


@pytest.fixture(scope="module")
def big_orders(postgres_admin_url: str) -> Iterator[str]:
    """20k orders (10k of one shopper) with 2 items each, 100k published outbox rows (all
    within the retention period) and a backlog of 5000 unpublished ones (a bus outage), 2000
    carts of 50 items, 20k idempotency keys; analyzed, as autovacuum would have."""
    with fresh_database(postgres_admin_url, "test_query_plans_orders") as url:
        migrations.upgrade(url, ORDERS_MIGRATIONS)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO orders (id, user_id, status, currency, total, created_at) "
                "SELECT gen_random_uuid(), CASE WHEN n <= 10000 THEN %s ELSE 'user-' || n %% 500 "
                "END, 'placed', 'EUR', 10.30, now() - n * interval '20 seconds' "
                "FROM generate_series(1, 20000) AS n",
                (HEAVY,),
            )
            conn.execute(
                "INSERT INTO order_items (order_id, product_id, name, unit_price, quantity) "
                "SELECT id, p, p, 5.15, 1 FROM orders, unnest(ARRAY['a-one', 'b-two']) AS p"
            )
            conn.execute(
                "INSERT INTO outbox (event_id, event_type, order_id, payload, created_at, "
                "published_at, attempts) SELECT gen_random_uuid(), 'OrderPlaced', id, '{}', "
                "created_at, created_at + interval '1 second', 1 "
                "FROM orders, generate_series(1, 5)"
            )
            conn.execute(
                "INSERT INTO idempotency_keys (user_id, key, cart_fingerprint, order_id) "
                "SELECT user_id, 'key-' || id, 'x', id FROM orders"
            )
            conn.execute(
                "INSERT INTO carts (user_id) SELECT 'cart-' || n FROM generate_series(1, 2000) n"
            )
            conn.execute(
                "INSERT INTO cart_items (user_id, product_id, quantity) "
                "SELECT 'cart-' || u, 'p-' || i, 1 "
                "FROM generate_series(1, 2000) u, generate_series(1, 50) i"
            )
            pending_rows(url, BACKLOG)
            conn.execute("VACUUM ANALYZE")
        yield url


class Sink:
    def publish(self, message: OutgoingMessage) -> None:
        pass

    def close(self) -> None:
        pass


def pending_rows(url: str, count: int) -> list[uuid.UUID]:
    """Unpublished outbox rows of `count` existing orders; returns those orders' ids."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "INSERT INTO outbox (event_id, event_type, order_id, payload) "
            "SELECT gen_random_uuid(), 'OrderPlaced', id, '{}' FROM orders "
            "ORDER BY random() LIMIT %s RETURNING order_id",
            (count,),
        ).fetchall()
    return [r[0] for r in rows]


def test_order_history_pages_use_the_shoppers_index(big_orders: str):
    async def two_pages(conn: psycopg.AsyncConnection) -> None:
        db = OneAsyncConnection(conn)
        first = await history.list_orders(db, HEAVY, 21, None)
        await history.list_orders(db, HEAVY, 21, (first[-1].created_at, first[-1].id))

    [page, cursor_page] = recorded_async(big_orders, two_pages)
    with psycopg.connect(big_orders, autocommit=True) as conn:
        for statement in (page, cursor_page):
            assert_indexed(conn, statement, "orders_by_user_newest", "orders", in_order=True)
            assert_indexed(conn, statement, "order_items_pkey", "order_items")


def test_one_order_is_read_by_its_keys(big_orders: str):
    async def one_order(conn: psycopg.AsyncConnection) -> None:
        db = OneAsyncConnection(conn)
        [order] = await history.list_orders(db, HEAVY, 1, None)
        await history.get_order(db, HEAVY, order.id)

    recorded = recorded_async(big_orders, one_order)
    statement = one(
        recorded, "SELECT o.id, o.user_id, o.status, o.currency, o.total, o.created_at, i."
    )
    with psycopg.connect(big_orders, autocommit=True) as conn:
        assert_indexed(conn, statement, "orders_pkey", "orders")
        assert_indexed(conn, statement, "order_items_pkey", "order_items")


def test_a_cart_and_its_idempotency_key_are_read_by_their_keys(big_orders: str):
    async def cart_reads(conn: psycopg.AsyncConnection) -> None:
        lines, _ = await repository.cart_and_key(conn, "cart-7", "some-key")
        assert len(lines) == 50
        await repository.cart_lines(conn, "cart-8")

    both, alone = recorded_async(big_orders, cart_reads)
    with psycopg.connect(big_orders, autocommit=True) as conn:
        assert_indexed(conn, both, "cart_items_pkey", "cart_items")
        assert_indexed(conn, both, "idempotency_keys_pkey", "idempotency_keys")
        assert_indexed(conn, alone, "cart_items_pkey", "cart_items")


def test_the_checkouts_write_checks_the_cart_and_the_key_by_their_keys(big_orders: str):
    """The checkout's one-round-trip transaction: the lock takes the cart row by its key, and
    the write reads the cart (50 lines) and the key it is conditional on by theirs, empties the
    cart and stamps it by the same keys (repository.PLACE_ORDER)."""
    lines = [CartLine(f"p-{n}", 1) for n in range(1, 51)]
    products = {
        line.product_id: CatalogProduct(line.product_id, line.product_id, Decimal("1.00"), "EUR")
        for line in lines
    }

    async def checkout_write(conn: psycopg.AsyncConnection) -> None:
        new = new_order(uuid.uuid4(), uuid.uuid4(), "cart-9", lines, products, "EUR", NOW)
        async with repository.transaction(conn):
            await repository.lock_cart_for_checkout(conn, "cart-9")
            sent = await repository.place_order(conn, "cart-9", lines, new, {}, "a-key", "x")
        assert await sent.read() is not None  # the cart was the one priced: the order is placed

    lock, write = recorded_async(big_orders, checkout_write)
    with psycopg.connect(big_orders, autocommit=True) as conn:
        assert_indexed(conn, lock, "carts_pkey", "carts")
        assert_indexed(conn, write, "cart_items_pkey", "cart_items")
        assert_indexed(conn, write, "idempotency_keys_pkey", "idempotency_keys")
        assert_indexed(conn, write, "carts_pkey", "carts")


def test_the_sweep_claims_and_marks_on_the_indexes_of_pending_rows(big_orders: str):
    with recording(big_orders) as conn:
        result = relay.publish_due(OneConnection(conn), Sink(), batch_size=100)
        assert result.published == 100
        assert_indexed(conn, one(conn.recorded, relay.CLAIM_DUE), "outbox_due", "outbox")
        assert_indexed(conn, one(conn.recorded, relay.MARK_PUBLISHED), "outbox_pkey", "outbox")


def test_the_publish_after_checkout_claims_on_the_index_of_pending_rows_by_order(big_orders: str):
    [order_id] = pending_rows(big_orders, 1)
    with recording(big_orders) as conn:
        assert relay.publish_due(OneConnection(conn), Sink(), order_id=order_id).published >= 1
        claim = one(conn.recorded, relay.CLAIM_DUE_OF_ORDER)
        assert_indexed(conn, claim, "outbox_pending_by_order", "outbox")


def test_the_prune_finds_expired_rows_on_the_index_of_published_rows(big_orders: str):
    with recording(big_orders) as conn:
        assert relay.prune(OneConnection(conn), timedelta(days=7)) == 0
        assert_indexed(conn, one(conn.recorded, relay.PRUNE), "outbox_published", "outbox")
