"""Fresh, uniquely named databases for one test run, dropped afterwards."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from dev.postgres import database_url

RUN_ID = uuid.uuid4().hex[:8]


@contextmanager
def fresh_database(admin_url: str, purpose: str) -> Iterator[str]:
    """Create `tinyshop_test_<run>_<purpose>`; yield its URL; drop it (and its sessions)."""
    name = f"tinyshop_test_{RUN_ID}_{purpose}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield database_url(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
