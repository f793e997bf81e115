"""Rebuild order timelines from the source of truth: re-publish orders' `OrderPlaced`.

After a Cosmos incident (or a local stand-in that lost its data) the orders database still
holds every order. For each order asked for, a new `OrderPlaced` outbox row is written from the
order as it was placed (its own time, items and total) and relayed like any other, so a bus
outage delays it but cannot lose it. The event gets a NEW event id: the bus's duplicate
detection (message id = event id) would drop a message that reuses the original one within its
window. The worker's documents have deterministic ids (`{orderId}:{eventType}`), so what is
still in the timeline is left as it is and only what is missing is written again — including
the confirmation e-mail when its document was lost (a real mail provider call passes
`{orderId}:ConfirmationEmailSent` as its idempotency key, see functions/worker/handler.py).

Run it where the orders app's settings are: `python -m functions.orders republish <order-id>...`
or `--since <ISO time>`; in Azure as a one-off Job of the orders image.
"""

import asyncio
import logging
import uuid
from datetime import datetime
from uuid import UUID

from functions.orders import domain, relay, repository
from functions.orders.settings import OrdersSettings
from functions.shared.db import AsyncDatabase
from functions.shared.eventbus import EventPublisher
from functions.shared.events import ORDER_PLACED

_log = logging.getLogger("tinyshop.orders.republish")


class UnknownOrders(Exception):
    def __init__(self, order_ids: list[UUID]) -> None:
        super().__init__("no such orders: " + ", ".join(str(i) for i in order_ids))
        self.order_ids = order_ids


def republish(
    settings: OrdersSettings,
    publisher: EventPublisher,
    order_ids: list[UUID],
    since: datetime | None = None,
) -> int:
    """Queue a fresh `OrderPlaced` for each order (all or none), publish them, return how many.
    Raises `UnknownOrders` when an id is not an order."""
    queued = asyncio.run(_queue(settings, order_ids, since))
    relay_db = relay.relay_database(settings)  # the relay's pool, as in the app
    try:
        for order_id in queued:
            result = relay.publish_due(relay_db, publisher, order_id=order_id)
            if result.failed:
                _log.warning("%s left to the outbox sweep: the bus is unavailable", order_id)
    finally:
        relay_db.close()
    return len(queued)


async def _queue(
    settings: OrdersSettings, order_ids: list[UUID], since: datetime | None
) -> list[UUID]:
    """The outbox rows of the new events, in one transaction (the repository is async)."""
    db = AsyncDatabase(settings, "orders-republish")
    try:
        async with db.connection() as conn, conn.transaction():
            found = await repository.orders_placed(conn, order_ids, since)
            missing = sorted(set(order_ids) - {order.id for order, _ in found}, key=str)
            if missing:
                raise UnknownOrders(missing)
            for order, items in found:
                event = domain.order_placed(
                    uuid.uuid4(),
                    order.id,
                    order.user_id,
                    order.currency,
                    order.total,
                    order.created_at,
                    items,
                )
                await repository.insert_outbox(
                    conn, event.event_id, ORDER_PLACED, order.id, event.to_json_dict(), {}
                )
    finally:
        await db.close()
    return [order.id for order, _ in found]
