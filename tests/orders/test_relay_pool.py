"""The outbox relay and the requests do not compete for one connection pool: requests that
hold every request connection do not starve the sweep, and a sweep working through a backlog
does not cost requests a connection. Measured against the real app and Postgres."""

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from dev.issuer import Issuer
from dev.serve import serve
from functions.orders import relay
from functions.orders.dependencies import OrdersDependencies
from functions.shared.events import OutgoingMessage
from tests.conftest import orders_settings

POOL_TIMEOUT = 1.0


class SlowBus:
    """A bus that takes a few milliseconds per message, like a real one under load."""

    def __init__(self) -> None:
        self.published: list[str] = []

    def publish(self, message: OutgoingMessage) -> None:
        time.sleep(0.002)
        self.published.append(message.message_id)

    def close(self) -> None:
        pass


@pytest.fixture
def app(orders_db: str, catalog_url: str, issuer: Issuer) -> Iterator[FastAPI]:
    from functions.orders.api import create_app

    settings = orders_settings(
        orders_db, catalog_url, issuer.url, db_pool_max_size=4, db_pool_timeout=POOL_TIMEOUT
    )
    app = create_app(settings, publisher=SlowBus())
    yield app
    deps: OrdersDependencies = app.state.dependencies
    deps.relay_db.close()
    asyncio.run(deps.db.close())  # a pool of another loop (the server's) is dropped


def backlog(orders_db: str, rows: int) -> list[str]:
    """`rows` due outbox rows of one order (what a bus outage leaves behind)."""
    order_id = uuid.uuid4()
    with psycopg.connect(orders_db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO orders (id, user_id, status, currency, total) "
            "VALUES (%s, 'relay-pool', 'placed', 'EUR', 1)",
            (order_id,),
        )
        ids = [uuid.uuid4() for _ in range(rows)]
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO outbox (event_id, event_type, order_id, payload) "
                "VALUES (%s, 'OrderPlaced', %s, '{}')",
                [(i, order_id) for i in ids],
            )
    return [str(i) for i in ids]


def test_requests_holding_every_request_connection_do_not_starve_the_sweep(
    app: FastAPI, orders_db: str
):
    deps: OrdersDependencies = app.state.dependencies
    rows = backlog(orders_db, 50)

    async def sweep_while_every_request_connection_is_held() -> relay.RelayResult:
        try:
            async with AsyncExitStack() as held:  # busy for the whole sweep
                for _ in range(deps.settings.db_pool_max_size):
                    await held.enter_async_context(deps.db.connection())
                return await asyncio.to_thread(
                    relay.sweep, deps.relay_db, deps.publisher, deps.outbox_retention
                )
        finally:
            await deps.db.close()

    result = asyncio.run(sweep_while_every_request_connection_is_held())

    assert result.failed == 0
    assert set(rows) <= set(deps.publisher.published)


def test_requests_keep_their_latency_while_the_sweep_works_through_a_backlog(
    app: FastAPI, orders_db: str, issuer: Issuer, caplog: pytest.LogCaptureFixture
):
    """8 clients (twice the request pool) list orders while the sweep publishes 1,000 rows:
    no request waits out the pool timeout (no 503), the sweep never misses a connection."""
    deps: OrdersDependencies = app.state.dependencies
    rows = backlog(orders_db, 1000)
    latencies: list[float] = []
    statuses: list[int] = []
    done = threading.Event()

    def shopper(url: str) -> None:
        headers = {"Authorization": f"Bearer {issuer.token(f'u-{uuid.uuid4().hex[:8]}')}"}
        with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
            while not done.is_set():
                started = time.monotonic()
                statuses.append(client.get("/orders").status_code)
                latencies.append(time.monotonic() - started)

    with caplog.at_level(logging.WARNING), serve(app) as url, ThreadPoolExecutor(8) as pool:
        for _ in range(8):
            pool.submit(shopper, url)
        time.sleep(0.3)
        result = relay.sweep(deps.relay_db, deps.publisher, deps.outbox_retention)
        done.set()

    assert result.failed == 0
    assert set(rows) <= set(deps.publisher.published)
    assert len(statuses) > 8
    assert set(statuses) == {200}
    assert max(latencies) < POOL_TIMEOUT  # no request waited out the pool
    assert not [r for r in caplog.records if "couldn't get a connection" in r.getMessage()]


def test_only_the_relays_own_writes_commit_without_waiting_for_the_flush(app: FastAPI) -> None:
    """The relay's leases, marks and prunes may be lost in a database crash (it survives that:
    relay.py); an order and its outbox row, written by the request pool, may not."""
    deps: OrdersDependencies = app.state.dependencies
    with deps.relay_db.connection() as conn:
        assert conn.execute("SHOW synchronous_commit").fetchone() == ("off",)

    async def requests_setting() -> tuple[str] | None:
        try:
            async with deps.db.connection() as conn:
                return await (await conn.execute("SHOW synchronous_commit")).fetchone()
        finally:
            await deps.db.close()

    assert asyncio.run(requests_setting()) == ("on",)
