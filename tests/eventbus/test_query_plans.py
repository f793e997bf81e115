"""The local queue's hot statements use their indexes on large tables: a queue holding 100k
messages (receive, complete) and 100k remembered message ids (the duplicate-detection prune).
A lost index fails here, not in a benchmark. Plans, never timings."""

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from dev.postgres.launcher import fresh_database
from functions.shared import migrations
from functions.shared.eventbus.local_queue import LocalQueue
from tests.conftest import BUS_MIGRATIONS
from tests.support.query_plans import assert_indexed, one, recording

QUEUE = "big"
SMALL = "small"


@pytest.fixture(scope="module")
def big_bus(postgres_admin_url: str) -> Iterator[str]:
    """100k messages in one queue (and 20 in another), 100k seen ids; analyzed."""
    with fresh_database(postgres_admin_url, "test_query_plans_bus") as url:
        migrations.upgrade(url, BUS_MIGRATIONS)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO messages (queue, message_id, subject, content_type, body) "
                "SELECT CASE WHEN n %% 5000 = 0 THEN %s ELSE %s END, gen_random_uuid()::text, "
                "'OrderPlaced', 'application/json', '\\x7b7d' FROM generate_series(1, 100020) n",
                (SMALL, QUEUE),
            )
            conn.execute(
                "INSERT INTO seen_message_ids (queue, message_id, seen_at) "
                "SELECT %s, message_id, now() - random() * interval '5 minutes' FROM messages",
                (QUEUE,),
            )
            conn.execute("VACUUM ANALYZE")
        yield url


@contextmanager
def recorded_queue(url: str, name: str = QUEUE) -> Iterator[tuple[LocalQueue, psycopg.Connection]]:
    """A LocalQueue whose every statement goes through one recording connection."""
    queue = LocalQueue(url, queue=name)
    with recording(url) as conn:

        @contextmanager
        def connect() -> Iterator[psycopg.Connection]:
            yield conn

        queue._connect = connect  # type: ignore[method-assign]
        yield queue, conn


def test_receive_reads_the_head_of_the_queue_on_an_index(big_bus: str):
    with recorded_queue(big_bus, QUEUE) as (queue, conn):
        assert len(queue.receive(10)) == 10
        receive = one(conn.recorded, "WITH head AS")
        # The queue is most of the table: walking the primary key in order is as good.
        both = {"messages_by_queue", "messages_pkey"}
        assert_indexed(conn, receive, both, "messages", in_order=True)


def test_receive_from_a_small_queue_beside_a_big_one_uses_the_queues_index(big_bus: str):
    """Custom plans only: a generic plan cannot know that this queue is small and walks the
    primary key. Postgres keeps the custom plan for such a statement (it re-plans while the
    generic estimate is costlier than the custom plans it made:
    https://www.postgresql.org/docs/15/sql-prepare.html#SQL-PREPARE-NOTES)."""
    with recorded_queue(big_bus, SMALL) as (queue, conn):
        assert len(queue.receive(10)) == 10
        receive = one(conn.recorded, "WITH head AS")
        assert_indexed(
            conn, receive, "messages_by_queue", "messages", in_order=True, generic_too=False
        )


def test_complete_and_the_other_settlements_find_the_message_by_its_lock(big_bus: str):
    with recorded_queue(big_bus) as (queue, conn):
        first, second, third = queue.receive(3)
        queue.renew_lock(first)
        queue.complete(first)
        queue.abandon(second)
        queue.dead_letter(third, "Test")
        index = "messages_lock_token_key"
        for starts in ("UPDATE messages SET locked_until", "DELETE FROM messages WHERE lock"):
            assert_indexed(conn, one(conn.recorded, starts), index, "messages")
        assert_indexed(
            conn, one(conn.recorded, "UPDATE messages SET lock_token = NULL"), index, "messages"
        )
        assert_indexed(conn, one(conn.recorded, "WITH moved AS"), index, "messages")


def test_the_duplicate_detection_prune_finds_expired_ids_on_its_index(big_bus: str):
    with recorded_queue(big_bus) as (queue, conn):
        assert queue.prune_seen_ids() == 0
        prune = one(conn.recorded, "DELETE FROM seen_message_ids")
        assert_indexed(conn, prune, "seen_message_ids_by_age", "seen_message_ids")
