"""The worker's Functions trigger (functions/worker/function.py) continues the producer's trace
from the message, links the host's invocation span, and its Cosmos writes are child spans —
called as the Python worker calls it (with PYTHON_ENABLE_OPENTELEMETRY the invocation's span is
the current one), against the Cosmos stand-in."""

import json

import pytest
from azure.functions.servicebus import ServiceBusMessage
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from dev.cosmos.launcher import LocalCosmos
from functions.shared.eventbus.tracing import publishing
from functions.shared.events import OutgoingMessage, PoisonMessage
from functions.shared.timeline_store import CosmosTimelineStore
from functions.worker import function
from tests.conftest import SPANS, cosmos_settings
from tests.unit.builders import order_placed_payload

_tracer = trace.get_tracer("tests.host")


@pytest.fixture
def store(cosmos: LocalCosmos, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(function, "_store", CosmosTimelineStore(cosmos_settings(cosmos)))


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


def test_the_trigger_continues_the_message_s_trace_and_links_the_host(store: None) -> None:
    payload = order_placed_payload()
    message, producer = _delivered(payload)
    SPANS.clear()
    with _tracer.start_as_current_span("host invocation") as host:
        function.order_placed(message)

    spans = SPANS.get_finished_spans()
    (consumer,) = [s for s in spans if s.kind == SpanKind.CONSUMER]
    assert consumer.parent.span_id == producer.span_id
    assert consumer.context.trace_id == producer.trace_id
    assert [link.context.span_id for link in consumer.links] == [host.get_span_context().span_id]
    assert consumer.attributes["tinyshop.order.id"] == payload["orderId"]
    writes = [s for s in spans if s.name == "ContainerProxy.create_item"]
    assert len(writes) == 3
    assert all(w.parent.span_id == consumer.context.span_id for w in writes)


def test_a_poison_message_fails_the_invocation_and_is_marked_poison(store: None) -> None:
    message, _ = _delivered(order_placed_payload(version=2))
    SPANS.clear()
    with pytest.raises(PoisonMessage):
        function.order_placed(message)
    (consumer,) = [s for s in SPANS.get_finished_spans() if s.kind == SpanKind.CONSUMER]
    assert consumer.attributes["tinyshop.outcome"] == "poison"
    assert consumer.attributes["tinyshop.poison.reason"] == "UnsupportedVersion"
