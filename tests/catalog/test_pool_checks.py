"""The pool's connection check (functions/shared/db.py): no round trip for a connection that
is healthy and was used recently, a round trip when its socket shows the server closed it (the
request still gets a healthy connection) or when it sat idle too long. Real Postgres; the
checks are counted, not timed."""

import select
from collections.abc import Iterator

import psycopg
import pytest

from functions.shared.db import Database
from tests.conftest import catalog_settings


@pytest.fixture
def one_connection(catalog_db: str) -> Iterator[Database]:
    db = Database(catalog_settings(catalog_db, db_pool_min_size=1, db_pool_max_size=1), "t")
    db.pool.wait(timeout=10)
    yield db
    db.close()


def _backend_pid(db: Database) -> int:
    with db.connection() as conn:
        return conn.info.backend_pid


def test_a_recently_used_healthy_connection_is_handed_out_without_a_round_trip(
    one_connection: Database,
):
    pids = {_backend_pid(one_connection) for _ in range(20)}

    assert len(pids) == 1  # the same pooled connection every time
    assert one_connection.idle_check.round_trips == 0


def test_a_connection_the_server_closed_is_replaced_before_the_request_uses_it(
    one_connection: Database, postgres_admin_url: str
):
    before = _backend_pid(one_connection)
    with one_connection.pool.connection() as conn:
        fd = conn.pgconn.socket
    with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (before,))
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    assert poller.poll(5000), "the server's close never reached the client socket"

    with one_connection.connection() as conn:
        row = conn.execute("SELECT id FROM products WHERE id = 'french-press'").fetchone()
        after = conn.info.backend_pid

    assert row == ("french-press",)
    assert after != before
    assert one_connection.idle_check.round_trips == 1  # the check that found it closed


def test_a_connection_idle_longer_than_the_limit_is_checked_with_a_round_trip(catalog_db: str):
    settings = catalog_settings(
        catalog_db, db_pool_min_size=1, db_pool_max_size=1, db_check_after_idle=0
    )
    db = Database(settings, "t")
    try:
        for _ in range(3):
            _backend_pid(db)
        assert db.idle_check.round_trips == 3
    finally:
        db.close()
