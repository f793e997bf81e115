"""The dead-letter queue of the `orders` queue, for operators: list, show, replay, purge.

One port, `DeadLetters`, with the two adapters of the bus (docs/architecture.md, "Event bus
adapters"): the local queue's `dead_letters` table and Service Bus's `$DeadLetterQueue`
sub-queue. A dead letter is named by its sequence number (both buses assign one).

Replay sends a copy back to the queue and removes the dead letter. It is safe to repeat, and safe
for an event the worker already processed: the worker writes deterministic Cosmos ids, so a
second delivery changes nothing. A replayed copy carries a new message id (`<id>:replay:<seq>`)
because Service Bus's duplicate detection would drop the original id within its window.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from functions.shared.eventbus.local_queue import LocalQueue
from functions.shared.eventbus.settings import EventBusSettings

if TYPE_CHECKING:
    from azure.servicebus import ServiceBusClient, ServiceBusReceivedMessage


@dataclass(frozen=True)
class DeadLetterRecord:
    sequence_number: int
    message_id: str
    subject: str
    reason: str
    description: str
    delivery_count: int
    enqueued_at: datetime | None
    body: bytes


class DeadLetters(Protocol):
    def list(self, limit: int = 50) -> list[DeadLetterRecord]: ...

    def show(self, sequence_number: int) -> DeadLetterRecord | None: ...

    def replay(self, sequence_numbers: Iterable[int] | None) -> int:
        """Back to the queue (None: every dead letter); returns how many."""
        ...

    def purge(self, sequence_numbers: Iterable[int] | None) -> int:
        """Delete for good (None: every dead letter); returns how many."""
        ...

    def close(self) -> None: ...


def replay_message_id(message_id: str, sequence_number: int) -> str:
    return f"{message_id}:replay:{sequence_number}"


class LocalDeadLetters:
    """The local queue's dead letters (`make dev`, tests)."""

    def __init__(self, queue: LocalQueue) -> None:
        self.queue = queue

    def list(self, limit: int = 50) -> list[DeadLetterRecord]:
        return [DeadLetterRecord(**row) for row in self.queue.dead_letter_rows(limit=limit)]

    def show(self, sequence_number: int) -> DeadLetterRecord | None:
        rows = self.queue.dead_letter_rows(sequence_numbers=[sequence_number])
        return DeadLetterRecord(**rows[0]) if rows else None

    def replay(self, sequence_numbers: Iterable[int] | None) -> int:
        return self.queue.replay_dead_letters(_listed(sequence_numbers), replay_message_id)

    def purge(self, sequence_numbers: Iterable[int] | None) -> int:
        return self.queue.purge_dead_letters(_listed(sequence_numbers))

    def close(self) -> None:
        self.queue.close()


def _listed(sequence_numbers: Iterable[int] | None) -> list[int] | None:
    return None if sequence_numbers is None else list(sequence_numbers)


class ServiceBusDeadLetters:
    """`<queue>/$DeadLetterQueue` of Azure Service Bus (or its emulator)."""

    # Enough for an operator's listing; replay/purge walk the sub-queue in batches of this.
    _BATCH = 100
    # A letter the walk holds is renewed when its lock ends within this (the queue's lock lasts
    # a minute, a long walk longer; renewing is a request per letter, so a walk holding more
    # letters than can be renewed in this time loses some, which come back and are held again).
    _RENEW_WITHIN = timedelta(seconds=20)

    def __init__(self, client: ServiceBusClient, queue: str) -> None:
        self._client = client
        self._queue = queue

    def _receiver(self):
        from azure.servicebus import ServiceBusReceiveMode, ServiceBusSubQueue

        return self._client.get_queue_receiver(
            self._queue,
            sub_queue=ServiceBusSubQueue.DEAD_LETTER,
            receive_mode=ServiceBusReceiveMode.PEEK_LOCK,
        )

    @staticmethod
    def _record(message: ServiceBusReceivedMessage) -> DeadLetterRecord:
        return DeadLetterRecord(
            sequence_number=message.sequence_number,
            message_id=str(message.message_id),
            subject=str(message.subject or ""),
            reason=str(message.dead_letter_reason or ""),
            description=str(message.dead_letter_error_description or ""),
            delivery_count=message.delivery_count or 0,
            enqueued_at=message.enqueued_time_utc,
            body=b"".join(message.body),
        )

    def list(self, limit: int = 50) -> list[DeadLetterRecord]:
        with self._receiver() as receiver:
            return [self._record(m) for m in receiver.peek_messages(max_message_count=limit)]

    def show(self, sequence_number: int) -> DeadLetterRecord | None:
        with self._receiver() as receiver:
            found = receiver.peek_messages(max_message_count=1, sequence_number=sequence_number)
        if found and found[0].sequence_number == sequence_number:
            return self._record(found[0])
        return None

    def _settle_selected(self, sequence_numbers: Iterable[int] | None, replay: bool) -> int:
        """Walk the sub-queue and settle the wanted dead letters. The others stay locked by
        this receiver until the walk ends (their locks renewed meanwhile), then are abandoned:
        an abandoned or expired message can be received again at once, so giving each back as
        it passed would have every batch return the same first ones, and a wanted letter behind
        a batch of others would never come."""
        from azure.servicebus import ServiceBusMessage
        from azure.servicebus.exceptions import ServiceBusError

        wanted = None if sequence_numbers is None else set(sequence_numbers)
        done = 0
        with self._receiver() as receiver, self._client.get_queue_sender(self._queue) as sender:
            seen: set[int] = set()
            held: dict[int, ServiceBusReceivedMessage] = {}  # the latest copy of each
            try:
                while True:
                    batch = receiver.receive_messages(
                        max_message_count=self._BATCH, max_wait_time=5
                    )
                    fresh = [m for m in batch if m.sequence_number not in seen]
                    # a lock that lapsed: the letter came back, and this copy holds it now
                    held |= {m.sequence_number: m for m in batch if m.sequence_number in seen}
                    if not fresh:
                        break
                    self._renew_expiring(receiver, list(held.values()))
                    for message in fresh:
                        seen.add(message.sequence_number)
                        if wanted is not None and message.sequence_number not in wanted:
                            held[message.sequence_number] = message
                            continue
                        if replay:
                            record = self._record(message)
                            sender.send_messages(
                                ServiceBusMessage(
                                    record.body,
                                    message_id=replay_message_id(
                                        record.message_id, record.sequence_number
                                    ),
                                    subject=record.subject,
                                    content_type=message.content_type,
                                    application_properties=_text_properties(message),
                                )
                            )
                        receiver.complete_message(message)
                        done += 1
                    if wanted is not None and wanted <= seen:
                        break
            finally:
                for message in held.values():
                    with suppress(ServiceBusError):  # a lost lock gives it back by itself
                        receiver.abandon_message(message)
        return done

    def _renew_expiring(self, receiver: Any, held: list[ServiceBusReceivedMessage]) -> None:
        from azure.servicebus.exceptions import ServiceBusError

        soon = datetime.now(UTC) + self._RENEW_WITHIN
        for message in held:
            if message.locked_until_utc is not None and message.locked_until_utc < soon:
                with suppress(ServiceBusError):  # lost already: it comes back, seen, held again
                    receiver.renew_message_lock(message)

    def replay(self, sequence_numbers: Iterable[int] | None) -> int:
        return self._settle_selected(sequence_numbers, replay=True)

    def purge(self, sequence_numbers: Iterable[int] | None) -> int:
        return self._settle_selected(sequence_numbers, replay=False)

    def close(self) -> None:
        self._client.close()


def _text_properties(message: ServiceBusReceivedMessage) -> dict[str, str]:
    """A received message's application properties come back with bytes keys and values."""

    def text(value: object) -> str:
        return value.decode() if isinstance(value, bytes) else str(value)

    return {text(k): text(v) for k, v in (message.application_properties or {}).items()}


def dead_letters_from_settings(settings: EventBusSettings) -> DeadLetters:
    """The configured bus's dead letters (`EVENT_BUS`), like the publisher."""
    if settings.event_bus == "servicebus":
        from functions.shared.eventbus.servicebus import client_from_settings

        return ServiceBusDeadLetters(client_from_settings(settings), settings.event_bus_queue)
    from functions.shared.eventbus.factory import local_queue

    return LocalDeadLetters(local_queue(settings))
