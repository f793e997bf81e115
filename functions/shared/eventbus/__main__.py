"""The local event bus database's management command: `migrate [--create-database]`."""

from functions.shared import cli
from functions.shared.eventbus.local_queue import MIGRATIONS
from functions.shared.eventbus.settings import EventBusSettings

if __name__ == "__main__":
    cli.run("bus", EventBusSettings().local_bus_database_url, MIGRATIONS)
