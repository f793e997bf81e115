"""catalog's API bodies. A `Product` is also what the repository returns and the seed file
holds: catalog has no rules of its own, so its one domain object is its wire format."""

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from functions.shared.identifiers import ProductId
from functions.shared.money import Money


class Product(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: ProductId
    name: str
    description: str
    price: Money
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    stock: int = Field(ge=0)


class ProductPage(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    items: list[Product]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )
