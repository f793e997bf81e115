"""What the worker does with one `OrderPlaced` message outside the Functions host (the local
consumer in `make dev`, the tests, the benchmarks): validate it, then fulfil the order by running
the `fulfil_order` orchestration and its activities through the local driver — the same steps
the host runs as a durable orchestration (fulfilment.py; under the host, function.py validates
and starts the orchestration instead).

The event is validated first: a body that is not a version-1 `OrderPlaced` can never succeed,
so it raises `PoisonMessage` (dead-letter it with the reason) instead of being retried. The
activities write the timeline with deterministic ids — `OrderPlaced`, the simulated
confirmation e-mail `ConfirmationEmailSent` (claimed before it is "sent"), `OrderConfirmed` —
each at most once, so a redelivered message changes nothing and the e-mail is not sent twice.
Locally only the failures an activity declares retryable (`MailNotSent`: the mail provider
refused, nothing went out) go through the orchestration's retry options; if they persist,
`FulfilmentError` (dead-letter the message with the reason). Every other exception reaches the
caller at once, so the local queue's guarantees stay as they were: a Cosmos outage
(`TimelineStoreUnavailable`) holds the message, a bug abandons it with a growing backoff until
the max delivery count. Under the host the durable retry options apply to every activity
failure instead (fulfilment.py), and the task hub, not the message, carries the retries.
"""

import threading
from collections.abc import Callable

from opentelemetry import trace

from functions.shared.events import parse_order_placed
from functions.shared.timeline_store import TimelineStore
from functions.worker.activities import LogMailer, Mailer, MailNotSent, record_timeline_event
from functions.worker.activities import send_confirmation_email as send_email
from functions.worker.fulfilment import (
    ORCHESTRATOR,
    RECORD_TIMELINE_EVENT,
    SEND_CONFIRMATION_EMAIL,
    fulfil_order,
    fulfilment_input,
    start_failure_counts,
)
from functions.worker.local_driver import LocalOrchestration, OrchestrationFailed

FULFILMENT_FAILED = "FulfilmentFailed"  # the dead-letter reason of a failed fulfilment


class FulfilmentError(Exception):
    """The local fulfilment failed after its retries; `reason` is the orchestration's error."""

    def __init__(self, order_id: str, reason: str) -> None:
        super().__init__(f"fulfilment of order {order_id} failed: {reason}")
        self.reason = reason


def _sleep(seconds: float) -> None:
    threading.Event().wait(seconds)


def handle(
    subject: str | None,
    body: bytes | str,
    store: TimelineStore,
    *,
    mailer: Mailer | None = None,
    wait: Callable[[float], None] = _sleep,
) -> dict:
    """Validate the message and fulfil its order; the orchestration's output."""
    start_failure_counts()
    event = parse_order_placed(subject, body)
    order = fulfilment_input(event)
    trace.get_current_span().set_attribute("tinyshop.order.id", order["orderId"])
    sender = mailer or LogMailer()
    orchestration = LocalOrchestration(
        fulfil_order,
        {
            RECORD_TIMELINE_EVENT: lambda step: record_timeline_event(step, store),
            SEND_CONFIRMATION_EMAIL: lambda step: send_email(step, store, sender),
        },
        wait=wait,
        task_failures=(MailNotSent,),
    )
    try:
        return orchestration.run(ORCHESTRATOR, order["orderId"], order)
    except OrchestrationFailed as exc:
        raise FulfilmentError(order["orderId"], exc.reason) from exc
