"""The ceiling of the same run: a minimal FastAPI app under the same server settings.

- `GET /const`: constant JSON (a product's shape) — what the framework and server cost alone;
- `GET /point/{id}`: one point-select through a psycopg AsyncConnectionPool, written the way
  psycopg's and FastAPI's docs show (async endpoint, `async with pool.connection()`);
- `GET /point-sync/{id}`: the same through a sync ConnectionPool in a sync endpoint (FastAPI
  runs it in its thread pool). The bench takes the faster of the two as the ceiling.

Same pool sizes as the apps (ServiceSettings' defaults), autocommit, no tracing, no logging.
Refs: https://www.psycopg.org/psycopg3/docs/advanced/pool.html (pool as an app-lifetime
object, opened in the lifespan), https://fastapi.tiangolo.com/async/ (async def for async
libraries, def for blocking ones).
"""

import os
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from functions.shared.settings import ServiceSettings

POINT_SQL = "SELECT id, name, description, price::text, currency, stock FROM products WHERE id = %s"
CONSTANT = {
    "id": "french-press",
    "name": "French Press",
    "description": "A 1-litre glass French press for four cups.",
    "price": "39.00",
    "currency": "EUR",
    "stock": 25,
}


def create_app() -> FastAPI:
    url = os.environ["REFERENCE_DATABASE_URL"]
    defaults = ServiceSettings(database_url=url)
    sizes: dict[str, Any] = {
        "min_size": defaults.db_pool_min_size,
        "max_size": defaults.db_pool_max_size,
        "kwargs": {"autocommit": True},
        "open": False,
    }
    apool = AsyncConnectionPool(url, **sizes)
    spool = ConnectionPool(url, **sizes)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        await apool.open(wait=True)
        spool.open(wait=True)
        yield
        await apool.close()
        spool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/const")
    async def const() -> dict[str, Any]:
        return CONSTANT

    @app.get("/point/{product_id}")
    async def point(product_id: str) -> dict[str, Any]:
        async with apool.connection() as conn:
            cur = await conn.cursor(row_factory=dict_row).execute(POINT_SQL, (product_id,))
            row = await cur.fetchone()
        if row is None:
            raise HTTPException(404)
        return row

    @app.get("/point-sync/{product_id}")
    def point_sync(product_id: str) -> dict[str, Any]:
        with spool.connection() as conn:
            row = conn.cursor(row_factory=dict_row).execute(POINT_SQL, (product_id,)).fetchone()
        if row is None:
            raise HTTPException(404)
        return row

    return app
