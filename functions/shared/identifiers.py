"""Identifier formats that more than one app relies on (catalog serves them, orders stores them)."""

from typing import Annotated

from pydantic import Field

PRODUCT_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
ProductId = Annotated[str, Field(pattern=PRODUCT_ID_PATTERN, examples=["pour-over-kettle"])]
