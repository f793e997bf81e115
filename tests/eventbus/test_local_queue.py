"""The local queue has Service Bus peek-lock semantics on a real Postgres."""

import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from functions.shared.eventbus.local_queue import LocalQueue, LockLost
from functions.shared.events import OutgoingMessage


def message(n: int = 0, **overrides: object) -> OutgoingMessage:
    return OutgoingMessage(
        message_id=str(uuid.uuid4()),
        subject="OrderPlaced",
        body=f'{{"n": {n}}}'.encode(),
        application_properties={"traceparent": f"00-{'a' * 32}-{'b' * 16}-01"},
        **overrides,
    )


def test_a_sent_message_is_received_with_its_properties_then_completed(queue: LocalQueue):
    sent = message(1)
    assert queue.send(sent) is True

    [received] = queue.receive()
    assert (received.message_id, received.subject, received.body) == (
        sent.message_id,
        "OrderPlaced",
        b'{"n": 1}',
    )
    assert received.content_type == "application/json"
    assert received.application_properties == sent.application_properties
    assert received.delivery_count == 1

    queue.complete(received)
    assert queue.receive() == []
    assert queue.depth() == 0


def test_messages_come_oldest_first(queue: LocalQueue):
    ids = [message(n) for n in range(5)]
    for m in ids:
        queue.send(m)
    assert [r.message_id for r in queue.receive(10)] == [m.message_id for m in ids]


def test_a_duplicate_message_id_is_dropped(queue: LocalQueue):
    sent = message()
    assert queue.send(sent) is True
    assert queue.send(replace(sent, body=b"{}")) is False
    assert queue.depth() == 1


def test_a_locked_message_is_invisible_to_other_receivers(queue: LocalQueue):
    queue.send(message())
    assert len(queue.receive()) == 1
    assert queue.receive() == []


def test_an_expired_lock_makes_the_message_visible_again_with_a_higher_count(bus_db: str):
    queue = LocalQueue(bus_db, queue=f"q-{uuid.uuid4().hex[:8]}", lock_seconds=0.3)
    queue.send(message())
    [first] = queue.receive()
    time.sleep(0.5)

    [again] = queue.receive()
    assert again.message_id == first.message_id
    assert again.delivery_count == 2
    with pytest.raises(LockLost):
        queue.complete(first)  # the old lock is gone: someone else has the message now
    queue.complete(again)


def test_abandon_makes_the_message_visible_at_once(queue: LocalQueue):
    queue.send(message())
    [first] = queue.receive()
    queue.abandon(first)
    [again] = queue.receive()
    assert again.delivery_count == 2


def test_settling_twice_is_refused(queue: LocalQueue):
    queue.send(message())
    [received] = queue.receive()
    queue.complete(received)
    with pytest.raises(LockLost):
        queue.complete(received)
    with pytest.raises(LockLost):
        queue.abandon(received)


def test_past_the_max_delivery_count_a_message_is_dead_lettered(bus_db: str):
    queue = LocalQueue(bus_db, queue=f"q-{uuid.uuid4().hex[:8]}", max_delivery_count=3)
    sent = message()
    queue.send(sent)
    queue.send(message(2))
    for _ in range(3):
        [first, *_] = queue.receive()
        assert first.message_id == sent.message_id
        queue.abandon(first)

    [next_message] = queue.receive()  # the fourth delivery does not happen

    assert next_message.message_id != sent.message_id
    [dead] = queue.dead_letters()
    assert dead.message_id == sent.message_id
    assert dead.reason == "MaxDeliveryCountExceeded"
    assert dead.delivery_count == 3


def test_dead_letter_moves_the_message_with_its_reason(queue: LocalQueue):
    sent = message()
    queue.send(sent)
    [received] = queue.receive()

    queue.dead_letter(received, "UnsupportedVersion", "version 2 is not 1")

    assert queue.receive() == []
    [dead] = queue.dead_letters()
    assert (dead.message_id, dead.reason, dead.description, dead.body) == (
        sent.message_id,
        "UnsupportedVersion",
        "version 2 is not 1",
        sent.body,
    )


def test_renewing_a_lock_keeps_the_message(bus_db: str):
    queue = LocalQueue(bus_db, queue=f"q-{uuid.uuid4().hex[:8]}", lock_seconds=0.4)
    queue.send(message())
    [received] = queue.receive()
    for _ in range(3):
        time.sleep(0.2)
        queue.renew_lock(received)
    assert queue.receive() == []
    queue.complete(received)


def test_parallel_consumers_never_receive_the_same_locked_message(queue: LocalQueue):
    sent = [message(n) for n in range(120)]
    for m in sent:
        queue.send(m)

    def consume(_: int) -> list[str]:
        done: list[str] = []
        while batch := queue.receive(5):
            for m in batch:
                queue.complete(m)
                done.append(m.message_id)
        return done

    with ThreadPoolExecutor(4) as pool:
        per_consumer = list(pool.map(consume, range(4)))

    counts = Counter(mid for done in per_consumer for mid in done)
    assert set(counts) == {m.message_id for m in sent}
    assert set(counts.values()) == {1}
    assert sum(1 for done in per_consumer if done) > 1  # the work really was shared


def test_an_abandoned_message_can_stay_invisible_for_a_backoff(queue: LocalQueue):
    queue.send(message())
    [first] = queue.receive()

    queue.abandon(first, delay=0.5)

    assert queue.receive() == []
    time.sleep(0.6)
    [again] = queue.receive()
    assert again.delivery_count == 2


def test_released_messages_come_back_at_once_with_the_delivery_uncounted(queue: LocalQueue):
    for n in range(3):
        queue.send(message(n))
    received = queue.receive(3)

    queue.release(received[1:])

    assert [m.delivery_count for m in queue.receive(3)] == [1, 1]
