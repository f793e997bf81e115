"""The Functions app a host would index: imported once, each function's bindings checked against
the routes, methods and settings the deployment relies on."""

import ast
import json
import re

import pytest

from functions.catalog.settings import CatalogSettings
from functions.orders.settings import OrdersSettings
from functions.shared.eventbus.settings import EventBusSettings
from functions.shared.timeline_store import CosmosSettings
from functions.worker.settings import WorkerSettings
from tests.conftest import REPO

EXPECTED_HTTP_FUNCTIONS = {
    # name (the Deployment's allow-list entry): (route, methods)
    "catalog_products": ("products/{*path}", ["GET", "HEAD"]),
    "catalog_ops": ("catalog/{*path}", ["GET", "HEAD"]),
    "orders_cart": ("cart/{*path}", ["GET", "HEAD", "POST", "DELETE"]),
    "orders_checkout": ("checkout", ["GET", "HEAD", "POST", "DELETE"]),
    "orders_history": ("orders/{*path}", ["GET", "HEAD", "POST", "DELETE"]),
}


@pytest.fixture(scope="module")
def indexed() -> dict[str, list[dict]]:
    import function_app

    functions = function_app.app.get_functions()  # what the Python worker reports to the host
    return {f.get_function_name(): [json.loads(b) for b in f.get_raw_bindings()] for f in functions}


OTHER_FUNCTIONS = {"orders_outbox_sweep", "worker_order_placed"}


def test_the_app_has_exactly_the_expected_functions(indexed: dict[str, list[dict]]):
    assert set(indexed) == set(EXPECTED_HTTP_FUNCTIONS) | OTHER_FUNCTIONS


def test_the_outbox_sweep_is_a_timer_every_ten_seconds(indexed: dict[str, list[dict]]):
    [trigger] = indexed["orders_outbox_sweep"]
    assert trigger["type"] == "timerTrigger"
    assert trigger["schedule"] == "*/10 * * * * *"
    assert trigger["useMonitor"] is False


def test_the_worker_is_triggered_by_the_orders_queue_with_an_identity_ready_connection(
    indexed: dict[str, list[dict]],
):
    [trigger] = indexed["worker_order_placed"]
    assert trigger["type"] == "serviceBusTrigger"
    # The app setting orders publishes to; the host resolves %...% from the environment.
    assert trigger["queueName"] == "%EVENT_BUS_QUEUE%"
    # "ServiceBusConnection" resolves to ServiceBusConnection__fullyQualifiedNamespace
    # (workload identity) or to a connection string; the publisher reads the same names.
    assert trigger["connection"] == "ServiceBusConnection"
    names = {
        f.validation_alias.choices[0]
        for f in EventBusSettings.model_fields.values()
        if f.validation_alias is not None
    }
    assert names == {"ServiceBusConnection", "ServiceBusConnection__fullyQualifiedNamespace"}


def test_host_json_configures_the_service_bus_trigger():
    service_bus = json.loads((REPO / "host.json").read_text())["extensions"]["serviceBus"]
    assert service_bus["autoCompleteMessages"] is True
    assert service_bus["maxConcurrentCalls"] >= 1
    assert service_bus["maxAutoLockRenewalDuration"] == "00:05:00"


@pytest.mark.parametrize("name", sorted(EXPECTED_HTTP_FUNCTIONS))
def test_http_functions_are_anonymous_triggers_with_their_routes(
    indexed: dict[str, list[dict]], name: str
):
    route, methods = EXPECTED_HTTP_FUNCTIONS[name]
    trigger, output = indexed[name]
    assert trigger["type"] == "httpTrigger"
    assert trigger["direction"] == "IN"
    assert trigger["route"] == route
    assert trigger["methods"] == methods
    assert trigger["authLevel"] == "ANONYMOUS"  # the apps authenticate requests themselves
    assert output == {"direction": "OUT", "type": "http", "name": "$return"}


def test_http_routes_do_not_collide(indexed: dict[str, list[dict]]):
    prefixes = [
        b["route"].split("/")[0] for bindings in indexed.values() for b in bindings if "route" in b
    ]
    assert len(prefixes) == len(set(prefixes))


def test_host_json_serves_routes_without_a_prefix():
    host = json.loads((REPO / "host.json").read_text())
    assert host["version"] == "2.0"
    assert host["extensions"]["http"]["routePrefix"] == ""
    assert host["extensionBundle"]["id"] == "Microsoft.Azure.Functions.ExtensionBundle"


def _env_names(settings_class: type, prefix: str) -> set[str]:
    return {f"{prefix}{name}".upper() for name in settings_class.model_fields}


def test_local_settings_example_names_every_app_setting():
    values = json.loads((REPO / "local.settings.json.example").read_text())["Values"]
    assert values["FUNCTIONS_WORKER_RUNTIME"] == "python"
    assert _env_names(CatalogSettings, "CATALOG_") <= set(values)
    assert _env_names(OrdersSettings, "ORDERS_") <= set(values)
    assert _env_names(CosmosSettings, "COSMOS_") <= set(values)
    assert values["EVENT_BUS_QUEUE"] == "orders"  # resolves the worker trigger's %EVENT_BUS_QUEUE%
    assert _env_names(WorkerSettings, "WORKER_") <= set(values)
    bus = {
        (f.validation_alias.choices[0] if f.validation_alias else name.upper())
        for name, f in EventBusSettings.model_fields.items()
    }
    # Locally a connection string (the emulator); in AKS the identity-based name instead.
    assert bus - {"ServiceBusConnection__fullyQualifiedNamespace"} <= set(values)


def test_function_app_only_registers_blueprints():
    tree = ast.parse((REPO / "function_app.py").read_text())
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the module docstring
        code = ast.unparse(node)
        assert code.startswith(("app = func.FunctionApp(", "app.register_functions(")), code


def test_host_and_python_worker_both_speak_opentelemetry():
    """The host exports its own spans and logs over OTLP (telemetryMode), and the Python worker
    hands the invocation's context to the app (PYTHON_ENABLE_OPENTELEMETRY), so host and app
    spans join one trace and neither goes to Application Insights a second time."""
    host = json.loads((REPO / "host.json").read_text())
    assert host["telemetryMode"] == "OpenTelemetry"
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"^\s+PYTHON_ENABLE_OPENTELEMETRY=true \\$", dockerfile, re.MULTILINE)
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING" not in dockerfile
