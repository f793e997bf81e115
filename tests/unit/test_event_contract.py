"""The event contract: what a valid `OrderPlaced` message is, why anything else is poison, and
how an event becomes a bus message."""

import copy
import json

import pytest

from functions.shared.events import OrderPlaced, OutgoingMessage, PoisonMessage, parse_order_placed
from tests.unit.builders import body, order_placed_payload

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.mark.parametrize("subject", ["OrderPlaced", None, ""])
def test_a_version_1_order_placed_body_is_accepted(subject: str | None):
    payload = order_placed_payload()

    event = parse_order_placed(subject, body(payload))

    assert isinstance(event, OrderPlaced)
    assert str(event.order_id) == payload["orderId"]
    assert event.to_json_dict()["total"] == "39.30"


@pytest.mark.parametrize(
    ("subject", "raw", "reason"),
    [
        ("OrderShipped", body(order_placed_payload()), "UnknownEventType"),
        ("OrderPlaced", b"not json", "MalformedBody"),
        ("OrderPlaced", b"\xff\xfe", "MalformedBody"),
        ("OrderPlaced", b"[1, 2]", "MalformedBody"),
        ("OrderPlaced", body(order_placed_payload(version=2)), "UnsupportedVersion"),
        ("OrderPlaced", body(order_placed_payload(version="1")), "UnsupportedVersion"),
        ("OrderPlaced", body({"eventId": "x"}), "UnsupportedVersion"),
        ("OrderPlaced", body(order_placed_payload(currency="eur")), "InvalidEvent"),
        ("OrderPlaced", body(order_placed_payload(items=[])), "InvalidEvent"),
        (
            "OrderPlaced",
            body(order_placed_payload(occurredAt="2026-01-01T00:00:00")),
            "InvalidEvent",
        ),
        ("OrderPlaced", body(order_placed_payload(version=True)), "UnsupportedVersion"),
        ("OrderPlaced", body(order_placed_payload(version=1.0)), "UnsupportedVersion"),
    ],
    ids=[
        "other-subject",
        "not-json",
        "not-utf8",
        "not-an-object",
        "version-2",
        "version-as-string",
        "no-version",
        "lowercase-currency",
        "no-items",
        "naive-timestamp",
        "version-as-boolean",
        "version-as-float",
    ],
)
def test_anything_else_is_poison_with_its_reason(subject: str, raw: bytes, reason: str):
    with pytest.raises(PoisonMessage) as caught:
        parse_order_placed(subject, raw)
    assert caught.value.reason == reason
    assert caught.value.description


def test_a_field_the_consumer_does_not_know_is_ignored_not_poison():
    """A producer may add a field without a new version; the worker it reaches first reads the
    fields it knows (docs/architecture.md, "Event contract")."""
    known = order_placed_payload()
    extended = copy.deepcopy(known) | {"giftWrap": True}
    extended["items"][0]["engraving"] = "for A."

    event = parse_order_placed("OrderPlaced", body(extended))

    assert event == parse_order_placed("OrderPlaced", body(known))
    assert "giftWrap" not in event.to_json_dict()  # nor passed on
    assert "engraving" not in event.to_json_dict()["items"][0]


def test_a_poison_description_is_bounded_for_the_dead_letter_queue():
    assert len(PoisonMessage("InvalidEvent", "x" * 5000).description) == 1000


def test_the_event_id_is_the_message_id_and_the_type_its_subject():
    message = OutgoingMessage.for_event(
        "e-1", "OrderPlaced", {"version": 1, "total": "1.00"}, {"traceparent": TRACEPARENT}
    )

    assert message.message_id == "e-1"
    assert message.subject == "OrderPlaced"
    assert message.content_type == "application/json"
    assert json.loads(message.body) == {"version": 1, "total": "1.00"}
    assert message.body == b'{"version":1,"total":"1.00"}'  # compact JSON
    assert message.application_properties == {"traceparent": TRACEPARENT}


def test_the_message_keeps_its_own_copy_of_the_trace_context():
    trace_context = {"traceparent": TRACEPARENT}
    message = OutgoingMessage.for_event("e-1", "OrderPlaced", {}, trace_context)
    trace_context["traceparent"] = "changed"
    assert message.application_properties == {"traceparent": TRACEPARENT}


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,  # json.loads raises RecursionError, not ValueError
        b'{"version": 1, "items": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ],
    ids=["nested-array", "nested-in-object"],
)
def test_any_failure_to_parse_a_body_is_poison_not_a_crash(raw: bytes):
    with pytest.raises(PoisonMessage) as caught:
        parse_order_placed("OrderPlaced", raw)
    assert caught.value.reason == "MalformedBody"
