"""catalog's Azure Functions: its HTTP routes, served by the FastAPI app (built on first use).

The function names are the allow-list entries of the `catalog` Deployment
(`AzureFunctionsJobHost__functions__N`).
"""

from functions.catalog.api import create_app
from functions.shared.asgi_function import LazyApp, asgi_blueprint

ROUTES = {
    "catalog_products": "products/{*path}",
    "catalog_ops": "catalog/{*path}",  # health probes, OpenAPI document and docs
}

app = LazyApp(create_app)
bp = asgi_blueprint(app, ROUTES, methods=("GET", "HEAD"))
