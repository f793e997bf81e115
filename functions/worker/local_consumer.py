"""The worker in `make dev`: consumes the local queue and fulfils each order through the same
orchestrator and activities as the Functions host, run by the local driver (handler.py,
local_driver.py). Several consumers may run at once: the queue's locks keep each message with
one of them.

Each message of a received batch is attempted and settled on its own (retry_policy.py says
why each failure kind gets its answer):
- handled: completed;
- poison: dead-lettered at once with its reason;
- a fulfilment step failing after the orchestration's retries (`FulfilmentError`): dead-lettered
  with reason `FulfilmentFailed` — locally the dead-letter queue is where a failed
  orchestration shows (under the host it is a `Failed` instance in the task hub);
- any other error (a bug): abandoned with a per-message backoff, counted, dead-lettered after
  the max delivery count — while the rest of the batch proceeds;
- a dependency outage (Cosmos): the rest of the batch is released uncounted (never attempted)
  and the failing message is held, its lock renewed, and retried with growing pauses until the
  store answers — consumption pauses, delivery counts do not move, however long the outage.
  Stopping the consumer meanwhile releases it uncounted too.
A delivery is thus counted only for a message that was attempted and failed for its own sake.
"""

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import Protocol

import psycopg
from psycopg_pool import PoolTimeout

from functions.shared.eventbus.factory import local_queue
from functions.shared.eventbus.local_queue import LocalQueue, LockLost, ReceivedMessage
from functions.shared.eventbus.queue_metrics import observe_local_queue
from functions.shared.eventbus.settings import EventBusSettings
from functions.shared.eventbus.tracing import consuming
from functions.shared.events import PoisonMessage
from functions.shared.logs import configure_logging
from functions.shared.observability import setup
from functions.shared.timeline_store import CosmosSettings, TimelineStore
from functions.worker.handler import FULFILMENT_FAILED, FulfilmentError, handle
from functions.worker.retry_policy import TRANSIENT, RetryPolicy
from functions.worker.settings import WorkerSettings
from functions.worker.store import WorkerTimelineStore

_log = logging.getLogger("tinyshop.worker")
UNAVAILABLE = "unavailable"
_BUS_ERRORS = (psycopg.Error, PoolTimeout)


class Settlement(Protocol):
    """How the consumer settles locked messages: the local queue, or a fake in tests/unit."""

    @property
    def lock_seconds(self) -> float: ...

    def complete(self, message: ReceivedMessage) -> None: ...

    def abandon(self, message: ReceivedMessage, delay: float = 0) -> None: ...

    def dead_letter(self, message: ReceivedMessage, reason: str, description: str = "") -> None: ...

    def renew_lock(self, message: ReceivedMessage) -> None: ...

    def release(self, messages: list[ReceivedMessage]) -> None: ...


def _renewing_wait(queue: Settlement, message: ReceivedMessage) -> Callable[[float], None]:
    """The driver's wait between an activity's retries: keeps the message's lock meanwhile."""

    def wait(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, queue.lock_seconds / 3))
            queue.renew_lock(message)

    return wait


def process(
    queue: Settlement, message: ReceivedMessage, store: TimelineStore, policy: RetryPolicy
) -> str:
    """Handle one message and settle it on its own; returns what happened to it. On a
    dependency outage it stays locked and unsettled (`UNAVAILABLE`): the caller holds it."""
    try:
        with consuming(message.message_id, message.delivery_count, message.application_properties):
            handle(message.subject, message.body, store, wait=_renewing_wait(queue, message))
    except PoisonMessage as exc:
        _log.warning("dead-lettering %s: %s", message.message_id, exc)
        queue.dead_letter(message, exc.reason, exc.description)
        return "dead-lettered"
    except FulfilmentError as exc:
        _log.error("dead-lettering %s: %s", message.message_id, exc)
        queue.dead_letter(message, FULFILMENT_FAILED, exc.reason[:1000])
        return "dead-lettered"
    except TRANSIENT as exc:
        _log.warning("dependency unavailable handling %s: %s", message.message_id, exc)
        return UNAVAILABLE
    except Exception:  # a bug: retried later, bounded by the delivery count
        delay = policy.redelivery_delay(message.delivery_count)
        _log.exception(
            "abandoning %s (delivery %d, back in %.1f s)",
            message.message_id,
            message.delivery_count,
            delay,
        )
        with contextlib.suppress(LockLost):
            queue.abandon(message, delay)
        return "abandoned"
    queue.complete(message)
    return "completed"


def hold(
    queue: Settlement,
    message: ReceivedMessage,
    store: TimelineStore,
    policy: RetryPolicy,
    stop: threading.Event,
) -> str:
    """Retry `message` in place through a dependency outage, keeping its lock, until it is
    settled, its lock is lost, or `stop` (then it is released uncounted). The bus database may
    go away meanwhile too: a renewal that fails is tried again after the pause (the lock was
    renewed a third of its time ago; once it expired, renewing says LockLost), and a settlement
    that fails leaves the message to its lock, as `_attempt` does."""
    pause = min(policy.first_pause, queue.lock_seconds / 3)
    while True:
        try:
            queue.renew_lock(message)
        except LockLost:
            _log.warning("lock lost on %s while holding it", message.message_id)
            return "lock lost"
        except _BUS_ERRORS as exc:
            _log.warning("could not renew the lock on %s: %s", message.message_id, exc)
        if stop.wait(pause):
            with contextlib.suppress(LockLost, *_BUS_ERRORS):
                queue.release([message])
            return "released"
        outcome = _attempt(queue, message, store, policy)
        if outcome != UNAVAILABLE:
            _log.info("dependency back: %s %s", message.message_id, outcome)
            return outcome
        pause = policy.hold_pause(pause, queue.lock_seconds)


def _attempt(
    queue: Settlement, message: ReceivedMessage, store: TimelineStore, policy: RetryPolicy
) -> str:
    try:
        return process(queue, message, store, policy)
    except LockLost:
        _log.warning("lock lost on %s; another consumer has it", message.message_id)
        return "lock lost"
    except _BUS_ERRORS as exc:
        # Settling failed (the bus database blipped): the message comes back when its lock
        # expires, and the handler's writes are idempotent.
        _log.warning("could not settle %s: %s", message.message_id, exc)
        return "unsettled"


def _release(queue: Settlement, messages: list[ReceivedMessage]) -> None:
    with contextlib.suppress(*_BUS_ERRORS):  # else their locks expire: counted, still safe
        queue.release(messages)


def run(
    queue: LocalQueue,
    store: TimelineStore,
    settings: WorkerSettings,
    stop: threading.Event,
) -> None:
    policy = RetryPolicy(first_pause=settings.retry_pause_seconds)
    pause = policy.first_pause
    while not stop.is_set():
        try:
            messages = queue.receive(settings.batch_size)
        except Exception as exc:  # the bus database is down: wait and try again
            _log.warning("local queue unavailable: %s", exc)
            stop.wait(pause)
            pause = policy.next_pause(pause)
            continue
        pause = policy.first_pause
        if not messages:
            stop.wait(settings.idle_seconds)
            continue
        for index, message in enumerate(messages):
            if stop.is_set():
                _release(queue, messages[index:])
                break
            if _attempt(queue, message, store, policy) == UNAVAILABLE:
                _release(queue, messages[index + 1 :])
                hold(queue, message, store, policy, stop)
                break


def main() -> None:
    configure_logging("worker")
    setup("worker")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    bus = EventBusSettings()
    queue = local_queue(bus)
    observe_local_queue(queue)
    store = WorkerTimelineStore(CosmosSettings())
    _log.info("consuming local queue %s", bus.event_bus_queue)
    run(queue, store, WorkerSettings(), stop)


if __name__ == "__main__":
    main()
