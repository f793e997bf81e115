"""catalog schema migrations and seed data: versioned, idempotent, safe under concurrency."""

import subprocess
import sys

import psycopg

from dev.postgres.launcher import fresh_database
from functions.catalog.seed import seed, seed_products
from functions.shared import migrations
from tests.conftest import CATALOG_MIGRATIONS, REPO


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {r[0] for r in rows}


def test_the_migrate_command_creates_the_database_and_is_safe_to_run_twice(
    postgres_admin_url: str,
):
    with fresh_database(postgres_admin_url, "test_mig_cli") as url:
        # The database must not exist yet for --create-database to prove anything.
        with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {psycopg.conninfo.conninfo_to_dict(url)['dbname']}")
        env = {"CATALOG_DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
        for _ in range(2):
            done = subprocess.run(
                [sys.executable, "-m", "functions.catalog", "migrate", "--create-database"],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            assert "catalog: schema at 0001" in done.stdout
        assert _tables(url) == {"alembic_version", "products"}


def test_concurrent_migration_runs_apply_each_revision_once(postgres_admin_url: str):
    """Two rollouts' migration Jobs racing: separate processes, like in the cluster."""
    with fresh_database(postgres_admin_url, "test_mig_race") as url:
        env = {"CATALOG_DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
        runs = [
            subprocess.Popen(
                [sys.executable, "-m", "functions.catalog", "migrate"],
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        outcomes = [(run.wait(timeout=60), run.stderr.read()) for run in runs]
        assert [code for code, _ in outcomes] == [0, 0, 0, 0], outcomes
        applied = [err.count("Running upgrade  -> 0001") for _, err in outcomes]
        assert sum(applied) == 1, outcomes
        assert migrations.current_revision(url) == "0001"


def test_seed_loads_at_least_24_valid_products_once(postgres_admin_url: str):
    products = seed_products()
    assert len(products) >= 24
    assert len({p.id for p in products}) == len(products)
    assert all(p.price > 0 and p.currency == "EUR" and p.description for p in products)

    with fresh_database(postgres_admin_url, "test_seed") as url:
        migrations.upgrade(url, CATALOG_MIGRATIONS)
        assert seed(url) == len(products)
        assert seed(url) == 0
        with psycopg.connect(url) as conn:
            count = conn.execute("SELECT count(*) FROM products").fetchone()[0]
        assert count == len(products)


def test_reseeding_keeps_stock_that_has_changed(postgres_admin_url: str):
    with fresh_database(postgres_admin_url, "test_seed_keep") as url:
        migrations.upgrade(url, CATALOG_MIGRATIONS)
        seed(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("UPDATE products SET stock = 1 WHERE id = 'french-press'")
        seed(url)
        with psycopg.connect(url) as conn:
            stock = conn.execute("SELECT stock FROM products WHERE id = 'french-press'").fetchone()[
                0
            ]
        assert stock == 1


def test_the_schema_rejects_invalid_products(catalog_db: str):
    bad_rows = [
        ("Bad Id", "x", "d", "1.00", "EUR", 1),
        ("neg-price", "x", "d", "-1.00", "EUR", 1),
        ("bad-currency", "x", "d", "1.00", "eur", 1),
        ("neg-stock", "x", "d", "1.00", "EUR", -1),
    ]
    with psycopg.connect(catalog_db) as conn:
        for row in bad_rows:
            try:
                with conn.transaction():
                    conn.execute(
                        "INSERT INTO products (id, name, description, price, currency, stock) "
                        "VALUES (%s, %s, %s, %s, %s, %s)",
                        row,
                    )
            except psycopg.errors.CheckViolation:
                continue
            raise AssertionError(f"accepted invalid row {row}")
