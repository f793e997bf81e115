"""The worker's Functions (functions/worker/function.py) keep one trace from checkout to the
timeline: the Service Bus starter continues the producer's trace from the message, links the
host's invocation span, and hands its own context to the orchestration it starts (the SDK sends
it as `traceparent`); an activity's Cosmos writes are children of the host's invocation span.
Called as the Python worker calls them (with PYTHON_ENABLE_OPENTELEMETRY the invocation's span
is the current one), the activities against the Cosmos stand-in."""

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from azure.durable_functions.models.utils import http_utils
from azure.functions.servicebus import ServiceBusMessage
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from dev.cosmos.launcher import LocalCosmos
from functions.shared.eventbus.tracing import publishing
from functions.shared.events import OutgoingMessage, PoisonMessage
from functions.worker import function
from functions.worker.store import WorkerTimelineStore
from tests.conftest import SPANS, cosmos_settings
from tests.unit.builders import order_placed_payload
from tests.worker.durable_host import DurableHost, durable_host

_tracer = trace.get_tracer("tests.host")


@pytest.fixture
def host() -> Iterator[DurableHost]:
    with durable_host() as stand_in:
        yield stand_in


def _delivered(payload: dict) -> tuple[ServiceBusMessage, trace.SpanContext]:
    """A message as the relay publishes it, as the host hands it to the trigger."""
    outgoing = OutgoingMessage(payload["eventId"], "OrderPlaced", json.dumps(payload).encode())
    with publishing(outgoing, {}, "orders") as sent:
        producer = trace.get_current_span().get_span_context()
    message = ServiceBusMessage(
        body=sent.body,
        message_id=sent.message_id,
        subject=sent.subject,
        delivery_count=1,
        application_properties=dict(sent.application_properties),
        user_properties={},
    )
    return message, producer


def _trigger(message: ServiceBusMessage, host: DurableHost) -> None:
    """As the Python worker invokes it: keyword arguments, the client binding as its JSON."""
    http_utils._client_session = None  # the SDK's shared session belongs to one event loop
    asyncio.run(function.order_placed(message=message, client=host.client_binding()))


def test_the_trigger_continues_the_message_s_trace_into_the_orchestration(host: DurableHost):
    payload = order_placed_payload()
    message, producer = _delivered(payload)
    SPANS.clear()
    with _tracer.start_as_current_span("host invocation") as invocation:
        _trigger(message, host)

    (consumer,) = [s for s in SPANS.get_finished_spans() if s.kind == SpanKind.CONSUMER]
    assert consumer.parent.span_id == producer.span_id
    assert consumer.context.trace_id == producer.trace_id
    assert [link.context.span_id for link in consumer.links] == [
        invocation.get_span_context().span_id
    ]
    assert consumer.attributes["tinyshop.order.id"] == payload["orderId"]
    assert consumer.attributes["tinyshop.fulfilment"] == "started"
    # W3C traceparent: version-traceid-parentid-flags; the orchestration's parent is the consumer.
    [traceparent] = host.traceparents
    _, trace_id, parent_id, _ = traceparent.split("-")
    assert int(trace_id, 16) == producer.trace_id
    assert int(parent_id, 16) == consumer.context.span_id


def test_a_poison_message_fails_the_invocation_and_is_marked_poison(host: DurableHost):
    message, _ = _delivered(order_placed_payload(version=2))
    SPANS.clear()
    with pytest.raises(PoisonMessage):
        _trigger(message, host)
    (consumer,) = [s for s in SPANS.get_finished_spans() if s.kind == SpanKind.CONSUMER]
    assert consumer.attributes["tinyshop.outcome"] == "poison"
    assert consumer.attributes["tinyshop.poison.reason"] == "UnsupportedVersion"
    assert host.starts == []


def test_an_activity_s_cosmos_writes_are_children_of_the_host_invocation(
    cosmos: LocalCosmos, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(function, "_store", WorkerTimelineStore(cosmos_settings(cosmos)))
    order_id = order_placed_payload()["orderId"]
    step = {
        "orderId": order_id,
        "type": "OrderPlaced",
        "occurredAt": datetime.now(UTC).isoformat(),
        "data": {},
    }
    SPANS.clear()
    with _tracer.start_as_current_span("host invocation") as invocation:
        assert function.record_timeline_event(step) is True

    writes = [s for s in SPANS.get_finished_spans() if s.name == "ContainerProxy.create_item"]
    assert len(writes) == 1
    assert writes[0].parent.span_id == invocation.get_span_context().span_id
