"""Degraded modes: every dependency failure ends in a page a shopper understands (never a stack
trace), with the right status, and nothing is done twice."""

import re
import uuid
from collections.abc import Callable
from html import unescape

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse as Response

from dev.serve import free_port
from tests.ui.conftest import SignIn

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')
COOKIE = "tinyshop-session"
CATALOG_DOWN = "The shop is having trouble loading products, try again shortly."
ORDERS_DOWN = "Your cart and orders can't be reached right now."


def text(response) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.text)).split())


def closed_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def problem(status: int, type_: str, detail: str = "", **extensions: object) -> httpx.Response:
    body = {"type": type_, "title": "x", "status": status, "detail": detail, **extensions}
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


def assert_friendly(response, status: int, message: str) -> None:
    assert response.status_code == status
    assert message in text(response)
    assert "Traceback" not in response.text
    assert 'File "' not in response.text


# ------------------------------------------------------------------------------ catalog


@pytest.mark.parametrize(
    "failure",
    [
        "down",
        lambda request: problem(503, "about:blank", "The service's database is unavailable."),
        lambda request: httpx.Response(502, text="<html>bad gateway</html>"),
    ],
)
def test_catalog_failures_are_a_friendly_503(
    make_app: Callable[..., Flask], failure: object
) -> None:
    if failure == "down":
        app = make_app(catalog_url=closed_url())
    else:
        app = make_app(catalog_transport=httpx.MockTransport(failure))  # type: ignore[arg-type]
    client = app.test_client()
    for path in ("/", "/products/french-press"):
        response = client.get(path)
        assert_friendly(response, 503, CATALOG_DOWN)
        assert response.headers["Retry-After"] == "5"


def test_slow_catalog_times_out_into_the_friendly_page(make_app: Callable[..., Flask]) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    client = make_app(catalog_transport=httpx.MockTransport(slow)).test_client()
    assert_friendly(client.get("/"), 503, CATALOG_DOWN)


# ------------------------------------------------------------------------------ orders


def test_orders_down_shows_a_retry_message(
    make_app: Callable[..., Flask], sign_in: SignIn, shopper: str
) -> None:
    client = make_app(orders_url=closed_url()).test_client()
    sign_in(client, shopper)
    for path in ("/cart", "/checkout", "/orders", f"/orders/{uuid.uuid4()}"):
        response = client.get(path)
        assert_friendly(response, 503, ORDERS_DOWN)
        assert f'href="{path}"' in response.text  # "Try again" reloads the same page
    assert client.get("/").status_code == 200  # browsing still works


def test_orders_failing_with_500_shows_the_retry_message(
    make_app: Callable[..., Flask], sign_in: SignIn, shopper: str
) -> None:
    broken = httpx.MockTransport(lambda r: problem(500, "about:blank", "An unexpected error."))
    client = make_app(orders_transport=broken).test_client()
    sign_in(client, shopper)
    assert_friendly(client.get("/cart"), 503, ORDERS_DOWN)


def test_checkout_retry_after_an_outage_places_one_order(
    make_app: Callable[..., Flask], sign_in: SignIn, shopper: str
) -> None:
    healthy = make_app().test_client()
    sign_in(healthy, shopper)
    token = CSRF.search(healthy.get("/cart").text).group(1)
    healthy.post("/cart/add", data={"product_id": "moka-pot-6", "csrf_token": token})
    key = KEY.search(healthy.get("/checkout").text).group(1)

    # Another replica whose orders connection is down gets the submit.
    outage = make_app(orders_url=closed_url()).test_client()
    outage.set_cookie(COOKIE, healthy.get_cookie(COOKIE).value)
    failed = outage.post("/checkout", data={"idempotency_key": key, "csrf_token": token})
    assert_friendly(failed, 503, "Trying again is safe")
    assert f'name="idempotency_key" value="{key}"' in failed.text  # the retry reuses the key

    first = healthy.post("/checkout", data={"idempotency_key": key, "csrf_token": token})
    second = healthy.post("/checkout", data={"idempotency_key": key, "csrf_token": token})
    assert first.headers["Location"] == second.headers["Location"]
    assert healthy.get("/orders").text.count('href="/orders/') == 1


@pytest.mark.parametrize(
    ("answer", "explained"),
    [
        (problem(409, "urn:tinyshop:empty-cart", "Your cart is empty."), "Your cart is empty."),
        (
            problem(422, "urn:tinyshop:unknown-product", "x", productIds=["a-mug", "a-cup"]),
            "these products are no longer sold: a-mug, a-cup.",
        ),
        (problem(409, "urn:tinyshop:cart-changed"), "Your cart changed while you were"),
        (problem(422, "urn:tinyshop:idempotency-key-reused"), "Your cart changed since you"),
        (problem(422, "urn:tinyshop:mixed-currency"), "mixes currencies"),
        (problem(503, "urn:tinyshop:catalog-unavailable"), "Trying again is safe"),
    ],
)
def test_checkout_problems_are_explained(
    make_app: Callable[..., Flask],
    sign_in: SignIn,
    shopper: str,
    answer: httpx.Response,
    explained: str,
) -> None:
    def orders(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/checkout":
            assert request.headers["Idempotency-Key"] == key
            return answer
        return httpx.Response(
            200, json={"items": [], "itemCount": 0, "currency": None, "total": "0.00"}
        )

    client = make_app(orders_transport=httpx.MockTransport(orders)).test_client()
    sign_in(client, shopper)
    token = CSRF.search(client.get("/cart").text).group(1)
    key = str(uuid.uuid4())
    response = client.post("/checkout", data={"idempotency_key": key, "csrf_token": token})
    if response.status_code == 302:
        assert response.headers["Location"] == "/cart"
        response = client.get("/cart")
    assert explained in text(response)
    assert "Traceback" not in response.text


def _add_to_cart_answered_by(
    answer: httpx.Response, make_app: Callable[..., Flask], sign_in: SignIn, shopper: str
) -> tuple[FlaskClient, Response]:
    """Sign in to a UI whose orders answers every cart update with `answer` (an empty cart
    otherwise), post "Add to cart"; the client and the post's response."""
    empty = {"items": [], "itemCount": 0, "currency": None, "total": "0.00"}

    def orders(request: httpx.Request) -> httpx.Response:
        return answer if request.method == "POST" else httpx.Response(200, json=empty)

    client = make_app(orders_transport=httpx.MockTransport(orders)).test_client()
    sign_in(client, shopper)
    token = CSRF.search(client.get("/cart").text).group(1)
    response = client.post("/cart/add", data={"product_id": "french-press", "csrf_token": token})
    return client, response


def test_full_cart_is_explained(
    make_app: Callable[..., Flask], sign_in: SignIn, shopper: str
) -> None:
    full = problem(409, "urn:tinyshop:cart-full", "A cart holds at most 50 products.")
    client, _ = _add_to_cart_answered_by(full, make_app, sign_in, shopper)
    assert "A cart holds at most 50 products." in text(client.get("/cart"))


def test_a_cart_change_made_before_catalog_failed_is_shown_as_made_not_as_an_outage(
    make_app: Callable[..., Flask], sign_in: SignIn, shopper: str
) -> None:
    """orders wrote the change and then could not price the cart: the shopper is sent to the
    cart page (a redirect, so reloading resubmits nothing) and told the cart was updated."""
    changed = problem(503, "urn:tinyshop:cart-changed-catalog-unavailable", "changed")
    client, response = _add_to_cart_answered_by(changed, make_app, sign_in, shopper)

    assert response.status_code == 302
    assert response.headers["Location"] == "/cart"
    assert "Your cart was updated, but prices can't be shown" in text(client.get("/cart"))


def test_orders_refusing_the_token_signs_in_again(
    make_app: Callable[..., Flask], sign_in: SignIn, shopper: str
) -> None:
    refused = httpx.MockTransport(
        lambda r: httpx.Response(401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    )
    client = make_app(orders_transport=refused).test_client()
    sign_in(client, shopper)
    response = client.get("/orders?after=abc")
    assert response.status_code == 303
    assert response.headers["Location"] == "/auth/sign-in?next=/orders?after%3Dabc"
    with client.session_transaction() as session:
        assert "user" not in session
        assert "token_cache" not in session


def test_a_form_post_refused_by_orders_signs_in_again_and_returns_to_the_cart(
    make_app: Callable[..., Flask], sign_in: SignIn, shopper: str
) -> None:
    def orders(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(401)
        return httpx.Response(
            200, json={"items": [], "itemCount": 0, "currency": None, "total": "0"}
        )

    client = make_app(orders_transport=httpx.MockTransport(orders)).test_client()
    sign_in(client, shopper)
    token = CSRF.search(client.get("/cart").text).group(1)
    response = client.post(
        "/cart/update", data={"product_id": "x", "quantity": 1, "csrf_token": token}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/auth/sign-in?next=/cart"


def test_unexpected_errors_are_a_generic_500(
    make_app: Callable[..., Flask], sign_in: SignIn, shopper: str
) -> None:
    def bug(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("boom: secret internals")

    app = make_app(catalog_transport=httpx.MockTransport(bug))
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production (TESTING turns it on)
    response = app.test_client().get("/")
    assert_friendly(response, 500, "Sorry, something went wrong on our side.")
    assert "secret internals" not in response.text


# ------------------------------------------------------------------------------ sign-in, sessions


def test_identity_provider_down_is_explained(make_app: Callable[..., Flask]) -> None:
    authority = f"https://127.0.0.1:{free_port()}/tinyshop/v2.0"
    client = make_app(oidc_authority=authority).test_client()
    assert_friendly(
        client.get("/auth/sign-in?next=/cart"), 503, "Signing in isn't possible right now."
    )
    assert client.get("/").status_code == 200


def test_session_store_down_keeps_browsing_and_explains_sign_in(
    make_app: Callable[..., Flask], sign_in: SignIn, shopper: str
) -> None:
    healthy = make_app().test_client()
    sign_in(healthy, shopper)
    down = make_app(
        session_database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/ui",
        session_pool_timeout=1,
    ).test_client()
    down.set_cookie(COOKIE, healthy.get_cookie(COOKIE).value)
    assert down.get("/").status_code == 200
    assert_friendly(down.get("/cart"), 503, "Signing in isn't possible right now.")
    assert_friendly(down.get("/auth/sign-in"), 503, "Signing in isn't possible right now.")
