"""OpenTelemetry hook of the FastAPI apps (catalog, orders): HTTP server spans and RED metrics
per route, client spans of psycopg and the Azure SDKs, and one JSON access-log line per request.

The providers and exporters are set up in functions/shared/observability.py (shared with the
worker and the UI); this module adds what only an ASGI app needs.

The server spans and the `http.server.request.duration` histogram are FastAPI's own
(`FastAPI(telemetry=...)`, https://fastapi.tiangolo.com/advanced/opentelemetry/): it records them
whenever the process has an SDK tracer or meter provider, i.e. when something exports them or
reads them (observability.py), and it knows the matched route, where the generic ASGI
instrumentation (opentelemetry-instrumentation-fastapi, used before) matched every route again to
name the span. The same spans (`GET /products/{product_id}`, W3C context from the request
headers) and histogram (stable HTTP semantic conventions), for 41 % fewer Python calls of
tracing per request (docs/performance.md, "Catalog").
"""

from collections.abc import MutableMapping
from typing import Any

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig

from functions.shared.access_log import AccessLogMiddleware
from functions.shared.health import is_probe
from functions.shared.observability import setup


def _probe(scope: MutableMapping[str, Any]) -> bool:
    return scope["type"] == "http" and is_probe(scope["path"])


def telemetry_config() -> TelemetryConfig:
    """FastAPI's telemetry for `FastAPI(telemetry=...)`: the request's server span and its RED
    metrics only. No spans around dependency solving, the endpoint and serialisation (a traced
    request exports two spans: the request's and its query's), no OpenTelemetry log records
    (the apps log JSON to stdout, functions/shared/logs.py), no probes."""
    return {"operation_spans": False, "logs": False, "exclude": _probe}


def instrument(app: FastAPI, service_name: str) -> None:
    """Set up this process's providers (the app's own telemetry records into them) and log one
    line per request."""
    setup(service_name)
    app.add_middleware(AccessLogMiddleware, service=service_name)
