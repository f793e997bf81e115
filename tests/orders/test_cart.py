"""The cart: set/remove items, priced by catalog, isolated per user, safe under concurrency."""

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from dev.issuer import Issuer
from dev.serve import free_port, serve
from functions.catalog.seed import seed_products
from tests.conftest import orders_settings
from tests.orders.test_checkout import catalog_changing_the_cart, orders_app_with_catalog_at

PRODUCTS = {p.id: p for p in seed_products()}


def set_item(orders: httpx.Client, product_id: str, quantity: object) -> httpx.Response:
    return orders.post("/cart/items", json={"productId": product_id, "quantity": quantity})


def test_a_new_user_has_an_empty_cart(orders: httpx.Client):
    response = orders.get("/cart")
    assert response.status_code == 200
    assert response.json() == {"items": [], "itemCount": 0, "currency": None, "total": "0.00"}
    assert response.headers["cache-control"] == "no-store"


def test_adding_items_prices_them_from_the_catalog(orders: httpx.Client):
    set_item(orders, "tea-infuser", 3)
    cart = set_item(orders, "french-press", 1).json()

    assert cart["items"] == [
        {
            "productId": "tea-infuser",
            "quantity": 3,
            "available": True,
            "name": "Mesh Tea Infuser",
            "unitPrice": "0.10",
            "lineTotal": "0.30",
        },
        {
            "productId": "french-press",
            "quantity": 1,
            "available": True,
            "name": PRODUCTS["french-press"].name,
            "unitPrice": "39.00",
            "lineTotal": "39.00",
        },
    ]
    assert cart["total"] == "39.30"
    assert cart["itemCount"] == 4
    assert cart["currency"] == "EUR"


def test_posting_a_quantity_sets_it_rather_than_adding(orders: httpx.Client):
    set_item(orders, "moka-pot-6", 2)
    cart = set_item(orders, "moka-pot-6", 5).json()
    assert [(i["productId"], i["quantity"]) for i in cart["items"]] == [("moka-pot-6", 5)]


def test_quantity_zero_removes_the_item(orders: httpx.Client):
    set_item(orders, "moka-pot-6", 2)
    assert set_item(orders, "moka-pot-6", 0).json()["items"] == []


def test_delete_removes_the_item_and_is_idempotent(orders: httpx.Client):
    set_item(orders, "moka-pot-6", 2)
    set_item(orders, "knock-box", 1)
    assert orders.delete("/cart/items/moka-pot-6").status_code == 204
    assert orders.delete("/cart/items/moka-pot-6").status_code == 204
    assert [i["productId"] for i in orders.get("/cart").json()["items"]] == ["knock-box"]


def test_an_unknown_product_is_a_422(orders: httpx.Client):
    response = set_item(orders, "no-such-product", 1)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "productId"
    assert orders.get("/cart").json()["items"] == []


@pytest.mark.parametrize("quantity", [-1, 100, "2", 1.5, None, True])
def test_a_quantity_outside_0_to_99_or_not_an_integer_is_a_422(
    orders: httpx.Client, quantity: object
):
    response = set_item(orders, "french-press", quantity)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["quantity"]


@pytest.mark.parametrize(
    "body",
    [
        {"productId": "Bad Id", "quantity": 1},
        {"quantity": 1},
        {"productId": "x", "quantity": 1, "price": "0"},
    ],
    ids=["malformed-id", "missing-id", "unknown-field"],
)
def test_malformed_bodies_are_a_422(orders: httpx.Client, body: dict):
    response = orders.post("/cart/items", json=body)
    assert response.status_code == 422
    assert response.json()["errors"]


def test_a_quantity_written_as_an_integral_number_is_an_integer(orders: httpx.Client):
    """JSON Schema's `integer` (the document's type) includes 2.0."""
    response = orders.post("/cart/items", json={"productId": "french-press", "quantity": 2.0})

    assert response.status_code == 200, response.text
    assert response.json()["items"][0]["quantity"] == 2


def test_a_snake_case_field_is_refused_like_any_field_the_document_does_not_name(
    orders: httpx.Client,
):
    response = orders.post("/cart/items", json={"product_id": "french-press", "quantity": 1})

    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"productId", "product_id"}
    assert orders.get("/cart").json()["items"] == []


def test_a_malformed_product_id_in_the_path_is_a_422(orders: httpx.Client):
    assert orders.delete("/cart/items/Not_Valid").status_code == 422


def test_a_cart_holds_a_bounded_number_of_distinct_products(
    orders_db: str, catalog_url: str, issuer: Issuer
):
    from functions.orders.api import create_app

    settings = orders_settings(orders_db, catalog_url, issuer.url, max_cart_items=2)
    token = issuer.token("bounded-cart-user")
    with (
        serve(create_app(settings)) as url,
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client,
    ):
        assert set_item(client, "moka-pot-6", 1).status_code == 200
        assert set_item(client, "knock-box", 1).status_code == 200
        full = set_item(client, "french-press", 1)
        changed = set_item(client, "knock-box", 4)  # changing an existing item is still fine

    assert full.status_code == 409
    assert full.json()["type"] == "urn:tinyshop:cart-full"
    assert changed.status_code == 200


def test_users_never_see_or_change_each_others_carts(
    orders_url: str, issuer: Issuer, orders: httpx.Client
):
    set_item(orders, "french-press", 2)
    bob = {"Authorization": f"Bearer {issuer.token('bob-' + orders.headers['authorization'][-8:])}"}

    assert httpx.get(f"{orders_url}/cart", headers=bob).json()["items"] == []
    httpx.delete(f"{orders_url}/cart/items/french-press", headers=bob)
    assert [i["quantity"] for i in orders.get("/cart").json()["items"]] == [2]


def test_concurrent_updates_to_one_cart_are_all_kept(orders: httpx.Client):
    ids = sorted(PRODUCTS)[:16]
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda pid: set_item(orders, pid, 2).status_code, ids))

    assert statuses == [200] * len(ids)
    cart = orders.get("/cart").json()
    assert sorted(i["productId"] for i in cart["items"]) == ids
    assert cart["itemCount"] == 2 * len(ids)


def test_concurrent_sets_of_one_product_leave_exactly_one_of_the_values(orders: httpx.Client):
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda q: set_item(orders, "knock-box", q), range(1, 17)))

    items = orders.get("/cart").json()["items"]
    assert len(items) == 1
    assert 1 <= items[0]["quantity"] <= 16


def test_the_cart_is_a_503_when_catalog_is_down(orders_db: str, issuer: Issuer):
    from functions.orders.api import create_app

    nowhere = f"http://127.0.0.1:{free_port()}"
    settings = orders_settings(orders_db, nowhere, issuer.url, catalog_attempts=2)
    token = issuer.token("catalog-down-user")
    with (
        serve(create_app(settings)) as url,
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client,
    ):
        response = set_item(client, "french-press", 1)

    assert response.status_code == 503
    assert response.json()["type"] == "urn:tinyshop:catalog-unavailable"
    assert response.headers["retry-after"] == "5"


def cart_of(orders: httpx.Client) -> dict[str, int]:
    return {i["productId"]: i["quantity"] for i in orders.get("/cart").json()["items"]}


def test_removing_an_item_while_catalog_is_down_is_a_503_and_changes_nothing(
    orders: httpx.Client, orders_db: str, issuer: Issuer, user: str
):
    """The lines that stay are priced before the removal is written, as a change is."""
    set_item(orders, "french-press", 1)
    set_item(orders, "tea-infuser", 3)
    nowhere = f"http://127.0.0.1:{free_port()}"
    with orders_app_with_catalog_at(orders_db, nowhere, issuer, user) as down:
        response = set_item(down, "french-press", 0)

    assert response.status_code == 503
    assert response.json()["type"] == "urn:tinyshop:catalog-unavailable"
    assert cart_of(orders) == {"french-press": 1, "tea-infuser": 3}


def test_removing_the_last_item_needs_no_prices(
    orders: httpx.Client, orders_db: str, issuer: Issuer, user: str
):
    set_item(orders, "french-press", 1)
    nowhere = f"http://127.0.0.1:{free_port()}"
    with orders_app_with_catalog_at(orders_db, nowhere, issuer, user) as down:
        response = set_item(down, "french-press", 0)

    assert response.status_code == 200, response.text
    assert response.json()["items"] == []
    assert cart_of(orders) == {}


def test_a_change_whose_cart_cannot_be_priced_afterwards_says_it_was_made(
    orders: httpx.Client, orders_db: str, catalog_url: str, issuer: Issuer, user: str
):
    """A product added concurrently is priced after the change commits; catalog failing then
    must not claim that nothing was changed."""
    set_item(orders, "french-press", 1)
    with (
        catalog_changing_the_cart(
            catalog_url, lambda: set_item(orders, "tea-infuser", 3), down_after=1
        ) as (lookups, url),
        orders_app_with_catalog_at(orders_db, url, issuer, user) as client,
    ):
        response = set_item(client, "moka-pot-6", 2)

    assert response.status_code == 503
    assert response.json()["type"] == "urn:tinyshop:cart-changed-catalog-unavailable"
    assert "cannot be read" in response.json()["detail"]
    assert lookups[0] == "french-press,moka-pot-6"
    assert set(lookups[1:]) == {"tea-infuser"}
    assert cart_of(orders) == {"french-press": 1, "tea-infuser": 3, "moka-pot-6": 2}
