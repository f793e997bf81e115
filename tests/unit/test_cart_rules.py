"""Cart rules: how many products a cart holds, and how it is priced from catalog's prices."""

from decimal import Decimal

import pytest

from functions.orders.bodies import CartView
from functions.orders.domain import CartFull, ensure_room_for, price_cart
from tests.unit.builders import cart, catalog, product


def test_a_full_cart_refuses_another_product():
    with pytest.raises(CartFull) as refused:
        ensure_room_for(cart(french_press=1, tea_infuser=2), "milk-jug", max_items=2)
    assert refused.value.max_items == 2
    assert str(refused.value) == "A cart holds at most 2 different products."


def test_a_full_cart_still_changes_the_quantity_of_a_product_it_holds():
    ensure_room_for(cart(french_press=1, tea_infuser=2), "tea-infuser", max_items=2)


def test_a_cart_below_the_limit_takes_a_new_product():
    ensure_room_for(cart(french_press=1), "tea-infuser", max_items=2)


def test_lines_are_priced_at_catalog_prices_rounded_to_cents():
    priced = price_cart(
        cart(tea_infuser=3, french_press=1),
        catalog(product("tea-infuser", "0.105"), product("french-press", "39.00")),
    )

    assert [(line.product_id, line.line_total) for line in priced.lines] == [
        ("tea-infuser", Decimal("0.32")),  # 0.315 rounds half up
        ("french-press", Decimal("39.00")),
    ]
    assert priced.total == Decimal("39.32")
    assert priced.item_count == 4
    assert priced.currency == "EUR"


def test_a_product_catalog_no_longer_has_is_unavailable_and_not_charged():
    priced = price_cart(cart(french_press=1, gone=2), catalog(product("french-press", "39.00")))

    gone = priced.lines[1]
    assert (gone.available, gone.product, gone.line_total) == (False, None, None)
    assert priced.total == Decimal("39.00")
    assert priced.item_count == 3  # still in the cart until the shopper removes it


def test_a_cart_of_mixed_currencies_has_no_currency():
    priced = price_cart(
        cart(a=1, b=1), catalog(product("a", "1.00", "EUR"), product("b", "1.00", "USD"))
    )
    assert priced.currency is None


def test_an_empty_cart_costs_nothing_in_no_currency():
    priced = price_cart([], {})
    assert (priced.lines, priced.item_count, priced.currency, priced.total) == (
        [],
        0,
        None,
        Decimal("0.00"),
    )


def test_the_cart_body_shows_prices_as_two_place_strings_and_unavailable_lines_bare():
    priced = price_cart(cart(french_press=2, gone=1), catalog(product("french-press", "19.5")))

    assert CartView.of(priced).model_dump(mode="json", by_alias=True) == {
        "items": [
            {
                "productId": "french-press",
                "quantity": 2,
                "available": True,
                "name": "French Press",
                "unitPrice": "19.50",
                "lineTotal": "39.00",
            },
            {
                "productId": "gone",
                "quantity": 1,
                "available": False,
                "name": None,
                "unitPrice": None,
                "lineTotal": None,
            },
        ],
        "itemCount": 3,
        "currency": "EUR",
        "total": "39.00",
    }
