"""orders' repository: the SQL of carts, orders, the outbox and idempotency keys (always
parameterized), reading and writing the domain's objects. Callers own the transaction.

Every function is a coroutine on a `psycopg.AsyncConnection`: the routes are async and await
the database on the event loop, with no hop to a thread pool and back (issue 17).

Round trips are what a request waits for, so writes inside `transaction()` are pipelined: a
function that only writes sends its statement and returns; one that reads waits for its result
(one round trip for everything sent so far). Functions named `send_*` send a read and return
its cursor, to be read after the transaction's last round trip (its COMMIT) — a cart update
costs two round trips in its transaction and the checkout one (its write is conditional in SQL:
PLACE_ORDER), whatever their statement count.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from functions.orders.domain import CartLine, NewOrder, Order, OrderItem, RecordedKey, content
from functions.shared.events import ORDER_PLACED


@asynccontextmanager
async def transaction(conn: psycopg.AsyncConnection) -> AsyncIterator[psycopg.AsyncConnection]:
    """One transaction in pipeline mode on an autocommit connection: BEGIN travels with the
    first statements, COMMIT with the last ones, and the server runs them in order.

    psycopg's own `conn.transaction()` inside a pipeline syncs at its start and its end (two
    more round trips), so BEGIN and COMMIT are sent here as statements
    (https://www.psycopg.org/psycopg3/docs/advanced/pipeline.html). Any error in the block or
    from the server rolls the transaction back, like `conn.transaction()`.
    """
    done = False
    try:
        async with conn.pipeline():
            await conn.execute("BEGIN")
            try:
                yield conn
            except BaseException:
                with suppress(psycopg.Error):  # a broken connection: the finally below
                    await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")
        done = True
    finally:
        # A statement failed on the server: the pipeline was aborted and the transaction is
        # left failed (or the rollback above was never sent). End it before the pool takes the
        # connection back.
        if (
            not done
            and not conn.closed
            and conn.info.transaction_status
            in (
                TransactionStatus.INTRANS,
                TransactionStatus.INERROR,
            )
        ):
            await conn.rollback()


# --- carts -----------------------------------------------------------------------------------


async def lock_cart(conn: psycopg.AsyncConnection, user_id: str) -> None:
    """Create the user's cart row if needed, stamp it changed, and lock it until the
    transaction ends — one statement: ON CONFLICT DO UPDATE locks the existing row as an
    UPDATE does (https://www.postgresql.org/docs/15/sql-insert.html#SQL-ON-CONFLICT).

    Every cart write and every checkout takes this lock first, so concurrent requests of one
    user are serialised and none can lose another's update. The stamp commits only with a
    change (a refused write rolls back)."""
    await conn.execute(
        "INSERT INTO carts (user_id) VALUES (%s) "
        "ON CONFLICT (user_id) DO UPDATE SET updated_at = now()",
        (user_id,),
    )


async def send_cart_lines(
    conn: psycopg.AsyncConnection, user_id: str
) -> psycopg.AsyncCursor[CartLine]:
    """Send the read of the cart's lines; the cursor gives them once the result is in."""
    return await conn.cursor(row_factory=class_row(CartLine)).execute(
        "SELECT product_id, quantity FROM cart_items WHERE user_id = %s "
        "ORDER BY added_at, product_id",
        (user_id,),
    )


async def cart_lines(conn: psycopg.AsyncConnection, user_id: str) -> list[CartLine]:
    return await (await send_cart_lines(conn, user_id)).fetchall()


async def set_quantity(
    conn: psycopg.AsyncConnection, user_id: str, product_id: str, quantity: int
) -> None:
    await conn.execute(
        "INSERT INTO cart_items (user_id, product_id, quantity) VALUES (%s, %s, %s) "
        "ON CONFLICT (user_id, product_id) DO UPDATE SET quantity = EXCLUDED.quantity",
        (user_id, product_id, quantity),
    )


async def remove_item(conn: psycopg.AsyncConnection, user_id: str, product_id: str) -> None:
    await conn.execute(
        "DELETE FROM cart_items WHERE user_id = %s AND product_id = %s", (user_id, product_id)
    )


# --- orders ----------------------------------------------------------------------------------


def _order_with_items(rows: list[tuple]) -> tuple[Order, list[OrderItem]]:
    """An order and its items from rows of the order's 6 columns followed by an item's 4 (NULL
    for an order without items), items in product order."""
    items = [OrderItem(*row[6:]) for row in rows if row[6] is not None]
    return Order(*rows[0][:6], item_count=sum(i.quantity for i in items)), items


async def lock_cart_for_checkout(conn: psycopg.AsyncConnection, user_id: str) -> None:
    """Lock the user's cart row until the transaction ends, as `lock_cart` does for a cart
    write (the two conflict), without stamping it: the checkout's write stamps it only when it
    places the order (PLACE_ORDER). A user without a cart row has nothing to check out."""
    await conn.execute("SELECT 1 FROM carts WHERE user_id = %s FOR UPDATE", (user_id,))


# One statement for everything a placed order writes, written only if the cart is still the one
# that was priced and the key is still unused. Sent right after `lock_cart_for_checkout` in the
# same pipelined transaction, so the checkout's transaction is ONE round trip: under READ
# COMMITTED each statement takes its snapshot when it starts, i.e. after the lock above is held,
# and every cart write takes that lock first, so `priced` sees the cart as it stays until COMMIT
# (https://www.postgresql.org/docs/15/transaction-iso.html#XACT-READ-COMMITTED). When `priced`
# is empty nothing is written and no row comes back: the caller reads the cart and key again and
# decides again (a changed cart is priced again, an emptied one is EmptyCart, a used key replays).
# `content` is the cart as domain.content writes it: ids in code point order (COLLATE "C", not
# the database's collation: en_US orders '-' differently), `id:quantity` joined by ';'.
# Each data-modifying WITH runs once and to completion whether or not the SELECT reads it, all in
# the statement's snapshot (https://www.postgresql.org/docs/15/queries-with.html#QUERIES-WITH-MODIFYING);
# the foreign keys of the items, the outbox row and the key to the order are checked at the
# statement's end, when the order row exists. One statement instead of five: under 16 shoppers
# ~15 % less Postgres CPU per checkout cycle (docs/performance.md, "Checkout").
PLACE_ORDER = """
WITH priced AS (
    SELECT 1 FROM (
        SELECT coalesce(string_agg(product_id || ':' || quantity, ';'
                                   ORDER BY product_id COLLATE "C"), '') AS content
        FROM cart_items WHERE user_id = %(user_id)s
    ) AS cart
    WHERE cart.content = %(content)s
      AND NOT EXISTS (
          SELECT 1 FROM idempotency_keys WHERE user_id = %(user_id)s AND key = %(key)s::text
      )
), placed AS (
    INSERT INTO orders (id, user_id, status, currency, total, created_at)
    SELECT %(order_id)s, %(user_id)s, 'placed', %(currency)s, %(total)s, %(created_at)s
    FROM priced
    RETURNING id, user_id, status, currency, total, created_at
), items AS (
    INSERT INTO order_items (order_id, product_id, name, unit_price, quantity)
    SELECT %(order_id)s, line.* FROM priced, unnest(
        %(product_ids)s::text[], %(names)s::text[], %(prices)s::numeric[], %(quantities)s::int[]
    ) AS line
    RETURNING product_id, name, unit_price, quantity
), event AS (
    INSERT INTO outbox (event_id, event_type, order_id, payload, trace_context)
    SELECT %(event_id)s, %(event_type)s, %(order_id)s, %(payload)s, %(trace_context)s
    FROM priced
), key AS (
    INSERT INTO idempotency_keys (user_id, key, cart_fingerprint, order_id)
    SELECT %(user_id)s, %(key)s, %(fingerprint)s, %(order_id)s
    FROM priced WHERE %(key)s::text IS NOT NULL
), emptied AS (
    DELETE FROM cart_items WHERE user_id = %(user_id)s AND EXISTS (SELECT 1 FROM priced)
), stamped AS (
    UPDATE carts SET updated_at = now()
    WHERE user_id = %(user_id)s AND EXISTS (SELECT 1 FROM priced)
)
SELECT p.id, p.user_id, p.status, p.currency, p.total, p.created_at,
       i.product_id, i.name, i.unit_price, i.quantity
FROM placed p CROSS JOIN items i ORDER BY i.product_id
"""


@dataclass(frozen=True)
class SentOrder:
    """An order sent in a pipelined transaction: the rows as stored, once it committed."""

    _rows: psycopg.AsyncCursor[tuple]

    async def read(self) -> tuple[Order, list[OrderItem]] | None:
        """The order and its items; None when the cart or the key had changed (nothing was
        written)."""
        rows = await self._rows.fetchall()
        return _order_with_items(rows) if rows else None


async def place_order(
    conn: psycopg.AsyncConnection,
    user_id: str,
    priced: list[CartLine],
    new: NewOrder,
    trace_context: dict[str, str],
    key: str | None,
    fingerprint: str | None,
) -> SentOrder:
    """Send the order, its items, its `OrderPlaced` outbox row (with the request's trace
    context), the idempotency key with the priced cart's fingerprint (when there is a key) and
    the emptied cart as one statement, inside the caller's transaction after
    `lock_cart_for_checkout`, written only if the cart still holds `priced` and the key is
    unused; the result reads the order and items back as stored (RETURNING), at no extra round
    trip."""
    event = new.event
    cur = await conn.execute(
        PLACE_ORDER,
        {
            "content": content(priced),
            "order_id": event.order_id,
            "user_id": user_id,
            "currency": event.currency,
            "total": new.total,
            "created_at": event.occurred_at,
            "product_ids": [i.product_id for i in new.items],
            "names": [i.name for i in new.items],
            "prices": [i.unit_price for i in new.items],
            "quantities": [i.quantity for i in new.items],
            "event_id": event.event_id,
            "event_type": ORDER_PLACED,
            "payload": Jsonb(event.to_json_dict()),
            "trace_context": Jsonb(trace_context),
            "key": key,
            "fingerprint": fingerprint,
        },
    )
    return SentOrder(cur)


_ORDER_COLUMNS = (
    "o.id, o.user_id, o.status, o.currency, o.total, o.created_at, "
    "(SELECT coalesce(sum(quantity), 0) FROM order_items i WHERE i.order_id = o.id)::int "
    "AS item_count"
)


async def get_order(
    conn: psycopg.AsyncConnection, user_id: str, order_id: UUID
) -> tuple[Order, list[OrderItem]] | None:
    """The user's order and its items; None when it does not exist or is someone else's.
    One statement (the order's columns repeat on each item row): one round trip."""
    cur = await conn.execute(
        "SELECT o.id, o.user_id, o.status, o.currency, o.total, o.created_at, "
        "i.product_id, i.name, i.unit_price, i.quantity "
        "FROM orders o LEFT JOIN order_items i ON i.order_id = o.id "
        "WHERE o.id = %s AND o.user_id = %s ORDER BY i.product_id",
        (order_id, user_id),
    )
    rows = await cur.fetchall()
    return _order_with_items(rows) if rows else None


async def orders_placed(
    conn: psycopg.AsyncConnection, order_ids: list[UUID], since: datetime | None
) -> list[tuple[Order, list[OrderItem]]]:
    """Any user's orders with their items (an operator's view): those in `order_ids`, and
    those placed at or after `since`; oldest first."""
    async with conn.cursor(row_factory=class_row(Order)) as cur:
        await cur.execute(
            f"SELECT {_ORDER_COLUMNS} FROM orders o WHERE o.id = ANY(%s) "
            "OR (%s::timestamptz IS NOT NULL AND o.created_at >= %s) ORDER BY o.created_at, o.id",
            (order_ids, since, since),
        )
        orders = await cur.fetchall()
    async with conn.cursor(row_factory=class_row(_ItemOf)) as cur:
        await cur.execute(
            "SELECT order_id, product_id, name, unit_price, quantity FROM order_items "
            "WHERE order_id = ANY(%s) ORDER BY product_id",
            ([o.id for o in orders],),
        )
        items: dict[UUID, list[OrderItem]] = {}
        for row in await cur.fetchall():
            items.setdefault(row.order_id, []).append(
                OrderItem(row.product_id, row.name, row.unit_price, row.quantity)
            )
    return [(o, items.get(o.id, [])) for o in orders]


@dataclass(frozen=True)
class _ItemOf:
    order_id: UUID
    product_id: str
    name: str
    unit_price: Decimal
    quantity: int


async def list_orders(
    conn: psycopg.AsyncConnection, user_id: str, limit: int, before: tuple[datetime, UUID] | None
) -> list[Order]:
    """The user's orders, newest first, strictly after the keyset position `before`."""
    async with conn.cursor(row_factory=class_row(Order)) as cur:
        if before is None:
            await cur.execute(
                f"SELECT {_ORDER_COLUMNS} FROM orders o WHERE o.user_id = %s "
                "ORDER BY o.created_at DESC, o.id DESC LIMIT %s",
                (user_id, limit),
            )
        else:
            await cur.execute(
                f"SELECT {_ORDER_COLUMNS} FROM orders o WHERE o.user_id = %s "
                "AND (o.created_at, o.id) < (%s, %s) "
                "ORDER BY o.created_at DESC, o.id DESC LIMIT %s",
                (user_id, before[0], before[1], limit),
            )
        return await cur.fetchall()


# --- outbox and idempotency ------------------------------------------------------------------


async def insert_outbox(
    conn: psycopg.AsyncConnection,
    event_id: UUID,
    event_type: str,
    order_id: UUID,
    payload: dict,
    trace_context: dict[str, str],
) -> None:
    await conn.execute(
        "INSERT INTO outbox (event_id, event_type, order_id, payload, trace_context) "
        "VALUES (%s, %s, %s, %s, %s)",
        (event_id, event_type, order_id, Jsonb(payload), Jsonb(trace_context)),
    )


async def cart_and_key(
    conn: psycopg.AsyncConnection, user_id: str, key: str | None
) -> tuple[list[CartLine], RecordedKey | None]:
    """The cart's lines and what this user's key recorded (None without a key, or when it is
    unused), in one statement: one round trip for checkout's read before pricing."""
    cur = await conn.execute(
        "SELECT c.product_id, c.quantity, k.cart_fingerprint, k.order_id "
        "FROM (SELECT 1) AS one "
        "LEFT JOIN idempotency_keys k ON k.user_id = %(user)s AND k.key = %(key)s "
        "LEFT JOIN cart_items c ON c.user_id = %(user)s "
        "ORDER BY c.added_at, c.product_id",
        {"user": user_id, "key": key},
    )
    rows = await cur.fetchall()
    lines = [CartLine(product_id, quantity) for product_id, quantity, *_ in rows if product_id]
    fingerprint, order_id = rows[0][2:]
    recorded = RecordedKey(fingerprint, order_id) if order_id is not None else None
    return lines, recorded
