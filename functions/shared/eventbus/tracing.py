"""The trace of an order across the bus: a PRODUCER span per publish, a CONSUMER span per
processed message, and the W3C context between them in the message's application properties.

Producer: the relay publishes each outbox row under the context the checkout stored in it
(functions/orders/checkout.py), so the `send` span is part of the shopper's trace even when the
sweep publishes the row minutes later. The `send` span's own context goes into the message
(`traceparent`, `tracestate`, and `Diagnostic-Id`, the property the .NET Service Bus SDK of the
Functions host reads), whether or not azure-core tracing is on. When it is on, azure-servicebus
adds a `ServiceBus.message` span under ours and rewrites the properties with its own id: still
the same trace, one level deeper.

Consumer: the message's context is the PARENT of the `process` span, not a link. Each
invocation handles exactly one message (the Service Bus trigger is not batched; the local
consumer settles one at a time), so the producer is the one cause of this work and the order's
whole journey stays one trace, from the shopper's click to the worker's Cosmos writes. Links
are for batches (several causes) and for the Functions host's invocation span: under the host
with PYTHON_ENABLE_OPENTELEMETRY the current context is the host's invocation, which is linked
(not parented) so that it never replaces the producer as the trace's thread.
"""

import dataclasses
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode

from functions.shared import metrics
from functions.shared.eventbus.settings import QUEUE
from functions.shared.events import OutgoingMessage, PoisonMessage

DIAGNOSTIC_ID = "Diagnostic-Id"
_tracer = trace.get_tracer("tinyshop.eventbus")


@cache
def queue_name() -> str:
    """The queue's name as configured (`EVENT_BUS_QUEUE`), for span names and attributes."""
    return os.getenv("EVENT_BUS_QUEUE", QUEUE)


def _attributes(destination: str, message_id: str) -> dict[str, Any]:
    return {
        "messaging.system": "servicebus",
        "messaging.destination.name": destination,
        "messaging.message.id": message_id,
    }


@contextmanager
def publishing(
    message: OutgoingMessage, stored_context: Mapping[str, str], destination: str | None = None
) -> Iterator[OutgoingMessage]:
    """A `send` span under `stored_context`; yields the message carrying the span's context.
    A PublishError (or any error) inside marks the span failed and counts a failed publish."""
    destination = destination or queue_name()
    with _tracer.start_as_current_span(
        f"send {destination}",
        context=propagate.extract(dict(stored_context)),
        kind=SpanKind.PRODUCER,
        attributes=_attributes(destination, message.message_id)
        | {"messaging.operation.type": "send", "tinyshop.event.type": message.subject},
    ):
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        if "traceparent" in carrier:
            carrier[DIAGNOSTIC_ID] = carrier["traceparent"]
        properties = {
            k: v for k, v in message.application_properties.items() if k not in carrier
        } | carrier
        try:
            yield dataclasses.replace(message, application_properties=properties)
        except Exception:
            metrics.publish_outcome("failed")
            raise
        metrics.publish_outcome("published")


@contextmanager
def consuming(
    message_id: str | None,
    delivery_count: int | None,
    application_properties: Mapping[str, Any] | None,
    destination: str | None = None,
) -> Iterator[Span]:
    """A `process` span whose parent is the producer's context in the message (see above);
    counts the outcome: completed, poison (PoisonMessage) or failed (anything else)."""
    carrier = {
        str(k): v.decode() if isinstance(v, bytes) else str(v)
        for k, v in (application_properties or {}).items()
    }
    destination = destination or queue_name()
    host = trace.get_current_span().get_span_context()
    links = [Link(host, {"tinyshop.link": "functions-host-invocation"})] if host.is_valid else []
    attributes = _attributes(destination, message_id or "") | {
        "messaging.operation.type": "process",
        "messaging.servicebus.message.delivery_count": delivery_count or 0,
    }
    with _tracer.start_as_current_span(
        f"process {destination}",
        context=propagate.extract(carrier),
        kind=SpanKind.CONSUMER,
        links=links,
        attributes=attributes,
        record_exception=True,
        set_status_on_exception=True,
    ) as span:
        try:
            yield span
        except PoisonMessage as exc:
            span.set_attribute("tinyshop.outcome", "poison")
            span.set_attribute("tinyshop.poison.reason", exc.reason)
            metrics.worker_outcome("poison")
            raise
        except BaseException:
            span.set_attribute("tinyshop.outcome", "failed")
            metrics.worker_outcome("failed")
            raise
        span.set_attribute("tinyshop.outcome", "completed")
        span.set_status(Status(StatusCode.OK))
        metrics.worker_outcome("completed")
