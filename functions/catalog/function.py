"""catalog's Azure Functions: its HTTP routes, served by the FastAPI app.

The function names are the allow-list entries of the `catalog` Deployment
(`AzureFunctionsJobHost__functions__N`).
"""

from functions.catalog.api import create_app
from functions.shared.asgi_function import asgi_blueprint

ROUTES = {
    "catalog_products": "products/{*path}",
    "catalog_ops": "catalog/{*path}",  # health probes, OpenAPI document and docs
}

bp = asgi_blueprint(create_app(), ROUTES, methods=("GET",))
