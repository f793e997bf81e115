"""Every page through Flask's test client, against the real catalog, orders and local IdP.

Sign-in goes through the real local OIDC provider (MSAL auth code flow with PKCE); orders
validates the resulting access tokens as it would Entra's.
"""

import hashlib
import re
import uuid
from collections.abc import Callable
from html import unescape

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from dev.oidc.launcher import LocalOidc
from tests.ui.conftest import SignIn

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')


def text(response) -> str:
    """The page's visible text, roughly: tags dropped, entities decoded, spaces squeezed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.text)).split())


def csrf(client: FlaskClient, path: str = "/cart") -> str:
    match = CSRF.search(client.get(path).text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def add(client: FlaskClient, product_id: str, quantity: int = 1):
    return client.post(
        "/cart/add",
        data={"product_id": product_id, "quantity": quantity, "csrf_token": csrf(client)},
    )


# ------------------------------------------------------------------------------ signed out


def test_products_page_lists_products_with_prices_signed_out(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    page = text(response)
    assert "Travel Press" in page  # ordered by id: aeropress-go first
    assert "€42.00" in page
    assert "Sign in" in page
    assert "Sign out" not in page
    assert 'href="/products/aeropress-go"' in response.text
    assert "set-cookie" not in response.headers  # no session for anonymous browsing


def test_products_are_paginated(client: FlaskClient) -> None:
    first = client.get("/").text
    more = re.search(r'href="/\?after=([a-z0-9-]+)"', first)
    assert more, "no 'More products' link"
    second = client.get(f"/?after={more.group(1)}")
    assert second.status_code == 200
    assert "First page" in second.text
    assert client.get("/?after=NOT+A+CURSOR").status_code == 302  # stale cursor: start over


def test_product_page_signed_out_offers_add_to_cart_through_sign_in(client: FlaskClient) -> None:
    response = client.get("/products/french-press")
    assert response.status_code == 200
    page = text(response)
    assert "French Press 800 ml" in page
    assert "€39.00" in page
    assert "Add to cart" in page
    assert "sign in first" in page
    assert 'action="/auth/sign-in"' in response.text
    assert 'name="next" value="/products/french-press"' in response.text


def test_unknown_product_is_a_friendly_404(client: FlaskClient) -> None:
    for path in ("/products/no-such-product", "/products/NOT_AN_ID"):
        response = client.get(path)
        assert response.status_code == 404
        assert "couldn't find" in text(response)


@pytest.mark.parametrize("path", ["/cart", "/checkout", "/orders", f"/orders/{uuid.uuid4()}"])
def test_pages_of_a_shopper_redirect_to_sign_in_and_back(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/sign-in?next=")
    assert client.get(response.headers["Location"]).status_code == 302  # off to the IdP


# ------------------------------------------------------------------------------ sign-in


def test_sign_in_returns_to_the_page_the_shopper_wanted(
    client: FlaskClient, sign_in: SignIn, shopper: str
) -> None:
    assert sign_in(client, shopper, next_path="/orders?after=x") == "/orders?after=x"
    page = client.get("/")
    assert f"Signed in as {shopper}".lower() in text(page).lower()
    assert "Sign out" in page.text


def test_sign_in_uses_pkce_state_and_nonce(client: FlaskClient, sign_in: SignIn) -> None:
    authorize = sign_in.start(client)
    for parameter in ("code_challenge=", "code_challenge_method=S256", "state=", "nonce="):
        assert parameter in authorize
    assert "response_mode=query" in authorize
    assert "Orders.ReadWrite" in authorize


# ------------------------------------------------------------------------------ cart


def test_cart_add_change_quantity_remove_and_totals(
    client: FlaskClient, sign_in: SignIn, shopper: str
) -> None:
    sign_in(client, shopper, next_path="/cart")
    empty = client.get("/cart")
    assert empty.status_code == 200
    assert "Your cart is empty" in text(empty)

    added = add(client, "french-press")
    assert (added.status_code, added.headers["Location"]) == (302, "/cart")
    add(client, "paper-filters-100", 2)
    add(client, "french-press")  # adds to what is there: 2 presses
    page = text(client.get("/cart"))
    assert "Added French Press 800 ml to your cart." in page
    assert "French Press 800 ml" in page
    assert "Paper Filters, 100 pack" in page
    assert "€78.00" in page  # 2 x 39.00
    assert "Total: €89.00" in page  # 78.00 + 2 x 5.50
    assert "Checkout" in page

    token = csrf(client)
    updated = client.post(
        "/cart/update", data={"product_id": "french-press", "quantity": 3, "csrf_token": token}
    )
    assert updated.status_code == 302
    page = text(client.get("/cart"))
    assert "French Press 800 ml: quantity is now 3." in page
    assert "Total: €128.00" in page  # 117.00 + 11.00

    client.post("/cart/remove", data={"product_id": "paper-filters-100", "csrf_token": token})
    page = text(client.get("/cart"))
    assert "Paper Filters" not in page.replace("Removed the product", "")
    assert "Total: €117.00" in page

    client.post(
        "/cart/update", data={"product_id": "french-press", "quantity": 0, "csrf_token": token}
    )
    assert "Your cart is empty" in text(client.get("/cart"))


@pytest.mark.parametrize(
    "form",
    [
        {"product_id": "french-press", "quantity": "lots"},
        {"product_id": "french-press", "quantity": "100"},
        {"product_id": "../etc", "quantity": "1"},
    ],
)
def test_malformed_cart_forms_are_400(
    client: FlaskClient, sign_in: SignIn, shopper: str, form: dict[str, str]
) -> None:
    sign_in(client, shopper)
    response = client.post("/cart/update", data={**form, "csrf_token": csrf(client)})
    assert response.status_code == 400
    assert "Traceback" not in response.text


def test_adding_a_product_that_is_not_sold_is_explained(
    client: FlaskClient, sign_in: SignIn, shopper: str
) -> None:
    sign_in(client, shopper)
    add(client, "no-such-product")
    assert "no longer sold" in text(client.get("/cart"))


# ------------------------------------------------------------------------------ checkout, orders


def test_checkout_places_one_order_even_when_submitted_twice(
    client: FlaskClient, sign_in: SignIn, shopper: str
) -> None:
    sign_in(client, shopper)
    add(client, "burr-grinder")
    add(client, "digital-scale", 2)
    review = client.get("/checkout")
    assert review.status_code == 200
    assert "Total: €158.80" in text(review)  # 89.00 + 2 x 34.90
    key = KEY.search(review.text).group(1)
    token = CSRF.search(review.text).group(1)

    placed = client.post("/checkout", data={"idempotency_key": key, "csrf_token": token})
    assert placed.status_code == 302
    order_path = placed.headers["Location"]
    assert re.fullmatch(r"/orders/[0-9a-f-]{36}", order_path)
    again = client.post("/checkout", data={"idempotency_key": key, "csrf_token": token})
    assert again.headers["Location"] == order_path  # the same order, replayed

    order = text(client.get(order_path))
    assert "Thank you! Your order has been placed." in order
    assert "Conical Burr Grinder" in order
    assert "Coffee Scale with Timer" in order
    assert "Order total €158.80" in order
    assert "Timeline not available yet" in order

    history = client.get("/orders")
    assert history.status_code == 200
    assert history.text.count('href="/orders/') == 1
    assert "€158.80" in text(history)
    assert "Your cart is empty" in text(client.get("/cart"))


def test_checkout_of_an_empty_cart_is_explained(
    client: FlaskClient, sign_in: SignIn, shopper: str
) -> None:
    sign_in(client, shopper)
    review = client.get("/checkout")
    assert (review.status_code, review.headers["Location"]) == (302, "/cart")
    assert "Your cart is empty. Add a product before checking out." in text(client.get("/cart"))

    # The API's 409 too (e.g. the cart was checked out in another tab).
    placed = client.post(
        "/checkout", data={"idempotency_key": str(uuid.uuid4()), "csrf_token": csrf(client)}
    )
    assert placed.headers["Location"] == "/cart"
    assert "Add a product before checking out" in text(client.get("/cart"))


def test_checkout_explains_which_product_vanished(
    client: FlaskClient, sign_in: SignIn, shopper: str, catalog_db: str
) -> None:
    product_id = f"limited-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(catalog_db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO products (id, name, description, price, currency, stock) "
            "VALUES (%s, 'Limited Edition Mug', '', 12.00, 'EUR', 5)",
            (product_id,),
        )
    try:
        sign_in(client, shopper)
        add(client, product_id)
        add(client, "french-press")
        review = client.get("/checkout")
        key, token = KEY.search(review.text).group(1), CSRF.search(review.text).group(1)
    finally:
        with psycopg.connect(catalog_db, autocommit=True) as conn:
            conn.execute("DELETE FROM products WHERE id = %s", (product_id,))

    placed = client.post("/checkout", data={"idempotency_key": key, "csrf_token": token})
    assert placed.headers["Location"] == "/cart"
    cart = text(client.get("/cart"))
    assert f"this product is no longer sold: {product_id}" in cart
    assert "No longer available: remove it to check out." in cart


def test_someone_elses_or_unknown_order_is_404(
    client: FlaskClient, sign_in: SignIn, shopper: str
) -> None:
    sign_in(client, shopper)
    response = client.get(f"/orders/{uuid.uuid4()}")
    assert response.status_code == 404
    assert client.get("/orders/not-a-uuid").status_code == 404


def test_order_timeline_renders_events(
    make_app: Callable[..., Flask], sign_in: SignIn, shopper: str, oidc: LocalOidc
) -> None:
    """When the worker has written events, they appear in order, in words."""
    import httpx

    order_id = str(uuid.uuid4())
    body = {
        "id": order_id,
        "status": "confirmed",
        "currency": "EUR",
        "total": "39.00",
        "createdAt": "2026-11-24T10:16:00+00:00",
        "items": [
            {
                "productId": "french-press",
                "name": "French Press 800 ml",
                "unitPrice": "39.00",
                "quantity": 1,
                "lineTotal": "39.00",
            }
        ],
        "timeline": {
            "available": True,
            "events": [
                {"type": "OrderPlaced", "occurredAt": "2026-11-24T10:16:00Z"},
                {"type": "ConfirmationEmailSent", "occurredAt": "2026-11-24T10:16:02Z"},
                {"type": "OrderConfirmed", "occurredAt": "2026-11-24T10:16:03Z"},
            ],
        },
    }
    orders = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    client = make_app(orders_transport=orders).test_client()
    sign_in(client, shopper)
    page = text(client.get(f"/orders/{order_id}"))
    assert "Order placed 24 Nov 2026, 10:16 UTC" in page
    assert "Confirmation e-mail sent" in page
    assert "Order confirmed" in page
    assert page.index("Order placed") < page.index("Order confirmed")
    assert "Status: Confirmed" in page


# ------------------------------------------------------------------------------ sign-out


def test_sign_out_clears_the_session_and_ends_the_idp_session(
    client: FlaskClient, sign_in: SignIn, shopper: str, oidc: LocalOidc, ui_db: str
) -> None:
    sign_in(client, shopper)
    cookie = client.get_cookie("tinyshop-session")
    assert cookie is not None
    response = client.post("/auth/sign-out", data={"csrf_token": csrf(client, "/")})
    assert response.status_code == 302
    assert response.headers["Location"].startswith(f"{oidc.issuer}/endsession?")
    assert "post_logout_redirect_uri=http%3A%2F%2Flocalhost%2F" in response.headers["Location"]
    assert client.get_cookie("tinyshop-session") is None
    with psycopg.connect(ui_db) as conn:
        digest = hashlib.sha256(cookie.value.encode()).digest()
        assert (
            conn.execute("SELECT 1 FROM ui_sessions WHERE sid_hash = %s", (digest,)).fetchone()
            is None
        )
    client.set_cookie("tinyshop-session", cookie.value)  # replaying the old cookie: signed out
    assert client.get("/cart").headers["Location"].startswith("/auth/sign-in")
