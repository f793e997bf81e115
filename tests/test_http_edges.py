"""HTTP details every app shares (service_app.py): HEAD answers like GET without a body, and an
unexpected error is answered 500 problem+json and logged exactly once — under uvicorn and
behind the Functions host alike."""

import asyncio
import logging
from collections.abc import Iterator

import azure.functions as func
import httpx
import pytest
from fastapi import APIRouter, FastAPI

from dev.serve import serve
from functions.shared.asgi_function import LazyApp, handle
from functions.shared.service_app import service_app


@pytest.mark.parametrize("path", ["/products", "/products/tea-infuser", "/catalog/health/live"])
def test_head_answers_like_get_without_a_body(catalog: httpx.Client, path: str):
    get = catalog.get(path)
    head = catalog.head(path)

    assert head.status_code == get.status_code == 200
    assert head.content == b""
    for name in ("content-type", "etag", "cache-control", "content-length"):
        assert head.headers.get(name) == get.headers.get(name), name


def test_head_on_an_orders_route_needs_the_token_like_get(orders_url: str, orders: httpx.Client):
    assert httpx.head(orders_url + "/cart").status_code == 401
    head = orders.head("/cart")
    assert (head.status_code, head.content) == (200, b"")


def test_head_on_a_route_without_get_is_still_405(orders: httpx.Client):
    assert orders.head("/checkout").status_code == 405


def broken_app() -> FastAPI:
    router = APIRouter()

    @router.get("/boom")
    def boom() -> None:
        raise RuntimeError("internal detail that must not leak")

    return service_app("broken", "fails", _no_lifespan, {}, [router], dependencies=None)


def _no_lifespan(_: FastAPI):
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def nothing() -> Iterator[None]:
        yield

    return nothing()


def error_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_an_unexpected_error_is_logged_once_under_uvicorn(caplog: pytest.LogCaptureFixture):
    uvicorn_errors = logging.getLogger("uvicorn.error")  # does not propagate to the root logger
    with caplog.at_level(logging.INFO), serve(broken_app()) as url:
        uvicorn_errors.addHandler(caplog.handler)  # after uvicorn configured its logging
        try:
            response = httpx.get(url + "/boom", timeout=10)
        finally:
            uvicorn_errors.removeHandler(caplog.handler)

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert b"internal detail" not in response.content
    [record] = error_records(caplog)
    assert record.exc_info is not None
    assert "/boom" in record.getMessage()


def test_an_unexpected_error_is_logged_once_behind_the_functions_host(
    caplog: pytest.LogCaptureFixture,
):
    request = func.HttpRequest("GET", "http://localhost/boom", body=b"", headers={})

    with caplog.at_level(logging.INFO):
        response = asyncio.run(handle(LazyApp(broken_app), request, None))

    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    assert len(error_records(caplog)) == 1


def test_head_is_served_behind_the_functions_host(catalog_db: str):
    from functions.catalog.api import create_app
    from tests.conftest import catalog_settings

    app = LazyApp(lambda: create_app(catalog_settings(catalog_db)))
    request = func.HttpRequest("HEAD", "http://localhost/products/tea-infuser", body=b"")

    response = asyncio.run(handle(app, request, None))

    assert (response.status_code, response.get_body()) == (200, b"")
    assert response.headers["etag"].startswith('"')
