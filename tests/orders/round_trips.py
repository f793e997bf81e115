"""Counting round trips to Postgres, deterministically, from libpq's own protocol trace.

`conn.pgconn.trace()` logs every protocol message the client sends (`F`) and receives (`B`)
(https://www.psycopg.org/psycopg3/docs/api/pq.html#psycopg.pq.PGconn.trace). A round trip is
one turn: a run of messages sent, answered by messages received. Pipelined statements
(https://www.psycopg.org/psycopg3/docs/advanced/pipeline.html) share a turn; a statement whose
result the client waits for before sending the next is a turn of its own. The pool's connection
check happens before a connection is handed out, so it is not counted here.
"""

import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field

import psycopg
from psycopg import pq

from functions.orders.catalog_client import CatalogClient


def turns(trace: str) -> int:
    """Round trips in a libpq trace: the runs of `F` lines that follow a `B` line (or start)."""
    count, previous = 0, "B"
    for line in trace.splitlines():
        direction = line.split("\t", 1)[0]
        if direction == "F" and previous == "B":
            count += 1
        if direction in ("F", "B"):
            previous = direction
    return count


def statements(trace: str) -> list[str]:
    """The SQL the client sent, in order (for a failing test's message)."""
    found = []
    for line in trace.splitlines():
        parts = line.split("\t")
        if parts[0] == "F" and len(parts) > 3 and parts[2] in ("Parse", "Query"):
            text = parts[3].strip()
            found.append(text.split('"')[3] if parts[2] == "Parse" else text.strip('"'))
    return found


@dataclass
class Tally:
    round_trips: int = 0
    sql: list[str] = field(default_factory=list)

    def reset(self) -> None:
        self.round_trips = 0
        self.sql.clear()


@contextmanager
def traced(conn: psycopg.BaseConnection, tally: Tally) -> Iterator[psycopg.BaseConnection]:
    """Count the round trips `conn` makes inside the block into `tally`."""
    with tempfile.TemporaryFile("w+", encoding="utf-8") as log:
        conn.pgconn.trace(log.fileno())
        conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            yield conn
        finally:
            conn.pgconn.untrace()
            log.seek(0)
            text = log.read()
            tally.round_trips += turns(text)
            tally.sql.extend(statements(text))


class CountingDatabase:
    """A `functions.shared.db.Database` stand-in that counts the round trips of every
    connection it hands out, on the real pool it wraps."""

    def __init__(self, db) -> None:  # any object with connection(), like Database
        self._db = db
        self.tally = Tally()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        with self._db.connection() as conn, traced(conn, self.tally):
            yield conn

    def __getattr__(self, name: str):  # ping, close, pool: the wrapped database's
        return getattr(self._db, name)


class CountingAsyncDatabase(CountingDatabase):
    """The same for an `AsyncDatabase` (the orders routes' pool)."""

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection]:  # type: ignore[override]
        async with self._db.connection() as conn:
            with traced(conn, self.tally):
                yield conn


def counting_queue(queue) -> Tally:  # a LocalQueue
    """Count the round trips of every connection `queue` takes from its pool from now on."""
    tally = Tally()
    take = queue._connect

    @contextmanager
    def connect() -> Iterator[psycopg.Connection]:
        with take() as conn, traced(conn, tally):
            yield conn

    queue._connect = connect
    return tally


class CountingCatalog:
    """Counts the requests an app's own catalog client sends over real HTTP (each `_get`, one
    per batch of ids); the client stays the app's, closed by its lifespan."""

    def __init__(self, client: CatalogClient) -> None:
        self.requests = 0
        send = client._get

        async def counted(path: str, params: dict[str, str]) -> dict:
            self.requests += 1
            return await send(path, params)

        client._get = counted  # type: ignore[method-assign]
