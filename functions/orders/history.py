"""Order lookup use cases: one of the user's orders, and their orders page by page."""

from datetime import datetime
from uuid import UUID

from functions.orders import domain, repository
from functions.shared.db import AsyncDatabase


async def get_order(db: AsyncDatabase, user_id: str, order_id: UUID) -> domain.OrderWithItems:
    """The user's order with its items; `OrderNotFound` also for someone else's order."""
    async with db.connection() as conn:
        found = await repository.get_order(conn, user_id, order_id)
    if found is None:
        raise domain.OrderNotFound(order_id)
    return found


async def list_orders(
    db: AsyncDatabase, user_id: str, limit: int, before: tuple[datetime, UUID] | None
) -> list[domain.Order]:
    """Up to `limit` of the user's orders, newest first, after the keyset position `before`."""
    async with db.connection() as conn:
        return await repository.list_orders(conn, user_id, limit, before)
