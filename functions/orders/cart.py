"""Cart use cases: price a cart from catalog, set or remove an item under the cart's row lock.

Rules and their errors are the domain's (domain.py); a catalog outage is `CatalogUnavailable`,
raised before anything is written.

A cart update answers with the priced cart, so it asks catalog once for every product it will
show: the lines read before the change plus the product being set (which also tells whether it
exists). Only when a concurrent request added a product meanwhile is catalog asked again, for
that product alone.
"""

from functions.orders import domain, repository
from functions.orders.catalog_client import CatalogClient
from functions.shared.db import AsyncDatabase


async def _priced(
    catalog: CatalogClient,
    lines: list[domain.CartLine],
    known: dict[str, domain.CatalogProduct | None],
) -> domain.PricedCart:
    """Price `lines` with the products already fetched, fetching only those not asked for yet.
    `known` maps every product asked for (present or not) so absent ones are not asked again."""
    missing = [line.product_id for line in lines if line.product_id not in known]
    products = {pid: p for pid, p in known.items() if p is not None}
    if missing:
        products |= await catalog.products(missing)
    return domain.price_cart(lines, products)


async def view(db: AsyncDatabase, catalog: CatalogClient, user_id: str) -> domain.PricedCart:
    async with db.connection() as conn:
        lines = await repository.cart_lines(conn, user_id)
    return await _priced(catalog, lines, {})


async def set_item(
    db: AsyncDatabase,
    catalog: CatalogClient,
    user_id: str,
    product_id: str,
    quantity: int,
    max_items: int,
) -> domain.PricedCart:
    """Set the quantity of one product (0 removes it); unknown products are refused. Returns
    the cart as it is after the change, priced now."""
    asked: dict[str, domain.CatalogProduct | None] = {}
    if quantity > 0:
        async with db.connection() as conn:
            before = await repository.cart_lines(conn, user_id)
        wanted = {product_id, *(line.product_id for line in before)}
        found = await catalog.products(wanted)
        asked = {pid: found.get(pid) for pid in wanted}
        if asked[product_id] is None:
            raise domain.UnknownProduct(product_id)
    async with db.connection() as conn:
        async with repository.transaction(conn):
            await repository.lock_cart(conn, user_id)
            if quantity == 0:
                await repository.remove_item(conn, user_id, product_id)
            else:
                lines = await repository.cart_lines(conn, user_id)  # the one wait before COMMIT
                domain.ensure_room_for(lines, product_id, max_items)
                await repository.set_quantity(conn, user_id, product_id, quantity)
            after = await repository.send_cart_lines(conn, user_id)
        lines_after = await after.fetchall()  # arrived with the COMMIT
    return await _priced(catalog, lines_after, asked)


async def remove_item(db: AsyncDatabase, user_id: str, product_id: str) -> None:
    async with db.connection() as conn, repository.transaction(conn):
        await repository.lock_cart(conn, user_id)
        await repository.remove_item(conn, user_id, product_id)
