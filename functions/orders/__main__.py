"""orders' management commands: `migrate [--create-database]`, and `republish` (rebuild order
timelines from the orders database, see republish.py)."""

import argparse
from datetime import datetime
from pathlib import Path
from uuid import UUID

from functions.orders.republish import UnknownOrders, republish
from functions.orders.settings import OrdersSettings
from functions.shared import cli
from functions.shared.eventbus.factory import publisher


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("order_ids", nargs="*", type=UUID, metavar="ORDER_ID")
    parser.add_argument(
        "--since",
        type=datetime.fromisoformat,
        help="also every order placed at or after this ISO 8601 time (with its offset)",
    )


def _republish(args: argparse.Namespace) -> str:
    if not args.order_ids and args.since is None:
        raise cli.CommandFailed("name orders to re-publish, or --since")
    if args.since is not None and args.since.tzinfo is None:
        raise cli.CommandFailed("--since needs a UTC offset, e.g. 2026-11-29T06:00:00+00:00")
    bus = publisher()
    try:
        count = republish(OrdersSettings(), bus, args.order_ids, args.since)
    except UnknownOrders as exc:
        raise cli.CommandFailed(str(exc)) from exc
    finally:
        bus.close()
    return f"{count} orders re-published"


if __name__ == "__main__":
    cli.run(
        "orders",
        OrdersSettings().database_url,
        Path(__file__).with_name("migrations"),
        extra={
            "republish": cli.Command(
                help="re-publish orders' OrderPlaced from the orders database (rebuilds their "
                "timelines; idempotent)",
                arguments=_arguments,
                run=_republish,
            )
        },
    )
