"""The fulfilment's side effects (the orchestration's activities), independent of who runs them:
the Functions host (function.py) or the local driver (local_driver.py).

Activities run at least once (a worker can die after the work and before the host records it),
so each is idempotent through the timeline's deterministic document ids: writing an event twice
is a no-op, and the confirmation e-mail is claimed — its `ConfirmationEmailSent` document
created, in the same write as `OrderPlaced` — before it is sent, so a second run finds the
claim and sends nothing (at most once).
A send the mail provider refused (`MailNotSent`: nothing went out) releases the claim, so the
orchestration's retry can send it; a send whose outcome is unknown keeps it: no second e-mail.
A release that fails (the store blips just then) is tried again a few times, starting none
after 10 s; if it still fails, the claim stands for an e-mail that never went out: every later
run finds it and sends nothing, so the fulfilment completes without it. An error names the
order and the claim's document; to send it, delete the document, purge the order's completed
fulfilment (docs/operations.md, "Fulfilment orchestrations"; locally there is none) and
republish the order.

A store outage raises `TimelineStoreUnavailable`; under the host the orchestration retries the
activity, locally the message is held (local_consumer.py).
"""

import logging
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential,
)

from functions.shared import metrics
from functions.shared.events import ORDER_PLACED
from functions.shared.pseudonym import pseudonym
from functions.shared.timeline_store import (
    NewEvent,
    TimelineStore,
    TimelineStoreUnavailable,
    document_id,
)
from functions.worker.fulfilment import CONFIRMATION_EMAIL_SENT, ORDER_CONFIRMED

_log = logging.getLogger("tinyshop.worker")


class MailNotSent(Exception):
    """The mail provider refused the message before accepting it: nothing was sent."""


class Mailer(Protocol):
    def send(self, to: str, subject: str, idempotency_key: str, order: dict[str, Any]) -> None:
        """Send one e-mail; raises `MailNotSent` when it certainly did not go out."""
        ...


class LogMailer:
    """The simulated e-mail: a structured log line stands in for the mail provider call (a real
    provider would also receive `idempotency_key`, `{orderId}:ConfirmationEmailSent`)."""

    def send(self, to: str, subject: str, idempotency_key: str, order: dict[str, Any]) -> None:
        if not _log.isEnabledFor(logging.INFO):  # no pseudonym (an HMAC) for a line not logged
            return
        extra = {"order_id": order["orderId"], "total": order["total"]}
        if (user_ref := pseudonym(to)) is not None:  # none without a key: it could be reversed
            extra["user_ref"] = user_ref
        _log.info("confirmation e-mail sent", extra=extra)


@runtime_checkable
class ReleasableStore(Protocol):
    """A timeline store that can take back a claim (worker/store.py; the unit tests' fake)."""

    def remove(self, order_id: str, event_type: str) -> None: ...


def record_timeline_event(step: dict[str, Any], store: TimelineStore) -> bool:
    """Write one timeline event at most once; True when this call wrote it."""
    created = store.add(
        step["orderId"], step["type"], datetime.fromisoformat(step["occurredAt"]), step["data"]
    )
    if created and step["type"] == ORDER_CONFIRMED and step.get("placedAt"):
        confirmed_at = datetime.fromisoformat(step["occurredAt"])
        metrics.order_confirmed(confirmed_at - datetime.fromisoformat(step["placedAt"]))
    return created


def send_confirmation_email(step: dict[str, Any], store: TimelineStore, mailer: Mailer) -> bool:
    """Record the order as placed and claim its confirmation e-mail (one write, both before
    the send), then send it; True when this call sent it."""
    order_id = step["orderId"]
    placed = step["placed"]
    _, claimed = store.add_all(
        order_id,
        [
            NewEvent(ORDER_PLACED, datetime.fromisoformat(placed["occurredAt"]), placed["data"]),
            NewEvent(
                CONFIRMATION_EMAIL_SENT,
                datetime.fromisoformat(step["occurredAt"]),
                {"to": step["to"], "subject": step["subject"]},
            ),
        ],
    )
    if not claimed:  # sent (or being sent) by an earlier run: never a second e-mail
        return False
    try:
        mailer.send(step["to"], step["subject"], f"{order_id}:{CONFIRMATION_EMAIL_SENT}", step)
    except MailNotSent:
        if isinstance(store, ReleasableStore):
            _release_claim(store, order_id)
        raise
    return True


# Bounded: the activity holds its worker (and locally its message's lock) meanwhile, and the
# refusal is retried by the orchestration anyway. No new attempt starts after RELEASE_SECONDS;
# each attempt is bounded by the store's own deadline.
RELEASE_ATTEMPTS = 4
RELEASE_SECONDS = 10


def _release_claim(store: ReleasableStore, order_id: str, wait: float = 0.5) -> None:
    """Take back the claim of an e-mail that did not go out, through store blips; if the store
    stays unavailable, say which document keeps the e-mail from being sent."""
    retrying = Retrying(
        # stop_before_delay: no attempt starts if the pause before it would end past the limit.
        stop=stop_after_attempt(RELEASE_ATTEMPTS) | stop_before_delay(RELEASE_SECONDS),
        wait=wait_exponential(multiplier=wait, max=4 * wait),
        retry=retry_if_exception_type(TimelineStoreUnavailable),
    )
    try:
        retrying(store.remove, order_id, CONFIRMATION_EMAIL_SENT)
    except RetryError as exc:
        _log.error(
            "the claim of a refused e-mail could not be released: it will not be sent; to send "
            "it, delete document %s, purge the order's fulfilment and republish the order",
            document_id(order_id, CONFIRMATION_EMAIL_SENT),
            extra={"order_id": order_id},
            exc_info=exc.last_attempt.exception(),
        )
