"""Checkout: price the cart in one catalog call, then write the order, its items, the
`OrderPlaced` outbox row and the emptied cart in ONE Postgres transaction.

The outbox row commits or rolls back with the order — there is no moment at which an order
exists without its event, or an event without its order. The catalog call happens before the
transaction (no lock is held across the network); the cart is then locked and compared with
what was priced in the write itself, so a concurrent change or checkout is detected instead
of overwritten, and the transaction costs one round trip. The decisions (replay, refuse, price
again, place) are the domain's rules (domain.py).
"""

import uuid
from datetime import UTC, datetime

import psycopg
from opentelemetry import propagate, trace

from functions.orders import domain, repository
from functions.orders.catalog_client import CatalogClient
from functions.shared import metrics
from functions.shared.db import AsyncDatabase


async def _load(
    conn: psycopg.AsyncConnection, user_id: str, order_id: uuid.UUID
) -> domain.OrderWithItems:
    found = await repository.get_order(conn, user_id, order_id)
    assert found is not None, "an idempotency key always references an order"
    return found


async def checkout(
    db: AsyncDatabase, catalog: CatalogClient, user_id: str, idempotency_key: str | None
) -> tuple[domain.OrderWithItems, bool]:
    """Place an order from the user's cart. Returns (order with its items, replayed).

    Counted as `tinyshop_checkouts_total` by outcome (placed, replayed, refused with the
    refusal's error class as reason); the request's span gets the order id (never the user's)."""
    try:
        placed, replayed = await _checkout(db, catalog, user_id, idempotency_key)
    except Exception as exc:
        metrics.checkout_outcome("refused", type(exc).__name__)
        raise
    metrics.checkout_outcome("replayed" if replayed else "placed")
    trace.get_current_span().set_attribute("tinyshop.order.id", str(placed[0].id))
    return placed, replayed


async def _checkout(
    db: AsyncDatabase, catalog: CatalogClient, user_id: str, idempotency_key: str | None
) -> tuple[domain.OrderWithItems, bool]:
    """Round trips: the cart (and the key) read before pricing, then the transaction's one —
    lock, conditional write and commit, pipelined (repository.transaction, PLACE_ORDER).

    Each attempt reads and decides, then writes if the cart is still the one priced; after the
    last attempt wrote nothing, one more read still decides (a concurrent checkout may have
    emptied the cart, or placed this key's order) before the cart counts as changing."""
    for attempt in range(domain.CHECKOUT_ATTEMPTS + 1):
        async with db.connection() as conn:
            lines, recorded = await repository.cart_and_key(conn, user_id, idempotency_key)
            replay = domain.replayed_order(recorded, lines)
            if replay is not None:
                return await _load(conn, user_id, replay), True
        if not lines:
            raise domain.EmptyCart()
        if attempt == domain.CHECKOUT_ATTEMPTS:
            break
        products = await catalog.products([line.product_id for line in lines])
        currency = domain.cart_currency(lines, products)
        new = domain.new_order(
            uuid.uuid4(), uuid.uuid4(), user_id, lines, products, currency, datetime.now(UTC)
        )
        async with db.connection() as conn, repository.transaction(conn):
            await repository.lock_cart_for_checkout(conn, user_id)
            sent = await _write(conn, user_id, idempotency_key, lines, new)
        placed = await sent.read()  # the rows as stored, arrived with the COMMIT
        if placed is not None:
            return placed, False
        # Nothing written: since the read, the cart changed (price it again), a concurrent
        # checkout emptied it (EmptyCart) or one with this key won (replay) — read and decide.
    raise domain.CartKeptChanging()


async def _write(
    conn: psycopg.AsyncConnection,
    user_id: str,
    idempotency_key: str | None,
    priced: list[domain.CartLine],
    new: domain.NewOrder,
) -> repository.SentOrder:
    """Everything a placed order changes, inside the caller's transaction (cart row locked),
    if the cart is still `priced`."""
    trace_context: dict[str, str] = {}
    propagate.inject(trace_context)  # W3C traceparent/tracestate of this request
    fingerprint = domain.fingerprint(priced) if idempotency_key is not None else None
    return await repository.place_order(
        conn, user_id, priced, new, trace_context, idempotency_key, fingerprint
    )
