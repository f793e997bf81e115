"""The outbox as gauges: rows not yet published (`tinyshop_outbox_backlog`) and the age of the
oldest one (`tinyshop_outbox_oldest_age_seconds`), read at each metrics collection.

A growing age means events are stuck (the bus is down, or the relay is failing): orders are
placed but nobody is told. Every orders replica reports the same numbers, so queries take
`max` over instances. One query per collection, on the partial indexes of unpublished rows.
"""

import threading
import time
from collections.abc import Iterable

from functions.shared import metrics
from functions.shared.db import Database

# A scrape must not hang on a database that does not answer: each read waits this long for a
# connection, and all of them together at most READ_BUDGET (the gauges then report nothing).
READ_TIMEOUT = 0.5
READ_BUDGET = 2.0


BACKLOG = (
    "SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)"
    " FROM outbox WHERE published_at IS NULL"
)


def _read(db: Database) -> tuple[int, float]:
    with db.connection(timeout=READ_TIMEOUT) as conn:
        row = conn.execute(BACKLOG).fetchone()
    return int(row[0]), float(row[1])


# The gauges are registered once per process (OpenTelemetry keeps the first instrument of a
# name); each orders app adds its database here and the newest one that answers is read.
_databases: list[Database] = []
_lock = threading.Lock()


def _newest_reading() -> tuple[int, float]:
    with _lock:
        # A closed one belongs to an app that has stopped (tests run several): reading it
        # would reopen its pool and wait out the pool timeout at every scrape.
        _databases[:] = [db for db in _databases if not db.closed]
        candidates = list(reversed(_databases))
    deadline = time.monotonic() + READ_BUDGET
    for db in candidates:
        if time.monotonic() > deadline:
            break
        try:
            return _read(db)
        except Exception:  # noqa: S112 (closed or down: try an older one, else report nothing)
            continue
    raise RuntimeError("no orders database answers")


def observe_outbox(db: Database) -> None:
    with _lock:
        first = not _databases
        _databases.append(db)
    if not first:
        return
    cache: dict[str, tuple[int, float]] = {}

    def backlog() -> Iterable[tuple[float, dict]]:
        cache["row"] = _newest_reading()
        return [(cache["row"][0], {})]

    def oldest_age() -> Iterable[tuple[float, dict]]:
        row = cache.pop("row", None) or _newest_reading()
        return [(row[1], {})]

    metrics.observe_gauges(
        "tinyshop.outbox.backlog", "{row}", "Outbox rows not yet published.", backlog
    )
    metrics.observe_gauges(
        "tinyshop.outbox.oldest_age", "s", "Age of the oldest unpublished outbox row.", oldest_age
    )
