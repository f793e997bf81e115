"""orders' repository: the SQL of carts, orders, the outbox and idempotency keys (always
parameterized), reading and writing the domain's objects. Callers own the transaction."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from functions.orders.domain import CartLine, Order, OrderItem, RecordedKey

# --- carts -----------------------------------------------------------------------------------


def lock_cart(conn: psycopg.Connection, user_id: str) -> None:
    """Create the user's cart row if needed and lock it until the transaction ends.

    Every cart write and every checkout takes this lock first, so concurrent requests of one
    user are serialised and none can lose another's update."""
    conn.execute(
        "INSERT INTO carts (user_id) VALUES (%s) ON CONFLICT (user_id) DO NOTHING", (user_id,)
    )
    conn.execute("SELECT 1 FROM carts WHERE user_id = %s FOR UPDATE", (user_id,))


def cart_lines(conn: psycopg.Connection, user_id: str) -> list[CartLine]:
    with conn.cursor(row_factory=class_row(CartLine)) as cur:
        cur.execute(
            "SELECT product_id, quantity FROM cart_items WHERE user_id = %s "
            "ORDER BY added_at, product_id",
            (user_id,),
        )
        return cur.fetchall()


def set_quantity(conn: psycopg.Connection, user_id: str, product_id: str, quantity: int) -> None:
    conn.execute(
        "INSERT INTO cart_items (user_id, product_id, quantity) VALUES (%s, %s, %s) "
        "ON CONFLICT (user_id, product_id) DO UPDATE SET quantity = EXCLUDED.quantity",
        (user_id, product_id, quantity),
    )
    conn.execute("UPDATE carts SET updated_at = now() WHERE user_id = %s", (user_id,))


def remove_item(conn: psycopg.Connection, user_id: str, product_id: str) -> None:
    conn.execute(
        "DELETE FROM cart_items WHERE user_id = %s AND product_id = %s", (user_id, product_id)
    )
    conn.execute("UPDATE carts SET updated_at = now() WHERE user_id = %s", (user_id,))


def clear_cart(conn: psycopg.Connection, user_id: str) -> None:
    conn.execute("DELETE FROM cart_items WHERE user_id = %s", (user_id,))


# --- orders ----------------------------------------------------------------------------------


def insert_order(
    conn: psycopg.Connection,
    order_id: UUID,
    user_id: str,
    currency: str,
    total: Decimal,
    created_at: datetime,
    items: list[OrderItem],
) -> None:
    conn.execute(
        "INSERT INTO orders (id, user_id, status, currency, total, created_at) "
        "VALUES (%s, %s, 'placed', %s, %s, %s)",
        (order_id, user_id, currency, total, created_at),
    )
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO order_items (order_id, product_id, name, unit_price, quantity) "
            "VALUES (%s, %s, %s, %s, %s)",
            [(order_id, i.product_id, i.name, i.unit_price, i.quantity) for i in items],
        )


_ORDER_COLUMNS = (
    "o.id, o.user_id, o.status, o.currency, o.total, o.created_at, "
    "(SELECT coalesce(sum(quantity), 0) FROM order_items i WHERE i.order_id = o.id)::int "
    "AS item_count"
)


def get_order(
    conn: psycopg.Connection, user_id: str, order_id: UUID
) -> tuple[Order, list[OrderItem]] | None:
    """The user's order and its items; None when it does not exist or is someone else's."""
    with conn.cursor(row_factory=class_row(Order)) as cur:
        cur.execute(
            f"SELECT {_ORDER_COLUMNS} FROM orders o WHERE o.id = %s AND o.user_id = %s",
            (order_id, user_id),
        )
        order = cur.fetchone()
    if order is None:
        return None
    with conn.cursor(row_factory=class_row(OrderItem)) as cur:
        cur.execute(
            "SELECT product_id, name, unit_price, quantity FROM order_items "
            "WHERE order_id = %s ORDER BY product_id",
            (order_id,),
        )
        return order, cur.fetchall()


def orders_placed(
    conn: psycopg.Connection, order_ids: list[UUID], since: datetime | None
) -> list[tuple[Order, list[OrderItem]]]:
    """Any user's orders with their items (an operator's view): those in `order_ids`, and
    those placed at or after `since`; oldest first."""
    with conn.cursor(row_factory=class_row(Order)) as cur:
        cur.execute(
            f"SELECT {_ORDER_COLUMNS} FROM orders o WHERE o.id = ANY(%s) "
            "OR (%s::timestamptz IS NOT NULL AND o.created_at >= %s) ORDER BY o.created_at, o.id",
            (order_ids, since, since),
        )
        orders = cur.fetchall()
    with conn.cursor(row_factory=class_row(_ItemOf)) as cur:
        cur.execute(
            "SELECT order_id, product_id, name, unit_price, quantity FROM order_items "
            "WHERE order_id = ANY(%s) ORDER BY product_id",
            ([o.id for o in orders],),
        )
        items: dict[UUID, list[OrderItem]] = {}
        for row in cur.fetchall():
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


def list_orders(
    conn: psycopg.Connection, user_id: str, limit: int, before: tuple[datetime, UUID] | None
) -> list[Order]:
    """The user's orders, newest first, strictly after the keyset position `before`."""
    with conn.cursor(row_factory=class_row(Order)) as cur:
        if before is None:
            cur.execute(
                f"SELECT {_ORDER_COLUMNS} FROM orders o WHERE o.user_id = %s "
                "ORDER BY o.created_at DESC, o.id DESC LIMIT %s",
                (user_id, limit),
            )
        else:
            cur.execute(
                f"SELECT {_ORDER_COLUMNS} FROM orders o WHERE o.user_id = %s "
                "AND (o.created_at, o.id) < (%s, %s) "
                "ORDER BY o.created_at DESC, o.id DESC LIMIT %s",
                (user_id, before[0], before[1], limit),
            )
        return cur.fetchall()


# --- outbox and idempotency ------------------------------------------------------------------


def insert_outbox(
    conn: psycopg.Connection,
    event_id: UUID,
    event_type: str,
    order_id: UUID,
    payload: dict,
    trace_context: dict[str, str],
) -> None:
    conn.execute(
        "INSERT INTO outbox (event_id, event_type, order_id, payload, trace_context) "
        "VALUES (%s, %s, %s, %s, %s)",
        (event_id, event_type, order_id, Jsonb(payload), Jsonb(trace_context)),
    )


def find_idempotency_key(conn: psycopg.Connection, user_id: str, key: str) -> RecordedKey | None:
    """The cart fingerprint and order recorded for this user's key, if any."""
    row = conn.execute(
        "SELECT cart_fingerprint, order_id FROM idempotency_keys WHERE user_id = %s AND key = %s",
        (user_id, key),
    ).fetchone()
    return RecordedKey(cart_fingerprint=row[0], order_id=row[1]) if row else None


def save_idempotency_key(
    conn: psycopg.Connection, user_id: str, key: str, fingerprint: str, order_id: UUID
) -> None:
    conn.execute(
        "INSERT INTO idempotency_keys (user_id, key, cart_fingerprint, order_id) "
        "VALUES (%s, %s, %s, %s)",
        (user_id, key, fingerprint, order_id),
    )
