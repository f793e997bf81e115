"""Alembic environment of the UI's own `ui` database (the sessions table); the shared logic is
in functions/shared/migrations.py, which the UI image copies (see that module's docstring)."""

from functions.shared.migrations import run_env

run_env()
