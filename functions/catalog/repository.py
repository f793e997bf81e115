"""catalog's repository: the SQL of products (always parameterized)."""

import psycopg
from psycopg.rows import class_row

from functions.catalog.bodies import Product

_COLUMNS = "id, name, description, price, currency, stock"


def list_page(conn: psycopg.Connection, limit: int, after: str | None) -> list[Product]:
    """Up to `limit` products ordered by id, starting after the id `after` (keyset pagination)."""
    with conn.cursor(row_factory=class_row(Product)) as cur:
        if after is None:
            cur.execute(f"SELECT {_COLUMNS} FROM products ORDER BY id LIMIT %s", (limit,))
        else:
            cur.execute(
                f"SELECT {_COLUMNS} FROM products WHERE id > %s ORDER BY id LIMIT %s",
                (after, limit),
            )
        return cur.fetchall()


def get_many(conn: psycopg.Connection, ids: list[str]) -> list[Product]:
    """The products among `ids` that exist, ordered by id; unknown ids are simply absent."""
    with conn.cursor(row_factory=class_row(Product)) as cur:
        cur.execute(f"SELECT {_COLUMNS} FROM products WHERE id = ANY(%s) ORDER BY id", (ids,))
        return cur.fetchall()


def get_one(conn: psycopg.Connection, product_id: str) -> Product | None:
    with conn.cursor(row_factory=class_row(Product)) as cur:
        cur.execute(f"SELECT {_COLUMNS} FROM products WHERE id = %s", (product_id,))
        return cur.fetchone()


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
