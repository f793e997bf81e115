"""The orders HTTP API (FastAPI): carts, checkout and order history, all behind bearer tokens."""

import base64
import json
import logging
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, FastAPI, Header, Path, Query, Response
from fastapi.responses import JSONResponse

from functions.orders import cart, relay, store
from functions.orders.auth import TokenValidator, User
from functions.orders.catalog_client import CatalogClient
from functions.orders.checkout import checkout, load_order
from functions.orders.models import (
    CartView,
    OrderPage,
    OrderSummary,
    OrderView,
    SetCartItem,
)
from functions.orders.settings import OrdersSettings
from functions.orders.timeline import TimelineReader
from functions.shared.db import Database
from functions.shared.eventbus import EventPublisher
from functions.shared.eventbus.factory import publisher as configured_publisher
from functions.shared.identifiers import PRODUCT_ID_PATTERN
from functions.shared.logs import configure_logging
from functions.shared.problems import Problem
from functions.shared.service_app import service_app
from functions.shared.timeline_store import CosmosSettings, CosmosTimelineStore

MAX_PAGE_SIZE = 50
_log = logging.getLogger("tinyshop.orders")
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"  # visible ASCII, like Stripe's keys


def _no_store(
    model: CartView | OrderView | OrderPage, status: int = 200, **headers: str
) -> JSONResponse:
    return JSONResponse(
        model.model_dump(mode="json", by_alias=True),
        status_code=status,
        headers={"Cache-Control": "no-store", **headers},
    )


def _encode_cursor(order: OrderSummary) -> str:
    raw = json.dumps([order.created_at.isoformat(), str(order.id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, order_id = json.loads(raw)
        return datetime.fromisoformat(created_at), UUID(order_id)
    except (ValueError, TypeError) as exc:
        raise Problem(
            422,
            "Invalid value for: cursor.",
            title="Invalid request",
            errors=[{"field": "cursor", "message": "not a cursor this API returned"}],
        ) from exc


def orders_router(
    db: Database,
    catalog: CatalogClient,
    settings: OrdersSettings,
    after_commit: relay.PublishAfterCommit,
    timelines: TimelineReader,
) -> APIRouter:
    router = APIRouter()

    @router.get(
        "/cart", response_model=CartView, tags=["cart"], summary="The caller's cart, priced now"
    )
    def get_cart(user: User) -> JSONResponse:
        return _no_store(cart.view(db, catalog, user.user_id))

    @router.post(
        "/cart/items",
        response_model=CartView,
        tags=["cart"],
        summary="Set a product's quantity (0 removes it)",
    )
    def set_cart_item(user: User, body: SetCartItem) -> JSONResponse:
        cart.set_item(
            db, catalog, user.user_id, body.product_id, body.quantity, settings.max_cart_items
        )
        return _no_store(cart.view(db, catalog, user.user_id))

    @router.delete(
        "/cart/items/{product_id}", status_code=204, tags=["cart"], summary="Remove a product"
    )
    def delete_cart_item(
        user: User, product_id: Annotated[str, Path(pattern=PRODUCT_ID_PATTERN)]
    ) -> Response:
        cart.remove_item(db, user.user_id, product_id)
        return Response(status_code=204, headers={"Cache-Control": "no-store"})

    @router.post(
        "/checkout",
        status_code=201,
        response_model=OrderView,
        tags=["orders"],
        summary="Place an order from the cart",
        responses={
            409: {"description": "Empty cart, or it changed during checkout"},
            422: {"description": "A product is no longer sold, or the key was reused"},
            503: {"description": "catalog unavailable; nothing was written"},
        },
    )
    def place_order(
        user: User,
        idempotency_key: Annotated[
            str | None,
            Header(
                alias="Idempotency-Key",
                pattern=IDEMPOTENCY_KEY_PATTERN,
                description="Retries with the same key return the same order.",
            ),
        ] = None,
    ) -> JSONResponse:
        order, replayed = checkout(db, catalog, user.user_id, idempotency_key)
        headers = {"Location": f"/orders/{order.id}"}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        else:
            after_commit.submit(order.id)  # off the request path; the sweep is the safety net
        return _no_store(order, 201, **headers)

    @router.get(
        "/orders",
        response_model=OrderPage,
        tags=["orders"],
        summary="The caller's orders, newest first",
    )
    def list_orders(
        user: User,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
    ) -> JSONResponse:
        before = _decode_cursor(cursor) if cursor else None
        with db.connection() as conn:
            rows = store.list_orders(conn, user.user_id, limit + 1, before)
        summaries = [
            OrderSummary(
                id=r.id,
                status=r.status,
                currency=r.currency,
                total=r.total,
                created_at=r.created_at,
                item_count=r.item_count,
            )
            for r in rows[:limit]
        ]
        next_cursor = _encode_cursor(summaries[-1]) if len(rows) > limit else None
        return _no_store(OrderPage(items=summaries, next_cursor=next_cursor))

    @router.get(
        "/orders/{order_id}",
        response_model=OrderView,
        tags=["orders"],
        summary="One of the caller's orders, with its timeline",
        responses={404: {"description": "No such order for this user"}},
    )
    def get_order(user: User, order_id: UUID) -> JSONResponse:
        with db.connection() as conn:
            order = load_order(conn, user.user_id, order_id)
        if order is None:
            raise Problem(404, f"You have no order {order_id}.", title="Order not found")
        return _no_store(order.model_copy(update={"timeline": timelines.read(order_id)}))

    return router


def create_app(
    settings: OrdersSettings | None = None,
    publisher: EventPublisher | None = None,
    events: CosmosTimelineStore | None = None,
) -> FastAPI:
    """Build the orders app; pools and clients open on first use, not here. The publisher and
    event store come from the environment (`EVENT_BUS`, `COSMOS_*`) unless given."""
    settings = settings or OrdersSettings()
    configure_logging("orders")
    db = Database(settings, "orders")
    catalog = CatalogClient(
        str(settings.catalog_url), settings.catalog_timeout, settings.catalog_attempts
    )
    publisher = publisher or configured_publisher()
    if events is None:
        cosmos = CosmosSettings()
        if cosmos.endpoint:  # reads only: fail fast, the page does not wait for retries
            events = CosmosTimelineStore(
                cosmos.model_copy(update={"timeout": settings.timeline_timeout, "retry_total": 0})
            )
    timelines = TimelineReader(events, settings.timeline_timeout)
    after_commit = relay.PublishAfterCommit(db, publisher)
    sweeper = relay.Sweeper(
        db,
        publisher,
        settings.outbox_sweep_seconds,
        timedelta(hours=settings.outbox_retention_hours),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        # Only under uvicorn: the Functions host runs no lifespan; its timer function sweeps.
        if settings.outbox_sweep_seconds > 0:
            sweeper.start()
        yield
        sweeper.stop()
        after_commit.close()
        timelines.close()
        catalog.close()
        publisher.close()
        db.close()

    app = service_app(
        "orders",
        "Carts, checkout and order history of the signed-in shopper.",
        lifespan,
        checks={"database": db.ping},
        routers=[orders_router(db, catalog, settings, after_commit, timelines)],
    )
    app.state.db = db
    app.state.publisher = publisher
    app.state.outbox_retention = timedelta(hours=settings.outbox_retention_hours)
    app.state.token_validator = TokenValidator(
        settings.oidc_issuer,
        settings.oidc_audience,
        settings.oidc_required_scope,
        settings.oidc_jwks_refresh_cooldown,
    )
    return app
