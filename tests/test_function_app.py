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


# The worker's durable functions: names shared with the chart's allow-list and KEDA.
WORKER_DURABLE_FUNCTIONS = {
    "worker_order_placed",
    "fulfil_order",
    "record_timeline_event",
    "send_confirmation_email",
}
WORKER_ADMIN_FUNCTIONS = {
    # name: (route, methods)
    "worker_orchestration_status": ("ops/orchestrations/{orderId}", ["GET"]),
    "worker_orchestrations_purge": ("ops/orchestrations/purge", ["POST"]),
}
OTHER_FUNCTIONS = {"orders_outbox_sweep"} | WORKER_DURABLE_FUNCTIONS | set(WORKER_ADMIN_FUNCTIONS)


def test_the_app_has_exactly_the_expected_functions(indexed: dict[str, list[dict]]):
    assert set(indexed) == set(EXPECTED_HTTP_FUNCTIONS) | OTHER_FUNCTIONS


# The host keeps routes beginning `admin` or `runtime` (case-insensitive, leading `/` trimmed)
# for its own API and refuses, at startup, a function whose route claims one: "The specified
# route conflicts with one or more built in routes." (Azure/azure-functions-host, ScriptHost's
# route validation and its tests). Nothing but a real host would notice: the function is just
# missing, and with `routePrefix: ""` its URL would be the host's own /admin/... anyway.
HOST_RESERVED_ROUTE_PREFIXES = ("admin", "runtime")


def test_no_http_function_claims_a_route_the_functions_host_reserves(
    indexed: dict[str, list[dict]],
):
    routes = {
        name: binding["route"]
        for name, bindings in indexed.items()
        for binding in bindings
        if binding["type"] == "httpTrigger"
    }
    assert len(routes) == len(EXPECTED_HTTP_FUNCTIONS) + len(WORKER_ADMIN_FUNCTIONS)
    assert {
        name: route
        for name, route in routes.items()
        if route.strip("/").lower().startswith(HOST_RESERVED_ROUTE_PREFIXES)
    } == {}


def test_the_outbox_sweep_is_a_timer_every_ten_seconds(indexed: dict[str, list[dict]]):
    [trigger] = indexed["orders_outbox_sweep"]
    assert trigger["type"] == "timerTrigger"
    assert trigger["schedule"] == "*/10 * * * * *"
    assert trigger["useMonitor"] is False


def _by_type(bindings: list[dict]) -> dict[str, dict]:
    by_type = {b["type"]: b for b in bindings}
    assert len(by_type) == len(bindings), bindings
    return by_type


def test_the_worker_is_triggered_by_the_orders_queue_with_an_identity_ready_connection(
    indexed: dict[str, list[dict]],
):
    bindings = _by_type(indexed["worker_order_placed"])
    assert set(bindings) == {"serviceBusTrigger", "durableClient"}
    trigger = bindings["serviceBusTrigger"]
    assert trigger["direction"] == "IN"
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


def test_the_starter_uses_the_task_hub_of_host_json(indexed: dict[str, list[dict]]):
    """No taskHub or connectionName on the client: it uses host.json's hub and storage provider
    (an explicit one would open a second connection to another hub)."""
    client = _by_type(indexed["worker_order_placed"])["durableClient"]
    assert client == {"direction": "IN", "type": "durableClient", "name": "client"}


def test_the_orchestrator_and_its_activities_are_bound_by_their_names(
    indexed: dict[str, list[dict]],
):
    [orchestrator] = indexed["fulfil_order"]
    assert orchestrator == {
        "direction": "IN",
        "type": "orchestrationTrigger",
        "name": "context",
        "orchestration": "fulfil_order",
    }
    from functions.worker.fulfilment import RECORD_TIMELINE_EVENT, SEND_CONFIRMATION_EMAIL

    for activity in (RECORD_TIMELINE_EVENT, SEND_CONFIRMATION_EMAIL):
        [trigger] = indexed[activity]
        assert trigger == {
            "direction": "IN",
            "type": "activityTrigger",
            "name": "step",
            "activity": activity,
        }


@pytest.mark.parametrize("name", sorted(WORKER_ADMIN_FUNCTIONS))
def test_the_admin_functions_are_http_triggers_with_a_durable_client(
    indexed: dict[str, list[dict]], name: str
):
    route, methods = WORKER_ADMIN_FUNCTIONS[name]
    bindings = _by_type(indexed[name])
    assert set(bindings) == {"httpTrigger", "http", "durableClient"}
    trigger = bindings["httpTrigger"]
    assert (trigger["route"], trigger["methods"]) == (route, methods)
    # No Ingress routes ops/ and the worker has no Service: port-forward RBAC is the gate
    # (functions/worker/function.py says why a host key would add nothing).
    assert trigger["authLevel"] == "ANONYMOUS"
    assert bindings["durableClient"] == {
        "direction": "IN",
        "type": "durableClient",
        "name": "client",
    }


def test_host_json_configures_the_durable_task_hub_on_mssql():
    """The names the chart, KEDA and Terraform share (docs/architecture.md): the MSSQL provider
    (its host.json keys: microsoft/durabletask-mssql SqlDurabilityOptions and docs/quickstart.md),
    the hub and connection settings, and the concurrency KEDA's dt.GetScaleRecommendation(8, 8)
    assumes."""
    durable = json.loads((REPO / "host.json").read_text())["extensions"]["durableTask"]
    assert durable["hubName"] == "%DURABLE_TASK_HUB%"
    provider = durable["storageProvider"]
    assert provider["type"] == "mssql"
    assert provider["connectionStringName"] == "DURABLE_SQL_CONNECTION"
    assert provider["createDatabaseIfNotExists"] is False  # Terraform owns the database
    assert set(provider) <= {
        "type",
        "connectionStringName",
        "taskHubName",
        "taskEventLockTimeout",
        "taskEventBatchSize",
        "createDatabaseIfNotExists",
        "schemaName",
    }
    assert durable["maxConcurrentActivityFunctions"] == 8
    assert durable["maxConcurrentOrchestratorFunctions"] == 8
    # The default, stated: a start replaces only a Completed/Failed/Terminated instance; the
    # starter checks the status first so a Completed one is never restarted (orchestrations.py).
    assert durable["overridableExistingInstanceStates"] == "NonRunningStates"


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
    """`func start` hosts every function of the one app at once: each app owns its own route
    prefixes; within an app, no two functions take the same route and method."""
    owner_of: dict[str, str] = {}
    routes: set[tuple[str, str]] = set()
    for name, bindings in indexed.items():
        for b in bindings:
            if "route" not in b:
                continue
            app = name.split("_")[0]
            assert owner_of.setdefault(b["route"].split("/")[0], app) == app, b["route"]
            for method in b["methods"]:
                assert (b["route"], method) not in routes
                routes.add((b["route"], method))


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
    # The durable task hub: the settings host.json names (connection, %hub%), and the host name
    # the durable client builds its management URLs from.
    durable = json.loads((REPO / "host.json").read_text())["extensions"]["durableTask"]
    hub_setting = durable["hubName"].strip("%")
    assert {durable["storageProvider"]["connectionStringName"], hub_setting} <= set(values)
    assert values["WEBSITE_HOSTNAME"] == "localhost:7071"  # func start's port


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
