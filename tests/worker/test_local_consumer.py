"""The local consumer on the real local queue (Postgres): a bad message among valid ones, and a
dependency outage longer than the retry window, cost no valid event its place in the queue."""

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import pytest

from functions.shared.eventbus.local_queue import LocalQueue, ReceivedMessage
from functions.shared.events import OutgoingMessage
from functions.worker import local_consumer
from functions.worker.settings import WorkerSettings
from tests.unit.builders import body, order_placed_payload
from tests.unit.fakes import InMemoryTimelineStore

TIMELINE = ["OrderPlaced", "ConfirmationEmailSent", "OrderConfirmed"]
SETTINGS = WorkerSettings(idle_seconds=0.02, retry_pause_seconds=0.02, batch_size=5)


class CountingQueue(LocalQueue):
    """The local queue, recording the delivery count of every message it hands out."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.deliveries: dict[str, list[int]] = {}

    def receive(self, max_messages: int = 1) -> list[ReceivedMessage]:
        messages = super().receive(max_messages)
        for m in messages:
            self.deliveries.setdefault(m.message_id, []).append(m.delivery_count)
        return messages


@dataclass
class BuggyStore(InMemoryTimelineStore):
    """Fails with an unexpected error (a bug, not an outage) for the orders in `buggy`."""

    buggy: set[str] = field(default_factory=set)

    def add(self, order_id: str, event_type: str, occurred_at: datetime, data: dict) -> bool:
        if order_id in self.buggy:
            raise KeyError(f"simulated bug handling {order_id}")
        return super().add(order_id, event_type, occurred_at, data)


@pytest.fixture
def counting_queue(bus_db: str) -> Iterator[CountingQueue]:
    queue = CountingQueue(
        bus_db, queue=f"q-{uuid.uuid4().hex[:8]}", lock_seconds=5, max_delivery_count=3
    )
    yield queue
    queue.close()


def send_event(queue: LocalQueue, payload: dict | None = None, raw: bytes | None = None) -> str:
    message_id = str(uuid.uuid4())
    queue.send(OutgoingMessage(message_id, "OrderPlaced", raw or body(payload)))
    return message_id


@contextmanager
def consumer(queue: LocalQueue, store: InMemoryTimelineStore) -> Iterator[threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=local_consumer.run, args=(queue, store, SETTINGS, stop))
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(timeout=30)
        assert not thread.is_alive()


def wait_until(condition, seconds: float = 30) -> None:
    done = threading.Event()
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        done.wait(0.05)
    raise AssertionError("condition not met in time")


def test_bad_messages_among_valid_ones_dead_letter_no_valid_event(counting_queue: CountingQueue):
    """Figures (asserted): 20 valid events around 2 bad ones, batches of 5, max delivery 3."""
    store = BuggyStore()
    bug = order_placed_payload()
    store.buggy.add(bug["orderId"])
    bad_ids = {
        send_event(counting_queue, bug),  # at the head: a handler bug, retried then dead-lettered
        send_event(counting_queue, raw=b"[" * 100_000 + b"]" * 100_000),  # poison on parse
    }
    valid = [order_placed_payload() for _ in range(20)]
    valid_ids = {send_event(counting_queue, event) for event in valid}

    with consumer(counting_queue, store):
        wait_until(lambda: counting_queue.depth() == 0)

    dead = {
        json.loads(d.body)["orderId"] if d.body.startswith(b"{") else "bomb": d
        for d in counting_queue.dead_letters()
    }
    dead_valid = [e for e in valid if e["orderId"] in dead]
    assert dead_valid == []  # the figure that matters: 0 valid events dead-lettered
    assert {d.reason for d in dead.values()} == {"MaxDeliveryCountExceeded", "MalformedBody"}
    assert dead[bug["orderId"]].delivery_count == 3
    assert dead["bomb"].delivery_count == 1
    for event in valid:
        assert [e["type"] for e in store.events(event["orderId"])] == TIMELINE
    # every valid event was handed out once: no delivery counted for a message not attempted
    assert {m: counting_queue.deliveries[m] for m in valid_ids} == {m: [1] for m in valid_ids}
    assert set(counting_queue.deliveries) == valid_ids | bad_ids


def test_an_outage_longer_than_the_retry_window_dead_letters_nothing(
    counting_queue: CountingQueue,
):
    """Max delivery 3 with 20 ms pauses would be burnt in well under a second; the store is down
    for 2 s. Consumption pauses instead, and every event is handled once the store is back."""
    store = InMemoryTimelineStore(failures_left=10**9)
    events = [order_placed_payload() for _ in range(8)]
    for event in events:
        send_event(counting_queue, event)

    with consumer(counting_queue, store):
        threading.Event().wait(2)
        assert store.attempts > counting_queue.max_delivery_count  # tried more often than max
        store.failures_left = 0
        wait_until(lambda: counting_queue.depth() == 0)

    assert counting_queue.dead_letters() == []
    assert all(len(store.events(e["orderId"])) == 3 for e in events)
    assert max(max(d) for d in counting_queue.deliveries.values()) == 1


def test_a_consumer_stopped_during_an_outage_gives_its_messages_back_uncounted(
    counting_queue: CountingQueue,
):
    store = InMemoryTimelineStore(failures_left=10**9)
    send_event(counting_queue, order_placed_payload())
    send_event(counting_queue, order_placed_payload())

    with consumer(counting_queue, store):
        wait_until(lambda: store.attempts >= 3)

    received = counting_queue.receive(10)
    assert [m.delivery_count for m in received] == [1, 1]


def test_a_fulfilment_failing_after_its_retries_dead_letters_only_its_message(
    counting_queue: CountingQueue, monkeypatch: pytest.MonkeyPatch
):
    """The mail provider refuses one order's e-mail on every attempt: the orchestration's retry
    options run out (waits short here, the message's lock kept meanwhile) and that message is
    dead-lettered as FulfilmentFailed with the step and reason; the others are fulfilled."""
    import azure.durable_functions as df

    from functions.worker import fulfilment, handler
    from functions.worker.activities import LogMailer, MailNotSent

    refused = order_placed_payload()

    class RefusingMailer(LogMailer):
        def send(self, to: str, subject: str, idempotency_key: str, order: dict) -> None:
            if order["orderId"] == refused["orderId"]:
                raise MailNotSent("554 mailbox unavailable")
            super().send(to, subject, idempotency_key, order)

    monkeypatch.setattr(handler, "LogMailer", RefusingMailer)
    monkeypatch.setattr(fulfilment, "STORE_RETRY", df.RetryOptions(50, 3))
    store = InMemoryTimelineStore()
    others = [order_placed_payload() for _ in range(3)]
    for event in [refused, *others]:
        send_event(counting_queue, event)

    with consumer(counting_queue, store):
        wait_until(lambda: counting_queue.depth() == 0)

    [dead] = counting_queue.dead_letters()
    assert json.loads(dead.body)["orderId"] == refused["orderId"]
    assert dead.reason == "FulfilmentFailed"
    assert "step ConfirmationEmailSent failed after its retries" in dead.description
    assert "554 mailbox unavailable" in dead.description
    assert dead.delivery_count == 1  # failed by the orchestration, not by redeliveries
    assert [e["type"] for e in store.events(refused["orderId"])] == ["OrderPlaced"]
    for event in others:
        assert [e["type"] for e in store.events(event["orderId"])] == TIMELINE
