"""A lazily opened psycopg connection pool that survives database outages.

The pool is created on first use, not at import, so importing `function_app.py` (the Functions
host does it in every pod, for every app) never touches a database.

After an outage the first request already gets a healthy connection, without a round trip to
the database on every checkout (`SELECT`-less `execute("")` cost catalog a third of its
throughput, issue 17). A pooled connection is checked with a round trip only when
- its socket has something to read: an idle connection is owed nothing, so readable means the
  server closed it (a restart, `pg_terminate_backend`, a proxy or network cut that reached this
  host as FIN/RST) or sent a notice; one `poll()` of the socket, no round trip; or
- it was idle longer than `db_check_after_idle` seconds (30 by default): a peer that vanished
  silently (a load balancer's idle timeout drops connections without telling either end) is
  caught before a request waits on it.
A check that fails discards the connection and the pool hands out another one (or a new one).
The idle time is stamped by `connection()` as the caller gives the connection back, not by a
pool `reset` callback: with any `reset`, psycopg_pool returns EVERY connection through one of
its worker tasks (`ReturnConnection`), a thread wake-up per request that cost orders about a
tenth of its CPU per checkout cycle under py-spy (docs/performance.md, "Checkout").
What remains uncaught is a connection dropped silently within the last 30 s of use; the check
on every checkout would not have caught it sooner either (its round trip waits on the same dead
socket), and the request gets the usual 503 problem.
"""

import asyncio
import select
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager

import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout

from functions.shared.settings import ServiceSettings

PING_TIMEOUT = 2.0  # seconds a readiness probe waits for a connection


class IdleCheck:
    """The pool's `check` and `configure` callbacks, and the stamp `connection()` puts on a
    returned connection: remembers when each connection became idle and round-trips only
    those that need it (module docstring)."""

    def __init__(self, after_idle: float) -> None:
        self.after_idle = after_idle
        self._idle_since: weakref.WeakKeyDictionary[psycopg.BaseConnection, float] = (
            weakref.WeakKeyDictionary()
        )
        self.round_trips = 0  # checks that went to the server (tests read it)

    def became_idle(self, conn: psycopg.BaseConnection) -> None:
        """`configure` (a new connection), and `connection()` as one goes back to the pool."""
        self._idle_since[conn] = time.monotonic()

    def needs_round_trip(self, conn: psycopg.BaseConnection) -> bool:
        idle_since = self._idle_since.get(conn)
        if idle_since is None or time.monotonic() - idle_since >= self.after_idle:
            return True
        try:
            fd = conn.pgconn.socket
        except psycopg.OperationalError:  # already closed
            return True
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLPRI)
        return bool(poller.poll(0))

    def __call__(self, conn: psycopg.Connection) -> None:
        """The pool's `check`: raise if the connection is not healthy."""
        if self.needs_round_trip(conn):
            self.round_trips += 1
            ConnectionPool.check_connection(conn)

    async def check_async(self, conn: psycopg.AsyncConnection) -> None:
        """The same for an AsyncConnectionPool."""
        if self.needs_round_trip(conn):
            self.round_trips += 1
            await AsyncConnectionPool.check_connection(conn)

    async def became_idle_async(self, conn: psycopg.AsyncConnection) -> None:
        self.became_idle(conn)


class Database:
    """One app's connection pool to its own database."""

    def __init__(
        self,
        settings: ServiceSettings,
        name: str,
        server_settings: Mapping[str, str] | None = None,
    ) -> None:
        self._settings = settings
        self._name = name
        self._server_settings = dict(server_settings or {})
        self._pool: ConnectionPool | None = None
        self._lock = threading.Lock()
        self.idle_check = IdleCheck(settings.db_check_after_idle)
        self.closed = False  # set by close(): the app that owned it has stopped

    @property
    def pool(self) -> ConnectionPool:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = self._open_pool()
        return self._pool

    def _open_pool(self) -> ConnectionPool:
        s = self._settings
        return ConnectionPool(
            s.database_url,
            name=self._name,
            min_size=s.db_pool_min_size,
            max_size=s.db_pool_max_size,
            timeout=s.db_pool_timeout,
            check=self.idle_check,
            configure=self.idle_check.became_idle,
            kwargs=connection_kwargs(s, self._name, self._server_settings),
            open=True,  # opens in the background: a down database does not block start-up
        )

    @contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[psycopg.Connection]:
        """A pooled autocommit connection; wrap writes in `conn.transaction()`. `timeout`:
        seconds to wait for one, instead of the pool's own (`db_pool_timeout`)."""
        with self.pool.connection(timeout=timeout) as conn:
            try:
                yield conn
            finally:
                self.idle_check.became_idle(conn)

    def ping(self, timeout: float = PING_TIMEOUT) -> None:
        """Raise if the database cannot answer `SELECT 1` within `timeout` seconds."""
        with self.pool.connection(timeout=timeout) as conn:
            try:
                conn.execute("SELECT 1")
            finally:
                self.idle_check.became_idle(conn)

    def close(self) -> None:
        with self._lock:
            self.closed = True
            if self._pool is not None:
                self._pool.close()
                self._pool = None


class AsyncDatabase:
    """One app's asyncio connection pool to its own database, for async endpoints: a query
    then costs no hop to FastAPI's thread pool and back (catalog, issue 17).

    The pool belongs to the event loop that first used it. Under uvicorn and the Functions
    host's Python worker that is one loop for the process's life; a caller that runs each
    request in a new loop (`asyncio.run` per call) gets a new pool per loop, as an asyncio pool
    cannot outlive its loop.
    """

    def __init__(
        self,
        settings: ServiceSettings,
        name: str,
        server_settings: Mapping[str, str] | None = None,
    ) -> None:
        self._settings = settings
        self._name = name
        self._server_settings = dict(server_settings or {})
        self._pool: AsyncConnectionPool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opening: asyncio.Future[None] | None = None
        self.idle_check = IdleCheck(settings.db_check_after_idle)

    def _current_pool(self) -> AsyncConnectionPool:
        loop = asyncio.get_running_loop()
        if self._pool is None or self._loop is not loop:
            s = self._settings
            self._loop = loop
            self._pool = AsyncConnectionPool(
                s.database_url,
                name=self._name,
                min_size=s.db_pool_min_size,
                max_size=s.db_pool_max_size,
                timeout=s.db_pool_timeout,
                check=self.idle_check.check_async,
                configure=self.idle_check.became_idle_async,
                kwargs=connection_kwargs(s, self._name, self._server_settings),
                open=False,
            )
            self._opening = None
        return self._pool

    async def pool(self) -> AsyncConnectionPool:
        """The pool, opened by the first caller, who waits (at most the pool timeout) for its
        first connections: none is then still being made in the background when a caller's
        loop ends right after its request (`asyncio.run` per call), which psycopg_pool's
        connection task would not survive cleanly. A database that does not answer within
        that time fails the callers with PoolTimeout (their 503) and the next caller starts a
        new pool: psycopg_pool's `wait()` closes the pool it gave up on."""
        pool = self._current_pool()
        if pool.closed:
            if self._opening is None:
                self._opening = asyncio.ensure_future(self._open(pool))
            await asyncio.shield(self._opening)
            if pool.closed:
                raise PoolTimeout(f"pool {self._name!r}: no connection to the database yet")
        return pool

    async def _open(self, pool: AsyncConnectionPool) -> None:
        await pool.open(wait=False)
        try:
            await pool.wait(timeout=self._settings.db_pool_timeout)
        except PoolTimeout:  # `wait()` closed the pool: the next caller opens a new one
            if self._pool is pool:
                self._pool = None
                self._opening = None

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection]:
        """A pooled autocommit connection; wrap writes in `conn.transaction()`.

        `getconn`/`putconn` rather than nesting the pool's own `connection()`, which adds a
        context manager and usage statistics per checkout (3 % of a product read's CPU). Like
        it, `putconn` rolls back a connection left in a transaction (an exception inside
        `conn.transaction()` already did) and discards a broken one."""
        pool = await self.pool()
        conn = await pool.getconn()
        try:
            yield conn
        finally:
            self.idle_check.became_idle(conn)
            await pool.putconn(conn)

    async def ping(self) -> None:
        """Raise if the database cannot answer `SELECT 1` within PING_TIMEOUT seconds."""
        async with (await self.pool()).connection(timeout=PING_TIMEOUT) as conn:
            try:
                await conn.execute("SELECT 1")
            finally:
                self.idle_check.became_idle(conn)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None and not pool.closed and self._loop is asyncio.get_running_loop():
            await pool.close()


def connection_kwargs(
    s: ServiceSettings, name: str, server_settings: Mapping[str, str] | None = None
) -> dict[str, object]:
    """libpq parameters of every pooled connection of app `name`; `server_settings` are
    Postgres settings of its sessions (`-c name=value`)."""
    settings = {"statement_timeout": str(s.db_statement_timeout_ms), **(server_settings or {})}
    return {
        "connect_timeout": s.db_connect_timeout,
        "options": " ".join(f"-c {key}={value}" for key, value in settings.items()),
        "application_name": f"tinyshop-{name}",
        # Reads cost one round trip; writes open `conn.transaction()` explicitly.
        "autocommit": True,
    }
