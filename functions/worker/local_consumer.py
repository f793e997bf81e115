"""The worker in `make dev`: consumes the local queue and calls the same handler as the
Service Bus trigger. Several consumers may run at once: the queue's locks keep each message
with one of them.

Settlement mirrors the Functions host's: success completes the message, a poison message is
dead-lettered at once with its reason, any other failure abandons it (it comes back with its
delivery count raised, and is dead-lettered after the maximum delivery count) and the consumer
pauses as retry_policy.py says.
"""

import contextlib
import logging
import signal
import threading
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
from functions.shared.timeline_store import CosmosSettings, CosmosTimelineStore, TimelineStore
from functions.worker.handler import handle
from functions.worker.retry_policy import RetryPolicy
from functions.worker.settings import WorkerSettings

_log = logging.getLogger("tinyshop.worker")


class Settlement(Protocol):
    """How `process` settles a locked message: the local queue, or a fake in tests/unit."""

    def complete(self, message: ReceivedMessage) -> None: ...

    def abandon(self, message: ReceivedMessage) -> None: ...

    def dead_letter(self, message: ReceivedMessage, reason: str, description: str = "") -> None: ...


def process(queue: Settlement, message: ReceivedMessage, store: TimelineStore) -> str:
    """Handle and settle one message; returns what happened to it."""
    try:
        with consuming(message.message_id, message.delivery_count, message.application_properties):
            handle(message.subject, message.body, store)
    except PoisonMessage as exc:
        _log.warning("dead-lettering %s: %s", message.message_id, exc)
        queue.dead_letter(message, exc.reason, exc.description)
        return "dead-lettered"
    except Exception as exc:  # transient or unknown: retry later, bounded by the delivery count
        _log.warning(
            "abandoning %s (delivery %d): %s", message.message_id, message.delivery_count, exc
        )
        with contextlib.suppress(LockLost):
            queue.abandon(message)
        return "abandoned"
    queue.complete(message)
    return "completed"


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
        outcomes = []
        for message in messages:
            try:
                outcomes.append(process(queue, message, store))
            except LockLost:
                _log.warning("lock lost on %s; another consumer has it", message.message_id)
            except (psycopg.Error, PoolTimeout) as exc:
                # Settling failed (the bus database blipped): the message comes back when its
                # lock expires, and the handler's writes are idempotent.
                _log.warning("could not settle %s: %s", message.message_id, exc)
                outcomes.append("abandoned")
            if outcomes and outcomes[-1] == "abandoned":
                # A dependency is failing: release the rest of the batch and back off.
                for rest in messages[messages.index(message) + 1 :]:
                    with contextlib.suppress(LockLost, psycopg.Error, PoolTimeout):
                        queue.abandon(rest)
                break
        if "abandoned" in outcomes:
            stop.wait(pause)
            pause = policy.next_pause(pause)
            continue
        pause = policy.first_pause
        if not messages:
            stop.wait(settings.idle_seconds)


def main() -> None:
    configure_logging("worker")
    setup("worker")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    bus = EventBusSettings()
    queue = local_queue(bus)
    observe_local_queue(queue)
    store = CosmosTimelineStore(CosmosSettings())
    _log.info("consuming local queue %s", bus.event_bus_queue)
    run(queue, store, WorkerSettings(), stop)


if __name__ == "__main__":
    main()
