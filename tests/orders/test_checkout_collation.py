"""The checkout's write places an order only if the cart it locked is the one priced, compared
as one string built in SQL (repository.PLACE_ORDER) and in Python (domain.content). Both order
the product ids by code point, whatever the database's collation: Azure's default `en_US`
ignores '-' at first, so there 'ab-c' sorts after 'abb', in Python before it. Without
`COLLATE "C"` in the SQL, such a cart could never be checked out."""

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import pytest

from functions.orders import repository
from functions.orders.domain import CartLine, CatalogProduct, new_order
from tests.conftest import ORDERS_MIGRATIONS
from tests.support.collation import punctuation_blind_database

USER = "collation-shopper"


@pytest.fixture(scope="module")
def punctuation_blind_orders(postgres_admin_url: str) -> Iterator[str]:
    with punctuation_blind_database(postgres_admin_url, "orders_icu", ORDERS_MIGRATIONS) as url:
        yield url


def test_a_cart_whose_ids_the_database_orders_otherwise_is_still_placed(
    punctuation_blind_orders: str,
):
    lines = [CartLine("abb", 2), CartLine("ab-c", 1)]
    with psycopg.connect(punctuation_blind_orders, autocommit=True) as conn:
        # The premise: this database orders these ids unlike code points.
        assert conn.execute("SELECT 'abb' < 'ab-c'").fetchone() == (True,)
        conn.execute("INSERT INTO carts (user_id) VALUES (%s)", (USER,))
        for line in lines:
            conn.execute(
                "INSERT INTO cart_items (user_id, product_id, quantity) VALUES (%s, %s, %s)",
                (USER, line.product_id, line.quantity),
            )
    products = {
        line.product_id: CatalogProduct(line.product_id, line.product_id, Decimal("1.00"), "EUR")
        for line in lines
    }
    new = new_order(uuid.uuid4(), uuid.uuid4(), USER, lines, products, "EUR", datetime.now(UTC))

    async def checkout_write() -> object:
        async with await psycopg.AsyncConnection.connect(
            punctuation_blind_orders, autocommit=True
        ) as conn:
            async with repository.transaction(conn):
                await repository.lock_cart_for_checkout(conn, USER)
                sent = await repository.place_order(conn, USER, lines, new, {}, None, None)
            return await sent.read()

    assert asyncio.run(checkout_write()) is not None  # placed: the cart is the one priced
