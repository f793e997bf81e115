"""The orders API's response bodies (camelCase JSON, money as two-place decimal strings)."""

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from functions.shared.identifiers import ProductId
from functions.shared.money import Money


class _Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class SetCartItem(_Body):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    product_id: ProductId
    quantity: int = Field(ge=0, le=99, strict=True, description="0 removes the item.")


class CartLineView(_Body):
    product_id: str
    quantity: int
    available: bool = Field(description="False when catalog no longer has the product.")
    name: str | None = None
    unit_price: Money | None = None
    line_total: Money | None = None


class CartView(_Body):
    items: list[CartLineView]
    item_count: int
    currency: str | None
    total: Money


class OrderItemView(_Body):
    product_id: str
    name: str
    unit_price: Money
    quantity: int
    line_total: Money


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


class OrderSummary(_Body):
    id: UUID
    status: str
    currency: str
    total: Money
    created_at: datetime
    item_count: int


class OrderPage(_Body):
    items: list[OrderSummary]
    next_cursor: str | None
