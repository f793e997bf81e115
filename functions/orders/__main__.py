"""orders' management command: `migrate [--create-database]`."""

from pathlib import Path

from functions.orders.settings import OrdersSettings
from functions.shared import cli

if __name__ == "__main__":
    cli.run("orders", OrdersSettings().database_url, Path(__file__).with_name("migrations"))
