"""catalog HTTP API over real HTTP against a real, seeded Postgres."""

import json
from collections.abc import Iterator
from decimal import Decimal

import httpx
import psycopg
import pytest

from dev.serve import serve
from functions.catalog.api import IDS_PATTERN
from functions.catalog.seed import seed_products
from tests.conftest import CATALOG_MIGRATIONS, catalog_settings
from tests.support.collation import punctuation_blind_database

SEEDED = {p.id: p for p in seed_products()}


def assert_problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return body


def test_a_product_is_returned_with_its_fields_and_a_two_place_price(catalog: httpx.Client):
    response = catalog.get("/products/tea-infuser")

    assert response.status_code == 200
    assert response.json() == {
        "id": "tea-infuser",
        "name": "Mesh Tea Infuser",
        "description": SEEDED["tea-infuser"].description,
        "price": "0.10",
        "currency": "EUR",
        "stock": SEEDED["tea-infuser"].stock,
    }


def test_an_unknown_product_is_a_404_problem(catalog: httpx.Client):
    body = assert_problem(catalog.get("/products/no-such-thing"), 404)
    assert "no-such-thing" in body["detail"]
    assert body["instance"] == "/products/no-such-thing"


def test_a_malformed_product_id_is_a_422_naming_the_field(catalog: httpx.Client):
    body = assert_problem(catalog.get("/products/Not_An_Id"), 422)
    assert [e["field"] for e in body["errors"]] == ["product_id"]


def test_pages_walk_the_whole_catalog_once_in_id_order(catalog: httpx.Client):
    seen: list[str] = []
    cursor = None
    for _ in range(20):
        params = {"limit": 5} | ({"cursor": cursor} if cursor else {})
        page = catalog.get("/products", params=params).json()
        assert len(page["items"]) <= 5
        seen += [item["id"] for item in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == sorted(SEEDED)


def test_the_default_page_is_bounded(catalog: httpx.Client):
    page = catalog.get("/products").json()
    assert len(page["items"]) == 20
    assert page["nextCursor"] == page["items"][-1]["id"]


@pytest.mark.parametrize("limit", ["0", "101", "-1", "ten"])
def test_an_out_of_range_limit_is_a_422_naming_limit(catalog: httpx.Client, limit: str):
    body = assert_problem(catalog.get("/products", params={"limit": limit}), 422)
    assert [e["field"] for e in body["errors"]] == ["limit"]
    assert "limit" in body["detail"]


def test_a_malformed_cursor_is_a_422_naming_cursor(catalog: httpx.Client):
    body = assert_problem(catalog.get("/products", params={"cursor": "DROP TABLE"}), 422)
    assert [e["field"] for e in body["errors"]] == ["cursor"]


def test_ids_returns_the_known_products_and_skips_unknown_ones(catalog: httpx.Client):
    response = catalog.get(
        "/products", params={"ids": "french-press,nope,burr-grinder,french-press"}
    )

    assert response.status_code == 200
    page = response.json()
    assert [p["id"] for p in page["items"]] == ["burr-grinder", "french-press"]
    assert page["nextCursor"] is None
    assert Decimal(page["items"][1]["price"]) == SEEDED["french-press"].price


@pytest.mark.parametrize(
    "ids",
    ["", " , ", "UPPER", "a,b;c", ",".join(f"p{i}" for i in range(101)), "a,,b", "\x05x"],
    ids=["empty", "blank", "uppercase", "bad-separator", "too-many", "empty-part", "control"],
)
def test_invalid_ids_are_a_422_naming_ids(catalog: httpx.Client, ids: str):
    body = assert_problem(catalog.get("/products", params={"ids": ids}), 422)
    assert [e["field"] for e in body["errors"]] == ["ids"]


def test_the_document_gives_the_exact_shape_of_ids(catalog: httpx.Client):
    [ids] = [
        p
        for p in catalog.get("/catalog/openapi.json").json()["paths"]["/products"]["get"][
            "parameters"
        ]
        if p["name"] == "ids"
    ]
    assert ids["schema"]["anyOf"][0]["pattern"] == IDS_PATTERN


def test_ids_with_a_cursor_returns_the_known_ids_after_the_cursor(catalog: httpx.Client):
    """The document allows both parameters at once, so the API accepts them together."""
    ids = "french-press,burr-grinder,tea-infuser,nope"

    response = catalog.get("/products", params={"ids": ids, "cursor": "c"})

    assert response.status_code == 200
    assert [p["id"] for p in response.json()["items"]] == ["french-press", "tea-infuser"]


def test_reads_carry_an_etag_and_cache_control(catalog: httpx.Client):
    for path in ("/products", "/products/french-press", "/products?ids=french-press"):
        response = catalog.get(path)
        assert response.headers["etag"].startswith('"'), path
        assert "public" in response.headers["cache-control"]
        assert "max-age=60" in response.headers["cache-control"]


def test_if_none_match_with_the_current_etag_is_a_bodyless_304(catalog: httpx.Client):
    etag = catalog.get("/products/french-press").headers["etag"]

    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = catalog.get("/products/french-press", headers={"If-None-Match": header})
        assert response.status_code == 304, header
        assert response.content == b""
        assert response.headers["etag"] == etag


def test_if_none_match_with_another_etag_returns_the_product(catalog: httpx.Client):
    response = catalog.get("/products/french-press", headers={"If-None-Match": '"stale"'})
    assert response.status_code == 200
    assert response.json()["id"] == "french-press"


def test_the_etag_changes_when_the_product_changes(catalog: httpx.Client, catalog_db: str):
    before = catalog.get("/products/knock-box")
    with psycopg.connect(catalog_db, autocommit=True) as conn:
        conn.execute("UPDATE products SET stock = stock + 1 WHERE id = 'knock-box'")
        try:
            after = catalog.get(
                "/products/knock-box", headers={"If-None-Match": before.headers["etag"]}
            )
        finally:
            conn.execute("UPDATE products SET stock = stock - 1 WHERE id = 'knock-box'")

    assert after.status_code == 200
    assert after.json()["stock"] == before.json()["stock"] + 1
    assert after.headers["etag"] != before.headers["etag"]


def test_unknown_routes_and_methods_are_problems(catalog: httpx.Client):
    assert_problem(catalog.get("/nowhere"), 404)
    assert_problem(catalog.post("/products", json={}), 405)


def test_errors_are_not_cacheable(catalog: httpx.Client):
    response = catalog.get("/products/no-such-thing")
    assert response.headers["cache-control"] == "no-store"


def test_openapi_describes_the_product_routes(catalog: httpx.Client):
    spec = catalog.get("/catalog/openapi.json").json()
    assert {"/products", "/products/{product_id}"} <= set(spec["paths"])
    docs = catalog.get("/docs", follow_redirects=True)
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


def test_liveness_and_readiness_are_ok_with_the_database_up(catalog: httpx.Client):
    assert catalog.get("/catalog/health/live").json() == {"status": "ok"}
    assert catalog.get("/catalog/health/ready").json() == {
        "status": "ok",
        "checks": {"database": "ok"},
    }


def test_responses_are_json_with_camel_case_fields(catalog: httpx.Client):
    raw = catalog.get("/products", params={"limit": 1}).text
    assert set(json.loads(raw)) == {"items", "nextCursor"}


@pytest.fixture(scope="module")
def punctuation_blind_catalog(postgres_admin_url: str) -> Iterator[str]:
    with punctuation_blind_database(postgres_admin_url, "catalog_icu", CATALOG_MIGRATIONS) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            for product_id in ("ab-c", "abb", "aba"):
                conn.execute(
                    "INSERT INTO products (id, name, description, price, currency, stock) "
                    "VALUES (%s, %s, '', 1.00, 'EUR', 1)",
                    (product_id, product_id),
                )
        yield url


def test_ids_with_a_cursor_mean_after_it_as_the_list_pages_do(punctuation_blind_catalog: str):
    """In a database that orders 'ab-c' after 'abb' (code points put it before), both ways of
    reading a page agree on what comes after a cursor."""
    from functions.catalog.api import create_app

    with (
        serve(create_app(catalog_settings(punctuation_blind_catalog))) as url,
        httpx.Client(base_url=url) as client,
    ):
        listed = client.get("/products", params={"cursor": "abb"}).json()["items"]
        by_ids = client.get("/products", params={"ids": "aba,abb,ab-c", "cursor": "abb"}).json()[
            "items"
        ]

    assert [p["id"] for p in listed] == ["ab-c"]  # the premise: the database's order
    assert [p["id"] for p in by_ids] == ["ab-c"]
