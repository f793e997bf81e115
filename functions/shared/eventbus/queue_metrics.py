"""Depth and dead letters of the local queue as gauges (`tinyshop_queue_depth`,
`tinyshop_queue_dead_letters`), observed by the local consumer at each collection.

In Azure the same two numbers are Service Bus's own (`ActiveMessages`, `DeadletteredMessages`
in Azure Monitor) and KEDA's `keda_scaler_metrics_value` for the queue length; see
docs/operations.md, "Where telemetry goes".
"""

from collections.abc import Iterable

import psycopg

from functions.shared import metrics
from functions.shared.eventbus.local_queue import LocalQueue

COUNTS = (
    "SELECT (SELECT count(*) FROM messages WHERE queue = %(q)s),"
    " (SELECT count(*) FROM dead_letters WHERE queue = %(q)s)"
)


def _counts(queue: LocalQueue) -> tuple[int, int]:
    # A short connection per collection (every 15 s locally), apart from the queue's pool.
    # connect_timeout bounds a scrape when the bus database does not answer (then: no value).
    with psycopg.connect(queue.database_url, autocommit=True, connect_timeout=1) as conn:
        row = conn.execute(COUNTS, {"q": queue.queue}).fetchone()
    return int(row[0]), int(row[1])


def observe_local_queue(queue: LocalQueue) -> None:
    cache: dict[str, tuple[int, int]] = {}

    def depth() -> Iterable[tuple[float, dict]]:
        cache["counts"] = _counts(queue)  # one query per collection serves both gauges
        return [(cache["counts"][0], {"queue": queue.queue})]

    def dead_letters() -> Iterable[tuple[float, dict]]:
        counts = cache.pop("counts", None) or _counts(queue)
        return [(counts[1], {"queue": queue.queue})]

    metrics.observe_gauges(
        "tinyshop.queue.depth", "{message}", "Messages in the queue (visible or locked).", depth
    )
    metrics.observe_gauges(
        "tinyshop.queue.dead_letters", "{message}", "Dead-lettered messages.", dead_letters
    )
