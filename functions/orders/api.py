"""The orders HTTP API (FastAPI): carts, checkout and order history, all behind bearer tokens.

The routes call the use cases (cart.py, checkout.py, history.py) and turn their domain objects
into bodies (bodies.py); `problem_for` is the one place where domain errors become problem+json
statuses. Dependencies are built in `create_app` and reached through dependencies.py.

The routes are async: they await Postgres (`AsyncDatabase`) and catalog (aiohttp) on the event
loop, so a request costs no hop to FastAPI's thread pool and back, and a statement's wait no
GIL hand-over between threads (issue 17, docs/performance.md). Under the Functions host the
worker awaits them on its one loop too.
"""

import asyncio
import logging
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, FastAPI, Header, Path, Query, Response
from fastapi.responses import JSONResponse

from functions.orders import cart, domain, history, relay
from functions.orders.auth import TokenValidator
from functions.orders.bodies import CartView, OrderPage, OrderSummary, OrderView, SetCartItem
from functions.orders.catalog_client import CatalogClient, CatalogUnavailable
from functions.orders.checkout import checkout
from functions.orders.dependencies import CurrentUser, Dependencies, OrdersDependencies
from functions.orders.outbox_metrics import observe_outbox
from functions.orders.settings import OrdersSettings
from functions.orders.timeline import TimelineReader
from functions.shared.db import AsyncDatabase
from functions.shared.eventbus import EventPublisher
from functions.shared.eventbus.factory import publisher as configured_publisher
from functions.shared.identifiers import PRODUCT_ID_PATTERN
from functions.shared.logs import configure_logging
from functions.shared.problems import Problem, documented, invalid_field
from functions.shared.service_app import service_app
from functions.shared.timeline_store import CosmosSettings, CosmosTimelineStore, TimelineStore

MAX_PAGE_SIZE = 50
# Request body limits per route (body_limit.py): `{"productId", "quantity"}` needs < 100 bytes.
BODY_LIMITS = {"POST /cart/items": 1024}
_log = logging.getLogger("tinyshop.orders")
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"  # visible ASCII, like Stripe's keys


def problem_for(error: Exception) -> Problem:
    """The problem+json answer to each domain error (and to a catalog outage)."""
    match error:
        case CatalogUnavailable():
            return Problem(
                503,
                "Product prices cannot be read right now. Nothing was changed; retry shortly.",
                title="Catalog unavailable",
                type_="urn:tinyshop:catalog-unavailable",
                headers={"Retry-After": "5"},
            )
        case cart.ChangedButNotPriced():
            return Problem(
                503,
                "Your cart was changed, but product prices cannot be read right now; "
                "reload it shortly.",
                title="Catalog unavailable",
                type_="urn:tinyshop:cart-changed-catalog-unavailable",
                headers={"Retry-After": "5"},
            )
        case domain.UnknownProduct():
            return Problem(
                422,
                str(error),
                title="Unknown product",
                type_="urn:tinyshop:unknown-product",
                errors=[{"field": "productId", "message": "unknown product"}],
            )
        case domain.ProductsNoLongerSold(product_ids=product_ids):
            return Problem(
                422,
                str(error),
                title="Unknown product",
                type_="urn:tinyshop:unknown-product",
                productIds=product_ids,
            )
        case domain.MixedCurrencies():
            return Problem(
                422, str(error), title="Mixed currencies", type_="urn:tinyshop:mixed-currency"
            )
        case domain.IdempotencyKeyReused():
            return Problem(
                422,
                str(error),
                title="Idempotency-Key reused",
                type_="urn:tinyshop:idempotency-key-reused",
            )
        case domain.CartFull():
            return Problem(409, str(error), title="Cart is full", type_="urn:tinyshop:cart-full")
        case domain.EmptyCart():
            return Problem(409, str(error), title="Empty cart", type_="urn:tinyshop:empty-cart")
        case domain.CartKeptChanging():
            return Problem(409, str(error), title="Cart changed", type_="urn:tinyshop:cart-changed")
        case domain.OrderNotFound():
            return Problem(404, str(error), title="Order not found")
    raise error  # an error without a mapping is a bug: the 500 handler answers it


def _no_store(
    model: CartView | OrderView | OrderPage, status: int = 200, **headers: str
) -> JSONResponse:
    return JSONResponse(
        model.model_dump(mode="json", by_alias=True),
        status_code=status,
        headers={"Cache-Control": "no-store", **headers},
    )


# A page cursor is the keyset position of the page's last order: its creation time in
# microseconds since the epoch, and its id. The document gives this exact shape (CURSOR_PATTERN),
# so every cursor it allows decodes: a client can be told precisely what a cursor is.
CURSOR_PATTERN = r"^[0-9]{1,16}-[0-9a-f]{32}$"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _encode_cursor(order: OrderSummary) -> str:
    return f"{(order.created_at - _EPOCH) // _MICROSECOND}-{order.id.hex}"


def _decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    """The keyset position in a cursor of CURSOR_PATTERN's shape; anything else (only possible
    if the pattern and this drift apart) is the client's error, a 422, never a 500."""
    try:
        micros, order_id = cursor.split("-")
        return _EPOCH + int(micros) * _MICROSECOND, UUID(hex=order_id)
    except Exception as exc:
        raise invalid_field("cursor", "not a cursor this API returned") from exc


# OpenAPI links: how a client (and schemathesis's stateful phase) goes from one response to
# the next request — a filled cart to its checkout, an order to its page.
_LINK_PARAMETERS = {
    "placeOrder": {},
    "deleteCartItem": {"product_id": "$response.body#/items/0/productId"},
    "getOrder": {"order_id": "$response.body#/id"},
    "listOrders": {"cursor": "$response.body#/nextCursor"},
}


def _links(status: int, **links: str) -> dict[int | str, dict]:
    parameters = dict(_LINK_PARAMETERS)
    if "next_page" in links:  # from a page of orders: its first order, and the next page
        parameters["getOrder"] = {"order_id": "$response.body#/items/0/id"}
    return {
        status: {
            "links": {
                name: {"operationId": operation, "parameters": parameters[operation]}
                for name, operation in links.items()
            }
        }
    }


router = APIRouter()


@router.get(
    "/cart",
    operation_id="getCart",
    response_model=CartView,
    tags=["cart"],
    summary="The caller's cart, priced now",
    responses=_links(200, checkout="placeOrder", remove="deleteCartItem"),
)
async def get_cart(user: CurrentUser, deps: Dependencies) -> JSONResponse:
    return _no_store(CartView.of(await cart.view(deps.db, deps.catalog, user.user_id)))


@router.post(
    "/cart/items",
    response_model=CartView,
    tags=["cart"],
    operation_id="setCartItem",
    summary="Set a product's quantity (0 removes it)",
    responses=_links(200, checkout="placeOrder", remove="deleteCartItem")
    | documented(
        {
            409: "The cart holds the most distinct products it may.",
            422: "Invalid body (`errors`), or the product is unknown to catalog.",
        }
    ),
)
async def set_cart_item(
    user: CurrentUser,
    body: SetCartItem,
    deps: Dependencies,
) -> JSONResponse:
    priced = await cart.set_item(
        deps.db,
        deps.catalog,
        user.user_id,
        body.product_id,
        body.quantity,
        deps.settings.max_cart_items,
    )
    return _no_store(CartView.of(priced))


@router.delete(
    "/cart/items/{product_id}",
    operation_id="deleteCartItem",
    status_code=204,
    tags=["cart"],
    summary="Remove a product",
)
async def delete_cart_item(
    user: CurrentUser,
    product_id: Annotated[str, Path(pattern=PRODUCT_ID_PATTERN)],
    deps: Dependencies,
) -> Response:
    await cart.remove_item(deps.db, user.user_id, product_id)
    return Response(status_code=204, headers={"Cache-Control": "no-store"})


@router.post(
    "/checkout",
    status_code=201,
    response_model=OrderView,
    tags=["orders"],
    operation_id="placeOrder",
    summary="Place an order from the cart",
    responses=_links(201, order="getOrder")
    | documented(
        {
            409: "Empty cart, or it kept changing during checkout.",
            422: "A product is no longer sold, currencies are mixed, the Idempotency-Key was "
            "used for another cart, or the key is malformed.",
        }
    ),
)
async def place_order(
    user: CurrentUser,
    deps: Dependencies,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            pattern=IDEMPOTENCY_KEY_PATTERN,
            description="Retries with the same key return the same order.",
        ),
    ] = None,
) -> JSONResponse:
    (order, items), replayed = await checkout(deps.db, deps.catalog, user.user_id, idempotency_key)
    headers = {"Location": f"/orders/{order.id}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    else:
        # Off the request path, handed to the relay's threads once this task has written the
        # response (under uvicorn the write does not wait, so the callback runs after it): the
        # publish does not compete with the response for the GIL (c=1 checkout p50 -10 %,
        # docs/performance.md). Should it never run (a loop stopped first), the sweep publishes.
        asyncio.get_running_loop().call_soon(deps.after_commit.submit, order.id)
    return _no_store(OrderView.of(order, items), 201, **headers)


@router.get(
    "/orders",
    response_model=OrderPage,
    tags=["orders"],
    operation_id="listOrders",
    summary="The caller's orders, newest first",
    responses=_links(200, order="getOrder", next_page="listOrders"),
)
async def list_orders(
    user: CurrentUser,
    deps: Dependencies,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
    cursor: Annotated[
        str | None,
        Query(pattern=CURSOR_PATTERN, description="`nextCursor` of the previous page."),
    ] = None,
) -> JSONResponse:
    before = _decode_cursor(cursor) if cursor else None
    orders = await history.list_orders(deps.db, user.user_id, limit + 1, before)
    summaries = [OrderSummary.of(o) for o in orders[:limit]]
    next_cursor = _encode_cursor(summaries[-1]) if len(orders) > limit else None
    return _no_store(OrderPage(items=summaries, next_cursor=next_cursor))


@router.get(
    "/orders/{order_id}",
    response_model=OrderView,
    tags=["orders"],
    operation_id="getOrder",
    summary="One of the caller's orders, with its timeline",
    responses=documented({404: "No such order for this user."}),
)
async def get_order(user: CurrentUser, order_id: UUID, deps: Dependencies) -> JSONResponse:
    order, items = await history.get_order(deps.db, user.user_id, order_id)
    return _no_store(OrderView.of(order, items, await deps.timelines.read(order_id)))


def create_app(
    settings: OrdersSettings | None = None,
    publisher: EventPublisher | None = None,
    events: TimelineStore | None = None,
) -> FastAPI:
    """Build the orders app; pools and clients open on first use, not here. The publisher and
    timeline store come from the environment (`EVENT_BUS`, `COSMOS_*`) unless given."""
    settings = settings or OrdersSettings()
    configure_logging("orders")
    # The routes' pool is asyncio's (the routes are async); the relay, its sweep and the outbox
    # gauge run in threads, on their own pool with async commits (relay.py).
    db = AsyncDatabase(settings, "orders")
    relay_db = relay.relay_database(settings)
    observe_outbox(relay_db)
    publisher = publisher or configured_publisher()
    if events is None:
        cosmos = CosmosSettings()
        if cosmos.endpoint:  # reads only: fail fast, the page does not wait for retries
            events = CosmosTimelineStore(
                cosmos.model_copy(update={"timeout": settings.timeline_timeout, "retry_total": 0})
            )
    deps = OrdersDependencies(
        settings=settings,
        db=db,
        relay_db=relay_db,
        catalog=CatalogClient(
            str(settings.catalog_url), settings.catalog_timeout, settings.catalog_attempts
        ),
        publisher=publisher,
        after_commit=relay.PublishAfterCommit(relay_db, publisher),
        timelines=TimelineReader(events, settings.timeline_timeout),
        token_validator=TokenValidator(
            settings.oidc_issuer,
            settings.oidc_audience,
            settings.oidc_required_scope,
            settings.oidc_jwks_refresh_cooldown,
        ),
    )
    sweeper = relay.Sweeper(
        relay_db, publisher, settings.outbox_sweep_seconds, deps.outbox_retention
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        # Only under uvicorn: the Functions host runs no lifespan; its timer function sweeps.
        if settings.outbox_sweep_seconds > 0:
            sweeper.start()
        yield
        sweeper.stop()
        deps.after_commit.close()
        deps.timelines.close()
        await deps.catalog.close()
        publisher.close()
        relay_db.close()
        await db.close()

    return service_app(
        "orders",
        "Carts, checkout and order history of the signed-in shopper.",
        lifespan,
        checks={"database": db.ping},
        routers=[router],
        dependencies=deps,
        domain_errors={
            domain.OrdersError: problem_for,
            CatalogUnavailable: problem_for,
            cart.ChangedButNotPriced: problem_for,
        },
        body_limits=BODY_LIMITS,
        errors={
            401: "No valid bearer token (`WWW-Authenticate` says why).",
            403: "The token lacks the Orders.ReadWrite scope.",
            503: "The database, catalog or token issuer is unavailable; nothing was changed "
            "(but for `urn:tinyshop:cart-changed-catalog-unavailable`: the cart update was made, "
            "its prices cannot be read). Retry after `Retry-After`.",
        },
    )
