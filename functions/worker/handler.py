"""What the worker does with one `OrderPlaced` message, independent of how it was delivered
(the Functions Service Bus trigger in Azure, the local queue consumer in `make dev`).

The event is validated first: a body that is not a version-1 `OrderPlaced` can never succeed,
so it raises `PoisonMessage` (dead-letter it with the reason) instead of being retried. Then
three documents are written with deterministic ids — `OrderPlaced`, the simulated confirmation
e-mail `ConfirmationEmailSent` (claimed before it is "sent"), `OrderConfirmed` — each at most
once, so a redelivered message changes nothing and the e-mail is not sent twice. Cosmos outages
raise `TimelineStoreUnavailable`: the message is retried later.
"""

import logging
from datetime import UTC, datetime

from opentelemetry import trace

from functions.shared import metrics
from functions.shared.events import ORDER_PLACED, parse_order_placed
from functions.shared.pseudonym import pseudonym
from functions.shared.timeline_store import TimelineStore

CONFIRMATION_EMAIL_SENT = "ConfirmationEmailSent"
ORDER_CONFIRMED = "OrderConfirmed"
_log = logging.getLogger("tinyshop.worker")


def handle(subject: str | None, body: bytes | str, store: TimelineStore) -> None:
    event = parse_order_placed(subject, body)
    order_id = str(event.order_id)
    trace.get_current_span().set_attribute("tinyshop.order.id", order_id)
    store.add(
        order_id,
        ORDER_PLACED,
        event.occurred_at,
        {
            "eventId": str(event.event_id),
            "total": f"{event.total:.2f}",
            "currency": event.currency,
            "itemCount": sum(i.quantity for i in event.items),
        },
    )
    # Claim the e-mail first: the document's deterministic id makes this create succeed once,
    # so parallel or repeated deliveries cannot send a second e-mail (at most once; a real mail
    # provider call would also pass `{orderId}:ConfirmationEmailSent` as its idempotency key).
    claimed = store.add(
        order_id,
        CONFIRMATION_EMAIL_SENT,
        datetime.now(UTC),
        {"to": event.user_id, "subject": f"Your TinyShop order {order_id[:8]}"},
    )
    if claimed:
        # The simulated e-mail: a structured log line stands in for the mail provider call.
        _log.info(
            "confirmation e-mail sent",
            extra={
                "order_id": order_id,
                "user_ref": pseudonym(event.user_id),
                "total": str(event.total),
            },
        )
    confirmed_at = datetime.now(UTC)
    if store.add(order_id, ORDER_CONFIRMED, confirmed_at, {}):  # once per order, not per delivery
        metrics.order_confirmed(confirmed_at - event.occurred_at)
