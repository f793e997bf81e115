"""The OpenAPI documents name every error each route can give, as the problem+json it is."""

import httpx
import pytest

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
SUCCESS = {"200", "201", "204", "304"}


def operations(spec: dict) -> list[tuple[str, str, dict]]:
    return [
        (method.upper(), path, operation)
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
    ]


@pytest.fixture(scope="module")
def documents(catalog_url: str, orders_url: str) -> dict[str, dict]:
    return {
        "catalog": httpx.get(f"{catalog_url}/catalog/openapi.json").json(),
        "orders": httpx.get(f"{orders_url}/orders/openapi.json").json(),
    }


@pytest.mark.parametrize("app", ["catalog", "orders"])
def test_every_error_response_is_a_problem(documents: dict[str, dict], app: str):
    spec = documents[app]
    assert set(spec["components"]["schemas"]["Problem"]["required"]) >= {"type", "title", "status"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for method, path, operation in operations(spec):
        for status, response in operation["responses"].items():
            if status in SUCCESS:
                continue
            assert response["content"] == {"application/problem+json": {"schema": PROBLEM_REF}}, (
                method,
                path,
                status,
            )


@pytest.mark.parametrize("app", ["catalog", "orders"])
def test_every_operation_documents_the_errors_any_route_can_give(
    documents: dict[str, dict], app: str
):
    for method, path, operation in operations(documents[app]):
        statuses = set(operation["responses"])
        assert {"413", "503"} <= statuses or path.endswith("/health/live"), (method, path)
        if "/health/" in path:
            continue
        if operation.get("parameters") or operation.get("requestBody"):
            assert "422" in statuses, (method, path)
        if operation.get("requestBody"):
            assert "400" in statuses, (method, path)  # a body that is not UTF-8
        if app == "orders":
            assert {"401", "403"} <= statuses, (method, path)


def test_route_specific_errors_are_documented(documents: dict[str, dict]):
    orders = {(m, p): set(o["responses"]) for m, p, o in operations(documents["orders"])}
    catalog = {(m, p): set(o["responses"]) for m, p, o in operations(documents["catalog"])}
    assert {"409", "422"} <= orders[("POST", "/checkout")]
    assert {"409", "422"} <= orders[("POST", "/cart/items")]
    assert "404" in orders[("GET", "/orders/{order_id}")]
    assert "404" in catalog[("GET", "/products/{product_id}")]
    assert "503" in catalog[("GET", "/catalog/health/ready")]
