"""The event contract between orders (producer) and worker (consumer): DESIGN §4.

`OrderPlaced` version 1. Consumers reject any other version or shape (dead-letter with a reason)
instead of guessing, so a producer change can never be half-understood.
"""

from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from functions.shared.identifiers import ProductId
from functions.shared.money import Money

ORDER_PLACED = "OrderPlaced"


class _Event(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid"
    )


class OrderPlacedItem(_Event):
    product_id: ProductId
    name: str = Field(min_length=1)
    unit_price: Money
    quantity: int = Field(ge=1, le=99)


class OrderPlaced(_Event):
    version: Literal[1] = 1
    event_id: UUID
    occurred_at: AwareDatetime
    order_id: UUID
    user_id: str = Field(min_length=1)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    total: Money
    items: list[OrderPlacedItem] = Field(min_length=1)

    def to_json_dict(self) -> dict:
        return self.model_dump(mode="json", by_alias=True)
