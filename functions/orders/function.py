"""orders' Azure Functions: its HTTP routes (served by the FastAPI app, built on first use) and
the outbox sweep.

The function names are the allow-list entries of the `orders` Deployment
(`AzureFunctionsJobHost__functions__N`).
"""

import azure.functions as func

from functions.orders import relay
from functions.orders.api import create_app
from functions.orders.dependencies import OrdersDependencies
from functions.shared.asgi_function import LazyApp, asgi_blueprint

ROUTES = {
    "orders_cart": "cart/{*path}",
    "orders_checkout": "checkout",
    "orders_history": "orders/{*path}",  # also health probes, OpenAPI document and docs
}
OUTBOX_SWEEP_SCHEDULE = "*/10 * * * * *"  # NCRONTAB with seconds: every 10 s

app = LazyApp(create_app)
bp = asgi_blueprint(app, ROUTES, methods=("GET", "HEAD", "POST", "DELETE"))


@bp.function_name("orders_outbox_sweep")
@bp.timer_trigger(arg_name="timer", schedule=OUTBOX_SWEEP_SCHEDULE, use_monitor=False)
def outbox_sweep(timer: func.TimerRequest) -> None:
    """Publish outbox rows that the post-commit publish missed (bus outage, crash)."""
    deps: OrdersDependencies = app.get().state.dependencies
    relay.sweep(deps.relay_db, deps.publisher, deps.outbox_retention)
