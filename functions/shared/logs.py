"""Structured JSON logs on stdout, correlated with OpenTelemetry traces.

One JSON object per line is what Container Insights, Loki and `kubectl logs | jq` all read well;
the trace and span ids let a log line be found from a trace and back.
"""

import logging
import os
import sys
from typing import Literal

from opentelemetry import trace
from pydantic import field_validator
from pydantic_settings import BaseSettings
from pythonjsonlogger.json import JsonFormatter


class LoggingSettings(BaseSettings):
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class _TraceContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.__dict__.pop("color_message", None)  # uvicorn's ANSI-coloured duplicate
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            record.trace_id = format(ctx.trace_id, "032x")
            record.span_id = format(ctx.span_id, "016x")
        return True


def configure_logging(service: str) -> None:
    """Send all logs (ours, uvicorn's, the SDKs') as JSON lines to stdout; safe to call twice.

    Under the Functions host (`FUNCTIONS_WORKER_RUNTIME` is set) the Python worker already
    forwards every log record to the host, which writes them out: a stdout handler of our own
    would print each line twice, so only the level is set there."""
    root = logging.getLogger()
    if os.getenv("FUNCTIONS_WORKER_RUNTIME"):
        root.setLevel(LoggingSettings().log_level)
        logging.getLogger("azure").setLevel(logging.WARNING)
        return
    if any(getattr(h, "_tinyshop", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler._tinyshop = True  # type: ignore[attr-defined]
    handler.setFormatter(
        JsonFormatter(
            "{levelname}{name}{message}",
            style="{",
            timestamp="time",
            rename_fields={"levelname": "level", "name": "logger"},
            static_fields={"service": service},
        )
    )
    handler.addFilter(_TraceContextFilter())
    root.addHandler(handler)
    root.setLevel(LoggingSettings().log_level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # The Azure SDKs log every HTTP request at INFO; keep them at WARNING unless asked.
    logging.getLogger("azure").setLevel(logging.WARNING)
