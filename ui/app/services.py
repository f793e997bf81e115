"""What the views need, built once per app (per process): settings, API clients, MSAL, sessions."""

from dataclasses import dataclass

from flask import current_app

from ui.app.auth import Auth
from ui.app.clients import CatalogApi, OrdersApi
from ui.app.sessions import SessionStore
from ui.app.settings import UiSettings

EXTENSION = "tinyshop"


@dataclass(frozen=True)
class Services:
    settings: UiSettings
    catalog: CatalogApi
    orders: OrdersApi
    auth: Auth
    sessions: SessionStore

    def close(self) -> None:
        self.catalog.close()
        self.orders.close()
        self.sessions.close()


def services() -> Services:
    return current_app.extensions[EXTENSION]
