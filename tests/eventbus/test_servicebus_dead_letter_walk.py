"""Replaying or purging chosen Service Bus dead letters walks the sub-queue in batches
(dead_letters.py). Against a stand-in receiver that behaves as Service Bus does where it matters
here — a receive returns the lowest-numbered messages that nobody holds locked, and an abandoned
message can be received again at once — a wanted letter behind more than a batch of others is
still found, and every other letter is back, unlocked, when the walk ends. The same operations
against the real Service Bus: test_servicebus_adapter.py's contract test."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from azure.servicebus.exceptions import MessageLockLostError

from functions.shared.eventbus.dead_letters import ServiceBusDeadLetters


@dataclass
class Letter:
    sequence_number: int
    message_id: str
    subject: str = "OrderPlaced"
    dead_letter_reason: str = "MaxDeliveryCountExceeded"
    dead_letter_error_description: str = ""
    delivery_count: int = 10
    enqueued_time_utc: datetime = field(default_factory=lambda: datetime.now(UTC))
    content_type: str = "application/json"
    application_properties: dict = field(default_factory=dict)
    locked_until_utc: datetime | None = None

    @property
    def body(self) -> list[bytes]:
        return [b'{"version": 1}']


class DeadLetterQueue:
    """Locks last `lock` (real time); a receive takes `receive_time`."""

    def __init__(self, count: int, lock: float = 60, receive_time: float = 0) -> None:
        self.letters = {n: Letter(n, f"m-{n}") for n in range(1, count + 1)}
        self.lock, self.receive_time = timedelta(seconds=lock), receive_time
        self.sent: list[str] = []

    @property
    def locked(self) -> set[int]:
        now = datetime.now(UTC)
        return {
            n
            for n, letter in self.letters.items()
            if letter.locked_until_utc is not None and letter.locked_until_utc > now
        }

    # ServiceBusClient
    def get_queue_receiver(self, *_: object, **__: object) -> DeadLetterQueue:
        return self

    def get_queue_sender(self, *_: object, **__: object) -> DeadLetterQueue:
        return self

    def __enter__(self) -> DeadLetterQueue:
        return self

    def __exit__(self, *_: object) -> None:
        pass

    # receiver
    def receive_messages(self, max_message_count: int, max_wait_time: float) -> list[Letter]:
        time.sleep(self.receive_time)
        locked = self.locked
        free = [n for n in sorted(self.letters) if n not in locked][:max_message_count]
        for n in free:
            self.letters[n].locked_until_utc = datetime.now(UTC) + self.lock
        return [self.letters[n] for n in free]

    def _held(self, message: Letter) -> None:
        """As Service Bus: settling or renewing a lock that lapsed is MessageLockLostError."""
        if message.sequence_number not in self.locked:
            raise MessageLockLostError(message="the lock expired")

    def renew_message_lock(self, message: Letter) -> None:
        self._held(message)
        message.locked_until_utc = datetime.now(UTC) + self.lock

    def abandon_message(self, message: Letter) -> None:
        self._held(message)
        message.locked_until_utc = None

    def complete_message(self, message: Letter) -> None:
        self._held(message)
        del self.letters[message.sequence_number]

    # sender
    def send_messages(self, message: object) -> None:
        self.sent.append(str(message.message_id))


@pytest.mark.parametrize("operation", ["replay", "purge"])
def test_a_letter_behind_more_than_a_batch_of_others_is_settled_and_the_others_given_back(
    operation: str,
):
    queue = DeadLetterQueue(count=3 * ServiceBusDeadLetters._BATCH)
    wanted = [7, 2 * ServiceBusDeadLetters._BATCH + 5]
    dead_letters = ServiceBusDeadLetters(queue, "orders")  # type: ignore[arg-type]

    settled = getattr(dead_letters, operation)(wanted)

    assert settled == 2
    assert not set(wanted) & set(queue.letters)
    assert len(queue.letters) == 3 * ServiceBusDeadLetters._BATCH - 2
    assert queue.locked == set()  # the others are receivable again
    expected_sent = [f"m-{n}:replay:{n}" for n in wanted] if operation == "replay" else []
    assert queue.sent == expected_sent


def test_settling_every_letter_walks_them_all():
    queue = DeadLetterQueue(count=2 * ServiceBusDeadLetters._BATCH + 1)

    dead_letters = ServiceBusDeadLetters(queue, "orders")  # type: ignore[arg-type]

    assert dead_letters.purge(None) == 2 * ServiceBusDeadLetters._BATCH + 1
    assert queue.letters == {}


def test_the_letters_held_are_renewed_while_a_long_walk_lasts(monkeypatch: pytest.MonkeyPatch):
    """Locks far shorter than the walk: without renewal the first letters come back before the
    wanted one is reached, every batch is all seen letters, and the walk stops short."""
    monkeypatch.setattr(ServiceBusDeadLetters, "_RENEW_WITHIN", timedelta(seconds=5))
    queue = DeadLetterQueue(count=4 * ServiceBusDeadLetters._BATCH, lock=1.5, receive_time=0.5)
    wanted = 3 * ServiceBusDeadLetters._BATCH + 5

    assert ServiceBusDeadLetters(queue, "orders").purge([wanted]) == 1  # type: ignore[arg-type]
    assert wanted not in queue.letters
