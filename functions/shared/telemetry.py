"""OpenTelemetry hook of the FastAPI apps (catalog, orders): HTTP server spans and RED metrics
per route, client spans of psycopg and the Azure SDKs, and one JSON access-log line per request.

The providers and exporters are set up in functions/shared/observability.py (shared with the
worker and the UI); this module adds what only an ASGI app needs.
"""

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from functions.shared.access_log import AccessLogMiddleware
from functions.shared.observability import metrics_enabled, setup, tracing_enabled

# Probes are neither traced nor counted: kubelet calls them every few seconds.
PROBES = r".*/health/(live|ready)$"


def instrument(app: FastAPI, service_name: str) -> None:
    """Trace and measure every request `app` serves (when anything exports spans or reads
    metrics: observability.py), and log one line per request."""
    setup(service_name)
    # Added first so it runs inside the OpenTelemetry middleware and sees the request's span.
    app.add_middleware(AccessLogMiddleware, service=service_name)
    if tracing_enabled() or metrics_enabled():
        # No internal span per ASGI `send`/`receive` message (two or three per request, each
        # a child of the server span saying only "the response started/ended"): they were
        # half of a traced request's spans and of its tracing CPU (docs/performance.md).
        FastAPIInstrumentor.instrument_app(
            app, excluded_urls=PROBES, exclude_spans=["receive", "send"]
        )
