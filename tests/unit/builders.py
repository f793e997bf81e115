"""Small builders of domain objects and event payloads for the unit tests."""

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from functions.orders.domain import CartLine, CatalogProduct


def product(product_id: str, price: str, currency: str = "EUR") -> CatalogProduct:
    return CatalogProduct(
        id=product_id,
        name=product_id.replace("-", " ").title(),
        price=Decimal(price),
        currency=currency,
    )


def catalog(*products: CatalogProduct) -> dict[str, CatalogProduct]:
    return {p.id: p for p in products}


def cart(**quantities: int) -> list[CartLine]:
    """cart(french_press=1) -> [CartLine("french-press", 1)]."""
    return [CartLine(name.replace("_", "-"), quantity) for name, quantity in quantities.items()]


def order_placed_payload(**overrides: object) -> dict:
    return {
        "version": 1,
        "eventId": str(uuid.uuid4()),
        "occurredAt": datetime.now(UTC).isoformat(),
        "orderId": str(uuid.uuid4()),
        "userId": "alice",
        "currency": "EUR",
        "total": "39.30",
        "items": [
            {
                "productId": "french-press",
                "name": "French Press",
                "unitPrice": "39.00",
                "quantity": 1,
            },
            {"productId": "tea-infuser", "name": "Infuser", "unitPrice": "0.10", "quantity": 3},
        ],
    } | overrides


def body(payload: object) -> bytes:
    return json.dumps(payload).encode()
