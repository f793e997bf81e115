"""A Postgres-backed queue with Service Bus peek-lock semantics, for `make dev` and tests.

- `send` drops a message whose id was seen within the duplicate-detection window; one
  statement (one round trip). Ids older than the window no longer count as seen whether or not
  they were pruned yet, so their table is pruned on a schedule (`prune_interval`), not on every
  send.
- `receive` locks up to N visible messages for the lock duration and raises their delivery
  count; `FOR UPDATE SKIP LOCKED` means parallel consumers never get the same message. It
  reads only the head of the queue (its index), so it costs the same with 10 or 100k messages.
- `complete` deletes a message; `abandon` (or an expired lock) makes it visible again, at once
  or after a delay (a per-message backoff, so one failing message does not spin at the head).
- `release` gives back locked messages that were never handed to a handler and takes back the
  delivery this receive counted (local only: Service Bus has no such call, but its Functions
  host with `prefetchCount: 0` only locks the messages it is about to run, so there too a
  delivery is counted only for a message actually attempted).
- A message delivered `max_delivery_count` times without being completed moves to
  `dead_letters` with reason `MaxDeliveryCountExceeded` when it would be delivered again (as on
  Service Bus); `dead_letter` moves one explicitly.
Settling with a lock that expired (another consumer may have it now) raises `LockLost`.
"""

import select
import threading
import time
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


# Duplicate detection as Service Bus does it: an id seen within the window drops the message.
# The ON CONFLICT ... WHERE renews an id last seen before the window (not pruned yet), so the
# answer never depends on when the prune ran.
_SEND = """
    WITH first AS (
        INSERT INTO seen_message_ids (queue, message_id) VALUES (%(queue)s, %(message_id)s)
        ON CONFLICT (queue, message_id) DO UPDATE SET seen_at = now()
        WHERE seen_message_ids.seen_at < now() - %(window)s
        RETURNING 1)
    INSERT INTO messages (queue, message_id, subject, content_type, body, application_properties)
    SELECT %(queue)s, %(message_id)s, %(subject)s, %(content_type)s, %(body)s, %(properties)s
    WHERE EXISTS (SELECT FROM first)
    RETURNING 1
"""

# One statement: take the first visible messages (the index on (queue, sequence_number) walks
# only the head), move those past the max delivery count to the dead letters, lock the others.
# The outer join gives one row even when nothing is locked, carrying how many were moved.
_RECEIVE = """
    WITH head AS (
        SELECT sequence_number, delivery_count >= %(max)s AS exhausted FROM messages
        WHERE queue = %(queue)s AND (locked_until IS NULL OR locked_until < now())
        ORDER BY sequence_number LIMIT %(limit)s FOR UPDATE SKIP LOCKED),
    moved AS (
        DELETE FROM messages
        WHERE sequence_number IN (SELECT sequence_number FROM head WHERE exhausted)
        RETURNING *),
    dead AS (
        INSERT INTO dead_letters (sequence_number, queue, message_id, subject, content_type,
                                  body, application_properties, enqueued_at, delivery_count,
                                  reason, description)
        SELECT sequence_number, queue, message_id, subject, content_type, body,
               application_properties, enqueued_at, delivery_count,
               %(reason)s, %(description)s FROM moved),
    locked AS (
        UPDATE messages SET lock_token = gen_random_uuid(),
                            locked_until = now() + %(lock)s,
                            delivery_count = delivery_count + 1
        WHERE sequence_number IN (SELECT sequence_number FROM head WHERE NOT exhausted)
        RETURNING sequence_number, message_id, subject, content_type, body,
                  application_properties, enqueued_at, delivery_count, lock_token, locked_until)
    SELECT (SELECT count(*) FROM moved), locked.*
    FROM (SELECT 1) AS one LEFT JOIN locked ON true
"""


def _check_if_closed(conn: psycopg.Connection) -> None:
    """The pool's check: a round trip only for a connection whose socket is readable. An idle
    connection is owed nothing, so readable means the server closed it (a restart of the local
    Postgres) or sent a notice; checking every connection on every use cost each send and
    receive one more round trip. A connection dropped silently still fails its statement, and
    every caller retries (the outbox sweep, the consumer loop)."""
    try:
        fd = conn.pgconn.socket
    except psycopg.OperationalError:
        raise psycopg.OperationalError("the connection is closed") from None
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI)
    if poller.poll(0):
        ConnectionPool.check_connection(conn)


class LocalQueue:
    def __init__(
        self,
        database_url: str,
        queue: str = "orders",
        lock_seconds: float = 30,
        max_delivery_count: int = 10,
        duplicate_window: timedelta = timedelta(minutes=10),
        prune_interval: float = 60,
    ) -> None:
        self.database_url = database_url
        self.queue = queue
        self.lock = timedelta(seconds=lock_seconds)
        self.max_delivery_count = max_delivery_count
        self.duplicate_window = duplicate_window
        self.prune_interval = prune_interval
        self._next_prune = 0.0  # monotonic time of the next prune of seen ids (0: first send)
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
                    check=_check_if_closed,
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
        with self._connect() as conn:
            # One statement, so atomic in autocommit: the id is recorded (or its expired record
            # renewed) and the message inserted, or neither. A concurrent send of the same id
            # conflicts on the primary key and sees the other's fresh record: one wins.
            sent = conn.execute(
                _SEND,
                {
                    "queue": self.queue,
                    "message_id": message.message_id,
                    "window": self.duplicate_window,
                    "subject": message.subject,
                    "content_type": message.content_type,
                    "body": message.body,
                    "properties": Jsonb(message.application_properties),
                },
            ).fetchone()
            if time.monotonic() >= self._next_prune:
                self._next_prune = time.monotonic() + self.prune_interval
                self.prune_seen_ids(conn)
            return sent is not None

    def prune_seen_ids(self, conn: psycopg.Connection | None = None, batch: int = 10_000) -> int:
        """Forget ids seen before the window (housekeeping only: expired ids are not treated as
        seen either way). Deletes in batches on the (queue, seen_at) index, so one prune never
        holds many row locks or runs long; returns how many were deleted."""
        if conn is None:
            with self._connect() as own:
                return self.prune_seen_ids(own, batch)
        deleted = 0
        while True:
            count = conn.execute(
                # ANY(ARRAY(...)) and ORDER BY keep a generic plan on the indexes too (the
                # outbox prune in functions/orders/relay.py says why).
                "DELETE FROM seen_message_ids WHERE queue = %(queue)s AND message_id = ANY(ARRAY("
                " SELECT message_id FROM seen_message_ids WHERE queue = %(queue)s"
                " AND seen_at < now() - %(window)s ORDER BY seen_at LIMIT %(batch)s))",
                {"queue": self.queue, "window": self.duplicate_window, "batch": batch},
            ).rowcount
            deleted += count
            if count < batch:
                return deleted

    def receive(self, max_messages: int = 1) -> list[ReceivedMessage]:
        """Lock and return up to `max_messages` visible messages, oldest first. Messages at the
        head that were delivered `max_delivery_count` times move to the dead letters instead
        (and the next ones are received in their place)."""
        while True:
            with self._connect() as conn, conn.cursor() as cur:
                rows = cur.execute(
                    _RECEIVE,
                    {
                        "queue": self.queue,
                        "max": self.max_delivery_count,
                        "limit": max_messages,
                        "lock": self.lock,
                        "reason": MAX_DELIVERY_COUNT_EXCEEDED,
                        "description": f"Not completed after {self.max_delivery_count} deliveries.",
                    },
                ).fetchall()
            received = sorted(
                (ReceivedMessage(*row[1:]) for row in rows if row[1] is not None),
                key=lambda m: m.sequence_number,
            )
            moved = rows[0][0] if rows else 0
            if received or not moved:
                return received

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
