"""OpenTelemetry and logs of the UI: a server span and RED metrics per Flask route, client
spans (with `traceparent`) for its catalog and orders calls (ui/app/clients.py), psycopg spans
of the session store, JSON logs with trace ids, and one log line per request.

The UI is where a shopper's trace starts: its `POST /checkout` span is the root of the trace
that ends with the worker's Cosmos writes. Providers and exporters are shared with the
Functions apps (functions/shared/observability.py, which the UI image copies).
"""

import logging
import time

from flask import Flask, Response, g, request
from opentelemetry.instrumentation.flask import FlaskInstrumentor

from functions.shared.logs import configure_logging
from functions.shared.observability import setup

_access = logging.getLogger("tinyshop.access")
# Probes and static files are neither traced nor logged per request.
EXCLUDED = "healthz/.*,static/.*"
_QUIET = ("/healthz/", "/static/")


def _started() -> None:
    g.tinyshop_started = time.perf_counter()


def _log_request(response: Response) -> Response:
    if not request.path.startswith(_QUIET):
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        started = g.get("tinyshop_started", time.perf_counter())
        _access.info(
            "%s %s %s",
            request.method,
            route,
            response.status_code,
            extra={
                "http_method": request.method,
                "http_route": route,
                "http_status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
    return response


def instrument(app: Flask) -> None:
    configure_logging("ui")
    setup("ui")
    FlaskInstrumentor().instrument_app(app, excluded_urls=EXCLUDED)
    app.before_request(_started)
    app.after_request(_log_request)
