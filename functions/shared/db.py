"""A lazily opened psycopg connection pool that survives database outages.

The pool is created on first use, not at import, so importing `function_app.py` (the Functions
host does it in every pod, for every app) never touches a database. Connections are checked
before each use, so after an outage the first request already gets a healthy connection.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg_pool import ConnectionPool

from functions.shared.settings import ServiceSettings


class Database:
    """One app's connection pool to its own database."""

    def __init__(self, settings: ServiceSettings, name: str) -> None:
        self._settings = settings
        self._name = name
        self._pool: ConnectionPool | None = None
        self._lock = threading.Lock()

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
            check=ConnectionPool.check_connection,
            kwargs={
                "connect_timeout": s.db_connect_timeout,
                "options": f"-c statement_timeout={s.db_statement_timeout_ms}",
                "application_name": f"tinyshop-{self._name}",
                # Reads cost one round trip; writes open `conn.transaction()` explicitly.
                "autocommit": True,
            },
            open=True,  # opens in the background: a down database does not block start-up
        )

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A pooled autocommit connection; wrap writes in `conn.transaction()`."""
        with self.pool.connection() as conn:
            yield conn

    def ping(self, timeout: float = 2.0) -> None:
        """Raise if the database cannot answer `SELECT 1` within `timeout` seconds."""
        with self.pool.connection(timeout=timeout) as conn:
            conn.execute("SELECT 1")

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None
