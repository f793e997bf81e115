"""Request bodies are bounded per route, in the app itself, so the limit holds under uvicorn and
behind the Functions host alike: an oversized body is a 413 problem, never read to the end."""

import asyncio
import json

import azure.functions as func
import httpx
import pytest

from dev.issuer import Issuer
from functions.shared.asgi_function import LazyApp, handle
from tests.conftest import orders_settings

ITEM = b'{"productId": "french-press", "quantity": 1'


def padded(size: int) -> bytes:
    """A VALID JSON body of `size` bytes: whitespace is allowed between tokens."""
    return ITEM + b" " * (size - len(ITEM) - 1) + b"}"


def assert_too_large(status: int, content_type: str, body: bytes) -> None:
    assert status == 413, body[:200]
    assert content_type == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == 413
    assert problem["maxBytes"] == 1024


def test_a_valid_but_huge_json_body_is_a_413_problem(orders: httpx.Client):
    response = orders.post(
        "/cart/items", content=padded(20_000_000), headers={"Content-Type": "application/json"}
    )
    assert_too_large(response.status_code, response.headers["content-type"], response.content)


def test_a_huge_body_without_a_content_length_is_cut_off_too(orders: httpx.Client):
    def chunks():
        yield ITEM
        for _ in range(2_000):
            yield b" " * 10_000

    response = orders.post(
        "/cart/items", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_too_large(response.status_code, response.headers["content-type"], response.content)


def test_a_body_within_the_routes_limit_is_served(orders: httpx.Client):
    response = orders.post(
        "/cart/items", content=padded(1024), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("path", ["/checkout", "/cart"])
def test_routes_that_take_no_body_allow_only_a_small_one(orders: httpx.Client, path: str):
    response = orders.post(path, content=b"{}" + b" " * 2_000)
    assert response.status_code == 413
    assert response.json()["maxBytes"] == 256


def test_the_limit_holds_behind_the_functions_host(
    orders_db: str, catalog_url: str, issuer: Issuer
):
    from functions.orders.api import create_app

    app = LazyApp(lambda: create_app(orders_settings(orders_db, catalog_url, issuer.url)))
    request = func.HttpRequest(
        "POST",
        "http://localhost/cart/items",
        body=padded(5_000_000),
        headers={
            "Authorization": f"Bearer {issuer.token('host-user')}",
            "Content-Type": "application/json",
        },
    )

    response = asyncio.run(handle(app, request, None))

    assert_too_large(response.status_code, response.mimetype, response.get_body())
