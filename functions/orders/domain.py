"""orders' domain: the objects of carts and orders, the business rules on them (cart limits,
pricing, the checkout decisions) and the errors those rules raise.

Nothing here touches SQL, HTTP or the bus, so every rule is unit-tested on its own
(tests/unit/). The use cases (cart.py, checkout.py, history.py) load state, ask these rules
and write the outcome; the API layer alone turns the errors into problem+json (api.py).
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from functions.shared.events import OrderPlaced, OrderPlacedItem
from functions.shared.money import to_cents

CHECKOUT_ATTEMPTS = 2  # re-price once if the cart changed between pricing and writing
# A shopper's id (the token's `sub`) as the orders database stores it: the `user_id` columns
# check `length(user_id) BETWEEN 1 AND 255` (migration 0001); Postgres text holds no NUL.
USER_ID_MAX_LENGTH = 255


def valid_user_id(value: object) -> bool:
    """Whether `value` can be stored as a shopper's id: 1..255 printable characters."""
    return isinstance(value, str) and 1 <= len(value) <= USER_ID_MAX_LENGTH and value.isprintable()


# --- objects ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CartLine:
    product_id: str
    quantity: int


@dataclass(frozen=True)
class CatalogProduct:
    """What orders needs to know of a product: catalog's current name and price."""

    id: str
    name: str
    price: Decimal
    currency: str


@dataclass(frozen=True)
class PricedLine:
    product_id: str
    quantity: int
    product: CatalogProduct | None  # None: catalog no longer has it

    @property
    def available(self) -> bool:
        return self.product is not None

    @property
    def line_total(self) -> Decimal | None:
        return None if self.product is None else to_cents(self.product.price * self.quantity)


@dataclass(frozen=True)
class PricedCart:
    lines: list[PricedLine]
    item_count: int
    currency: str | None  # None when empty or when the lines' currencies differ
    total: Decimal


@dataclass(frozen=True)
class OrderItem:
    product_id: str
    name: str
    unit_price: Decimal
    quantity: int

    @property
    def line_total(self) -> Decimal:
        return to_cents(self.unit_price * self.quantity)


@dataclass(frozen=True)
class Order:
    id: UUID
    user_id: str
    status: str
    currency: str
    total: Decimal
    created_at: datetime
    item_count: int


OrderWithItems = tuple[Order, list[OrderItem]]


@dataclass(frozen=True)
class RecordedKey:
    """An Idempotency-Key already used by this user: the cart it checked out and its order."""

    cart_fingerprint: str
    order_id: UUID


@dataclass(frozen=True)
class NewOrder:
    """An order about to be written, with the `OrderPlaced` event that commits with it."""

    items: list[OrderItem]
    total: Decimal
    event: OrderPlaced


# --- errors ----------------------------------------------------------------------------------


class OrdersError(Exception):
    """A business rule said no; the API maps each kind to one problem+json response."""


class UnknownProduct(OrdersError):
    def __init__(self, product_id: str) -> None:
        super().__init__(f"There is no product '{product_id}'.")
        self.product_id = product_id


class CartFull(OrdersError):
    def __init__(self, max_items: int) -> None:
        super().__init__(f"A cart holds at most {max_items} different products.")
        self.max_items = max_items


class EmptyCart(OrdersError):
    def __init__(self) -> None:
        super().__init__("Your cart is empty.")


class ProductsNoLongerSold(OrdersError):
    def __init__(self, product_ids: list[str]) -> None:
        super().__init__(
            f"These products are no longer sold: {', '.join(product_ids)}. Remove them and retry."
        )
        self.product_ids = product_ids


class MixedCurrencies(OrdersError):
    def __init__(self) -> None:
        super().__init__("The cart mixes currencies.")


class IdempotencyKeyReused(OrdersError):
    def __init__(self) -> None:
        super().__init__(
            "This Idempotency-Key was already used for a checkout of a different cart."
        )


class CartKeptChanging(OrdersError):
    def __init__(self) -> None:
        super().__init__("The cart kept changing during checkout. Review it and retry.")


class OrderNotFound(OrdersError):
    def __init__(self, order_id: UUID) -> None:
        super().__init__(f"You have no order {order_id}.")
        self.order_id = order_id


# --- cart rules ------------------------------------------------------------------------------


def ensure_room_for(lines: list[CartLine], product_id: str, max_items: int) -> None:
    """A cart holds at most `max_items` distinct products; changing one already in it is fine."""
    if len(lines) >= max_items and all(line.product_id != product_id for line in lines):
        raise CartFull(max_items)


def price_cart(lines: list[CartLine], products: dict[str, CatalogProduct]) -> PricedCart:
    """The cart at catalog's current prices; lines catalog no longer has are priced at nothing
    and marked unavailable. Money is rounded to cents per line, then summed."""
    priced = [
        PricedLine(line.product_id, line.quantity, products.get(line.product_id)) for line in lines
    ]
    available = [p for p in priced if p.product is not None]
    currencies = sorted({p.product.currency for p in available if p.product is not None})
    return PricedCart(
        lines=priced,
        item_count=sum(p.quantity for p in priced),
        currency=currencies[0] if len(currencies) == 1 else None,
        total=to_cents(sum((p.line_total or Decimal(0) for p in available), start=Decimal(0))),
    )


# --- checkout rules --------------------------------------------------------------------------


def content(lines: list[CartLine]) -> str:
    """A cart's content as one string, whatever the order of its lines: `id:quantity` pairs by
    product id in code point order, `;`-separated (the checkout's write compares it with the
    cart it locked, in SQL: repository.PLACE_ORDER builds the same string)."""
    return ";".join(
        f"{line.product_id}:{line.quantity}" for line in sorted(lines, key=lambda x: x.product_id)
    )


def fingerprint(lines: list[CartLine]) -> str:
    """Identifies a cart's content, whatever the order of its lines."""
    return hashlib.sha256(content(lines).encode()).hexdigest()


def replayed_order(recorded: RecordedKey | None, lines: list[CartLine]) -> UUID | None:
    """The order to return again when this checkout retries an earlier one with the same key.

    A retry arrives after its cart was emptied by the first checkout, so an empty cart replays;
    a cart with other content under a used key is refused rather than silently answered with an
    order for a different cart."""
    if recorded is None:
        return None
    if lines and fingerprint(lines) != recorded.cart_fingerprint:
        raise IdempotencyKeyReused()
    return recorded.order_id


def cart_currency(lines: list[CartLine], products: dict[str, CatalogProduct]) -> str:
    """The one currency a cart can be ordered in; refuses vanished products and mixed currencies."""
    missing = [line.product_id for line in lines if line.product_id not in products]
    if missing:
        raise ProductsNoLongerSold(missing)
    currencies = {products[line.product_id].currency for line in lines}
    if len(currencies) != 1:
        raise MixedCurrencies()
    return currencies.pop()


def new_order(
    order_id: UUID,
    event_id: UUID,
    user_id: str,
    lines: list[CartLine],
    products: dict[str, CatalogProduct],
    currency: str,
    now: datetime,
) -> NewOrder:
    """The order of a priced cart at catalog's prices, and its `OrderPlaced` event."""
    items = [
        OrderItem(
            product_id=line.product_id,
            name=products[line.product_id].name,
            unit_price=products[line.product_id].price,
            quantity=line.quantity,
        )
        for line in lines
    ]
    total = to_cents(sum((i.unit_price * i.quantity for i in items), start=Decimal(0)))
    event = order_placed(event_id, order_id, user_id, currency, total, now, items)
    return NewOrder(items=items, total=total, event=event)


def order_placed(
    event_id: UUID,
    order_id: UUID,
    user_id: str,
    currency: str,
    total: Decimal,
    occurred_at: datetime,
    items: list[OrderItem],
) -> OrderPlaced:
    """The `OrderPlaced` event of an order: at checkout, and again when it is re-published."""
    return OrderPlaced(
        event_id=event_id,
        occurred_at=occurred_at,
        order_id=order_id,
        user_id=user_id,
        currency=currency,
        total=total,
        items=[
            OrderPlacedItem(
                product_id=i.product_id, name=i.name, unit_price=i.unit_price, quantity=i.quantity
            )
            for i in items
        ],
    )
