"""The shared pool (functions/shared/db.py): connections go back to the pool in the caller's
thread (no pool worker task per return), and the shared idle check still decides when a
connection needs a round trip. Real Postgres; tasks and checks are counted, not timed."""

import asyncio
import contextlib
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.pq import TransactionStatus

from functions.shared.db import AsyncDatabase, Database
from tests.conftest import orders_settings


def _database(orders_db: str, **overrides: object) -> Database:
    settings = orders_settings(
        orders_db, "http://unused", "http://unused", db_pool_min_size=1, db_pool_max_size=1,
        **overrides,
    )  # fmt: skip
    return Database(settings, "test-pool")


@pytest.fixture
def one_connection(orders_db: str) -> Iterator[Database]:
    db = _database(orders_db)
    db.pool.wait(timeout=10)
    yield db
    db.close()


def test_returning_a_connection_runs_no_pool_task(
    one_connection: Database, monkeypatch: pytest.MonkeyPatch
):
    tasks: list[object] = []
    run_task = one_connection.pool.run_task
    monkeypatch.setattr(one_connection.pool, "run_task", lambda t: (tasks.append(t), run_task(t)))

    for _ in range(5):
        with one_connection.connection() as conn:
            conn.execute("SELECT 1")

    assert tasks == []


def test_a_recently_used_connection_is_handed_out_without_a_round_trip(
    one_connection: Database,
):
    pids = set()
    for _ in range(20):
        with one_connection.connection() as conn:
            pids.add(conn.info.backend_pid)

    assert len(pids) == 1
    assert one_connection.idle_check.round_trips == 0


def test_a_connection_idle_longer_than_the_limit_is_checked(orders_db: str):
    db = _database(orders_db, db_check_after_idle=0)
    try:
        for _ in range(3):
            with db.connection() as conn:
                conn.execute("SELECT 1")
        assert db.idle_check.round_trips == 3
    finally:
        db.close()


def _fail_mid_transaction(db: Database) -> None:
    with db.connection() as conn:
        conn.execute("BEGIN")
        conn.execute("CREATE TEMP TABLE left_open (x int)")
        raise RuntimeError("the request failed mid-transaction")


def test_a_transaction_left_open_is_rolled_back_before_reuse(one_connection: Database):
    with pytest.raises(RuntimeError):
        _fail_mid_transaction(one_connection)

    with one_connection.connection() as conn:
        assert conn.info.transaction_status == TransactionStatus.IDLE
        with pytest.raises(psycopg.errors.UndefinedTable):
            conn.execute("SELECT * FROM left_open")


def _async_database(orders_db: str) -> AsyncDatabase:
    settings = orders_settings(
        orders_db, "http://unused", "http://unused", db_pool_min_size=1, db_pool_max_size=1
    )
    return AsyncDatabase(settings, "test-async-pool")


@pytest.mark.parametrize("failing", [True, False], ids=["raising", "returning"])
def test_an_async_connection_given_back_mid_transaction_is_rolled_back(
    orders_db: str, failing: bool
):
    """Whether the caller raised or simply returned, nothing of a transaction it left open is
    committed, and the next caller gets the connection idle."""

    async def scenario() -> None:
        db = _async_database(orders_db)
        try:
            with contextlib.suppress(RuntimeError):
                async with db.connection() as conn:
                    first_pid = conn.info.backend_pid
                    await conn.execute("BEGIN")
                    await conn.execute("CREATE TEMP TABLE left_open (x int)")
                    if failing:
                        raise RuntimeError("the request failed mid-transaction")

            async with db.connection() as conn:
                assert conn.info.backend_pid == first_pid  # the same connection, reused
                assert conn.info.transaction_status == TransactionStatus.IDLE
                with pytest.raises(psycopg.errors.UndefinedTable):
                    await conn.execute("SELECT * FROM left_open")
        finally:
            await db.close()

    asyncio.run(scenario())
