"""A Postgres-backed queue with Service Bus peek-lock semantics, for `make dev` and tests.

- `send` drops a message whose id was seen within the duplicate-detection window.
- `receive` locks up to N visible messages for the lock duration and raises their delivery
  count; `FOR UPDATE SKIP LOCKED` means parallel consumers never get the same message.
- `complete` deletes a message; `abandon` (or an expired lock) makes it visible again, at once
  or after a delay (a per-message backoff, so one failing message does not spin at the head).
- `release` gives back locked messages that were never handed to a handler and takes back the
  delivery this receive counted (local only: Service Bus has no such call, but its Functions
  host with `prefetchCount: 0` only locks the messages it is about to run, so there too a
  delivery is counted only for a message actually attempted).
- A message delivered `max_delivery_count` times without being completed moves to
  `dead_letters` with reason `MaxDeliveryCountExceeded`; `dead_letter` moves one explicitly.
Settling with a lock that expired (another consumer may have it now) raises `LockLost`.
"""

import threading
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
from psycopg.rows import class_row, dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from functions.shared.eventbus.publisher import PublishError
from functions.shared.events import OutgoingMessage

MIGRATIONS = Path(__file__).with_name("migrations")
MAX_DELIVERY_COUNT_EXCEEDED = "MaxDeliveryCountExceeded"


class LockLost(Exception):
    """The message's lock expired or it was settled already."""


@dataclass(frozen=True)
class ReceivedMessage:
    sequence_number: int
    message_id: str
    subject: str
    content_type: str
    body: bytes
    application_properties: dict[str, str]
    enqueued_at: datetime
    delivery_count: int
    lock_token: uuid.UUID
    locked_until: datetime


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    subject: str
    body: bytes
    delivery_count: int
    reason: str
    description: str


_MOVE_TO_DEAD_LETTERS = """
    WITH moved AS (DELETE FROM messages WHERE {where} RETURNING *)
    INSERT INTO dead_letters (sequence_number, queue, message_id, subject, content_type, body,
                              application_properties, enqueued_at, delivery_count, reason,
                              description)
    SELECT sequence_number, queue, message_id, subject, content_type, body,
           application_properties, enqueued_at, delivery_count, %s, %s FROM moved
"""


class LocalQueue:
    def __init__(
        self,
        database_url: str,
        queue: str = "orders",
        lock_seconds: float = 30,
        max_delivery_count: int = 10,
        duplicate_window: timedelta = timedelta(minutes=10),
    ) -> None:
        self.database_url = database_url
        self.queue = queue
        self.lock = timedelta(seconds=lock_seconds)
        self.max_delivery_count = max_delivery_count
        self.duplicate_window = duplicate_window
        self._pool: ConnectionPool | None = None
        self._pool_lock = threading.Lock()

    def _connect(self) -> AbstractContextManager[psycopg.Connection]:
        """A pooled autocommit connection (opened on first use; the database may be down)."""
        with self._pool_lock:
            if self._pool is None:
                self._pool = ConnectionPool(
                    self.database_url,
                    min_size=0,
                    max_size=4,
                    timeout=3,
                    check=ConnectionPool.check_connection,
                    kwargs={"autocommit": True, "connect_timeout": 3},
                    name=f"local-queue-{self.queue}",
                    open=True,
                )
        return self._pool.connection()

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None

    def send(self, message: OutgoingMessage) -> bool:
        """Enqueue `message`; False when it is a duplicate within the window (dropped)."""
        with self._connect() as conn, conn.transaction():
            conn.execute(
                "DELETE FROM seen_message_ids WHERE queue = %s AND seen_at < now() - %s",
                (self.queue, self.duplicate_window),
            )
            first = conn.execute(
                "INSERT INTO seen_message_ids (queue, message_id) VALUES (%s, %s) "
                "ON CONFLICT DO NOTHING RETURNING 1",
                (self.queue, message.message_id),
            ).fetchone()
            if first is None:
                return False
            conn.execute(
                "INSERT INTO messages (queue, message_id, subject, content_type, body, "
                "application_properties) VALUES (%s, %s, %s, %s, %s, %s)",
                (
                    self.queue,
                    message.message_id,
                    message.subject,
                    message.content_type,
                    message.body,
                    Jsonb(message.application_properties),
                ),
            )
            return True

    def receive(self, max_messages: int = 1) -> list[ReceivedMessage]:
        """Lock and return up to `max_messages` visible messages, oldest first."""
        with self._connect() as conn, conn.transaction():
            conn.execute(
                _MOVE_TO_DEAD_LETTERS.format(
                    where="sequence_number IN (SELECT sequence_number FROM messages "
                    "WHERE queue = %s AND delivery_count >= %s "
                    "AND (locked_until IS NULL OR locked_until < now()) FOR UPDATE SKIP LOCKED)"
                ),
                (
                    self.queue,
                    self.max_delivery_count,
                    MAX_DELIVERY_COUNT_EXCEEDED,
                    f"Not completed after {self.max_delivery_count} deliveries.",
                ),
            )
            with conn.cursor(row_factory=class_row(ReceivedMessage)) as cur:
                cur.execute(
                    """
                    UPDATE messages SET lock_token = gen_random_uuid(),
                                        locked_until = now() + %s,
                                        delivery_count = delivery_count + 1
                    WHERE sequence_number IN (
                        SELECT sequence_number FROM messages
                        WHERE queue = %s AND (locked_until IS NULL OR locked_until < now())
                        ORDER BY sequence_number LIMIT %s FOR UPDATE SKIP LOCKED)
                    RETURNING sequence_number, message_id, subject, content_type, body,
                              application_properties, enqueued_at, delivery_count,
                              lock_token, locked_until
                    """,
                    (self.lock, self.queue, max_messages),
                )
                return sorted(cur.fetchall(), key=lambda m: m.sequence_number)

    def _settle(self, sql: str, params: tuple) -> None:
        with self._connect() as conn:
            if conn.execute(sql, params).rowcount != 1:
                raise LockLost("the message's lock expired or it was already settled")

    def complete(self, message: ReceivedMessage) -> None:
        self._settle(
            "DELETE FROM messages WHERE lock_token = %s AND locked_until >= now()",
            (message.lock_token,),
        )

    def abandon(self, message: ReceivedMessage, delay: float = 0) -> None:
        """Unlock `message`; it is visible again after `delay` seconds (its delivery counted)."""
        self._settle(
            "UPDATE messages SET lock_token = NULL, "
            "locked_until = CASE WHEN %s > 0 THEN now() + %s END "
            "WHERE lock_token = %s AND locked_until >= now()",
            (delay, timedelta(seconds=delay), message.lock_token),
        )

    def release(self, messages: list[ReceivedMessage]) -> None:
        """Give back locked messages that were not attempted, uncounting this delivery.
        Those whose lock expired meanwhile are skipped (another receive counted them)."""
        if not messages:
            return
        with self._connect() as conn:
            conn.execute(
                "UPDATE messages SET lock_token = NULL, locked_until = NULL, "
                "delivery_count = greatest(delivery_count - 1, 0) "
                "WHERE lock_token = ANY(%s) AND locked_until >= now()",
                ([m.lock_token for m in messages],),
            )

    @property
    def lock_seconds(self) -> float:
        return self.lock.total_seconds()

    def renew_lock(self, message: ReceivedMessage) -> None:
        self._settle(
            "UPDATE messages SET locked_until = now() + %s "
            "WHERE lock_token = %s AND locked_until >= now()",
            (self.lock, message.lock_token),
        )

    def dead_letter(self, message: ReceivedMessage, reason: str, description: str = "") -> None:
        self._settle(
            _MOVE_TO_DEAD_LETTERS.format(where="lock_token = %s AND locked_until >= now()"),
            (message.lock_token, reason, description),
        )

    def dead_letters(self) -> list[DeadLetter]:
        with self._connect() as conn, conn.cursor(row_factory=class_row(DeadLetter)) as cur:
            cur.execute(
                "SELECT message_id, subject, body, delivery_count, reason, description "
                "FROM dead_letters WHERE queue = %s ORDER BY sequence_number",
                (self.queue,),
            )
            return cur.fetchall()

    # -- dead-letter tooling (functions/shared/eventbus/dead_letters.py)

    _DEAD_LETTER_COLUMNS = (
        "sequence_number, message_id, subject, reason, description, delivery_count, "
        "enqueued_at, body"
    )

    def dead_letter_rows(
        self, *, limit: int | None = None, sequence_numbers: list[int] | None = None
    ) -> list[dict]:
        """Dead letters oldest first, all of them or the given sequence numbers."""
        with self._connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                f"SELECT {self._DEAD_LETTER_COLUMNS} FROM dead_letters WHERE queue = %s "
                "AND (%s::bigint[] IS NULL OR sequence_number = ANY(%s)) "
                "ORDER BY sequence_number LIMIT %s",
                (self.queue, sequence_numbers, sequence_numbers, limit),
            )
            return [{**row, "body": bytes(row["body"])} for row in cur.fetchall()]

    def replay_dead_letters(
        self, sequence_numbers: list[int] | None, new_id: Callable[[str, int], str]
    ) -> int:
        """Move dead letters back into the queue, fresh (delivery count 0), with ids from
        `new_id(message_id, sequence_number)`; in one transaction, so none is lost or doubled."""
        with self._connect() as conn, conn.transaction():
            moved = conn.execute(
                "DELETE FROM dead_letters WHERE queue = %s "
                "AND (%s::bigint[] IS NULL OR sequence_number = ANY(%s)) "
                "RETURNING sequence_number, message_id, subject, content_type, body, "
                "application_properties",
                (self.queue, sequence_numbers, sequence_numbers),
            ).fetchall()
            for sequence_number, message_id, subject, content_type, body, properties in sorted(
                moved
            ):
                conn.execute(
                    "INSERT INTO messages (queue, message_id, subject, content_type, body, "
                    "application_properties) VALUES (%s, %s, %s, %s, %s, %s)",
                    (
                        self.queue,
                        new_id(message_id, sequence_number),
                        subject,
                        content_type,
                        body,
                        Jsonb(properties),
                    ),
                )
            return len(moved)

    def purge_dead_letters(self, sequence_numbers: list[int] | None) -> int:
        with self._connect() as conn:
            return conn.execute(
                "DELETE FROM dead_letters WHERE queue = %s "
                "AND (%s::bigint[] IS NULL OR sequence_number = ANY(%s))",
                (self.queue, sequence_numbers, sequence_numbers),
            ).rowcount

    def depth(self) -> int:
        """Active messages (what KEDA's scaler would read as the queue length)."""
        with self._connect() as conn:
            row = conn.execute("SELECT count(*) FROM messages WHERE queue = %s", (self.queue,))
            return row.fetchone()[0]


class LocalQueuePublisher:
    """EventPublisher onto the local queue."""

    def __init__(self, queue: LocalQueue) -> None:
        self.queue = queue

    def publish(self, message: OutgoingMessage) -> None:
        try:
            self.queue.send(message)
        except (psycopg.Error, PoolTimeout) as exc:
            raise PublishError(f"local queue unavailable: {exc}") from exc

    def close(self) -> None:
        self.queue.close()
