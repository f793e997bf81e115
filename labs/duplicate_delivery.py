"""Duplicate deliveries: the same OrderPlaced again changes no timeline.

A lost lock or a replay delivers it again; the worker's writes are idempotent."""

import json
import uuid

import psycopg

from functions.shared.events import OutgoingMessage
from labs.stack import LabResult, Narrate, Stack, eventually


def run(lab: Stack, say: Narrate, copies: int = 3) -> LabResult:
    with lab.shopper() as shopper:
        placed = lab.checkout(shopper).json()
        before = lab.settle()
        say(f"before: {before}")
        with psycopg.connect(lab.orders_db) as conn:
            [(payload,)] = conn.execute(
                "SELECT payload FROM outbox WHERE order_id = %s", (placed["id"],)
            ).fetchall()
        for _ in range(copies):  # new message ids: the bus's duplicate detection cannot help
            body = json.dumps(payload).encode()
            lab.queue.send(OutgoingMessage(str(uuid.uuid4()), "OrderPlaced", body))
        say(f"FAULT: {copies} more deliveries of order {placed['id']}'s OrderPlaced")
        drained = eventually(lambda: lab.queue.depth() == 0)
        timeline = lab.timeline_types(placed["id"])
        say(f"shopper: the order page still shows {timeline}")
        after = lab.settle()
        say(f"after: {after}")
    return LabResult(before, after, {"drained": drained, "timeline": timeline})
