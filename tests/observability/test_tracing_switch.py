"""Tracing is on exactly when something exports spans (issue 17): an app process with no
exporter records nothing (no SDK provider, no HTTP server telemetry, no psycopg spans),
and one with an OTLP endpoint records spans sampled as the standard OTEL_TRACES_SAMPLER
variables say. Each case runs in a fresh interpreter: the providers are process-wide."""

import json
import re
import subprocess
import sys

import httpx
import pytest

from dev.server_process import ServerProcess
from tests.conftest import REPO

PROBE = """
import json
from opentelemetry import metrics, trace
from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
from functions.catalog.api import create_app
from functions.catalog.settings import CatalogSettings

app = create_app(CatalogSettings(database_url="postgresql://nobody@127.0.0.1:1/none"))
provider = trace.get_tracer_provider()
sampler = getattr(provider, "sampler", None)
print(json.dumps({
    "provider": type(provider).__name__,
    "sampler": sampler.get_description() if sampler else None,
    "meter_provider": type(metrics.get_meter_provider()).__name__,
    "middleware": [m.cls.__name__ for m in app.user_middleware],
    # FastAPI's own decision, taken for every request, to record its server span and metrics.
    "instrumented": app._native_telemetry.enabled(),
    "psycopg_traced": PsycopgInstrumentor().is_instrumented_by_opentelemetry,
}))
"""


def _probe(**env: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "LOG_LEVEL": "WARNING", **env},
        timeout=60,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_nothing_exports_so_nothing_is_recorded():
    seen = _probe()

    assert seen["provider"] == "ProxyTracerProvider"  # the API's no-op
    assert seen["meter_provider"] == "_ProxyMeterProvider"
    assert seen["instrumented"] is False
    assert "AccessLogMiddleware" in seen["middleware"]  # the access log stays
    assert seen["psycopg_traced"] is False


@pytest.mark.parametrize(
    "endpoint", ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
)
def test_an_otlp_endpoint_turns_tracing_on_with_the_configured_sampler(endpoint: str):
    seen = _probe(
        **{endpoint: "http://127.0.0.1:9"},
        OTEL_TRACES_SAMPLER="parentbased_traceidratio",
        OTEL_TRACES_SAMPLER_ARG="0.1",
    )

    assert seen["provider"] == "TracerProvider"
    assert str(seen["sampler"]).startswith("ParentBased{root:TraceIdRatioBased{0.1},")
    assert seen["instrumented"] is True
    assert seen["psycopg_traced"] is True


def test_metrics_alone_keep_the_http_instrumentation_without_recording_spans():
    seen = _probe(OTEL_EXPORTER_OTLP_METRICS_ENDPOINT="http://127.0.0.1:9")

    assert seen["provider"] == "ProxyTracerProvider"
    assert seen["meter_provider"] == "MeterProvider"
    assert seen["instrumented"] is True  # RED metrics need it
    assert seen["psycopg_traced"] is False


def test_an_exporter_switched_off_by_name_records_nothing():
    seen = _probe(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9", OTEL_TRACES_EXPORTER="none")

    assert seen["provider"] == "ProxyTracerProvider"
    assert seen["meter_provider"] == "MeterProvider"  # metrics still go to the endpoint


def test_spans_still_batched_when_the_server_stops_are_exported(catalog_db: str):
    """uvicorn re-raises SIGTERM after its graceful shutdown, so the SDK's atexit never runs:
    the app's lifespan flushes instead (service_app.py). The spans of a request answered just
    before the stop reach a real OTLP/HTTP receiver (the bench's sink)."""
    sink = ServerProcess(
        [sys.executable, "-m", "bench.otlp_sink", "--port", "0"],
        re.compile(r"listening port=(?P<port>\d+)"),
        name="otlp-sink",
        cwd=REPO,
    )
    sink_url = f"http://127.0.0.1:{sink.start()['port']}"
    argv = [sys.executable, "-m", "functions.shared.local_server"]
    try:
        app = ServerProcess(
            [*argv, "functions.catalog.api:create_app", "--port", "0"],
            re.compile(r"Uvicorn running on (?P<url>http://127\.0\.0\.1:\d+)"),
            name="catalog",
            env={"CATALOG_DATABASE_URL": catalog_db, "OTEL_EXPORTER_OTLP_ENDPOINT": sink_url},
            cwd=REPO,
        )
        url = app.start()["url"]
        try:
            assert httpx.get(f"{url}/products/french-press", timeout=10).status_code == 200
        finally:
            app.stop()  # SIGTERM, well within the batch processor's 5 s delay
        stats = httpx.get(f"{sink_url}/stats", timeout=5).json()
    finally:
        sink.stop()

    assert stats["spans"] == 2  # the request's server span and its query's client span
