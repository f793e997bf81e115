"""Checkout: price the cart in one catalog call, then write the order, its items, the
`OrderPlaced` outbox row and the emptied cart in ONE Postgres transaction.

The outbox row commits or rolls back with the order — there is no moment at which an order
exists without its event, or an event without its order. The catalog call happens before the
transaction (no lock is held across the network); the cart is then locked and compared with
what was priced, so a concurrent change or checkout is detected instead of overwritten.
"""

import hashlib
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
from opentelemetry import propagate

from functions.orders import store
from functions.orders.cart import lookup
from functions.orders.catalog_client import CatalogClient, CatalogProduct
from functions.orders.models import OrderItemView, OrderView, Timeline
from functions.shared.db import Database
from functions.shared.events import ORDER_PLACED, OrderPlaced, OrderPlacedItem
from functions.shared.money import to_cents
from functions.shared.problems import Problem

_ATTEMPTS = 2  # re-price once if the cart changed between pricing and locking


def fingerprint(lines: list[store.CartLine]) -> str:
    canonical = ";".join(
        f"{line.product_id}:{line.quantity}" for line in sorted(lines, key=lambda x: x.product_id)
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def load_order(conn: psycopg.Connection, user_id: str, order_id: uuid.UUID) -> OrderView | None:
    found = store.get_order(conn, user_id, order_id)
    if found is None:
        return None
    order, items = found
    return OrderView(
        id=order.id,
        status=order.status,
        currency=order.currency,
        total=order.total,
        created_at=order.created_at,
        items=[
            OrderItemView(
                product_id=i.product_id,
                name=i.name,
                unit_price=i.unit_price,
                quantity=i.quantity,
                line_total=to_cents(i.unit_price * i.quantity),
            )
            for i in items
        ],
        timeline=Timeline(available=False),
    )


def _replay(
    conn: psycopg.Connection, user_id: str, key: str | None, lines: list[store.CartLine]
) -> OrderView | None:
    """The order an earlier checkout with this Idempotency-Key created, if this is its retry."""
    if key is None:
        return None
    recorded = store.find_idempotency_key(conn, user_id, key)
    if recorded is None:
        return None
    recorded_fingerprint, order_id = recorded
    if lines and fingerprint(lines) != recorded_fingerprint:
        raise Problem(
            422,
            "This Idempotency-Key was already used for a checkout of a different cart.",
            title="Idempotency-Key reused",
            type_="urn:tinyshop:idempotency-key-reused",
        )
    return load_order(conn, user_id, order_id)


def _empty_cart() -> Problem:
    return Problem(409, "Your cart is empty.", title="Empty cart", type_="urn:tinyshop:empty-cart")


def _check_priceable(lines: list[store.CartLine], products: dict[str, CatalogProduct]) -> str:
    """The one currency of the cart; refuses vanished products and mixed currencies."""
    missing = [line.product_id for line in lines if line.product_id not in products]
    if missing:
        raise Problem(
            422,
            f"These products are no longer sold: {', '.join(missing)}. Remove them and retry.",
            title="Unknown product",
            type_="urn:tinyshop:unknown-product",
            productIds=missing,
        )
    currencies = {products[line.product_id].currency for line in lines}
    if len(currencies) != 1:
        raise Problem(
            422,
            "The cart mixes currencies.",
            title="Mixed currencies",
            type_="urn:tinyshop:mixed-currency",
        )
    return currencies.pop()


def checkout(
    db: Database, catalog: CatalogClient, user_id: str, idempotency_key: str | None
) -> tuple[OrderView, bool]:
    """Place an order from the user's cart. Returns (order, replayed)."""
    for _ in range(_ATTEMPTS):
        with db.connection() as conn:
            lines = store.cart_lines(conn, user_id)
            replayed = _replay(conn, user_id, idempotency_key, lines)
        if replayed is not None:
            return replayed, True
        if not lines:
            raise _empty_cart()
        products = lookup(catalog, [line.product_id for line in lines])
        currency = _check_priceable(lines, products)

        with db.connection() as conn, conn.transaction():
            store.lock_cart(conn, user_id)
            current = store.cart_lines(conn, user_id)
            replayed = _replay(conn, user_id, idempotency_key, current)
            if replayed is not None:
                return replayed, True  # a concurrent request with the same key won
            if not current:
                raise _empty_cart()  # a concurrent checkout took it
            if fingerprint(current) != fingerprint(lines):
                continue  # changed since pricing: price again
            order_id = _place(conn, user_id, idempotency_key, current, products, currency)
            order = load_order(conn, user_id, order_id)
            assert order is not None
            return order, False
    raise Problem(
        409,
        "The cart kept changing during checkout. Review it and retry.",
        title="Cart changed",
        type_="urn:tinyshop:cart-changed",
    )


def _place(
    conn: psycopg.Connection,
    user_id: str,
    idempotency_key: str | None,
    lines: list[store.CartLine],
    products: dict[str, CatalogProduct],
    currency: str,
) -> uuid.UUID:
    order_id = uuid.uuid4()
    now = datetime.now(UTC)
    items = [
        store.OrderItemRow(
            product_id=line.product_id,
            name=products[line.product_id].name,
            unit_price=products[line.product_id].price,
            quantity=line.quantity,
        )
        for line in lines
    ]
    total = to_cents(sum((i.unit_price * i.quantity for i in items), start=Decimal(0)))
    event = OrderPlaced(
        event_id=uuid.uuid4(),
        occurred_at=now,
        order_id=order_id,
        user_id=user_id,
        currency=currency,
        total=total,
        items=[
            OrderPlacedItem(
                product_id=i.product_id, name=i.name, unit_price=i.unit_price, quantity=i.quantity
            )
            for i in items
        ],
    )
    trace_context: dict[str, str] = {}
    propagate.inject(trace_context)  # W3C traceparent/tracestate of this request

    store.insert_order(conn, order_id, user_id, currency, total, now, items)
    store.insert_outbox(
        conn, event.event_id, ORDER_PLACED, order_id, event.to_json_dict(), trace_context
    )
    if idempotency_key is not None:
        store.save_idempotency_key(conn, user_id, idempotency_key, fingerprint(lines), order_id)
    store.clear_cart(conn, user_id)
    return order_id
