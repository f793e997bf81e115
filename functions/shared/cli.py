"""The management command of each app: `python -m functions.<app> migrate|seed`.

`migrate` also ensures the app's own login role when MIGRATE_APP_ROLE and
MIGRATE_APP_ROLE_PASSWORD are set (the cluster's migration Jobs; functions/shared/db_roles.py).
"""

import argparse
import logging
from collections.abc import Callable, Mapping
from pathlib import Path

from functions.shared import db_roles, migrations


def run(
    app: str,
    database_url: str,
    migrations_dir: Path,
    extra: Mapping[str, Callable[[str], str]] | None = None,
    argv: list[str] | None = None,
) -> None:
    """Parse `argv` and run one command against `database_url`.

    `extra` maps further command names to functions of the database URL returning a summary.
    """
    extra = dict(extra or {})
    parser = argparse.ArgumentParser(prog=f"python -m functions.{app}")
    sub = parser.add_subparsers(dest="command", required=True)
    migrate = sub.add_parser("migrate", help="apply schema migrations up to head (idempotent)")
    migrate.add_argument(
        "--create-database",
        action="store_true",
        help="create the database first if missing (local use; Terraform creates it in Azure)",
    )
    for name in extra:
        sub.add_parser(name)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    if args.command == "migrate":
        # Read before migrating: a half-set role configuration fails before anything changes.
        role = db_roles.app_role_from_env()
        if args.create_database:
            migrations.ensure_database(database_url)
        migrations.upgrade(database_url, migrations_dir)
        print(f"{app}: schema at {migrations.current_revision(database_url)}")
        if role is not None:  # in the cluster's migration Job (functions/shared/db_roles.py)
            db_roles.ensure_app_role(database_url, role)
            print(f"{app}: role {role.name} has its app's privileges")
    else:
        print(f"{app}: {extra[args.command](database_url)}")
