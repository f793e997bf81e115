"""In-memory fakes of the ports the business rules talk to, so tests/unit needs no Postgres,
Cosmos or network. Each fake keeps the one behaviour its port promises (and the tests rely on):
the timeline store writes a document at most once and can be told to fail like an outage; the
settlement records what happened to each message."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from functions.shared.eventbus.local_queue import LockLost, ReceivedMessage
from functions.shared.timeline_store import (
    NewEvent,
    TimelineStoreUnavailable,
    by_time,
    document_id,
    occurred_at_text,
)


@dataclass
class InMemoryTimelineStore:
    """A `TimelineStore`. Writes fail like an outage: the next `failures_left` ones, and every
    one of `failing_type`."""

    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures_left: int = 0
    failing_type: str | None = None
    attempts: int = 0
    batches: int = 0  # add_all calls that reached the store
    remove_failures: int = 0

    def add(
        self, order_id: str, event_type: str, occurred_at: datetime, data: dict[str, Any]
    ) -> bool:
        self.attempts += 1
        if self.failures_left > 0 or event_type == self.failing_type:
            self.failures_left = max(self.failures_left - 1, 0)
            raise TimelineStoreUnavailable(f"simulated outage writing {event_type}")
        if document_id(order_id, event_type) in self.documents:
            return False
        return self._write(order_id, event_type, occurred_at, data)

    def add_all(self, order_id: str, events: Sequence[NewEvent]) -> list[bool]:
        """One attempt for the whole batch: an outage writes none of them; if one is there
        already, each is written on its own (as the Cosmos store falls back to `add`)."""
        self.attempts += 1
        if self.failures_left > 0 or any(e.type == self.failing_type for e in events):
            self.failures_left = max(self.failures_left - 1, 0)
            raise TimelineStoreUnavailable(f"simulated outage writing {events[0].type}...")
        self.batches += 1
        if not any(document_id(order_id, e.type) in self.documents for e in events):
            return [self._write(order_id, *event) for event in events]
        return [self.add(order_id, *event) for event in events]

    def _write(self, order_id: str, event_type: str, occurred_at: datetime, data: dict) -> bool:
        self.documents[document_id(order_id, event_type)] = {
            "orderId": order_id,
            "type": event_type,
            "occurredAt": occurred_at_text(occurred_at),
            "data": data,
        }
        return True

    def remove(self, order_id: str, event_type: str) -> None:
        """Take back a claim (functions/worker/activities.py, `ReleasableStore`); the next
        `remove_failures` fail like an outage."""
        if self.remove_failures > 0:
            self.remove_failures -= 1
            raise TimelineStoreUnavailable(f"simulated outage removing {event_type}")
        self.documents.pop(document_id(order_id, event_type), None)

    def events(self, order_id: str) -> list[dict[str, Any]]:
        return by_time(
            [
                {"type": d["type"], "occurredAt": d["occurredAt"], "data": d["data"]}
                for d in self.documents.values()
                if d["orderId"] == order_id
            ]
        )


@dataclass
class RecordingSettlement:
    """A `Settlement` that records each settlement; `lock_lost` makes them fail like an expired
    lock does on the local queue, `bus_failures` (action -> count) the next ones of an action
    like the bus database going away does."""

    settled: list[tuple[str, str, str]] = field(default_factory=list)
    lock_lost: bool = False
    lock_seconds: float = 30
    bus_failures: dict[str, int] = field(default_factory=dict)

    def _settle(self, action: str, message: ReceivedMessage, reason: str = "") -> None:
        if self.bus_failures.get(action, 0) > 0:
            self.bus_failures[action] -= 1
            raise psycopg.OperationalError("simulated: the bus database is unreachable")
        if self.lock_lost:
            raise LockLost("simulated expired lock")
        self.settled.append((action, message.message_id, reason))

    def complete(self, message: ReceivedMessage) -> None:
        self._settle("complete", message)

    def abandon(self, message: ReceivedMessage, delay: float = 0) -> None:
        self._settle("abandon", message, f"{delay:g}")

    def renew_lock(self, message: ReceivedMessage) -> None:
        self._settle("renew", message)

    def release(self, messages: list[ReceivedMessage]) -> None:
        for message in messages:
            self._settle("release", message)

    def dead_letter(self, message: ReceivedMessage, reason: str, description: str = "") -> None:
        self._settle("dead-letter", message, reason)
