"""The orders API answers each domain error with one problem+json status and type."""

import uuid

import pytest

from functions.orders import domain
from functions.orders.api import problem_for
from functions.orders.catalog_client import CatalogUnavailable
from functions.shared.problems import Problem, invalid_field


@pytest.mark.parametrize(
    ("error", "status", "type_"),
    [
        (CatalogUnavailable("down"), 503, "urn:tinyshop:catalog-unavailable"),
        (domain.UnknownProduct("milk-jug"), 422, "urn:tinyshop:unknown-product"),
        (domain.ProductsNoLongerSold(["milk-jug"]), 422, "urn:tinyshop:unknown-product"),
        (domain.MixedCurrencies(), 422, "urn:tinyshop:mixed-currency"),
        (domain.IdempotencyKeyReused(), 422, "urn:tinyshop:idempotency-key-reused"),
        (domain.CartFull(50), 409, "urn:tinyshop:cart-full"),
        (domain.EmptyCart(), 409, "urn:tinyshop:empty-cart"),
        (domain.CartKeptChanging(), 409, "urn:tinyshop:cart-changed"),
        (domain.OrderNotFound(uuid.UUID(int=1)), 404, "about:blank"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else None,
)
def test_each_domain_error_has_its_status_and_type(error: Exception, status: int, type_: str):
    problem = problem_for(error)
    assert (problem.status, problem.type) == (status, type_)
    assert problem.detail


def test_a_catalog_outage_says_when_to_retry():
    assert problem_for(CatalogUnavailable("down")).headers == {"Retry-After": "5"}


def test_products_no_longer_sold_are_listed_for_the_client():
    problem = problem_for(domain.ProductsNoLongerSold(["a", "b"]))
    assert problem.extensions == {"productIds": ["a", "b"]}


def test_an_unknown_product_points_at_the_field():
    problem = problem_for(domain.UnknownProduct("milk-jug"))
    assert problem.detail == "There is no product 'milk-jug'."
    assert problem.extensions == {"errors": [{"field": "productId", "message": "unknown product"}]}


def test_an_error_without_a_mapping_is_not_swallowed():
    with pytest.raises(KeyError):
        problem_for(KeyError("a bug"))


def test_the_invalid_field_problem_names_the_field():
    problem = invalid_field("cursor", "not a cursor this API returned")
    assert isinstance(problem, Problem)
    assert (problem.status, problem.title, problem.detail) == (
        422,
        "Invalid request",
        "Invalid value for: cursor.",
    )
    assert problem.extensions == {
        "errors": [{"field": "cursor", "message": "not a cursor this API returned"}]
    }
