"""The management command of each app: `python -m functions.<app> migrate|seed|...`.

`migrate` also ensures the app's own login role when MIGRATE_APP_ROLE and
MIGRATE_APP_ROLE_PASSWORD are set (the cluster's migration Jobs; functions/shared/db_roles.py).
"""

import argparse
import logging
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from functions.shared import db_roles, migrations


class CommandFailed(Exception):
    """A command could not do what it was asked; the message says why (exit status 1)."""


@dataclass(frozen=True)
class Command:
    """A further command with its own arguments: `arguments` adds them to its parser, `run`
    gets the parsed namespace and returns a one-line summary."""

    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], str]


def run(
    app: str,
    database_url: str,
    migrations_dir: Path,
    extra: Mapping[str, Callable[[str], str] | Command] | None = None,
    argv: list[str] | None = None,
) -> None:
    """Parse `argv` and run one command against `database_url`.

    `extra` maps further command names to functions of the database URL returning a summary,
    or to a `Command` that takes arguments.
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
    for name, command in extra.items():
        if isinstance(command, Command):
            command.arguments(sub.add_parser(name, help=command.help))
        else:
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
        return
    command = extra[args.command]
    try:
        summary = command.run(args) if isinstance(command, Command) else command(database_url)
    except CommandFailed as exc:
        print(f"{app} {args.command}: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc
    print(f"{app}: {summary}")
