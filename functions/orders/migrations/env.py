"""Alembic environment of the orders database (shared logic in functions.shared.migrations)."""

from functions.shared.migrations import run_env

run_env()
