"""Each hot catalog query walks the primary key's index on a large table (100k products), so a
lost or unusable index fails here rather than as a slow benchmark: EXPLAIN (FORMAT JSON) of the
repository's exact SQL, both as a custom plan (the first executions) and as the generic plan
psycopg's server-side prepared statements settle on (after 5 executions)."""

import asyncio
from collections.abc import Iterator

import psycopg
import pytest

from dev.postgres.launcher import fresh_database
from functions.catalog import repository
from functions.shared import migrations
from tests.conftest import CATALOG_MIGRATIONS
from tests.support.query_plans import Statement, assert_indexed

LARGE = 100_000
# (name, SQL, parameters): the repository's exact statements.
HOT_QUERIES = [
    ("get_one", repository.GET_ONE, ["bench-054321"]),
    ("get_many", repository.GET_MANY, [[f"bench-{n:06d}" for n in range(1, 40_000, 2000)]]),
    (
        "get_many_after",
        repository.GET_MANY_AFTER,
        [[f"bench-{n:06d}" for n in range(1, 40_000, 2000)], "bench-010000"],
    ),
    ("list_first_page", repository.LIST_FIRST_PAGE, [21]),
    ("list_page_after", repository.LIST_PAGE_AFTER, ["bench-050000", 21]),
]


@pytest.fixture(scope="module")
def large_catalog(postgres_admin_url: str) -> Iterator[str]:
    with fresh_database(postgres_admin_url, "test_catalog_large") as url:
        migrations.upgrade(url, CATALOG_MIGRATIONS)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO products (id, name, description, price, currency, stock) "
                "SELECT 'bench-' || lpad(n::text, 6, '0'), 'Product ' || n, 'Generated.', "
                "1.00, 'EUR', 1 FROM generate_series(1, %s) AS n",
                (LARGE,),
            )
            conn.execute("ANALYZE products")
        yield url


@pytest.mark.parametrize(("name", "query", "params"), HOT_QUERIES, ids=[q[0] for q in HOT_QUERIES])
def test_hot_query_uses_the_primary_key_index(
    large_catalog: str, name: str, query: str, params: list
):
    """Custom and generic plan: through products_pkey, never the whole table, never sorted
    (the index gives the order)."""
    with psycopg.connect(large_catalog, autocommit=True) as conn:
        assert_indexed(conn, Statement(query, params), "products_pkey", "products", in_order=True)


def test_without_the_index_the_check_fails(large_catalog: str):
    """The assertion above can fail: with the primary key gone (in a transaction rolled back),
    the same query reads the whole table."""
    with psycopg.connect(large_catalog) as conn:
        conn.execute("ALTER TABLE products DROP CONSTRAINT products_pkey")
        with pytest.raises(AssertionError):
            assert_indexed(
                conn, Statement(repository.GET_ONE, ["bench-054321"]), "products_pkey", "products"
            )
        conn.rollback()


def test_catalog_sessions_use_the_generic_plans_checked_above(catalog_db: str):
    """The plans asserted with force_generic_plan are the ones catalog runs (api.py)."""
    from functions.catalog.api import create_app
    from tests.conftest import catalog_settings

    db = create_app(catalog_settings(catalog_db)).state.dependencies.db

    async def show() -> tuple[str, str]:
        try:
            async with db.connection() as conn:
                mode = await (await conn.execute("SHOW plan_cache_mode")).fetchone()
                timeout = await (await conn.execute("SHOW statement_timeout")).fetchone()
        finally:
            await db.close()
        return mode[0], timeout[0]

    assert asyncio.run(show()) == ("force_generic_plan", "5s")  # and the timeout still set
