"""Cart use cases: price a cart from catalog, set or remove an item under the cart's row lock.

Rules and their errors are the domain's (domain.py); a catalog outage is `CatalogUnavailable`,
raised before anything is written.
"""

from functions.orders import domain, repository
from functions.orders.catalog_client import CatalogClient
from functions.shared.db import Database


def view(db: Database, catalog: CatalogClient, user_id: str) -> domain.PricedCart:
    with db.connection() as conn:
        lines = repository.cart_lines(conn, user_id)
    products = catalog.products([line.product_id for line in lines]) if lines else {}
    return domain.price_cart(lines, products)


def set_item(
    db: Database,
    catalog: CatalogClient,
    user_id: str,
    product_id: str,
    quantity: int,
    max_items: int,
) -> None:
    """Set the quantity of one product (0 removes it); unknown products are refused."""
    if quantity > 0 and product_id not in catalog.products([product_id]):
        raise domain.UnknownProduct(product_id)
    with db.connection() as conn, conn.transaction():
        repository.lock_cart(conn, user_id)
        if quantity == 0:
            repository.remove_item(conn, user_id, product_id)
            return
        domain.ensure_room_for(repository.cart_lines(conn, user_id), product_id, max_items)
        repository.set_quantity(conn, user_id, product_id, quantity)


def remove_item(db: Database, user_id: str, product_id: str) -> None:
    with db.connection() as conn, conn.transaction():
        repository.lock_cart(conn, user_id)
        repository.remove_item(conn, user_id, product_id)
