"""Each app's own, least-privileged Postgres login, ensured by its migration command.

In Azure the apps do not log in as the server administrator: the migration Job (the only holder
of the admin password) runs `migrate` as the administrator, and after the schema is at head this
module makes sure the app's role exists, can log in with the password the Job got from Key Vault,
and holds exactly what the app needs on its own database:

- CONNECT on the database (and PUBLIC loses CONNECT/TEMPORARY there, so the other apps' roles
  cannot connect to it);
- USAGE on the schema, never CREATE (PUBLIC loses CREATE too: PostgreSQL 14 still grants it
  on `public`);
- SELECT, INSERT, UPDATE, DELETE on its tables and USAGE on its sequences — the tables stay
  owned by the administrator, so the app can neither ALTER nor DROP them;
- the same as default privileges for tables and sequences the administrator creates later;
- SELECT only on `alembic_version`: the schema revision is the migrations' business.

It never touches the caller's own login or a role with a privileged attribute (a misconfigured
Job must not reset the administrator's password). It runs only when both environment variables
below are set (the chart sets them in the Jobs); locally (`make dev`, the tests) everything keeps
connecting as the one local login. Idempotent: a re-run changes nothing, and a new password
(rotation in Key Vault) replaces the old one.

The password never appears in an SQL statement: the client computes its SCRAM-SHA-256 verifier
(libpq PQencryptPasswordConn, which is how psql's \\password does it) and only the verifier
reaches the server, so a statement log cannot leak it. Identifiers and literals are composed
with psycopg.sql, never string formatting.

The UI image copies this file (see functions/shared/migrations.py): standard library and
psycopg only.
"""

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

_log = logging.getLogger(__name__)

ROLE_ENV = "MIGRATE_APP_ROLE"
PASSWORD_ENV = "MIGRATE_APP_ROLE_PASSWORD"  # noqa: S105 (the variable's name, not a password)
SCHEMA = "public"
# Serialises two Jobs of the same app ensuring the same role (its database's advisory lock space).
_LOCK_KEY = 0x7E5_0002


class RoleConfigError(ValueError):
    """The role environment variables are half set, or name a role that is not an app's."""


@dataclass(frozen=True)
class AppRole:
    """An app's login role and its password (kept out of repr and logs)."""

    name: str
    password: str = field(repr=False)


def app_role_from_env(environ: Mapping[str, str] = os.environ) -> AppRole | None:
    """The role the migration command must ensure, or None when neither variable is set."""
    name = environ.get(ROLE_ENV, "")
    password = environ.get(PASSWORD_ENV, "")
    if not name and not password:
        return None
    if not (name and password):
        raise RoleConfigError(f"set both {ROLE_ENV} and {PASSWORD_ENV}, or neither")
    return AppRole(name, password)


def ensure_app_role(database_url: str, role: AppRole) -> None:
    """Create or update `role` and grant it exactly its app's privileges on the URL's database
    (the caller's login owns the tables: the migrations ran as it)."""
    database = conninfo_to_dict(database_url).get("dbname")
    if not database:
        raise ValueError("the database URL names no database")
    with psycopg.connect(database_url, autocommit=True) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        _set_login(conn, role)
        _grant(conn, role.name, database)
    _log.info("role %s can log in to database %s with its app's privileges", role.name, database)


def _set_login(conn: psycopg.Connection, role: AppRole) -> None:
    verifier = conn.pgconn.encrypt_password(
        role.password.encode(), role.name.encode(), b"scram-sha-256"
    ).decode()
    found = conn.execute(
        "SELECT rolname = current_user OR rolsuper OR rolcreaterole OR rolcreatedb"
        " OR rolreplication OR rolbypassrls FROM pg_roles WHERE rolname = %s",
        (role.name,),
    ).fetchone()
    if found and found[0]:
        # A misconfigured Job must not reset the administrator's (or any privileged) password.
        raise RoleConfigError(f"{role.name} is a privileged role, not an app's login")
    exists = found is not None
    # CREATE ROLE's defaults are the least: NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
    # NOBYPASSRLS. ALTER names only what it changes (a non-superuser administrator, as on
    # Azure, may not even mention SUPERUSER there).
    verb = "ALTER" if exists else "CREATE"
    statement = sql.SQL(verb + " ROLE {} WITH LOGIN PASSWORD {}")
    conn.execute(statement.format(sql.Identifier(role.name), sql.Literal(verifier)))


def _grant(conn: psycopg.Connection, role_name: str, database: str) -> None:
    role = sql.Identifier(role_name)
    db = sql.Identifier(database)
    schema = sql.Identifier(SCHEMA)
    statements = [
        # The database: only its own app (and the administrator) may connect.
        "REVOKE CONNECT, TEMPORARY ON DATABASE {db} FROM PUBLIC",
        "GRANT CONNECT ON DATABASE {db} TO {role}",
        # The schema: use it, create nothing in it.
        "REVOKE CREATE ON SCHEMA {schema} FROM PUBLIC",
        "REVOKE CREATE ON SCHEMA {schema} FROM {role}",
        "GRANT USAGE ON SCHEMA {schema} TO {role}",
        # The tables and sequences the migrations created, and those they will create.
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}",
        "GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {role}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema}"
        " GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE ON SEQUENCES TO {role}",
    ]
    for statement in statements:
        conn.execute(sql.SQL(statement).format(db=db, schema=schema, role=role))
    if conn.execute("SELECT to_regclass('alembic_version')").fetchone()[0] is not None:
        conn.execute(
            sql.SQL("REVOKE INSERT, UPDATE, DELETE ON TABLE alembic_version FROM {}").format(role)
        )
