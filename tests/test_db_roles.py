"""Each app logs in as its own least-privileged role, which its migration command ensures (the
cluster's migration Jobs set MIGRATE_APP_ROLE and MIGRATE_APP_ROLE_PASSWORD; docs/aks.md).

On the real Postgres: the role can read and write its own tables and nothing more — no CREATE,
no DROP, no other app's database; a second run changes nothing; a new password replaces the old.

The local server trusts 127.0.0.1 (no password check), so "the new password takes effect" is
proved on what the server stores: its SCRAM-SHA-256 verifier (RFC 5802/7677) must accept the new
password and refuse the old one.
"""

import base64
import hashlib
import hmac
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from dev.issuer import Issuer
from dev.postgres.launcher import fresh_database
from dev.serve import serve
from functions.catalog.seed import seed
from functions.shared import cli, db_roles
from functions.shared.eventbus.local_queue import LocalQueue, LocalQueuePublisher
from tests.conftest import catalog_settings, orders_settings

REPO = Path(__file__).resolve().parent.parent
CATALOG_MIGRATIONS = REPO / "functions" / "catalog" / "migrations"
ORDERS_MIGRATIONS = REPO / "functions" / "orders" / "migrations"


@dataclass(frozen=True)
class App:
    url: str  # the administrator's URL of the app's database
    role: str
    password: str

    def as_role(self, password: str | None = None) -> str:
        return make_conninfo(self.url, user=self.role, password=password or self.password)


def _drop_role(admin_url: str, role: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.fixture(scope="module")
def apps(postgres_admin_url: str) -> Iterator[dict[str, App]]:
    """catalog migrated by its real command line (as the Job runs it), orders in-process; each
    with its own role. Roles are server-wide: unique names, dropped after their databases."""
    suffix = uuid.uuid4().hex[:8]
    roles = {app: f"tinyshop_test_{app}_{suffix}" for app in ("catalog", "orders")}
    try:
        with (
            fresh_database(postgres_admin_url, "roles_catalog") as catalog_url,
            fresh_database(postgres_admin_url, "roles_orders") as orders_url,
        ):
            catalog = App(catalog_url, roles["catalog"], "catalog-pw-1")
            orders = App(orders_url, roles["orders"], "orders-pw-1")
            result = subprocess.run(
                [sys.executable, "-m", "functions.catalog", "migrate"],
                cwd=REPO,
                env={
                    **os.environ,
                    "CATALOG_DATABASE_URL": catalog.url,
                    db_roles.ROLE_ENV: catalog.role,
                    db_roles.PASSWORD_ENV: catalog.password,
                },
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert result.returncode == 0, result.stderr
            assert f"catalog: role {catalog.role} has its app's privileges" in result.stdout
            _migrate(orders, ORDERS_MIGRATIONS)
            yield {"catalog": catalog, "orders": orders}
    finally:
        for role in roles.values():
            _drop_role(postgres_admin_url, role)


def _migrate(app: App, migrations_dir: Path, password: str | None = None) -> None:
    env = {db_roles.ROLE_ENV: app.role, db_roles.PASSWORD_ENV: password or app.password}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        cli.run("orders", app.url, migrations_dir, argv=["migrate"])


def _scram_accepts(verifier: str, password: str) -> bool:
    """Whether a stored SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey> verifier
    was made from `password` (RFC 5802 section 3)."""
    method, rest = verifier.split("$", 1)
    assert method == "SCRAM-SHA-256"
    params, keys = rest.split("$")
    iterations, salt = params.split(":")
    stored_key, server_key = (base64.b64decode(k) for k in keys.split(":"))
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(salt), int(iterations)
    )
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    return hashlib.sha256(client_key).digest() == stored_key and (
        hmac.digest(salted, b"Server Key", "sha256") == server_key
    )


def _stored_verifier(admin_url: str, role: str) -> str:
    with psycopg.connect(admin_url) as conn:
        row = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,))
        return row.fetchone()[0]


# ---------------------------------------------------------------------------- what it may do


def test_the_app_role_reads_and_writes_its_own_tables(apps):
    catalog = apps["catalog"]
    with psycopg.connect(catalog.as_role()) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (catalog.role,)
        conn.execute(
            "INSERT INTO products (id, name, price, currency, stock)"
            " VALUES ('role-test', 'Role test', 1.00, 'EUR', 1)"
        )
        conn.execute("UPDATE products SET stock = 2 WHERE id = 'role-test'")
        assert conn.execute("SELECT stock FROM products WHERE id = 'role-test'").fetchone() == (2,)
        conn.execute("DELETE FROM products WHERE id = 'role-test'")
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("0001",)


def test_tables_and_sequences_the_administrator_creates_later_are_usable_too(apps):
    orders = apps["orders"]
    with psycopg.connect(orders.url, autocommit=True) as admin:
        admin.execute("CREATE TABLE later (id bigserial PRIMARY KEY, note text)")
    with psycopg.connect(orders.as_role()) as conn:
        assert conn.execute("INSERT INTO later (note) VALUES ('x') RETURNING id").fetchone() == (1,)


def test_the_apps_serve_their_journeys_as_their_own_roles(
    apps, catalog_url: str, issuer: Issuer, bus_db: str
):
    """Enough privilege for the real apps: browse the catalog, fill a cart, check out (order,
    items and outbox row in one transaction, the relay marking the row published), history."""
    from functions.catalog.api import create_app as create_catalog
    from functions.orders.api import create_app as create_orders

    catalog, orders = apps["catalog"], apps["orders"]
    seed(catalog.url)  # the catalog Job's seed container runs as the administrator
    with serve(create_catalog(catalog_settings(catalog.as_role()))) as url:
        products = httpx.get(f"{url}/products/tea-infuser", timeout=10)
        assert products.status_code == 200, products.text

    queue = LocalQueue(bus_db, queue=f"roles-{uuid.uuid4().hex[:8]}")
    settings = orders_settings(orders.as_role(), catalog_url, issuer.url)
    with serve(create_orders(settings, publisher=LocalQueuePublisher(queue))) as url:
        headers = {"Authorization": f"Bearer {issuer.token('role-user')}"}
        with httpx.Client(base_url=url, headers=headers, timeout=20) as client:
            added = client.post("/cart/items", json={"productId": "tea-infuser", "quantity": 2})
            assert added.status_code == 200, added.text
            placed = client.post("/checkout")
            assert placed.status_code == 201, placed.text
            assert client.get(f"/orders/{placed.json()['id']}").status_code == 200
        assert _published_within(orders.url, placed.json()["id"], seconds=10)


def _published_within(url: str, order_id: str, seconds: float) -> bool:
    """The relay publishes right after checkout, in the background: wait for its UPDATE."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "SELECT published_at IS NOT NULL FROM outbox WHERE order_id = %s", (order_id,)
            ).fetchone()
        if row == (True,):
            return True
        time.sleep(0.1)
    return False


# ------------------------------------------------------------------------- what it may not do


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE intruder (id int)",
        "CREATE TEMPORARY TABLE intruder (id int)",
        "DROP TABLE products",
        "ALTER TABLE products ADD COLUMN colour text",
        "TRUNCATE products",
        "UPDATE alembic_version SET version_num = 'x'",
        "CREATE SCHEMA intruder",
    ],
)
def test_the_app_role_cannot_change_the_schema(apps, statement: str):
    with (
        psycopg.connect(apps["catalog"].as_role()) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute(statement)


def test_an_app_role_cannot_connect_to_another_apps_database(apps):
    catalog, orders = apps["catalog"], apps["orders"]
    other = make_conninfo(catalog.as_role(), dbname=conninfo_to_dict(orders.url)["dbname"])
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(other).close()


def test_the_app_role_has_no_role_attributes_beyond_login(apps, postgres_admin_url: str):
    with psycopg.connect(postgres_admin_url) as conn:
        row = conn.execute(
            "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication,"
            " rolbypassrls FROM pg_roles WHERE rolname = %s",
            (apps["catalog"].role,),
        ).fetchone()
    assert row == (True, False, False, False, False, False)


# ------------------------------------------------------------------- re-runs and rotation


def test_a_second_run_changes_nothing_and_a_new_password_replaces_the_old(
    apps, postgres_admin_url: str
):
    orders = apps["orders"]
    assert _scram_accepts(_stored_verifier(postgres_admin_url, orders.role), orders.password)
    _migrate(orders, ORDERS_MIGRATIONS)  # unchanged: still fine
    with psycopg.connect(orders.as_role()) as conn:
        conn.execute("SELECT count(*) FROM orders").fetchone()

    _migrate(orders, ORDERS_MIGRATIONS, password="orders-pw-2")  # rotated in Key Vault
    stored = _stored_verifier(postgres_admin_url, orders.role)
    assert _scram_accepts(stored, "orders-pw-2")
    assert not _scram_accepts(stored, orders.password)


def test_the_verifier_check_refuses_a_wrong_password(postgres_admin_url: str):
    """The rotation test's oracle can fail: a verifier made from one password refuses another."""
    with psycopg.connect(postgres_admin_url) as conn:
        verifier = conn.pgconn.encrypt_password(b"right", b"someone", b"scram-sha-256").decode()
    assert _scram_accepts(verifier, "right")
    assert not _scram_accepts(verifier, "wrong")


# ----------------------------------------------------------------------- configuration


def test_a_privileged_role_is_never_taken_for_an_app_role(apps, postgres_admin_url: str):
    """A Job misconfigured with the administrator's own login must not reset its password."""
    with psycopg.connect(postgres_admin_url) as conn:
        admin = conn.execute("SELECT current_user").fetchone()[0]
        before = _stored_verifier(postgres_admin_url, admin)
    with pytest.raises(db_roles.RoleConfigError, match="privileged role"):
        db_roles.ensure_app_role(apps["orders"].url, db_roles.AppRole(admin, "hijack"))
    assert _stored_verifier(postgres_admin_url, admin) == before


def test_no_role_variables_means_no_role_work():
    assert db_roles.app_role_from_env({}) is None


@pytest.mark.parametrize("present", [db_roles.ROLE_ENV, db_roles.PASSWORD_ENV])
def test_half_a_role_configuration_is_refused(present: str):
    with pytest.raises(db_roles.RoleConfigError):
        db_roles.app_role_from_env({present: "x"})


def test_the_password_stays_out_of_the_roles_repr():
    assert "s3cret" not in repr(db_roles.AppRole("catalog_app", "s3cret"))


def test_the_ui_keeps_its_sessions_as_its_own_role(
    postgres_admin_url: str, monkeypatch: pytest.MonkeyPatch
):
    """`python -m ui.app migrate` ensures the UI's role too; its session store then reads,
    writes, extends, purges and deletes sessions as that role."""
    from datetime import timedelta

    from ui.app.__main__ import main
    from ui.app.sessions import SessionStore

    role = f"tinyshop_test_ui_{uuid.uuid4().hex[:8]}"
    try:
        with fresh_database(postgres_admin_url, "roles_ui") as url:
            monkeypatch.setenv("UI_SESSION_DATABASE_URL", url)
            monkeypatch.setenv(db_roles.ROLE_ENV, role)
            monkeypatch.setenv(db_roles.PASSWORD_ENV, "ui-pw-1")
            assert main(["migrate"]) == 0
            store = SessionStore(make_conninfo(url, user=role), max_size=1, timeout=5)
            try:
                store.ping()
                # The first save also purges expired rows (a DELETE with a subquery).
                store.create("sid-1", {"cart": 1}, timedelta(minutes=5))
                assert store.update("sid-1", {"cart": 2}, timedelta(minutes=5)) is True
                store.touch("sid-1", timedelta(minutes=10))
                assert store.load("sid-1")[0] == {"cart": 2}
                store.delete("sid-1")
                assert store.load("sid-1") is None
            finally:
                store.close()
            with (
                psycopg.connect(make_conninfo(url, user=role)) as conn,
                pytest.raises(psycopg.errors.InsufficientPrivilege),
            ):
                conn.execute("DROP TABLE ui_sessions")
    finally:
        _drop_role(postgres_admin_url, role)
