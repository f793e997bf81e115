"""The bus down: checkouts commit to the outbox; the relay publishes once the bus is back."""

import time

import psycopg

from labs.stack import LabResult, Narrate, Stack


def unpublished(lab: Stack) -> int:
    with psycopg.connect(lab.orders_db) as conn:
        return conn.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetchone()[0]


# Longer than the local queue's pool timeout (3 s): the publishes right after commit give up,
# so only the outbox sweep can deliver the events.
HOLD_SECONDS = 4


def run(lab: Stack, say: Narrate, orders: int = 3) -> LabResult:
    with lab.shopper() as shopper:
        before = lab.counts()
        say(f"before: {before}")
        lab.proxies["bus"].stop()
        say("FAULT: the publisher cannot reach the bus")
        statuses = [lab.checkout(shopper).status_code for _ in range(orders)]
        time.sleep(HOLD_SECONDS)
        held = unpublished(lab)
        during = lab.counts()
        say(f"shopper: {orders} checkouts -> {statuses}")
        say(f"operator: outbox holds {held} unpublished row(s); queue depth {during.queued}")
        lab.proxies["bus"].start()
        say("HEAL: bus reachable; the outbox sweep publishes the held rows")
        after = lab.settle(seconds=20)
        left = unpublished(lab)
        say(f"after: {after}; unpublished outbox rows {left}")
    return LabResult(
        before,
        after,
        {
            "checkouts_during": statuses,
            "held_in_outbox": held,
            "unpublished_after": left,
            "complete_during": during.complete_timelines,
        },
    )
