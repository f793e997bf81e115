"""service_app puts each router's routes on the app itself (functions/shared/service_app.py):
the app serves the same routes and documents the same OpenAPI as with `include_router`, and no
route is a router resolved again on every request."""

from collections.abc import Callable

import httpx
import pytest
from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.routing import APIRoute
from starlette.routing import Route

from dev.serve import serve
from functions.shared import service_app as service_app_module
from tests.conftest import catalog_settings, orders_settings


def _catalog() -> FastAPI:
    from functions.catalog.api import create_app

    return create_app(catalog_settings("postgresql://unused@127.0.0.1:1/catalog"))


def _orders() -> FastAPI:
    from functions.orders.api import create_app

    return create_app(
        orders_settings("postgresql://unused@127.0.0.1:1/orders", "http://unused", "http://unused")
    )


APPS = {"catalog": _catalog, "orders": _orders}


@pytest.mark.parametrize("build", APPS.values(), ids=APPS.keys())
def test_every_route_is_a_plain_route_of_the_app(build: Callable[[], FastAPI]):
    app = build()

    assert {type(route) for route in app.routes} <= {APIRoute, Route}
    assert any(route.path.endswith("/health/ready") for route in app.routes)  # type: ignore[attr-defined]


@pytest.mark.parametrize("build", APPS.values(), ids=APPS.keys())
def test_the_openapi_document_is_the_one_include_router_gives(
    build: Callable[[], FastAPI], monkeypatch: pytest.MonkeyPatch
):
    flat = build().openapi()

    def include(app: FastAPI, router: APIRouter) -> None:
        app.include_router(router)

    monkeypatch.setattr(service_app_module, "_add_routes", include)
    included = build().openapi()

    assert flat == included
    assert len(flat["paths"]) >= 4


def test_the_apps_dependency_overrides_reach_its_routes():
    """FastAPI's documented way to swap a dependency in tests still works on copied routes."""
    from functions.orders.dependencies import current_user

    app = _orders()

    def no_one() -> None:
        raise HTTPException(status_code=418, detail="overridden")

    app.dependency_overrides[current_user] = no_one
    with serve(app) as url:
        response = httpx.get(f"{url}/cart", timeout=10)

    assert response.status_code == 418, response.text
