"""OpenTelemetry set-up hook: HTTP server spans from FastAPI and client spans from psycopg.

Exporting follows the standard OTEL_* variables: with `OTEL_EXPORTER_OTLP_ENDPOINT` set (the
in-cluster collector), spans go there over OTLP/HTTP; without it nothing is exported. Metrics
and the collector → Prometheus/Grafana path come with the observability work.
"""

import os
import threading

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

_lock = threading.Lock()


def tracer_provider(
    service_name: str, exporter: SpanExporter | None = None
) -> trace.TracerProvider:
    """The process-wide tracer provider, created once (the first caller names the service)."""
    with _lock:
        current = trace.get_tracer_provider()
        if isinstance(current, TracerProvider):
            return current
        resource = Resource.create({SERVICE_NAME: os.getenv("OTEL_SERVICE_NAME", service_name)})
        provider = TracerProvider(resource=resource)
        if exporter is None and os.getenv("OTEL_EXPORTER_OTLP_ENDPOINT"):
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()
        if exporter is not None:
            provider.add_span_processor(BatchSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        return provider


def instrument(app: FastAPI, service_name: str) -> None:
    """Trace every request `app` serves and every query psycopg runs in this process."""
    provider = tracer_provider(service_name)
    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=provider, excluded_urls=r".*/health/(live|ready)$"
    )
    with _lock:
        psycopg_instrumentor = PsycopgInstrumentor()
        if not psycopg_instrumentor.is_instrumented_by_opentelemetry:
            psycopg_instrumentor.instrument(tracer_provider=provider)
