"""Cart use cases: price a cart from catalog, set or remove an item under the cart's row lock."""

from decimal import Decimal

from functions.orders import store
from functions.orders.catalog_client import CatalogClient, CatalogProduct, CatalogUnavailable
from functions.orders.models import CartLineView, CartView
from functions.shared.db import Database
from functions.shared.money import to_cents
from functions.shared.problems import Problem


def catalog_unavailable() -> Problem:
    return Problem(
        503,
        "Product prices cannot be read right now. Nothing was changed; retry shortly.",
        title="Catalog unavailable",
        type_="urn:tinyshop:catalog-unavailable",
        headers={"Retry-After": "5"},
    )


def lookup(catalog: CatalogClient, product_ids: list[str]) -> dict[str, CatalogProduct]:
    try:
        return catalog.products(product_ids)
    except CatalogUnavailable as exc:
        raise catalog_unavailable() from exc


def price(lines: list[store.CartLine], products: dict[str, CatalogProduct]) -> CartView:
    views: list[CartLineView] = []
    for line in lines:
        product = products.get(line.product_id)
        if product is None:
            views.append(
                CartLineView(product_id=line.product_id, quantity=line.quantity, available=False)
            )
            continue
        views.append(
            CartLineView(
                product_id=line.product_id,
                quantity=line.quantity,
                available=True,
                name=product.name,
                unit_price=product.price,
                line_total=to_cents(product.price * line.quantity),
            )
        )
    priced = [v for v in views if v.available]
    currencies = sorted({products[v.product_id].currency for v in priced})
    return CartView(
        items=views,
        item_count=sum(v.quantity for v in views),
        currency=currencies[0] if len(currencies) == 1 else None,
        total=to_cents(sum((v.line_total for v in priced), start=Decimal(0))),
    )


def view(db: Database, catalog: CatalogClient, user_id: str) -> CartView:
    with db.connection() as conn:
        lines = store.cart_lines(conn, user_id)
    products = lookup(catalog, [line.product_id for line in lines]) if lines else {}
    return price(lines, products)


def set_item(
    db: Database,
    catalog: CatalogClient,
    user_id: str,
    product_id: str,
    quantity: int,
    max_items: int,
) -> None:
    """Set the quantity of one product (0 removes it); unknown products are refused."""
    if quantity > 0 and product_id not in lookup(catalog, [product_id]):
        raise Problem(
            422,
            f"There is no product '{product_id}'.",
            title="Unknown product",
            type_="urn:tinyshop:unknown-product",
            errors=[{"field": "productId", "message": "unknown product"}],
        )
    with db.connection() as conn, conn.transaction():
        store.lock_cart(conn, user_id)
        if quantity == 0:
            store.remove_item(conn, user_id, product_id)
            return
        lines = store.cart_lines(conn, user_id)
        if len(lines) >= max_items and all(line.product_id != product_id for line in lines):
            raise Problem(
                409,
                f"A cart holds at most {max_items} different products.",
                title="Cart is full",
                type_="urn:tinyshop:cart-full",
            )
        store.set_quantity(conn, user_id, product_id, quantity)


def remove_item(db: Database, user_id: str, product_id: str) -> None:
    with db.connection() as conn, conn.transaction():
        store.lock_cart(conn, user_id)
        store.remove_item(conn, user_id, product_id)
