"""`python -m ui.app migrate [--create-database]`: bring the UI's session table to head (and,
in the cluster's migration Job, ensure the UI's own login role: functions/shared/db_roles.py).

Run by `make dev`, by the tests, and in the cluster by a Job (Helm hook) before the rollout.
"""

import argparse
import os
import sys

from functions.shared import db_roles
from ui.app.schema import migrate
from ui.app.settings import UiSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ui.app")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("migrate", help="apply pending migrations to UI_SESSION_DATABASE_URL")
    up.add_argument(
        "--create-database", action="store_true", help="create the database if it is missing"
    )
    args = parser.parse_args(argv)
    # Only the database URL: a migration Job needs no client secret or Flask key.
    url = os.environ.get("UI_SESSION_DATABASE_URL") or str(
        UiSettings.model_fields["session_database_url"].default
    )
    # The UI's own login role, when the migration Job sets MIGRATE_APP_ROLE(_PASSWORD); read
    # first, so a half-set configuration fails before anything changes.
    role = db_roles.app_role_from_env()
    print(f"ui: sessions schema at {migrate(url, create_database=args.create_database)}")
    if role is not None:
        db_roles.ensure_app_role(url, role)
        print(f"ui: role {role.name} has its app's privileges")
    return 0


if __name__ == "__main__":
    sys.exit(main())
