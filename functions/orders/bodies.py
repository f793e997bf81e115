"""The orders API's request and response bodies (camelCase JSON, money as two-place decimal
strings), built from the domain's objects (domain.py) — the wire format lives here only."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

from functions.orders.domain import Order, OrderItem, PricedCart, PricedLine
from functions.shared.identifiers import ProductId
from functions.shared.money import Money


class _Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


def _json_integer(value: object) -> object:
    """JSON Schema's `integer` includes 2.0 (the document's type); strings and booleans, which
    Python's int would take, stay refused by the strict validation after this."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class SetCartItem(_Body):
    """A request body: camelCase only, exactly as the document names its fields (with
    `populate_by_name` a snake_case `product_id` was accepted although extra fields are
    forbidden)."""

    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=False, validate_by_alias=True, extra="forbid"
    )

    product_id: ProductId
    quantity: Annotated[int, BeforeValidator(_json_integer)] = Field(
        ge=0, le=99, strict=True, description="0 removes the item."
    )


class CartLineView(_Body):
    product_id: str
    quantity: int
    available: bool = Field(description="False when catalog no longer has the product.")
    name: str | None = None
    unit_price: Money | None = None
    line_total: Money | None = None

    @classmethod
    def of(cls, line: PricedLine) -> "CartLineView":
        if line.product is None:
            return cls(product_id=line.product_id, quantity=line.quantity, available=False)
        return cls(
            product_id=line.product_id,
            quantity=line.quantity,
            available=True,
            name=line.product.name,
            unit_price=line.product.price,
            line_total=line.line_total,
        )


class CartView(_Body):
    items: list[CartLineView]
    item_count: int
    currency: str | None
    total: Money

    @classmethod
    def of(cls, cart: PricedCart) -> "CartView":
        return cls(
            items=[CartLineView.of(line) for line in cart.lines],
            item_count=cart.item_count,
            currency=cart.currency,
            total=cart.total,
        )


class OrderItemView(_Body):
    product_id: str
    name: str
    unit_price: Money
    quantity: int
    line_total: Money

    @classmethod
    def of(cls, item: OrderItem) -> "OrderItemView":
        return cls(
            product_id=item.product_id,
            name=item.name,
            unit_price=item.unit_price,
            quantity=item.quantity,
            line_total=item.line_total,
        )


class Timeline(_Body):
    available: bool = Field(description="False when the event store could not be read.")
    events: list[dict] = Field(default_factory=list)


class OrderView(_Body):
    id: UUID
    status: str
    currency: str
    total: Money
    created_at: datetime
    items: list[OrderItemView]
    timeline: Timeline

    @classmethod
    def of(
        cls, order: Order, items: list[OrderItem], timeline: Timeline | None = None
    ) -> "OrderView":
        return cls(
            id=order.id,
            status=order.status,
            currency=order.currency,
            total=order.total,
            created_at=order.created_at,
            items=[OrderItemView.of(i) for i in items],
            timeline=timeline or Timeline(available=False),
        )


class OrderSummary(_Body):
    id: UUID
    status: str
    currency: str
    total: Money
    created_at: datetime
    item_count: int

    @classmethod
    def of(cls, order: Order) -> "OrderSummary":
        return cls(
            id=order.id,
            status=order.status,
            currency=order.currency,
            total=order.total,
            created_at=order.created_at,
            item_count=order.item_count,
        )


class OrderPage(_Body):
    items: list[OrderSummary]
    next_cursor: str | None
