"""One log line per request, with the route template (never the raw path, which holds ids),
the status, the duration and the request's trace id: for the FastAPI apps and for the UI."""

import logging

import httpx
import pytest
from flask.testing import FlaskClient

from functions.shared.logs import _TraceContextFilter
from tests.conftest import SPANS


@pytest.fixture
def access(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="tinyshop.access")
    caplog.handler.addFilter(_TraceContextFilter())  # what configure_logging's handler adds
    return caplog


def _lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "tinyshop.access"]


def test_an_api_request_is_one_line_with_route_status_duration_and_trace(
    catalog: httpx.Client, access: pytest.LogCaptureFixture
) -> None:
    SPANS.clear()
    assert catalog.get("/products/moka-pot-6").status_code == 200
    assert catalog.get("/products/no-such-product").status_code == 404
    catalog.get("/catalog/health/live")  # probes are not logged

    found, missing = _lines(access)
    assert found.http_route == missing.http_route == "/products/{product_id}"
    assert (found.http_status, missing.http_status) == (200, 404)
    assert found.http_method == "GET"
    assert found.duration_ms > 0
    assert "moka-pot-6" not in found.getMessage()
    server = [s for s in SPANS.get_finished_spans() if s.name.startswith("GET /products/")]
    assert found.trace_id in {f"{s.context.trace_id:032x}" for s in server}


def test_a_ui_page_is_one_line_with_its_route_and_trace(
    client: FlaskClient, access: pytest.LogCaptureFixture
) -> None:
    assert client.get("/products/moka-pot-6").status_code == 200
    client.get("/healthz/live")

    (page,) = [r for r in _lines(access) if r.http_route.startswith("/products/<")]
    assert page.http_route == "/products/<product_id>"
    assert page.http_status == 200
    assert len(page.trace_id) == 32
