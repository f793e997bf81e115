"""Order fulfilment as a Durable Functions orchestration: the ONE definition of the steps.

`fulfil_order` runs under the Functions host (orchestration trigger, instance id = order id,
history in the MSSQL task hub) and, unchanged, under the local driver (local_driver.py) in
`make dev` and the tests. It is a generator replayed from its history, so it must stay
deterministic: no I/O, no clocks (`context.current_utc_datetime` instead), no randomness; every
side effect is an activity (activities.py).

The steps, each an activity retried by the host (`call_activity_with_retry`):
1. send the confirmation e-mail: the activity records `OrderPlaced` on the order's timeline and
   CLAIMS the e-mail (creates its `ConfirmationEmailSent` document) in one write — a Cosmos
   transactional batch, all or nothing — and only then sends. Both documents precede the send;
   the claim is made by the activity that sends, so an activity run twice (they run at least
   once) finds the claim and sends nothing: at most one e-mail per order, whatever is replayed or
   redelivered. (Issue 16 named three steps, "record OrderPlaced → send → record
   ConfirmationEmailSent"; recording after the send would send a second e-mail whenever the
   worker dies between the two, and a separate `OrderPlaced` step costs a Cosmos request and,
   under the host, a whole activity round trip through the task hub — issue 17.)
2. record `OrderConfirmed`.
Every document id is `{orderId}:{eventType}` (timeline_store.py), so a replay, a duplicate start
or a restart after a failure writes nothing twice.

A step that still fails after its retries fails the orchestration with the step and the reason
(`FulfilmentFailed`): operators see it as `Failed` with that reason (docs/operations.md,
"Fulfilment orchestrations"), and `tinyshop_orchestrations_failed_total{step}` counts it for the
alert. The count and the log are emitted only when not replaying, so once per failure.

Retry options (the Python SDK exposes a fixed interval and an attempt count; the host waits a
durable timer between attempts, so a retry survives a restart or a scale-in): every 30 s, 30
attempts (~15 min), for both steps: each starts with a timeline write, and that is the Cosmos
outage the previous Service Bus redelivery budget rode out (10 deliveries x 90 s); a mail
provider refusing for that long fails the step too.
"""

import logging
from collections.abc import Generator
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df
from opentelemetry import metrics

from functions.shared.events import OrderPlaced

CONFIRMATION_EMAIL_SENT = "ConfirmationEmailSent"
ORDER_CONFIRMED = "OrderConfirmed"

# Function names: the host's registry (function.py) and the chart's allow-list use these.
ORCHESTRATOR = "fulfil_order"
RECORD_TIMELINE_EVENT = "record_timeline_event"
SEND_CONFIRMATION_EMAIL = "send_confirmation_email"

STORE_RETRY = df.RetryOptions(
    first_retry_interval_in_milliseconds=30_000, max_number_of_attempts=30
)

STEPS = (CONFIRMATION_EMAIL_SENT, ORDER_CONFIRMED)  # a failure is counted by its step
_log = logging.getLogger("tinyshop.worker")
# Prometheus: tinyshop_orchestrations_failed_total{step} (alert TinyShopOrchestrationsFailed,
# charts/tinyshop/rules); the worker's own instrument (like
# orders/outbox_metrics.py), from the API's global meter like functions/shared/metrics.py.
failures = metrics.get_meter("tinyshop").create_counter(
    "tinyshop.orchestrations.failed",
    unit="{orchestration}",
    description="Fulfilment orchestrations failed after a step's retries, by step.",
)
_zeroed = False


class FulfilmentFailed(Exception):
    """A step failed after all its retries: the orchestration ends `Failed` with this message."""

    def __init__(self, step: str, reason: str) -> None:
        super().__init__(f"step {step} failed after its retries: {reason}")
        self.step = step
        self.reason = reason


def start_failure_counts() -> None:
    """Every step's series at 0 from the process's first message or orchestration, long before
    any failure (retries take minutes): `increase()` cannot see a series that is born at 1."""
    global _zeroed
    if not _zeroed:
        _zeroed = True
        for name in STEPS:
            failures.add(0, {"step": name})


def count_failure(step: str) -> None:
    start_failure_counts()
    failures.add(1, {"step": step})


def fulfilment_input(event: OrderPlaced) -> dict[str, Any]:
    """The orchestration's input: what the steps need of a validated `OrderPlaced` (JSON)."""
    return {
        "orderId": str(event.order_id),
        "eventId": str(event.event_id),
        "userId": event.user_id,
        "occurredAt": event.occurred_at.isoformat(),
        "total": f"{event.total:.2f}",
        "currency": event.currency,
        "itemCount": sum(i.quantity for i in event.items),
    }


def _now(context: df.DurableOrchestrationContext) -> str:
    """The replay-safe clock (the episode's start in the history), as an aware ISO time."""
    now: datetime = context.current_utc_datetime
    return (now if now.tzinfo else now.replace(tzinfo=UTC)).isoformat()


def fulfil_order(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    order: dict[str, Any] = context.get_input()
    order_id = order["orderId"]
    step = CONFIRMATION_EMAIL_SENT
    try:
        sent = yield context.call_activity_with_retry(
            SEND_CONFIRMATION_EMAIL,
            STORE_RETRY,
            {
                "orderId": order_id,
                "placed": {  # recorded with the claim, before the send
                    "occurredAt": order["occurredAt"],
                    "data": {
                        "eventId": order["eventId"],
                        "total": order["total"],
                        "currency": order["currency"],
                        "itemCount": order["itemCount"],
                    },
                },
                "occurredAt": _now(context),
                "to": order["userId"],
                "subject": f"Your TinyShop order {order_id[:8]}",
                "total": order["total"],
            },
        )
        step = ORDER_CONFIRMED
        yield context.call_activity_with_retry(
            RECORD_TIMELINE_EVENT,
            STORE_RETRY,
            {
                "orderId": order_id,
                "type": ORDER_CONFIRMED,
                "occurredAt": _now(context),
                "data": {},
                "placedAt": order["occurredAt"],  # for the pipeline-lag histogram
            },
        )
    except Exception as exc:
        failed = FulfilmentFailed(step, str(exc).strip())
        if not context.is_replaying:
            count_failure(step)
            _log.error(
                "fulfilment of order %s failed: %s",
                order_id,
                failed,
                extra={"order_id": order_id, "fulfilment_step": step},
            )
        raise failed from exc
    return {"orderId": order_id, "emailSent": bool(sent)}
