"""orders' catalog client over real HTTP: batching, bounded retries of idempotent reads."""

from decimal import Decimal

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from dev.serve import serve
from functions.orders.catalog_client import CatalogClient, CatalogUnavailable


def flaky_catalog(failures: int, status: int = 503) -> tuple[FastAPI, list[str]]:
    """A catalog stand-in that fails `failures` times, then answers; it records each request."""
    app = FastAPI()
    calls: list[str] = []

    @app.get("/products")
    def products(ids: str) -> JSONResponse:
        calls.append(ids)
        if len(calls) <= failures:
            return JSONResponse({"title": "busy"}, status_code=status)
        items = [
            {"id": i, "name": i.title(), "price": "1.10", "currency": "EUR"} for i in ids.split(",")
        ]
        return JSONResponse({"items": items, "nextCursor": None})

    return app, calls


def test_transient_failures_are_retried_within_the_attempt_budget():
    app, calls = flaky_catalog(failures=2)
    with serve(app) as url:
        found = CatalogClient(url, timeout=1, attempts=3).products(["a", "b"])
    assert found["a"].price == Decimal("1.10")
    assert len(calls) == 3


def test_after_the_attempt_budget_the_catalog_is_unavailable():
    app, calls = flaky_catalog(failures=5)
    with serve(app) as url, pytest.raises(CatalogUnavailable):
        CatalogClient(url, timeout=1, attempts=3).products(["a"])
    assert len(calls) == 3


def test_client_errors_are_not_retried():
    app, calls = flaky_catalog(failures=5, status=400)
    with serve(app) as url, pytest.raises(CatalogUnavailable):
        CatalogClient(url, timeout=1, attempts=3).products(["a"])
    assert len(calls) == 1


def test_more_ids_than_one_request_allows_are_split_into_batches():
    app, calls = flaky_catalog(failures=0)
    ids = [f"p{i}" for i in range(150)]
    with serve(app) as url:
        found = CatalogClient(url, timeout=1, attempts=1).products(ids)
    assert set(found) == set(ids)
    assert [len(c.split(",")) for c in calls] == [100, 50]
