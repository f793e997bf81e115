"""Find a Postgres to develop, test and benchmark against, or start a private one.

Order: `TINYSHOP_POSTGRES_URL` (an admin URL you configure), else the server on 127.0.0.1:5432
(trust auth, user postgres), else an embedded server (PyPI `pgserver`) whose data lives in
`.dev/pgdata` (git-ignored) and which stops when the process that started it exits.
"""

import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

REPO = Path(__file__).resolve().parents[2]
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
EMBEDDED_DATA = REPO / ".dev" / "pgdata"

_embedded = None  # keeps the pgserver handle (and so the server) alive for this process
logging.getLogger("pgserver").setLevel(logging.WARNING)  # it logs every pg_ctl call at INFO


def _reachable(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.OperationalError:
        return False


def admin_url() -> str:
    """A URL of a running Postgres whose user may create databases."""
    global _embedded
    configured = os.getenv("TINYSHOP_POSTGRES_URL")
    if configured:
        if not _reachable(configured):
            raise SystemExit(f"TINYSHOP_POSTGRES_URL is set but does not answer: {configured}")
        return configured
    if _reachable(DEFAULT_URL):
        return DEFAULT_URL
    if _embedded is None:
        import pgserver

        EMBEDDED_DATA.mkdir(parents=True, exist_ok=True)
        print(f"No Postgres on 127.0.0.1:5432; starting an embedded one in {EMBEDDED_DATA}")
        _embedded = pgserver.get_server(EMBEDDED_DATA, cleanup_mode="stop")
    return _embedded.get_uri()


def stop_embedded() -> None:
    """Stop the embedded server if this process started it (it also stops at exit)."""
    global _embedded
    if _embedded is not None:
        _embedded.cleanup()
        _embedded = None


def database_url(admin: str, dbname: str) -> str:
    """The URL of database `dbname` on the same server as `admin`."""
    return make_conninfo(admin, dbname=dbname)


@contextmanager
def fresh_database(admin: str, purpose: str, icu_locale: str | None = None) -> Iterator[str]:
    """Create a uniquely named database, yield its URL, then drop it (and its sessions).

    Tests and benchmarks use these so they never touch the databases `make dev` uses.
    `icu_locale`: the database's default collation is that ICU locale instead of the server's
    (a server built with ICU only).
    """
    name = f"tinyshop_{purpose}_{uuid.uuid4().hex[:8]}"
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if icu_locale is not None:
        create += sql.SQL(" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE {}").format(
            sql.Literal(icu_locale)
        )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(create)
    try:
        yield database_url(admin, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
