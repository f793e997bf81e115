"""A worker killed mid-message: the lock expires and another worker finishes the order.

The dying worker had locked the message and never settled it; when the lock expires the bus
delivers it again (delivery count 2) and the handler's idempotent writes complete the timeline."""

from functions.shared.eventbus.local_queue import LocalQueue
from labs.stack import LabResult, Narrate, Stack, eventually


def run(lab: Stack, say: Narrate) -> LabResult:
    with lab.shopper() as shopper:
        before = lab.counts()
        say(f"before: {before}")
        lab.stop_workers()
        order = lab.checkout(shopper).json()
        eventually(lambda: lab.queue.depth() == 1)  # published right after the commit
        doomed = LocalQueue(lab.bus_db, queue=lab.queue.queue, lock_seconds=lab.queue.lock_seconds)
        [held] = doomed.receive(1)  # the worker that is about to die holds the lock...
        doomed.close()  # ...and dies: no complete, no abandon
        say(f"FAULT: a worker locked {held.message_id} and was killed before settling it")
        during = lab.counts()
        say(
            f"operator: queue depth {during.queued} (locked, invisible for "
            f"{lab.queue.lock_seconds:g} s); order timeline {lab.timeline_types(order['id'])}"
        )
        lab.start_workers(1)
        say("HEAL: a new worker starts; the lock expires and the message is delivered again")
        after = lab.settle(seconds=lab.queue.lock_seconds + 10)
        say(f"after: {after}")
    return LabResult(
        before,
        after,
        {"first_delivery": held.delivery_count, "timeline_during": during.complete_timelines},
    )
