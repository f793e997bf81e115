"""orders' connection pool: `functions.shared.db.Database` without a thread hop per returned
connection.

The shared pool passes its idle check's `became_idle` as psycopg_pool's `reset` callback, and
with any `reset` the pool returns EVERY connection through one of its worker threads
(`ConnectionPool._putconn` runs a `ReturnConnection` task when `reset` is set). A cart update and
a checkout each take two connections and the relay two more, so a checkout cycle paid ~8
wake-ups of a worker thread (and the GIL hand-overs with them) for a timestamp: about a tenth
of orders' CPU per cycle under py-spy (issue 17, docs/performance.md).

Here the timestamp is taken by the caller as it gives the connection back (`connection()`),
and the pool gets no `reset`, so it returns connections in the caller's thread. The check on
checkout is the shared `IdleCheck`, unchanged. Everything else is the shared Database.
(This belongs in functions/shared/db.py, for catalog's async pool too; it lives here until
that module's owner takes it.)
"""

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg_pool import ConnectionPool

from functions.shared.db import Database, connection_kwargs


class OrdersDatabase(Database):
    """One app's pool whose connections go back to it in the caller's thread."""

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
            open=True,
        )

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A pooled autocommit connection, marked idle as it goes back (no pool `reset`)."""
        with self.pool.connection() as conn:
            try:
                yield conn
            finally:
                self.idle_check.became_idle(conn)
