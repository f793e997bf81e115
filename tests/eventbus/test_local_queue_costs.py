"""What the local queue's operations cost in round trips (counted from libpq's trace), and that
duplicate detection stays exact now that the seen ids are pruned on a schedule, not per send."""

import uuid

import psycopg

from functions.shared.eventbus.local_queue import LocalQueue
from tests.eventbus.test_local_queue import message
from tests.orders.round_trips import counting_queue


def seen_ids(queue: LocalQueue) -> list[str]:
    with psycopg.connect(queue.database_url) as conn:
        rows = conn.execute(
            "SELECT message_id FROM seen_message_ids WHERE queue = %s", (queue.queue,)
        )
        return sorted(r[0] for r in rows)


def age_seen_id(queue: LocalQueue, message_id: str, minutes: int) -> None:
    with psycopg.connect(queue.database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE seen_message_ids SET seen_at = now() - make_interval(mins => %s) "
            "WHERE queue = %s AND message_id = %s",
            (minutes, queue.queue, message_id),
        )


def test_send_receive_and_complete_cost_one_round_trip_each(queue: LocalQueue):
    queue.send(message())  # the first send also prunes the seen ids (then once a minute)
    tally = counting_queue(queue)

    assert queue.send(message(1))
    sent = tally.round_trips
    tally.reset()
    received = queue.receive(2)
    receive = tally.round_trips
    tally.reset()
    queue.complete(received[0])

    assert (sent, receive, tally.round_trips) == (1, 1, 1)
    assert len(received) == 2


def test_a_duplicate_within_the_window_is_dropped_whether_or_not_a_prune_ran(bus_db: str):
    queue = LocalQueue(bus_db, queue=f"q-{uuid.uuid4().hex[:8]}", prune_interval=3600)
    sent = message()
    assert queue.send(sent)
    age_seen_id(queue, sent.message_id, 9)  # inside the 10-minute window

    assert not queue.send(sent)
    queue.prune_seen_ids()
    assert not queue.send(sent)
    assert queue.depth() == 1


def test_an_id_seen_before_the_window_is_accepted_again_before_any_prune(bus_db: str):
    queue = LocalQueue(bus_db, queue=f"q-{uuid.uuid4().hex[:8]}", prune_interval=3600)
    sent = message()
    assert queue.send(sent)
    age_seen_id(queue, sent.message_id, 11)  # outside the window, still in the table

    assert queue.send(sent)
    assert queue.depth() == 2
    assert not queue.send(sent)  # and it is freshly seen again


def test_the_prune_forgets_only_expired_ids_of_its_own_queue(bus_db: str):
    mine = LocalQueue(bus_db, queue=f"q-{uuid.uuid4().hex[:8]}", prune_interval=3600)
    other = LocalQueue(bus_db, queue=f"q-{uuid.uuid4().hex[:8]}", prune_interval=3600)
    old, fresh, others = message(), message(1), message(2)
    for queue, sent in ((mine, old), (mine, fresh), (other, others)):
        queue.send(sent)
    age_seen_id(mine, old.message_id, 11)
    age_seen_id(other, others.message_id, 11)

    assert mine.prune_seen_ids(batch=1) == 1

    assert seen_ids(mine) == [fresh.message_id]
    assert seen_ids(other) == [others.message_id]


def test_sends_prune_at_most_once_per_interval(bus_db: str):
    queue = LocalQueue(bus_db, queue=f"q-{uuid.uuid4().hex[:8]}", prune_interval=3600)
    queue.send(message())  # the first send prunes
    expired = message(1)
    queue.send(expired)
    age_seen_id(queue, expired.message_id, 11)

    queue.send(message(2))  # within the interval: no prune

    assert expired.message_id in seen_ids(queue)


def test_a_pooled_connection_the_server_closed_is_replaced_before_use(queue: LocalQueue):
    """The pool checks with a round trip only a connection whose socket is readable: one the
    server closed (here: terminated) is found so, and replaced before a send uses it."""
    queue.send(message())
    with queue._connect() as conn:
        pid = conn.info.backend_pid
    with psycopg.connect(queue.database_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))

    assert queue.send(message(1))
    assert queue.depth() == 2
