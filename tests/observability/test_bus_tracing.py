"""The trace context crosses the bus in the message (functions/shared/eventbus/tracing.py): the
relay's `send` span continues the context the checkout stored, the message carries the `send`
span's context, and the worker's `process` span is its child — linked, not parented, to a
Functions host invocation."""

import pytest
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, StatusCode

from functions.shared.eventbus import PublishError
from functions.shared.eventbus.tracing import DIAGNOSTIC_ID, consuming, publishing
from functions.shared.events import OutgoingMessage, PoisonMessage
from tests.conftest import SPANS

_tracer = trace.get_tracer("tests")


def _stored_context() -> tuple[dict[str, str], trace.SpanContext]:
    """What checkout stores in the outbox row: the W3C context of its request."""
    with _tracer.start_as_current_span("POST /checkout", kind=SpanKind.SERVER) as span:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        return carrier, span.get_span_context()


def _message(properties: dict[str, str]) -> OutgoingMessage:
    return OutgoingMessage("e-1", "OrderPlaced", b"{}", application_properties=properties)


def _finished(kind: SpanKind) -> list:
    return [s for s in SPANS.get_finished_spans() if s.kind == kind]


def test_the_consumer_is_the_child_of_the_producer_in_the_checkout_s_trace() -> None:
    SPANS.clear()
    stored, checkout = _stored_context()
    with publishing(_message(stored), stored, "orders") as sent:
        pass
    (producer,) = _finished(SpanKind.PRODUCER)
    assert producer.parent.span_id == checkout.span_id
    assert producer.context.trace_id == checkout.trace_id
    traceparent = sent.application_properties["traceparent"]
    assert traceparent.startswith(f"00-{checkout.trace_id:032x}-{producer.context.span_id:016x}-")
    assert sent.application_properties[DIAGNOSTIC_ID] == traceparent

    with consuming(sent.message_id, 1, sent.application_properties, "orders"):
        pass
    (consumer,) = _finished(SpanKind.CONSUMER)
    assert consumer.parent.span_id == producer.context.span_id
    assert consumer.context.trace_id == checkout.trace_id
    assert consumer.attributes["tinyshop.outcome"] == "completed"
    assert consumer.name == "process orders"


def test_the_functions_host_invocation_is_linked_not_parented() -> None:
    SPANS.clear()
    stored, _ = _stored_context()
    with publishing(_message(stored), stored, "orders") as sent:
        pass
    (producer,) = _finished(SpanKind.PRODUCER)
    # Under the host (PYTHON_ENABLE_OPENTELEMETRY) the invocation's span is the current one.
    with (
        _tracer.start_as_current_span("host invocation") as host,
        consuming(sent.message_id, 2, sent.application_properties, "orders"),
    ):
        pass
    (consumer,) = _finished(SpanKind.CONSUMER)
    assert consumer.parent.span_id == producer.context.span_id
    assert [link.context.span_id for link in consumer.links] == [host.get_span_context().span_id]
    assert consumer.attributes["messaging.servicebus.message.delivery_count"] == 2


def test_a_message_without_context_starts_a_new_trace() -> None:
    """Mutation: a bus (or relay) that drops the properties breaks the chain, which is what the
    end-to-end test (tests/ui/test_trace_chain.py) would catch."""
    SPANS.clear()
    _, checkout = _stored_context()
    with consuming("e-1", 1, {}, "orders"):
        pass
    (consumer,) = _finished(SpanKind.CONSUMER)
    assert consumer.parent is None
    assert consumer.context.trace_id != checkout.trace_id


def test_poison_and_failures_are_outcomes_on_the_span() -> None:
    SPANS.clear()
    with pytest.raises(PoisonMessage), consuming("e-1", 1, {}, "orders"):
        raise PoisonMessage("UnsupportedVersion", "version 2 is not 1")
    with pytest.raises(TimeoutError), consuming("e-2", 1, {}, "orders"):
        raise TimeoutError("Cosmos is slow")
    poison, failed = _finished(SpanKind.CONSUMER)
    assert poison.attributes["tinyshop.outcome"] == "poison"
    assert poison.attributes["tinyshop.poison.reason"] == "UnsupportedVersion"
    assert failed.attributes["tinyshop.outcome"] == "failed"
    assert poison.status.status_code == failed.status.status_code == StatusCode.ERROR


def test_a_failed_publish_marks_the_send_span() -> None:
    SPANS.clear()
    stored, _ = _stored_context()
    with pytest.raises(PublishError), publishing(_message(stored), stored, "orders"):
        raise PublishError("the bus is down")
    (producer,) = _finished(SpanKind.PRODUCER)
    assert producer.status.status_code == StatusCode.ERROR
