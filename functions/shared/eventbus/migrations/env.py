"""Alembic environment of the local event bus database."""

from functions.shared.migrations import run_env

run_env()
