"""Cart use cases: price a cart from catalog, set or remove an item under the cart's row lock.

Rules and their errors are the domain's (domain.py); a catalog outage is `CatalogUnavailable`,
raised before anything is written.

A cart update answers with the priced cart, so it asks catalog once, before writing, for every
product it will show: the lines read before the change plus the product being set (which also
tells whether it exists), or, for a removal, the lines that stay. Only when a concurrent request
added a product meanwhile is catalog asked again, after the change, for that product alone; if
catalog fails then, the change stands and the caller is told so (`ChangedButNotPriced`).
"""

from functions.orders import domain, repository
from functions.orders.catalog_client import CatalogClient, CatalogUnavailable
from functions.shared.db import AsyncDatabase


class ChangedButNotPriced(Exception):
    """The cart was changed, but catalog failed when pricing a product that a concurrent
    request had added meanwhile: unlike `CatalogUnavailable`, something was written."""


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
    async with db.connection() as conn:
        before = await repository.cart_lines(conn, user_id)
    if quantity > 0:
        wanted = {product_id, *(line.product_id for line in before)}
    else:  # what stays (removing the last line asks catalog nothing: no ids, no request)
        wanted = {line.product_id for line in before} - {product_id}
    found = await catalog.products(wanted)
    asked: dict[str, domain.CatalogProduct | None] = {pid: found.get(pid) for pid in wanted}
    if quantity > 0 and asked[product_id] is None:
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
    try:
        return await _priced(catalog, lines_after, asked)
    except CatalogUnavailable as exc:
        raise ChangedButNotPriced() from exc


async def remove_item(db: AsyncDatabase, user_id: str, product_id: str) -> None:
    async with db.connection() as conn, repository.transaction(conn):
        await repository.lock_cart(conn, user_id)
        await repository.remove_item(conn, user_id, product_id)
