"""Order history: newest first, keyset pages, and only ever the caller's own orders."""

import asyncio
import base64
import json
import socket
import threading
import time
import uuid

import httpx
import pytest

from dev.issuer import Issuer


def place(orders: httpx.Client, product_id: str, quantity: int = 1) -> dict:
    orders.post("/cart/items", json={"productId": product_id, "quantity": quantity})
    response = orders.post("/checkout")
    assert response.status_code == 201, response.text
    return response.json()


def test_orders_are_listed_newest_first_in_pages(orders: httpx.Client):
    placed = [place(orders, pid) for pid in ("knock-box", "moka-pot-6", "french-press")]

    first = orders.get("/orders", params={"limit": 2}).json()
    second = orders.get("/orders", params={"limit": 2, "cursor": first["nextCursor"]}).json()

    newest_first = [o["id"] for o in reversed(placed)]
    assert [o["id"] for o in first["items"]] == newest_first[:2]
    assert [o["id"] for o in second["items"]] == newest_first[2:]
    assert second["nextCursor"] is None
    assert first["items"][0] == {
        "id": placed[2]["id"],
        "status": "placed",
        "currency": "EUR",
        "total": "39.00",
        "createdAt": placed[2]["createdAt"],
        "itemCount": 1,
    }


def test_an_order_is_returned_with_items_and_a_timeline_field(orders: httpx.Client):
    order = place(orders, "tea-infuser", 3)
    fetched = orders.get(f"/orders/{order['id']}").json()
    assert fetched["items"] == order["items"]
    assert fetched["timeline"] == {"available": False, "events": []}


def test_another_users_order_is_a_404(orders: httpx.Client, orders_url: str, issuer: Issuer):
    order = place(orders, "knock-box")
    stranger = {"Authorization": f"Bearer {issuer.token(f'stranger-{uuid.uuid4().hex}')}"}

    response = httpx.get(f"{orders_url}/orders/{order['id']}", headers=stranger)
    listing = httpx.get(f"{orders_url}/orders", headers=stranger).json()

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert order["id"] not in [o["id"] for o in listing["items"]]


def test_an_unknown_order_is_a_404(orders: httpx.Client):
    assert orders.get(f"/orders/{uuid.uuid4()}").status_code == 404


def test_a_malformed_order_id_is_a_422(orders: httpx.Client):
    response = orders.get("/orders/not-a-uuid")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "order_id"


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": 0}, "limit"), ({"limit": 51}, "limit"), ({"cursor": "garbage!"}, "cursor")],
)
def test_bad_paging_parameters_are_a_422(orders: httpx.Client, params: dict, field: str):
    response = orders.get("/orders", params=params)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field


def test_a_cosmos_that_never_answers_delays_the_order_page_at_most_the_timeline_timeout(
    orders_db: str, catalog_url: str, issuer: Issuer
):
    from dev.cosmos.launcher import KEY
    from dev.serve import serve
    from functions.orders.api import create_app
    from functions.shared.timeline_store import CosmosSettings, CosmosTimelineStore
    from tests.conftest import orders_settings

    with socket.socket() as blackhole:  # accepts connections, never answers
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(64)
        silent = CosmosSettings(
            endpoint=f"http://127.0.0.1:{blackhole.getsockname()[1]}", key=KEY, retry_total=0
        )
        app = create_app(
            orders_settings(orders_db, catalog_url, issuer.url, timeline_timeout=1),
            events=CosmosTimelineStore(silent),
        )
        token = issuer.token(f"slow-cosmos-{uuid.uuid4().hex[:8]}")
        with (
            serve(app) as url,
            httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
            ) as client,
        ):
            order = place(client, "knock-box")
            started = time.monotonic()
            response = client.get(f"/orders/{order['id']}")
            elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert response.json()["timeline"] == {"available": False, "events": []}
    assert elapsed < 2.5


def test_a_timed_out_timeline_read_keeps_its_slot_until_it_ends_then_gives_it_back():
    """One slot: while a read that timed out still runs, the next page is told at once that the
    timeline is unavailable (it does not queue); once that read ends, pages get timelines again."""
    from functions.orders.timeline import TimelineReader

    cosmos_answers = threading.Event()

    class SlowStore:
        def events(self, order_id: str) -> list[dict]:
            cosmos_answers.wait(5)
            return [{"type": "OrderPlaced", "orderId": order_id}]

    reader = TimelineReader(SlowStore(), timeout=0.5, slots=1)  # type: ignore[arg-type]

    async def three_pages() -> tuple:
        timed_out = await reader.read(uuid.uuid4())
        started = time.monotonic()
        while_busy = await reader.read(uuid.uuid4())
        waited = time.monotonic() - started
        cosmos_answers.set()
        deadline = time.monotonic() + 5
        while (after := await reader.read(uuid.uuid4())).available is False:
            assert time.monotonic() < deadline, "the slot never came back"
            await asyncio.sleep(0.01)
        return timed_out, while_busy, waited, after

    try:
        timed_out, while_busy, waited, after = asyncio.run(three_pages())
    finally:
        reader.close()
    assert (timed_out.available, while_busy.available) == (False, False)
    assert waited < 0.25  # refused at once, not after another 0.5 s timeout
    assert after.available
    assert after.events[0]["type"] == "OrderPlaced"


def _cursor(value: object) -> str:
    raw = json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


NOW = "2026-11-29T06:00:00+00:00"


@pytest.mark.parametrize(
    "decoded",
    [
        [NOW, 5],
        [NOW, {"id": 1}],
        [NOW, None],
        [5, str(uuid.uuid4())],
        [{"at": NOW}, str(uuid.uuid4())],
        [NOW],
        [NOW, str(uuid.uuid4()), "extra"],
        {"createdAt": NOW, "id": str(uuid.uuid4())},
        "just a string",
        None,
        ["99999-01-01T00:00:00+00:00", str(uuid.uuid4())],
    ],
    ids=[
        "id-number",
        "id-object",
        "id-null",
        "time-number",
        "time-object",
        "one-element",
        "three-elements",
        "object",
        "string",
        "null",
        "year-out-of-range",
    ],
)
def test_any_cursor_that_does_not_decode_is_a_422_not_a_500(orders: httpx.Client, decoded):
    response = orders.get("/orders", params={"cursor": _cursor(decoded)})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["cursor"]


@pytest.mark.parametrize(
    "cursor",
    ["0-" + "0" * 32, "9999999999999999-" + "f" * 32, "1796000000000000-" + uuid.uuid4().hex],
    ids=["epoch", "far-future", "now-ish"],
)
def test_every_cursor_the_document_allows_is_accepted(orders: httpx.Client, cursor: str):
    """The document gives the cursor's exact shape, so any string of that shape pages."""
    response = orders.get("/orders", params={"cursor": cursor})
    assert response.status_code == 200, response.text
