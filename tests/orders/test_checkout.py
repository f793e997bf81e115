"""Checkout: one order, its items and its OrderPlaced outbox row in one transaction; idempotent
retries; one order from concurrent checkouts; nothing written when anything fails."""

import socket
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import psycopg
import pytest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dev.issuer import Issuer
from dev.serve import free_port, serve
from functions.shared.events import OrderPlaced
from tests.conftest import orders_settings


def fill(orders: httpx.Client, **quantities: int) -> None:
    for product_id, quantity in quantities.items():
        response = orders.post(
            "/cart/items", json={"productId": product_id.replace("_", "-"), "quantity": quantity}
        )
        assert response.status_code == 200, response.text


def rows(orders_db: str, sql: str, *params: object) -> list[tuple]:
    with psycopg.connect(orders_db) as conn:
        return conn.execute(sql, params).fetchall()


def orders_of(orders_db: str, user: str) -> list[tuple]:
    return rows(orders_db, "SELECT id, total FROM orders WHERE user_id = %s", user)


def test_checkout_creates_the_order_and_empties_the_cart(
    orders: httpx.Client, orders_db: str, user: str
):
    fill(orders, french_press=1, tea_infuser=3)

    response = orders.post("/checkout")

    assert response.status_code == 201, response.text
    order = response.json()
    assert response.headers["location"] == f"/orders/{order['id']}"
    assert order["status"] == "placed"
    assert order["currency"] == "EUR"
    assert order["total"] == "39.30"
    assert sorted(
        (i["productId"], i["quantity"], i["unitPrice"], i["lineTotal"]) for i in order["items"]
    ) == [
        ("french-press", 1, "39.00", "39.00"),
        ("tea-infuser", 3, "0.10", "0.30"),
    ]
    assert orders.get("/cart").json()["items"] == []
    assert orders.get(f"/orders/{order['id']}").json()["total"] == "39.30"


def test_totals_are_exact_decimals(orders: httpx.Client, orders_db: str):
    fill(orders, tea_infuser=3)  # 0.10 x 3 is 0.30000000000000004 in floating point
    order = orders.post("/checkout").json()
    assert order["total"] == "0.30"
    stored = rows(orders_db, "SELECT total::text FROM orders WHERE id = %s", order["id"])
    assert stored == [("0.30",)]


def test_the_order_placed_event_is_written_to_the_outbox_with_the_order(
    orders: httpx.Client, orders_db: str, user: str
):
    fill(orders, burr_grinder=2)
    order = orders.post("/checkout").json()

    [(event_type, payload, trace_context)] = rows(
        orders_db,
        "SELECT event_type, payload, trace_context FROM outbox WHERE order_id = %s",
        order["id"],
    )
    # The contract the worker validates too (docs/architecture.md, "Event contract").
    event = OrderPlaced.model_validate(payload)
    assert event_type == "OrderPlaced"
    assert payload["version"] == 1
    assert str(event.order_id) == order["id"]
    assert event.user_id == user
    assert payload["total"] == order["total"] == "178.00"
    assert payload["items"] == [
        {
            "productId": "burr-grinder",
            "name": "Conical Burr Grinder",
            "unitPrice": "89.00",
            "quantity": 2,
        }
    ]
    assert trace_context["traceparent"].startswith("00-")  # W3C trace context of the request


def test_an_empty_cart_cannot_be_checked_out(orders: httpx.Client, orders_db: str, user: str):
    response = orders.post("/checkout")
    assert response.status_code == 409
    assert response.json()["type"] == "urn:tinyshop:empty-cart"
    assert orders_of(orders_db, user) == []


def test_a_retry_with_the_same_idempotency_key_returns_the_same_order(
    orders: httpx.Client, orders_db: str, user: str
):
    fill(orders, knock_box=1)
    key = {"Idempotency-Key": str(uuid.uuid4())}

    first = orders.post("/checkout", headers=key)
    retry = orders.post("/checkout", headers=key)

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["idempotent-replayed"] == "true"
    assert len(orders_of(orders_db, user)) == 1
    assert len(rows(orders_db, "SELECT 1 FROM outbox WHERE order_id = %s", first.json()["id"])) == 1


def test_a_key_is_recorded_with_its_order_and_a_checkout_without_one_records_none(
    orders: httpx.Client, orders_db: str, user: str
):
    fill(orders, knock_box=1)
    without = orders.post("/checkout").json()
    fill(orders, knock_box=2)
    with_key = orders.post("/checkout", headers={"Idempotency-Key": "recorded-1"}).json()

    assert rows(
        orders_db, "SELECT key, order_id::text FROM idempotency_keys WHERE user_id = %s", user
    ) == [("recorded-1", with_key["id"])]
    assert without["id"] != with_key["id"]
    assert orders.get("/cart").json()["items"] == []  # emptied by each checkout


def test_an_order_is_written_whole_with_its_items_outbox_row_and_emptied_cart(
    orders: httpx.Client, orders_db: str, user: str
):
    """One statement writes all of it; each part is there, and the response is the stored rows."""
    fill(orders, french_press=2, tea_infuser=1)

    order = orders.post("/checkout", headers={"Idempotency-Key": "whole-1"}).json()

    assert rows(
        orders_db,
        "SELECT product_id, name, unit_price::text, quantity FROM order_items "
        "WHERE order_id = %s ORDER BY product_id",
        order["id"],
    ) == [(i["productId"], i["name"], i["unitPrice"], i["quantity"]) for i in order["items"]]
    assert [(i["productId"], i["quantity"]) for i in order["items"]] == [
        ("french-press", 2),
        ("tea-infuser", 1),
    ]
    assert rows(orders_db, "SELECT event_type FROM outbox WHERE order_id = %s", order["id"]) == [
        ("OrderPlaced",)
    ]
    assert rows(orders_db, "SELECT 1 FROM cart_items WHERE user_id = %s", user) == []


def test_the_same_key_for_a_different_cart_is_refused(
    orders: httpx.Client, orders_db: str, user: str
):
    key = {"Idempotency-Key": "checkout-attempt-1"}
    fill(orders, knock_box=1)
    assert orders.post("/checkout", headers=key).status_code == 201
    fill(orders, french_press=1)

    reused = orders.post("/checkout", headers=key)

    assert reused.status_code == 422
    assert reused.json()["type"] == "urn:tinyshop:idempotency-key-reused"
    assert len(orders_of(orders_db, user)) == 1
    assert [i["productId"] for i in orders.get("/cart").json()["items"]] == ["french-press"]


@pytest.mark.parametrize("key", ["", "x" * 256, "has space", "tab\tkey"])
def test_a_malformed_idempotency_key_is_a_422(orders: httpx.Client, key: str):
    fill(orders, knock_box=1)
    response = orders.post("/checkout", headers={"Idempotency-Key": key})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"


def test_concurrent_checkouts_of_one_cart_produce_exactly_one_order(
    orders: httpx.Client, orders_db: str, user: str
):
    fill(orders, moka_pot_6=1, knock_box=2)
    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(lambda _: orders.post("/checkout"), range(6)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 409, 409, 409, 409, 409], [r.text for r in responses]
    assert len(orders_of(orders_db, user)) == 1


def test_concurrent_retries_with_one_key_all_return_the_one_order(
    orders: httpx.Client, orders_db: str, user: str
):
    fill(orders, moka_pot_6=1)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(lambda _: orders.post("/checkout", headers=key), range(6)))

    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert len(orders_of(orders_db, user)) == 1


@contextmanager
def orders_app_with_catalog_at(
    orders_db: str, catalog_url: str, issuer: Issuer, user: str
) -> Iterator[httpx.Client]:
    from functions.orders.api import create_app

    settings = orders_settings(
        orders_db, catalog_url, issuer.url, catalog_timeout=0.5, catalog_attempts=2
    )
    headers = {"Authorization": f"Bearer {issuer.token(user)}"}
    with (
        serve(create_app(settings)) as url,
        httpx.Client(base_url=url, headers=headers, timeout=20) as client,
    ):
        yield client


@contextmanager
def catalog_changing_the_cart(
    catalog_url: str, *changes: Callable[[], object], down_after: int | None = None
) -> Iterator[tuple[list[str], str]]:
    """A catalog in front of the real one that runs `changes[i]` while it answers the i-th price
    lookup, as a shopper's other tab would (and answers 503 to every lookup after the first
    `down_after`); yields the `ids=` of each lookup it got (filled in as they come) and its
    URL."""
    lookups: list[str] = []

    async def products(request: Request) -> Response:
        lookups.append(request.query_params["ids"])
        if down_after is not None and len(lookups) > down_after:
            return Response(status_code=503)
        if len(lookups) <= len(changes):
            await run_in_threadpool(changes[len(lookups) - 1])
        async with httpx.AsyncClient(base_url=catalog_url) as real:
            answer = await real.get("/products", params=request.query_params)
        return Response(answer.content, answer.status_code, media_type="application/json")

    with serve(Starlette(routes=[Route("/products", products)])) as url:
        yield lookups, url


def test_a_cart_changed_while_it_is_priced_is_priced_again_and_ordered_as_it_now_is(
    orders: httpx.Client, orders_db: str, catalog_url: str, issuer: Issuer, user: str
):
    """The write checks the cart it locked against the one priced: an order is never placed for
    a cart that no longer exists, and the line added meanwhile is neither lost nor free."""
    fill(orders, french_press=1)
    with (
        catalog_changing_the_cart(catalog_url, lambda: fill(orders, tea_infuser=3)) as (
            lookups,
            url,
        ),
        orders_app_with_catalog_at(orders_db, url, issuer, user) as client,
    ):
        response = client.post("/checkout", headers={"Idempotency-Key": str(uuid.uuid4())})

    assert response.status_code == 201, response.text
    assert lookups == ["french-press", "french-press,tea-infuser"]
    order = response.json()
    assert order["total"] == "39.30"
    assert {(i["productId"], i["quantity"]) for i in order["items"]} == {
        ("french-press", 1),
        ("tea-infuser", 3),
    }
    assert orders.get("/cart").json()["items"] == []
    assert rows(orders_db, "SELECT count(*) FROM outbox WHERE order_id = %s", order["id"]) == [(1,)]
    assert rows(orders_db, "SELECT count(*) FROM idempotency_keys WHERE user_id = %s", user) == [
        (1,)
    ]


def test_a_checkout_that_loses_every_attempt_still_replays_its_keys_order_placed_meanwhile(
    orders: httpx.Client, orders_db: str, catalog_url: str, issuer: Issuer, user: str
):
    """The cart changes during the first pricing, and a retry with the same key (another
    connection) places the order during the second: the key's order is answered, not a 409."""
    key = {"Idempotency-Key": str(uuid.uuid4())}
    fill(orders, french_press=1)
    concurrent: list[httpx.Response] = []
    with (
        catalog_changing_the_cart(
            catalog_url,
            lambda: fill(orders, tea_infuser=3),
            lambda: concurrent.append(orders.post("/checkout", headers=key)),
        ) as (lookups, url),
        orders_app_with_catalog_at(orders_db, url, issuer, user) as client,
    ):
        response = client.post("/checkout", headers=key)

    assert len(lookups) == 2
    [winner] = concurrent
    assert winner.status_code == 201, winner.text
    assert response.status_code == 201, response.text
    assert response.headers["idempotent-replayed"] == "true"
    assert response.json() == winner.json()
    assert len(orders_of(orders_db, user)) == 1


def test_catalog_down_is_a_503_and_nothing_is_written(
    orders: httpx.Client, orders_db: str, issuer: Issuer, user: str
):
    fill(orders, french_press=1)
    dead_catalog = f"http://127.0.0.1:{free_port()}"
    with orders_app_with_catalog_at(orders_db, dead_catalog, issuer, user) as cut_off:
        response = cut_off.post("/checkout")

    assert response.status_code == 503
    assert response.json()["type"] == "urn:tinyshop:catalog-unavailable"
    assert orders_of(orders_db, user) == []
    assert [i["productId"] for i in orders.get("/cart").json()["items"]] == ["french-press"]


def test_a_catalog_that_never_answers_is_a_bounded_503(
    orders: httpx.Client, orders_db: str, issuer: Issuer, user: str
):
    fill(orders, french_press=1)
    with socket.socket() as blackhole:  # accepts connections (backlog), never answers
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(16)
        silent = f"http://127.0.0.1:{blackhole.getsockname()[1]}"
        with orders_app_with_catalog_at(orders_db, silent, issuer, user) as client:
            started = time.monotonic()
            response = client.post("/checkout")
            elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert elapsed < 5  # 2 attempts x 0.5 s timeout + backoff, not a hang
    assert orders_of(orders_db, user) == []


def test_a_product_that_vanished_from_the_catalog_is_a_422_and_the_cart_stays(
    orders: httpx.Client, orders_db: str, catalog_db: str, user: str
):
    with psycopg.connect(catalog_db, autocommit=True) as catalog:
        catalog.execute(
            "INSERT INTO products (id, name, description, price, currency, stock) "
            "VALUES ('limited-edition-mug', 'Limited Mug', '', 9.00, 'EUR', 1)"
        )
        fill(orders, limited_edition_mug=1, knock_box=1)
        catalog.execute("DELETE FROM products WHERE id = 'limited-edition-mug'")

    response = orders.post("/checkout")

    assert response.status_code == 422
    assert response.json()["productIds"] == ["limited-edition-mug"]
    assert orders_of(orders_db, user) == []
    cart = orders.get("/cart").json()
    assert {(i["productId"], i["available"]) for i in cart["items"]} == {
        ("limited-edition-mug", False),
        ("knock-box", True),
    }


def test_a_failure_after_the_order_insert_leaves_no_order_and_the_cart_intact(
    orders: httpx.Client, orders_db: str, user: str
):
    """The outbox insert comes after the order insert in the same transaction: make it fail and
    the order must vanish with it — an order without its event cannot exist."""
    fill(orders, french_press=1)
    with psycopg.connect(orders_db, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION fail_outbox() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'simulated crash before the outbox row'; END $$"
        )
        conn.execute(
            "CREATE TRIGGER fail_outbox BEFORE INSERT ON outbox "
            "FOR EACH ROW EXECUTE FUNCTION fail_outbox()"
        )
        try:
            response = orders.post("/checkout")
        finally:
            conn.execute("DROP TRIGGER fail_outbox ON outbox")
            conn.execute("DROP FUNCTION fail_outbox()")

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "simulated" not in response.text  # no internals leak
    assert orders_of(orders_db, user) == []
    assert [i["productId"] for i in orders.get("/cart").json()["items"]] == ["french-press"]
    assert orders.post("/checkout").status_code == 201  # and a retry succeeds
