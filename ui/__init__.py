"""TinyShop's shopper UI (Flask + MSAL). The application package is `ui.app`."""
