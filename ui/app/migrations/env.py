"""Alembic environment of the UI's own `ui` database (the sessions table).

The same recipe as functions/shared/migrations.py (the UI ships in its own image and cannot
import the Functions code): one transaction, an advisory lock so concurrent migration Jobs
serialise, plain-SQL revisions.
"""

import psycopg
from alembic import context
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

LOCK_KEY = 0x7E5_0002  # catalog/orders/bus migrations use 0x7E5_0001

database_url = context.config.attributes["database_url"]
engine = create_engine(
    "postgresql+psycopg://", creator=lambda: psycopg.connect(database_url), poolclass=NullPool
)
with engine.connect() as connection:
    context.configure(connection=connection, transaction_per_migration=False)
    with context.begin_transaction():
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        context.run_migrations()
engine.dispose()
