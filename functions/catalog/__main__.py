"""catalog's management commands: `migrate [--create-database]` and `seed`."""

from pathlib import Path

from functions.catalog.seed import seed
from functions.catalog.settings import CatalogSettings
from functions.shared import cli

if __name__ == "__main__":
    cli.run(
        "catalog",
        CatalogSettings().database_url,
        Path(__file__).with_name("migrations"),
        extra={"seed": lambda url: f"{seed(url)} seed products inserted"},
    )
