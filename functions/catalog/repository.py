"""catalog's repository: the SQL of products (always parameterized).

The reads are async (the API's endpoints are, see api.py); each hot query is a constant here so
tests/catalog/test_query_plans.py can EXPLAIN exactly what runs, on a large table."""

import psycopg
from psycopg.rows import class_row

from functions.catalog.bodies import Product

_COLUMNS = "id, name, description, price, currency, stock"
# Keyset pagination: `id > cursor ORDER BY id LIMIT n` walks the primary key's index.
LIST_FIRST_PAGE = f"SELECT {_COLUMNS} FROM products ORDER BY id LIMIT %s"
LIST_PAGE_AFTER = f"SELECT {_COLUMNS} FROM products WHERE id > %s ORDER BY id LIMIT %s"
GET_MANY = f"SELECT {_COLUMNS} FROM products WHERE id = ANY(%s) ORDER BY id"
GET_MANY_AFTER = f"SELECT {_COLUMNS} FROM products WHERE id = ANY(%s) AND id > %s ORDER BY id"
GET_ONE = f"SELECT {_COLUMNS} FROM products WHERE id = %s"


async def list_page(conn: psycopg.AsyncConnection, limit: int, after: str | None) -> list[Product]:
    """Up to `limit` products ordered by id, starting after the id `after` (keyset pagination)."""
    async with conn.cursor(row_factory=class_row(Product)) as cur:
        if after is None:
            await cur.execute(LIST_FIRST_PAGE, (limit,))
        else:
            await cur.execute(LIST_PAGE_AFTER, (after, limit))
        return await cur.fetchall()


async def get_many(
    conn: psycopg.AsyncConnection, ids: list[str], after: str | None = None
) -> list[Product]:
    """The products among `ids` that exist, ordered by id (after the id `after`, in the
    database's order like `list_page`); unknown ids are simply absent."""
    async with conn.cursor(row_factory=class_row(Product)) as cur:
        if after is None:
            await cur.execute(GET_MANY, (ids,))
        else:
            await cur.execute(GET_MANY_AFTER, (ids, after))
        return await cur.fetchall()


async def get_one(conn: psycopg.AsyncConnection, product_id: str) -> Product | None:
    cur = await conn.cursor(row_factory=class_row(Product)).execute(GET_ONE, (product_id,))
    return await cur.fetchone()


def insert_missing(conn: psycopg.Connection, products: list[Product]) -> int:
    """Insert the products whose id is not there yet; never overwrites (stock may have moved)."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO products (id, name, description, price, currency, stock) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING RETURNING id",
            [(p.id, p.name, p.description, p.price, p.currency, p.stock) for p in products],
            returning=True,
        )
        inserted = 0
        while True:
            inserted += len(cur.fetchall())
            if not cur.nextset():
                return inserted
