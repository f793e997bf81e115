"""The process-wide OpenTelemetry set-up every TinyShop process shares (catalog, orders, the
worker, the UI): one tracer provider, one meter provider, and the Azure SDKs' tracing.

Where telemetry goes follows the standard variables, so the same code runs locally and in AKS:

- `OTEL_EXPORTER_OTLP_ENDPOINT` set (the chart sets it to the in-cluster collector): spans and
  metrics go there over OTLP/HTTP; the collector's `prometheus` exporter is what Prometheus
  scrapes (docs/operations.md, "Where telemetry goes").
- `METRICS_PORT` set (`make dev` sets one per process): this process serves its own
  Prometheus `/metrics` on `METRICS_ADDRESS` (default 127.0.0.1) and that port, for the local
  Prometheus of `make dev PROMETHEUS=1`.
- neither: nothing is exported, and then nothing is recorded either: no SDK tracer provider
  (the API's no-op one stays), no psycopg or Azure SDK spans, and no HTTP instrumentation when
  no metric is read either. An SDK provider with no exporter still builds, samples and ends every
  span only to drop it: that was ~28% of catalog's CPU per request (docs/performance.md). Tests
  install their own in-memory exporters first, so tracing is on in every test process.

Sampling follows the standard `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` variables, which
the SDK's `TracerProvider()` reads itself (e.g. `parentbased_traceidratio` and `0.1`:
https://opentelemetry-python.readthedocs.io/en/latest/sdk/trace.sampling.html); unset, every
trace is kept (`parentbased_always_on`).

HTTP metrics and spans follow the *stable* HTTP semantic conventions
(`OTEL_SEMCONV_STABILITY_OPT_IN=http`): the RED histogram is `http.server.request.duration` in
seconds (`http_server_request_duration_seconds` in Prometheus) with `http.route`,
`http.request.method` and `http.response.status_code`, the names Grafana's community boards and
the OpenTelemetry docs use. No module of this file imports FastAPI or Flask: the UI image ships it.
"""

import logging
import os
import socket
import threading

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import SERVICE_INSTANCE_ID, SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

# Read once by the instrumentations when they are first created, so set before any of them.
os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")

_log = logging.getLogger("tinyshop.observability")
_lock = threading.Lock()

# Request latency buckets (seconds): fine below the checkout SLO threshold (0.5 s, see
# charts/tinyshop/rules/) and coarse above it, 12 buckets per series.
HTTP_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)
# Order commit -> OrderConfirmed (seconds): the relay publishes at once, the sweep within
# seconds, a bus or Cosmos outage delays by minutes.
PIPELINE_LAG_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


def _resource(service_name: str) -> Resource:
    """service.name names the app; service.instance.id keeps replicas' (and gunicorn
    workers') series apart once the collector turns resource attributes into labels."""
    return Resource.create(
        {
            SERVICE_NAME: os.getenv("OTEL_SERVICE_NAME", service_name),
            SERVICE_INSTANCE_ID: f"{socket.gethostname()}-{os.getpid()}",
        }
    )


def _otlp(signal: str) -> bool:
    """Whether `signal` (TRACES, METRICS) goes over OTLP: an endpoint for all signals or for
    this one, and the signal's exporter not switched off (`OTEL_<SIGNAL>_EXPORTER=none`)."""
    if os.getenv(f"OTEL_{signal}_EXPORTER", "").strip().lower() == "none":
        return False
    return bool(
        os.getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.getenv(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")
    )


def tracing_enabled() -> bool:
    """Whether this process records spans: an SDK tracer provider is installed, by
    `tracer_provider` because something exports them, or by a test."""
    return isinstance(trace.get_tracer_provider(), TracerProvider)


def tracer_provider(
    service_name: str, exporter: SpanExporter | None = None
) -> trace.TracerProvider:
    """The process-wide tracer provider, created once (the first caller names the service) when
    something exports spans; otherwise the API's no-op provider, unchanged."""
    with _lock:
        current = trace.get_tracer_provider()
        if isinstance(current, TracerProvider):
            return current
        if exporter is None and _otlp("TRACES"):
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()
        if exporter is None:
            return current  # nothing would leave the process: record nothing
        provider = TracerProvider(resource=_resource(service_name))
        provider.add_span_processor(BatchSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        return provider


# The labels of the RED histogram: what dashboards and alerts group by, nothing more (no
# url.scheme, protocol version or error.type, which repeats the status code). One fixed set also
# keeps the Prometheus exporter's rows aligned when two instrumentations (Flask and FastAPI, as
# in the test process) report the same metric: it reuses the first one's label names.
HTTP_SERVER_LABELS = {"http.request.method", "http.response.status_code", "http.route"}


def views() -> list[View]:
    """Histogram buckets chosen for TinyShop's latencies instead of the SDK's defaults."""
    return [
        View(
            instrument_name="http.server.request.duration",
            aggregation=ExplicitBucketHistogramAggregation(HTTP_DURATION_BUCKETS),
            attribute_keys=HTTP_SERVER_LABELS,
        ),
        View(
            instrument_name="http.client.request.duration",
            aggregation=ExplicitBucketHistogramAggregation(HTTP_DURATION_BUCKETS),
        ),
        View(
            instrument_name="tinyshop.order.pipeline_lag",
            aggregation=ExplicitBucketHistogramAggregation(PIPELINE_LAG_BUCKETS),
        ),
    ]


def prometheus_endpoint(port: int, address: str = "127.0.0.1") -> MetricReader | None:
    """A metric reader whose metrics this process serves at http://address:port/metrics, or
    None when the port is taken (a second gunicorn worker): that process goes without an
    endpoint rather than failing."""
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from prometheus_client import start_http_server

    try:
        start_http_server(port, addr=address)
    except OSError as exc:
        _log.warning("no /metrics endpoint on %s:%s: %s", address, port, exc)
        return None
    return PrometheusMetricReader()


def _prometheus_reader() -> MetricReader | None:
    port = os.getenv("METRICS_PORT")
    if not port:
        return None
    return prometheus_endpoint(int(port), os.getenv("METRICS_ADDRESS", "127.0.0.1"))


def metrics_enabled() -> bool:
    """Whether this process records metrics (an SDK meter provider with a reader is installed)."""
    return isinstance(metrics.get_meter_provider(), MeterProvider)


def meter_provider(service_name: str, *readers: MetricReader) -> metrics.MeterProvider:
    """The process-wide meter provider, created once with the readers the environment asks for
    (and `readers`, which tests pass); with no reader at all, the API's no-op provider."""
    with _lock:
        current = metrics.get_meter_provider()
        if isinstance(current, MeterProvider):
            return current
        chosen = [reader for reader in readers if reader is not None]
        prometheus = _prometheus_reader()
        if prometheus is not None:
            chosen.append(prometheus)
        if _otlp("METRICS"):
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

            chosen.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
        if not chosen:
            return current  # nothing reads them: record nothing
        provider = MeterProvider(
            resource=_resource(service_name), metric_readers=chosen, views=views()
        )
        metrics.set_meter_provider(provider)
        return provider


def flush(timeout_millis: int = 5000) -> None:
    """Export what the providers still hold (spans batched for up to 5 s, the last metric
    interval). Run when an app stops (service_app.py's lifespan): uvicorn ends a SIGTERMed
    process by raising the signal again after its graceful shutdown, so the SDK's atexit
    shutdown never runs and the last seconds of spans were lost. A flush, not a shutdown: a test
    process keeps using its providers after one app stops."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.force_flush(timeout_millis)
    meters = metrics.get_meter_provider()
    if isinstance(meters, MeterProvider):
        meters.force_flush(timeout_millis)


def enable_azure_sdk_tracing() -> None:
    """Client spans for every Azure SDK call (Cosmos, Service Bus, identity) through
    azure-core's OpenTelemetry plugin (azure-core-tracing-opentelemetry). They join the
    current trace, so each Cosmos write of the worker is a child of its message's span."""
    try:
        from azure.core.settings import settings
    except ImportError:  # the UI image has no Azure SDK
        return
    settings.tracing_implementation = "opentelemetry"


def setup(service_name: str) -> None:
    """Everything above, once per process; safe to call from every app factory. Client spans
    (Azure SDKs, psycopg) only when spans are recorded at all."""
    tracer_provider(service_name)
    meter_provider(service_name)
    if not tracing_enabled():
        return
    enable_azure_sdk_tracing()
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

    with _lock:
        psycopg_instrumentor = PsycopgInstrumentor()
        if not psycopg_instrumentor.is_instrumented_by_opentelemetry:
            psycopg_instrumentor.instrument(tracer_provider=trace.get_tracer_provider())
