"""Checkout decisions: idempotent retries, what can be ordered, a cart's content (which the
checkout's write compares with the cart it locked), and the order and event a placed cart
becomes."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from functions.orders.domain import (
    IdempotencyKeyReused,
    MixedCurrencies,
    ProductsNoLongerSold,
    RecordedKey,
    cart_currency,
    content,
    fingerprint,
    new_order,
    replayed_order,
)
from functions.shared.events import OutgoingMessage, parse_order_placed
from tests.unit.builders import cart, catalog, product

ORDER = uuid.UUID(int=7)


def test_a_cart_fingerprint_ignores_line_order_but_not_quantities():
    lines = cart(french_press=1, tea_infuser=3)
    assert fingerprint(lines) == fingerprint(list(reversed(lines)))
    assert fingerprint(lines) != fingerprint(cart(french_press=1, tea_infuser=2))
    assert fingerprint(lines) != fingerprint(cart(french_press=1))


def test_without_a_recorded_key_nothing_is_replayed():
    assert replayed_order(None, cart(french_press=1)) is None


def test_a_retry_of_the_same_cart_replays_its_order():
    lines = cart(french_press=1)
    assert replayed_order(RecordedKey(fingerprint(lines), ORDER), lines) == ORDER


def test_a_retry_after_the_first_checkout_emptied_the_cart_replays_its_order():
    recorded = RecordedKey(fingerprint(cart(french_press=1)), ORDER)
    assert replayed_order(recorded, []) == ORDER


def test_a_used_key_for_a_different_cart_is_refused():
    recorded = RecordedKey(fingerprint(cart(french_press=1)), ORDER)
    with pytest.raises(IdempotencyKeyReused):
        replayed_order(recorded, cart(french_press=2))


def test_a_cart_is_ordered_in_its_one_currency():
    lines = cart(a=1, b=2)
    assert cart_currency(lines, catalog(product("a", "1.00"), product("b", "2.00"))) == "EUR"


def test_products_catalog_no_longer_sells_are_named():
    with pytest.raises(ProductsNoLongerSold) as refused:
        cart_currency(cart(a=1, gone=1, vanished=1), catalog(product("a", "1.00")))
    assert refused.value.product_ids == ["gone", "vanished"]
    assert "gone, vanished" in str(refused.value)


def test_a_cart_of_mixed_currencies_cannot_be_ordered():
    with pytest.raises(MixedCurrencies):
        cart_currency(
            cart(a=1, b=1), catalog(product("a", "1.00", "EUR"), product("b", "1.00", "USD"))
        )


def test_a_carts_content_is_the_same_whatever_the_order_of_its_lines():
    assert content(cart(a=1, b=2)) == content(cart(b=2, a=1)) == "a:1;b:2"


def test_a_carts_content_tells_quantities_apart():
    assert content(cart(a=1)) != content(cart(a=2))


def test_a_carts_content_orders_ids_by_code_point():
    """As the checkout's SQL does (COLLATE "C"), whatever the database's collation."""
    assert content(cart(teacup=1, tea_infuser=1, tea0=1)) == ("tea-infuser:1;tea0:1;teacup:1")


def test_a_new_order_is_priced_exactly_and_its_event_carries_the_same_items():
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    event_id = uuid.uuid4()
    prices = catalog(product("french-press", "39.00"), product("tea-infuser", "0.10"))

    new = new_order(
        ORDER, event_id, "alice", cart(french_press=1, tea_infuser=3), prices, "EUR", now
    )

    assert [(i.product_id, i.unit_price, i.quantity, i.line_total) for i in new.items] == [
        ("french-press", Decimal("39.00"), 1, Decimal("39.00")),
        ("tea-infuser", Decimal("0.10"), 3, Decimal("0.30")),
    ]
    assert new.total == Decimal("39.30")
    payload = new.event.to_json_dict()
    assert payload | {"items": None} == {
        "version": 1,
        "eventId": str(event_id),
        "occurredAt": "2026-01-02T03:04:05Z",
        "orderId": str(ORDER),
        "userId": "alice",
        "currency": "EUR",
        "total": "39.30",
        "items": None,
    }
    assert payload["items"][1] == {
        "productId": "tea-infuser",
        "name": "Tea Infuser",
        "unitPrice": "0.10",
        "quantity": 3,
    }


def test_the_event_of_a_new_order_is_one_the_worker_accepts():
    new = new_order(
        ORDER,
        uuid.uuid4(),
        "alice",
        cart(a=2),
        catalog(product("a", "1.25")),
        "EUR",
        datetime.now(UTC),
    )
    message = OutgoingMessage.for_event(
        str(new.event.event_id), "OrderPlaced", new.event.to_json_dict(), {}
    )

    assert parse_order_placed(message.subject, message.body) == new.event
