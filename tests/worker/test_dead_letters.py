"""The operators' dead-letter tool (`python -m functions.worker dlq`) on the local queue: list
with reason and delivery count, show, replay (idempotent, even for an event already processed),
purge only when confirmed. The Service Bus side is in the contract suite
(tests/eventbus/test_servicebus_adapter.py)."""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from functions.shared.eventbus.dead_letters import LocalDeadLetters, replay_message_id
from functions.shared.eventbus.local_queue import LocalQueue
from functions.shared.events import OutgoingMessage
from functions.shared.timeline_store import CosmosTimelineStore
from functions.worker import local_consumer
from functions.worker.dlq import run
from functions.worker.settings import WorkerSettings
from tests.conftest import cosmos_settings
from tests.unit.builders import order_placed_payload

REPO = Path(__file__).resolve().parents[2]


def send(queue: LocalQueue, payload: dict, message_id: str | None = None) -> None:
    queue.send(
        OutgoingMessage.for_event(message_id or payload["eventId"], "OrderPlaced", payload, {})
    )


def dead_letter_one(
    queue: LocalQueue, payload: dict, reason: str = "TestReason", message_id: str | None = None
) -> int:
    send(queue, payload, message_id)
    [received] = queue.receive(1)
    queue.dead_letter(received, reason, "put here by the test")
    [record] = LocalDeadLetters(queue).list()
    return record.sequence_number


def drain(queue: LocalQueue, store: CosmosTimelineStore) -> None:
    stop = threading.Event()
    worker = threading.Thread(
        target=local_consumer.run,
        args=(queue, store, WorkerSettings(idle_seconds=0.01), stop),
    )
    worker.start()
    try:
        for _ in range(500):
            if queue.depth() == 0:
                break
            stop.wait(0.02)
    finally:
        stop.set()
        worker.join()


def test_list_shows_reason_and_delivery_count(queue: LocalQueue, capsys) -> None:
    payload = order_placed_payload()
    sequence = dead_letter_one(queue, payload, reason="NotAnOrderPlaced")
    assert run(["list"], LocalDeadLetters(queue)) == 0
    line = capsys.readouterr().out.strip()
    assert line.split("\t")[:3] == [str(sequence), "NotAnOrderPlaced", "deliveries=1"]
    assert payload["eventId"] in line


def test_show_prints_the_body(queue: LocalQueue, capsys) -> None:
    payload = order_placed_payload()
    sequence = dead_letter_one(queue, payload)
    assert run(["show", str(sequence)], LocalDeadLetters(queue)) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["body"]["orderId"] == payload["orderId"]
    assert run(["show", str(sequence + 10_000)], LocalDeadLetters(queue)) == 1


def test_a_replayed_event_is_processed_and_a_second_replay_changes_nothing(
    queue: LocalQueue, cosmos
) -> None:
    store = CosmosTimelineStore(cosmos_settings(cosmos))
    payload = order_placed_payload()
    sequence = dead_letter_one(queue, payload)

    assert run(["replay", str(sequence)], LocalDeadLetters(queue)) == 0
    assert LocalDeadLetters(queue).list() == []
    drain(queue, store)
    timeline = store.events(payload["orderId"])
    assert [e["type"] for e in timeline] == [
        "OrderPlaced",
        "ConfirmationEmailSent",
        "OrderConfirmed",
    ]

    # The same event dead-lettered again (a stale copy under another message id, or an operator
    # replaying twice): its replay writes nothing new.
    again = dead_letter_one(queue, payload, message_id=f"{payload['eventId']}:copy")
    assert run(["replay", "--all"], LocalDeadLetters(queue)) == 0
    drain(queue, store)
    assert store.events(payload["orderId"]) == timeline
    assert queue.dead_letters() == []
    assert again != sequence


def test_replay_gives_the_copy_a_new_id_so_duplicate_detection_keeps_it(
    queue: LocalQueue,
) -> None:
    payload = order_placed_payload()
    sequence = dead_letter_one(queue, payload)
    LocalDeadLetters(queue).replay([sequence])
    [received] = queue.receive(1)
    assert received.message_id == replay_message_id(payload["eventId"], sequence)
    assert received.delivery_count == 1  # a fresh start, not the dead letter's count


def test_purge_asks_first_and_only_purges_on_yes(queue: LocalQueue) -> None:
    sequence = dead_letter_one(queue, order_placed_payload())
    assert run(["purge", str(sequence)], LocalDeadLetters(queue), confirm=lambda _: "n") == 1
    assert len(LocalDeadLetters(queue).list()) == 1
    assert run(["purge", str(sequence)], LocalDeadLetters(queue), confirm=lambda _: "y") == 0
    assert LocalDeadLetters(queue).list() == []


def test_replaying_or_purging_a_letter_that_is_not_there_fails(queue: LocalQueue) -> None:
    sequence = dead_letter_one(queue, order_placed_payload())
    assert run(["replay", str(sequence), str(sequence + 1000)], LocalDeadLetters(queue)) == 1
    assert run(["purge", "--yes", str(sequence + 1000)], LocalDeadLetters(queue)) == 1


def test_replay_needs_a_selection(queue: LocalQueue) -> None:
    with pytest.raises(SystemExit):
        run(["replay"], LocalDeadLetters(queue))


def test_the_command_line_works_on_the_configured_local_queue(queue: LocalQueue) -> None:
    sequence = dead_letter_one(queue, order_placed_payload())
    env = {
        **os.environ,
        "EVENT_BUS": "local",
        "LOCAL_BUS_DATABASE_URL": queue.database_url,
        "EVENT_BUS_QUEUE": queue.queue,
    }
    listed = subprocess.run(
        [sys.executable, "-m", "functions.worker", "dlq", "list"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert listed.stdout.startswith(f"{sequence}\t")
    purged = subprocess.run(
        [sys.executable, "-m", "functions.worker", "dlq", "purge", "--all", "--yes"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert purged.stdout.strip() == "purged 1 dead letter(s)"
    assert queue.dead_letters() == []
