"""The catalog HTTP API (FastAPI), served by uvicorn locally and by the Functions host in AKS.

Dependencies are built in `create_app` and reached through dependencies.py, as in orders."""

import hashlib
import re
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, FastAPI, Path, Query, Request, Response
from pydantic import BaseModel

from functions.catalog import repository
from functions.catalog.bodies import Product, ProductPage
from functions.catalog.dependencies import CatalogDependencies, dependencies
from functions.catalog.settings import CatalogSettings
from functions.shared.db import AsyncDatabase
from functions.shared.identifiers import PRODUCT_ID_PATTERN, ProductId
from functions.shared.logs import configure_logging
from functions.shared.problems import Problem, documented, invalid_field
from functions.shared.service_app import service_app

# Every catalog query is a primary-key lookup or a keyset page, whose generic plan is the index
# scan whatever the values (tests/catalog/test_query_plans.py checks each one on 100k rows).
# Postgres's default (`auto`) kept re-planning `id > $1 ... LIMIT $2` for every call of the
# prepared statement on a large table: 0.10 instead of 0.06 ms of backend CPU per page.
SERVER_SETTINGS = {"plan_cache_mode": "force_generic_plan"}
MAX_PAGE_SIZE = 100
MAX_BATCH_IDS = 100
_PRODUCT_ID = re.compile(PRODUCT_ID_PATTERN)
# `ids=`: 1..MAX_BATCH_IDS product ids separated by commas, exactly as the document says.
_ID = PRODUCT_ID_PATTERN.removeprefix("^").removesuffix("$")
IDS_PATTERN = rf"^{_ID}(,{_ID}){{0,{MAX_BATCH_IDS - 1}}}$"


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison of If-None-Match against our (strong) ETag."""
    if not if_none_match:
        return False
    candidates = [c.strip().removeprefix("W/") for c in if_none_match.split(",")]
    return "*" in candidates or etag in candidates


def _cacheable(request: Request, model: BaseModel, max_age: int) -> Response:
    """JSON with an ETag and Cache-Control, or 304 when the client already has this version."""
    body = model.model_dump_json(by_alias=True).encode()
    etag = _etag(body)
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={max_age}, stale-while-revalidate={max_age}",
        "Vary": "Accept-Encoding",
    }
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def _parse_ids(raw: str) -> list[str]:
    ids = list(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    if not ids:
        raise invalid_field("ids", "must list at least one product id")
    if len(ids) > MAX_BATCH_IDS:
        raise invalid_field("ids", f"must list at most {MAX_BATCH_IDS} product ids")
    bad = [i for i in ids if not _PRODUCT_ID.match(i)]
    if bad:
        raise invalid_field("ids", f"malformed product id(s): {', '.join(bad[:5])}")
    return ids


router = APIRouter(tags=["products"])


@router.get(
    "/products",
    response_model=ProductPage,
    summary="List products (keyset-paginated) or look up a batch with `ids=`",
)
async def list_products(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
    cursor: Annotated[str | None, Query(pattern=PRODUCT_ID_PATTERN)] = None,
    ids: Annotated[
        str | None,
        Query(
            pattern=IDS_PATTERN,
            description=f"Comma-separated product ids (at most {MAX_BATCH_IDS}): every one "
            "that exists is returned in one page (after `cursor` when given; `limit` pages "
            "only the full list).",
        ),
    ] = None,
) -> Response:
    deps = dependencies(request)
    if ids is not None:
        wanted = _parse_ids(ids)
        async with deps.db.connection() as conn:
            # "After the cursor" as the list pages mean it: in the database's collation.
            found = await repository.get_many(conn, wanted, cursor)
        page = ProductPage(items=found, next_cursor=None)
        return _cacheable(request, page, deps.settings.cache_max_age)
    async with deps.db.connection() as conn:
        rows = await repository.list_page(conn, limit + 1, cursor)
    page = ProductPage(
        items=rows[:limit], next_cursor=rows[limit - 1].id if len(rows) > limit else None
    )
    return _cacheable(request, page, deps.settings.cache_max_age)


@router.get(
    "/products/{product_id}",
    response_model=Product,
    summary="One product",
    responses=documented({404: "No product with this id."}),
)
async def get_product(
    request: Request,
    product_id: Annotated[ProductId, Path()],
) -> Response:
    deps = dependencies(request)
    async with deps.db.connection() as conn:
        product = await repository.get_one(conn, product_id)
    if product is None:
        raise Problem(404, f"No product with id '{product_id}'.", title="Product not found")
    return _cacheable(request, product, deps.settings.cache_max_age)


def create_app(settings: CatalogSettings | None = None) -> FastAPI:
    """Build the catalog app; the database pool opens on first use, not here.

    The endpoints are async, on an asyncio pool (AsyncDatabase): a product read costs no hop
    to the thread pool and back, which was a fifth of catalog's CPU per request (issue 17)."""
    settings = settings or CatalogSettings()
    configure_logging("catalog")
    db = AsyncDatabase(settings, "catalog", SERVER_SETTINGS)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        await db.close()

    return service_app(
        "catalog",
        "Anonymous, cacheable product reads.",
        lifespan,
        checks={"database": db.ping},
        routers=[router],
        dependencies=CatalogDependencies(settings=settings, db=db),
        errors={503: "The catalog database is unavailable; retry after `Retry-After`."},
    )
