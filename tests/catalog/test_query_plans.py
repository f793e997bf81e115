"""Each hot catalog query walks the primary key's index on a large table (100k products), so a
lost or unusable index fails here rather than as a slow benchmark: EXPLAIN (FORMAT JSON) of the
repository's exact SQL, both as a custom plan (the first executions) and as the generic plan
psycopg's server-side prepared statements settle on (after 5 executions)."""

import asyncio
import json
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from dev.postgres.launcher import fresh_database
from functions.catalog import repository
from functions.shared import migrations
from tests.conftest import CATALOG_MIGRATIONS

LARGE = 100_000
# (name, SQL, parameter types for PREPARE, parameters)
HOT_QUERIES = [
    ("get_one", repository.GET_ONE, ["text"], ["bench-054321"]),
    (
        "get_many",
        repository.GET_MANY,
        ["text[]"],
        [[f"bench-{n:06d}" for n in range(1, 40_000, 2000)]],
    ),
    ("list_first_page", repository.LIST_FIRST_PAGE, ["int"], [21]),
    ("list_page_after", repository.LIST_PAGE_AFTER, ["text", "int"], ["bench-050000", 21]),
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


def _nodes(plan: dict) -> Iterator[dict]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def plan_nodes(conn: psycopg.Connection, query: str, types: list[str], params: list, mode: str):
    """The plan's nodes for `query` (with %s placeholders) as a prepared statement under
    `plan_cache_mode = mode`."""
    numbered = query
    for n in range(1, len(params) + 1):
        numbered = numbered.replace("%s", f"${n}", 1)
    conn.execute(f"SET plan_cache_mode = {mode}")
    conn.execute(f"PREPARE hot({', '.join(types)}) AS {numbered}")
    try:
        execute = sql.SQL("EXPLAIN (FORMAT JSON) EXECUTE hot({})").format(
            sql.SQL(", ").join(sql.Literal(p) for p in params)
        )
        (document,) = conn.execute(execute).fetchone()
    finally:
        conn.execute("DEALLOCATE hot")
    plan = (json.loads(document) if isinstance(document, str) else document)[0]["Plan"]
    return list(_nodes(plan))


def index_scans(nodes: list[dict]) -> list[str]:
    """The indexes the plan scans products through; empty when it reads the whole table."""
    if any(n["Node Type"] == "Seq Scan" for n in nodes):
        return []
    return [
        n["Index Name"]
        for n in nodes
        if n["Node Type"] in ("Index Scan", "Index Only Scan", "Bitmap Index Scan")
    ]


@pytest.mark.parametrize("mode", ["force_custom_plan", "force_generic_plan"])
@pytest.mark.parametrize(
    ("name", "query", "types", "params"), HOT_QUERIES, ids=[q[0] for q in HOT_QUERIES]
)
def test_hot_query_uses_the_primary_key_index(
    large_catalog: str, name: str, query: str, types: list[str], params: list, mode: str
):
    with psycopg.connect(large_catalog, autocommit=True) as conn:
        nodes = plan_nodes(conn, query, types, params, mode)

    assert index_scans(nodes) == ["products_pkey"], [n["Node Type"] for n in nodes]
    assert "Sort" not in {n["Node Type"] for n in nodes}  # the index gives the order


def test_without_the_index_the_check_fails(large_catalog: str):
    """The assertion above can fail: with the primary key gone (in a transaction rolled back),
    the same query reads the whole table."""
    with psycopg.connect(large_catalog) as conn:
        conn.execute("ALTER TABLE products DROP CONSTRAINT products_pkey")
        nodes = plan_nodes(
            conn, repository.GET_ONE, ["text"], ["bench-054321"], "force_custom_plan"
        )
        conn.rollback()

    assert index_scans(nodes) == []


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
