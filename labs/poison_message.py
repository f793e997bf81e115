"""A poison message: dead-lettered with its reason while other orders keep flowing.

The handler can never process it; the operator inspects and purges it with the dlq tool."""

import uuid

from functions.shared.eventbus.dead_letters import LocalDeadLetters
from functions.shared.events import OutgoingMessage
from labs.stack import LabResult, Narrate, Stack, eventually


def run(lab: Stack, say: Narrate) -> LabResult:
    with lab.shopper() as shopper:
        before = lab.counts()
        say(f"before: {before}")
        poison_id = str(uuid.uuid4())
        lab.queue.send(OutgoingMessage(poison_id, "OrderPlaced", b'{"version": 2}'))
        say(f"FAULT: message {poison_id} with an unknown schema version is on the queue")
        placed = lab.checkout(shopper).status_code
        dead = LocalDeadLetters(lab.queue)
        eventually(lambda: any(r.message_id == poison_id for r in dead.list()))
        flowing = lab.settle()
        record = next(r for r in dead.list() if r.message_id == poison_id)
        say(f"shopper: a checkout alongside -> {placed}; its timeline completes")
        say(
            f"operator: python -m functions.worker dlq show {record.sequence_number} -> "
            f"reason={record.reason!r} description={record.description!r} "
            f"deliveries={record.delivery_count}"
        )
        during = flowing
        purged = dead.purge([record.sequence_number])
        say(f"operator: dlq purge {record.sequence_number} -> {purged} purged")
        after = lab.counts()
        say(f"after: {after}")
    return LabResult(
        before,
        after,
        {
            "checkout": placed,
            "reason": record.reason,
            "description": record.description,
            "delivery_count": record.delivery_count,
            "dead_letters_during": during.dead_letters,
            "purged": purged,
        },
    )
