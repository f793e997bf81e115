"""The worker's handling of each event and failure kind, against an in-memory timeline store:
what it writes, what a redelivery changes (nothing), which failures are poison and which are
retried, and how the local consumer settles each outcome."""

import logging
import threading
import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from functions.shared.eventbus.local_queue import LockLost, ReceivedMessage
from functions.shared.events import PoisonMessage
from functions.shared.timeline_store import TimelineStoreUnavailable
from functions.worker.handler import handle
from functions.worker.local_consumer import hold, process
from functions.worker.retry_policy import RetryPolicy
from tests.unit.builders import body, order_placed_payload
from tests.unit.fakes import InMemoryTimelineStore, RecordingSettlement

TIMELINE = ["OrderPlaced", "ConfirmationEmailSent", "OrderConfirmed"]


def emails(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == "confirmation e-mail sent"]


@pytest.fixture
def store() -> InMemoryTimelineStore:
    return InMemoryTimelineStore()


@pytest.fixture(autouse=True)
def _worker_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tinyshop.worker")


# --- the handler -----------------------------------------------------------------------------


def test_an_order_placed_event_writes_the_timeline_and_sends_one_email(
    store: InMemoryTimelineStore, caplog: pytest.LogCaptureFixture
):
    event = order_placed_payload()

    handle("OrderPlaced", body(event), store)

    timeline = store.events(event["orderId"])
    assert [e["type"] for e in timeline] == TIMELINE
    assert timeline[0]["occurredAt"] == datetime.fromisoformat(event["occurredAt"]).isoformat()
    assert timeline[0]["data"] == {
        "eventId": event["eventId"],
        "total": "39.30",
        "currency": "EUR",
        "itemCount": 4,
    }
    assert timeline[1]["data"] == {
        "to": "alice",
        "subject": f"Your TinyShop order {event['orderId'][:8]}",
    }
    assert [e.order_id for e in emails(caplog)] == [event["orderId"]]


def test_a_redelivered_event_changes_nothing_and_sends_no_second_email(
    store: InMemoryTimelineStore, caplog: pytest.LogCaptureFixture
):
    event = order_placed_payload()
    handle("OrderPlaced", body(event), store)
    first = dict(store.documents)

    handle("OrderPlaced", body(event), store)

    assert store.documents == first
    assert len(emails(caplog)) == 1


def test_an_email_claimed_by_another_delivery_is_not_sent_again(
    store: InMemoryTimelineStore, caplog: pytest.LogCaptureFixture
):
    event = order_placed_payload()
    store.add(event["orderId"], "ConfirmationEmailSent", datetime.now(UTC), {"to": "alice"})

    handle("OrderPlaced", body(event), store)

    assert emails(caplog) == []
    assert sorted(e["type"] for e in store.events(event["orderId"])) == sorted(TIMELINE)


def test_a_poison_message_writes_nothing(store: InMemoryTimelineStore):
    with pytest.raises(PoisonMessage) as caught:
        handle("OrderPlaced", body(order_placed_payload(version=2)), store)

    assert caught.value.reason == "UnsupportedVersion"
    assert store.attempts == 0


def test_an_outage_reaches_the_caller_so_the_message_is_retried(store: InMemoryTimelineStore):
    store.failures_left = 1

    with pytest.raises(TimelineStoreUnavailable):
        handle("OrderPlaced", body(order_placed_payload()), store)


def test_a_redelivery_after_an_outage_mid_timeline_finishes_it_with_one_email(
    store: InMemoryTimelineStore, caplog: pytest.LogCaptureFixture
):
    event = order_placed_payload()
    store.failing_type = "OrderConfirmed"
    with pytest.raises(TimelineStoreUnavailable):
        handle("OrderPlaced", body(event), store)
    assert len(emails(caplog)) == 1

    store.failing_type = None
    handle("OrderPlaced", body(event), store)

    assert [e["type"] for e in store.events(event["orderId"])] == TIMELINE
    assert len(emails(caplog)) == 1


# --- the retry policy ------------------------------------------------------------------------


def test_pauses_double_up_to_the_cap():
    policy = RetryPolicy(first_pause=1, max_pause=30)
    pauses = [policy.first_pause]
    for _ in range(6):
        pauses.append(policy.next_pause(pauses[-1]))
    assert pauses == [1, 2, 4, 8, 16, 30, 30]


# --- settlement by the local consumer --------------------------------------------------------


def received(raw: bytes, subject: str = "OrderPlaced") -> ReceivedMessage:
    now = datetime.now(UTC)
    return ReceivedMessage(
        sequence_number=1,
        message_id=str(uuid.uuid4()),
        subject=subject,
        content_type="application/json",
        body=raw,
        application_properties={},
        enqueued_at=now,
        delivery_count=1,
        lock_token=uuid.uuid4(),
        locked_until=now,
    )


POLICY = RetryPolicy(first_pause=1, max_pause=30)


def test_a_handled_message_is_completed(store: InMemoryTimelineStore):
    queue = RecordingSettlement()
    message = received(body(order_placed_payload()))

    assert process(queue, message, store, POLICY) == "completed"
    assert queue.settled == [("complete", message.message_id, "")]


def test_a_poison_message_is_dead_lettered_at_once_with_its_reason(store: InMemoryTimelineStore):
    queue = RecordingSettlement()
    message = received(b"not json")

    assert process(queue, message, store, POLICY) == "dead-lettered"
    assert queue.settled == [("dead-letter", message.message_id, "MalformedBody")]


def test_a_message_failing_on_an_outage_is_left_locked_for_the_consumer_to_hold(
    store: InMemoryTimelineStore,
):
    store.failures_left = 1
    queue = RecordingSettlement()

    assert process(queue, received(body(order_placed_payload())), store, POLICY) == "unavailable"
    assert queue.settled == []  # not abandoned: an outage must not cost a delivery


class _BuggyStore(InMemoryTimelineStore):
    """Fails with an error that is neither poison nor an outage: a bug."""

    def add(self, *_: object) -> bool:
        raise KeyError("a bug")


def test_a_message_failing_unexpectedly_is_abandoned_with_a_backoff_that_grows():
    queue = RecordingSettlement()
    store = _BuggyStore()
    delays = []
    for count in (1, 2, 3, 9):
        message = replace(received(body(order_placed_payload())), delivery_count=count)
        assert process(queue, message, store, POLICY) == "abandoned"
        delays.append(queue.settled[-1][2])
    assert delays == ["1", "2", "4", "30"]


def test_an_abandon_whose_lock_expired_is_still_reported_as_abandoned():
    queue = RecordingSettlement(lock_lost=True)

    message = received(body(order_placed_payload()))

    assert process(queue, message, _BuggyStore(), POLICY) == "abandoned"


def test_holding_through_an_outage_renews_the_lock_and_completes_when_the_store_is_back(
    store: InMemoryTimelineStore,
):
    store.failures_left = 3
    queue = RecordingSettlement(lock_seconds=0.03)
    message = received(body(order_placed_payload()))

    assert hold(queue, message, store, POLICY, threading.Event()) == "completed"
    assert [action for action, _, _ in queue.settled] == ["renew"] * 4 + ["complete"]


def test_a_consumer_stopped_while_holding_releases_the_message_uncounted(
    store: InMemoryTimelineStore,
):
    store.failures_left = 10**9
    queue = RecordingSettlement()
    stop = threading.Event()
    stop.set()

    assert hold(queue, received(body(order_placed_payload())), store, POLICY, stop) == "released"
    assert [action for action, _, _ in queue.settled] == ["renew", "release"]


def test_a_bus_outage_while_holding_through_a_store_outage_is_waited_out(
    store: InMemoryTimelineStore,
):
    store.failures_left = 3
    queue = RecordingSettlement(lock_seconds=0.03, bus_failures={"renew": 2})
    message = received(body(order_placed_payload()))

    assert hold(queue, message, store, POLICY, threading.Event()) == "completed"
    assert [action for action, _, _ in queue.settled] == ["renew"] * 2 + ["complete"]


def test_a_held_message_whose_completion_fails_is_left_to_its_lock(store: InMemoryTimelineStore):
    """The handler's writes are in and idempotent: the message comes back when its lock
    expires, as when completing fails outside an outage (`_attempt`)."""
    queue = RecordingSettlement(lock_seconds=0.03, bus_failures={"complete": 1})

    assert hold(
        queue, received(body(order_placed_payload())), store, POLICY, threading.Event()
    ) == ("unsettled")
    assert [action for action, _, _ in queue.settled] == ["renew"]


def test_a_held_message_whose_lock_is_lost_at_completion_is_reported_so(
    store: InMemoryTimelineStore,
):
    class LosesTheLockAtCompletion(RecordingSettlement):
        def complete(self, message: ReceivedMessage) -> None:
            raise LockLost("simulated expired lock")

    queue = LosesTheLockAtCompletion(lock_seconds=0.03)

    assert hold(
        queue, received(body(order_placed_payload())), store, POLICY, threading.Event()
    ) == ("lock lost")
