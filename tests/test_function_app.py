"""The Functions app a host would index: imported once, each function's bindings checked against
the routes, methods and settings the deployment relies on."""

import ast
import json

import pytest

from functions.catalog.settings import CatalogSettings
from functions.orders.settings import OrdersSettings
from tests.conftest import REPO

EXPECTED_HTTP_FUNCTIONS = {
    # name (the Deployment's allow-list entry): (route, methods)
    "catalog_products": ("products/{*path}", ["GET"]),
    "catalog_ops": ("catalog/{*path}", ["GET"]),
    "orders_cart": ("cart/{*path}", ["GET", "POST", "DELETE"]),
    "orders_checkout": ("checkout", ["GET", "POST", "DELETE"]),
    "orders_history": ("orders/{*path}", ["GET", "POST", "DELETE"]),
}


@pytest.fixture(scope="module")
def indexed() -> dict[str, list[dict]]:
    import function_app

    functions = function_app.app.get_functions()  # what the Python worker reports to the host
    return {f.get_function_name(): [json.loads(b) for b in f.get_raw_bindings()] for f in functions}


def test_the_app_has_exactly_the_expected_functions(indexed: dict[str, list[dict]]):
    assert set(indexed) == set(EXPECTED_HTTP_FUNCTIONS)


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


def test_function_app_only_registers_blueprints():
    tree = ast.parse((REPO / "function_app.py").read_text())
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the module docstring
        code = ast.unparse(node)
        assert code.startswith(("app = func.FunctionApp(", "app.register_functions(")), code
