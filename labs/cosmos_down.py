"""Cosmos DB down while orders flow: checkouts succeed, timelines wait, the worker retries."""

from labs.stack import LabResult, Narrate, Stack


def run(lab: Stack, say: Narrate, orders: int = 3) -> LabResult:
    with lab.shopper() as shopper:
        before = lab.counts()
        say(f"before: {before}")
        lab.proxies["cosmos"].stop()
        say("FAULT: Cosmos DB unreachable for the worker and the order page")
        statuses = [lab.checkout(shopper).status_code for _ in range(orders)]
        order_id = lab.order_ids()[-1]
        page = shopper.get(f"/orders/{order_id}")
        timeline = page.json()["timeline"]
        say(
            f"shopper: {orders} checkouts -> {statuses}; order page -> {page.status_code} "
            f"timeline available={timeline['available']}"
        )
        during = lab.counts()
        say(
            f"operator: {during.queued} message(s) waiting in the queue, not dead-lettered "
            f"(dead letters {during.dead_letters})"
        )
        lab.proxies["cosmos"].start()
        say("HEAL: Cosmos DB reachable again")
        after = lab.settle()
        say(f"after: {after}")
    return LabResult(
        before,
        after,
        {
            "checkouts_during": statuses,
            "page_during": page.status_code,
            "timeline_available_during": timeline["available"],
            "queued_during": during.queued,
            "dead_letters_during": during.dead_letters,
        },
    )
