"""Versioned schema migrations (Alembic) for each app's own database.

Each app keeps its revisions in `<app>/migrations/versions` as plain SQL and applies them with
`python -m functions.<app> migrate` (the UI: `python -m ui.app migrate`): locally from `make dev`,
in the cluster from a Job that runs before the rollout. Upgrading is idempotent, and concurrent
runs serialise on an advisory lock, so two Jobs (or two developers) racing cannot apply a
revision twice.

The UI image copies this file and db_roles.py (with the two package `__init__.py` files, which
stay empty of imports), so they import only alembic, psycopg, SQLAlchemy and the standard library.
"""

import logging
from pathlib import Path

import psycopg
from alembic import command, context
from alembic.config import Config
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

_log = logging.getLogger(__name__)
# The pg_advisory_xact_lock key of every TinyShop migration run (catalog, orders, event bus, UI).
# One key is enough: advisory locks belong to the database they are taken in (pg_locks.database,
# https://www.postgresql.org/docs/current/view-pg-locks.html), and each app migrates its own
# database, so apps never wait for each other; only runs against the same database serialise.
_LOCK_KEY = 0x7E5_0001


def _config(database_url: str, script_location: Path) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    # An attribute, not an ini option: ini interpolation would mangle a '%' in the URL.
    cfg.attributes["database_url"] = database_url
    return cfg


def ensure_database(database_url: str) -> bool:
    """Create the URL's database if it does not exist (local and test use; Terraform does it in
    Azure). Returns True when it was created."""
    name = conninfo_to_dict(database_url).get("dbname")
    if not name:
        raise ValueError("the database URL names no database")
    admin_url = make_conninfo(database_url, dbname="postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return False
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.errors.DuplicateDatabase:
            return False  # created concurrently by another run
        _log.info("created database %s", name)
        return True


def upgrade(database_url: str, script_location: Path, revision: str = "head") -> None:
    command.upgrade(_config(database_url, script_location), revision)


def current_revision(database_url: str) -> str | None:
    with psycopg.connect(database_url) as conn:
        exists = conn.execute("SELECT to_regclass('alembic_version')").fetchone()
        if not exists or exists[0] is None:
            return None
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None


def run_env() -> None:
    """Body of every app's `migrations/env.py` (catalog, orders, event bus and UI)."""
    database_url = context.config.attributes["database_url"]
    if context.is_offline_mode():  # `--sql`: print the SQL for review instead of running it
        context.configure(url="postgresql+psycopg://", literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(
        "postgresql+psycopg://",
        creator=lambda: psycopg.connect(database_url),
        poolclass=NullPool,
    )
    with engine.connect() as connection:
        context.configure(connection=connection, transaction_per_migration=False)
        with context.begin_transaction():
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            context.run_migrations()
    engine.dispose()
