"""Cosmos DB throttling (429) while orders flow: writes wait and retry, nothing is lost.

The worker's Cosmos client goes through an HTTP fault proxy (dev/http_fault_proxy.py) that
answers 429 with `x-ms-retry-after-ms`, as an account out of request units does. The SDK waits
and retries once (retry_throttle_total), then the worker treats the 429 as transient."""

from dev.http_fault_proxy import HttpFaultProxy
from functions.shared.timeline_store import CosmosSettings, CosmosTimelineStore
from labs.stack import LabResult, Narrate, Stack, eventually


def run(lab: Stack, say: Narrate, orders: int = 3) -> LabResult:
    proxy = HttpFaultProxy((lab.cosmos.host, lab.cosmos.port)).start()
    store = CosmosTimelineStore(
        CosmosSettings(endpoint=proxy.url, key=lab.cosmos.key, timeout=1, retry_total=0)
    )
    try:
        with lab.shopper() as shopper:
            before = lab.counts()
            say(f"before: {before}")
            lab.stop_workers()
            lab.start_workers(1, store=store)
            proxy.throttle = True
            say(f"FAULT: Cosmos answers 429 (x-ms-retry-after-ms: {proxy.retry_after_ms})")
            statuses = [lab.checkout(shopper).status_code for _ in range(orders)]
            eventually(lambda: proxy.throttled >= 4)  # the worker has met the 429s a while
            during = lab.counts()
            say(
                f"shopper: {orders} checkouts -> {statuses}; timelines complete so far: "
                f"{during.complete_timelines - before.complete_timelines}"
            )
            say(
                f"operator: {proxy.throttled} requests throttled; {during.queued} message(s) "
                f"waiting, dead letters {during.dead_letters}"
            )
            proxy.throttle = False
            say("HEAL: throughput back (no more 429s)")
            after = lab.settle()
            say(f"after: {after}")
    finally:
        lab.stop_workers()
        lab.start_workers(1)
        proxy.stop()
    return LabResult(
        before,
        after,
        {
            "checkouts_during": statuses,
            "throttled": proxy.throttled,
            "complete_during": during.complete_timelines - before.complete_timelines,
            "dead_letters_during": during.dead_letters,
        },
    )
