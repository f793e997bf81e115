"""orders' Azure Functions: its HTTP routes, served by the FastAPI app.

The function names are the allow-list entries of the `orders` Deployment
(`AzureFunctionsJobHost__functions__N`).
"""

from functions.orders.api import create_app
from functions.shared.asgi_function import asgi_blueprint

ROUTES = {
    "orders_cart": "cart/{*path}",
    "orders_checkout": "checkout",
    "orders_history": "orders/{*path}",  # also health probes, OpenAPI document and docs
}

bp = asgi_blueprint(create_app(), ROUTES, methods=("GET", "POST", "DELETE"))
