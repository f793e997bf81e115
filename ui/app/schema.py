"""The schema of the UI's own database (the `ui_sessions` table), migrated with the apps' shared
helper: `python -m ui.app migrate`, `make dev` and the tests call `migrate()`.

Only the migration command imports this module, so the web process loads neither Alembic nor
`functions`.
"""

from pathlib import Path

from functions.shared import migrations

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def migrate(database_url: str, *, create_database: bool = False) -> str:
    """Bring the session schema to head (revisions in ui/app/migrations/; idempotent, concurrent
    runs serialise). Returns the schema revision."""
    if create_database:
        migrations.ensure_database(database_url)
    migrations.upgrade(database_url, MIGRATIONS_DIR)
    revision = migrations.current_revision(database_url)
    if revision is None:
        raise RuntimeError("the session schema has no revision after the upgrade")
    return revision
