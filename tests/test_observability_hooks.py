"""The OpenTelemetry hook yields HTTP server and database spans; logs are JSON lines."""

import json
import subprocess
import sys
import time

import httpx
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from tests.conftest import REPO, SPANS


def server_spans_once(route: str, seconds: float = 5) -> list[ReadableSpan]:
    """Finished SERVER spans once one for `route` has ended: the server ends its span just
    after the response reaches the client, so reading at once would race with it."""
    deadline = time.monotonic() + seconds
    while True:
        spans = [s for s in SPANS.get_finished_spans() if s.kind == SpanKind.SERVER]
        if any(s.attributes["http.route"] == route for s in spans) or time.monotonic() > deadline:
            return spans
        time.sleep(0.02)


def test_a_request_produces_a_server_span_with_a_database_child(catalog: httpx.Client):
    SPANS.clear()
    assert catalog.get("/products/moka-pot-6").status_code == 200

    server = server_spans_once("/products/{product_id}")
    spans = SPANS.get_finished_spans()
    assert len(server) == 1
    assert server[0].attributes["http.route"] == "/products/{product_id}"
    trace_id = server[0].context.trace_id
    db = [s for s in spans if s.kind == SpanKind.CLIENT and s.context.trace_id == trace_id]
    queries = [s for s in db if "FROM products" in s.attributes.get("db.statement", "")]
    assert len(queries) == 1, [s.name for s in spans]
    assert queries[0].attributes["db.system"] == "postgresql"
    assert queries[0].parent is not None


def test_health_probes_are_not_traced(catalog: httpx.Client):
    SPANS.clear()
    catalog.get("/catalog/health/live")
    catalog.get("/products/knock-box")  # so an instrumentation that traces nothing fails too

    server = server_spans_once("/products/{product_id}")
    assert [s.attributes["http.route"] for s in server] == ["/products/{product_id}"]


def test_logs_are_one_json_object_per_line_with_trace_ids():
    script = (
        "import logging\n"
        "from opentelemetry import trace\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "from functions.shared.logs import configure_logging\n"
        "configure_logging('catalog')\n"
        "configure_logging('catalog')\n"
        "trace.set_tracer_provider(TracerProvider())\n"
        "with trace.get_tracer('t').start_as_current_span('s'):\n"
        "    logging.getLogger('tinyshop.test').warning('hello %s', 'world')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env={"LOG_LEVEL": "INFO", "PATH": "/usr/bin:/bin"},
    )
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1  # configured twice, still one handler
    record = json.loads(lines[0])
    assert record["message"] == "hello world"
    assert record["level"] == "WARNING"
    assert record["logger"] == "tinyshop.test"
    assert record["service"] == "catalog"
    assert len(record["trace_id"]) == 32
    assert len(record["span_id"]) == 16
    assert "time" in record


def test_a_request_is_one_server_span_without_asgi_message_spans(catalog: httpx.Client):
    SPANS.clear()
    assert catalog.get("/products/moka-pot-6").status_code == 200

    server = server_spans_once("/products/{product_id}")
    trace_id = server[0].context.trace_id
    in_trace = [s for s in SPANS.get_finished_spans() if s.context.trace_id == trace_id]
    # The request and its database spans only: the query, and the pool's check when the
    # connection had idled 30 s (functions/shared/db.py); no `http send`/`receive` spans.
    others = [
        (s.kind.name, s.name)
        for s in in_trace
        if s.kind != SpanKind.SERVER and s.attributes.get("db.system") != "postgresql"
    ]
    assert len(in_trace) - len(others) >= 2
    assert [s.kind for s in in_trace].count(SpanKind.SERVER) == 1
    assert others == []
