"""The outbox relay: moves `OrderPlaced` rows from the outbox to the event bus.

It runs right after a checkout commits (for that order) and as a periodic sweep (a timer
function in Azure, a thread of the local orders process) that publishes whatever is still
unpublished — so a bus outage delays events but never loses them. Rows are claimed with
`FOR UPDATE SKIP LOCKED` and a short lease (several relays never publish the same row at once;
no transaction is open while publishing), a failed row
waits with exponential backoff, published rows are marked (not deleted) and pruned after the
retention period. A crash between publishing and marking republishes the row: the bus drops
the duplicate message id and the worker is idempotent.

Round trips per event: the claim, the publish, and the mark — and in a sweep the claim and the
mark are one statement per batch, so an event costs little more than its publish. Every hot
statement has its index (migrations 0002, 0003; tests/orders/test_query_plans.py).
"""

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from functions.orders.settings import OrdersSettings
from functions.shared.db import Database
from functions.shared.eventbus import EventPublisher, PublishError
from functions.shared.eventbus.tracing import publishing
from functions.shared.events import OutgoingMessage

_log = logging.getLogger("tinyshop.orders.relay")
MAX_BACKOFF_SECONDS = 300
CLAIM_LEASE = timedelta(seconds=60)  # a claimed row is retried if its relay dies meanwhile


# The relay's own writes to the orders database (claim leases, `published_at` marks, prunes)
# commit without waiting for the WAL flush. A database crash can lose the last few of them, which
# the relay already survives: a lost lease makes the row due again, a lost mark republishes it
# (the bus drops the duplicate message id, the worker is idempotent), a lost prune runs again.
# The order, its items and its outbox row are written by the request pool, which keeps
# `synchronous_commit = on`. One fsync per event instead of three (claim, send, mark): the
# queue's own send still waits for its flush, as a broker's does.
# https://www.postgresql.org/docs/current/wal-async-commit.html
RELAY_SERVER_SETTINGS = {"synchronous_commit": "off"}


def relay_database(settings: OrdersSettings) -> Database:
    """The relay's own small pool (publish after commit, sweep): requests holding every request
    connection cannot starve it ("couldn't get a connection"), and a sweep through a backlog
    cannot take connections from requests. Per replica: db_pool_max_size + relay_pool_max_size
    connections at most."""
    return Database(
        settings.model_copy(
            update={"db_pool_min_size": 0, "db_pool_max_size": settings.relay_pool_max_size}
        ),
        "orders-relay",
        RELAY_SERVER_SETTINGS,
    )


@dataclass(frozen=True)
class RelayResult:
    published: int
    failed: int


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after `attempts` failures: 2, 4, 8 ... 300 seconds."""
    return timedelta(seconds=min(2**attempts, MAX_BACKOFF_SECONDS))


# `= ANY(ARRAY(subquery))`, not `IN (subquery)`: the generic plan of a prepared statement
# (psycopg prepares from the 5th execution) does not know the LIMIT, and for `IN` it estimated
# enough rows to hash-join them against a scan of the whole table; an array of ids is always
# looked up on the primary key (tests/orders/test_query_plans.py checks both plans).
_CLAIM = (
    "UPDATE outbox SET next_attempt_at = now() + %(lease)s WHERE event_id = ANY(ARRAY("
    " SELECT event_id FROM outbox WHERE published_at IS NULL AND next_attempt_at <= now()"
    " {and_order} ORDER BY created_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED))"
    " RETURNING event_id, event_type, payload, trace_context, attempts, created_at"
)
# Two texts, not `(%(order_id)s IS NULL OR order_id = ...)`: a generic plan of that could not
# use the index of pending rows by order.
CLAIM_DUE = _CLAIM.format(and_order="")
CLAIM_DUE_OF_ORDER = _CLAIM.format(and_order="AND order_id = %(order_id)s")
MARK_PUBLISHED = (
    "UPDATE outbox SET published_at = now(), attempts = attempts + 1, last_error = NULL "
    "WHERE event_id = ANY(%s)"
)
MARK_FAILED = (
    "UPDATE outbox SET attempts = attempts + 1, last_error = %s, next_attempt_at = now() + %s "
    "WHERE event_id = %s"
)


def publish_due(
    db: Database, publisher: EventPublisher, batch_size: int = 100, order_id: UUID | None = None
) -> RelayResult:
    """Publish up to `batch_size` due outbox rows (only `order_id`'s when given).

    Rows are claimed with a short lease in their own statement, then published with no
    transaction or lock held, so a slow bus never pins database connections or rows. The batch
    stops at the first failure (the bus is likely down); unattempted rows become due again when
    their lease ends. What was published and what failed is then marked in one round trip.
    """
    with db.connection() as conn:
        claimed = conn.execute(
            CLAIM_DUE if order_id is None else CLAIM_DUE_OF_ORDER,
            {"order_id": order_id, "limit": batch_size, "lease": CLAIM_LEASE},
        ).fetchall()
    published: list[UUID] = []
    failure: tuple[str, timedelta, UUID] | None = None
    for event_id, event_type, payload, trace_context, attempts, _ in sorted(
        claimed, key=lambda row: row[5]
    ):
        message = OutgoingMessage.for_event(str(event_id), event_type, payload, trace_context)
        try:
            # A `send` span in the checkout's trace; the message carries the span's context.
            with publishing(message, trace_context) as traced:
                publisher.publish(traced)
        except PublishError as exc:
            failure = (str(exc)[:1000], backoff(attempts + 1), event_id)
            break
        published.append(event_id)
    if published or failure:
        # One round trip for both writes (a crash before it republishes the batch after the
        # lease: the bus drops the duplicates, the worker is idempotent).
        with db.connection() as conn:
            if published and failure:
                with conn.pipeline():
                    conn.execute(MARK_PUBLISHED, (published,))
                    conn.execute(MARK_FAILED, failure)
            elif published:
                conn.execute(MARK_PUBLISHED, (published,))
            else:
                conn.execute(MARK_FAILED, failure)
    return RelayResult(len(published), 1 if failure else 0)


class PublishAfterCommit:
    """Publishes a new order's events off the request path, a few at a time.

    A thread pool, not Starlette's BackgroundTasks: under the Functions host `AsgiMiddleware`
    waits for background tasks before it returns the response. When all slots are busy (a slow
    bus) the publish is skipped: the sweep publishes the row later.
    """

    def __init__(self, db: Database, publisher: EventPublisher, slots: int = 4) -> None:
        self._db = db
        self._publisher = publisher
        self._slots = threading.BoundedSemaphore(slots)
        self._pool = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="outbox-publish")

    def submit(self, order_id: UUID) -> None:
        if not self._slots.acquire(blocking=False):
            _log.info("publish of %s left to the sweep: all publish slots are busy", order_id)
            return
        try:
            self._pool.submit(self._publish, order_id)
        except RuntimeError:  # closed: handed over (call_soon) while the app was stopping
            self._slots.release()
            _log.info("publish of %s left to the sweep: the relay has stopped", order_id)

    def _publish(self, order_id: UUID) -> None:
        try:
            publish_due(self._db, self._publisher, order_id=order_id)
        except Exception as exc:  # the sweep retries; never let a publish error escape
            _log.warning("publishing the events of %s deferred to the sweep: %s", order_id, exc)
        finally:
            self._slots.release()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


# Oldest first along the index of published rows; ORDER BY keeps the generic plan on that
# index too (without it, an unknown cutoff is estimated to match a third of the table).
PRUNE = (
    "DELETE FROM outbox WHERE event_id = ANY(ARRAY(SELECT event_id FROM outbox"
    " WHERE published_at < now() - %(retention)s ORDER BY published_at LIMIT %(batch)s))"
)


def prune(db: Database, retention: timedelta, batch: int = 10_000) -> int:
    """Delete published rows older than `retention`; unpublished rows are never pruned.

    In batches found on the index of published rows (migration 0003): a sweep with nothing to
    prune costs one index probe however many published rows are kept, and a large backlog of
    expired rows is deleted without one long statement holding its locks."""
    deleted = 0
    with db.connection() as conn:
        while True:
            count = conn.execute(PRUNE, {"retention": retention, "batch": batch}).rowcount
            deleted += count
            if count < batch:
                return deleted


def sweep(
    db: Database, publisher: EventPublisher, retention: timedelta, batch_size: int = 100
) -> RelayResult:
    """Publish everything due (batch by batch), then prune."""
    published = failed = 0
    while True:
        result = publish_due(db, publisher, batch_size)
        published += result.published
        failed += result.failed
        if result.published + result.failed < batch_size or result.published == 0:
            break
    pruned = prune(db, retention)
    if published or failed or pruned:
        _log.info("outbox sweep: %d published, %d failed, %d pruned", published, failed, pruned)
    return RelayResult(published, failed)


class Sweeper:
    """The periodic sweep as a background thread (the local orders process; Azure uses the
    timer function instead)."""

    def __init__(
        self, db: Database, publisher: EventPublisher, interval: float, retention: timedelta
    ) -> None:
        self._db = db
        self._publisher = publisher
        self._interval = interval
        self._retention = retention
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                sweep(self._db, self._publisher, self._retention)
            except Exception as exc:  # the database may be down; the next sweep tries again
                _log.warning("outbox sweep failed: %s", exc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
