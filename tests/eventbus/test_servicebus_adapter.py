"""The Service Bus adapter: the message mapping of the event contract (docs/architecture.md,
"Event contract"), and a contract suite that runs against a real namespace or the Service Bus
emulator when a connection string is given."""

import json
import os
import uuid

import pytest
from azure.servicebus import ServiceBusClient, ServiceBusReceiveMode

from functions.shared.eventbus.servicebus import (
    ServiceBusPublisher,
    client_from_settings,
    to_servicebus_message,
)
from functions.shared.eventbus.settings import EventBusSettings
from functions.shared.events import OutgoingMessage

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def order_placed_message() -> OutgoingMessage:
    event_id = str(uuid.uuid4())
    return OutgoingMessage.for_event(
        event_id,
        "OrderPlaced",
        {"version": 1, "eventId": event_id, "total": "1.00"},
        {"traceparent": TRACEPARENT},
    )


def test_the_event_id_subject_content_type_and_trace_context_are_mapped():
    message = order_placed_message()

    mapped = to_servicebus_message(message)

    assert mapped.message_id == message.message_id
    assert mapped.subject == "OrderPlaced"
    assert mapped.content_type == "application/json"
    assert mapped.application_properties == {"traceparent": TRACEPARENT}
    assert json.loads(b"".join(mapped.body)) == json.loads(message.body)


def test_settings_use_the_functions_connection_names(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("EVENT_BUS", "servicebus")
    monkeypatch.setenv("ServiceBusConnection__fullyQualifiedNamespace", "sb.example.net")
    settings = EventBusSettings()
    assert settings.servicebus_namespace == "sb.example.net"
    assert settings.event_bus_queue == "orders"


def test_servicebus_without_a_namespace_or_connection_string_is_refused():
    with pytest.raises(ValueError, match="ServiceBusConnection"):
        client_from_settings(EventBusSettings(event_bus="servicebus"))


CONNECTION = os.getenv("TINYSHOP_TEST_SERVICEBUS_CONNECTION")
contract = pytest.mark.skipif(
    not CONNECTION,
    reason="needs a real Service Bus or the emulator: set TINYSHOP_TEST_SERVICEBUS_CONNECTION "
    "to a connection string whose queue `orders` has duplicate detection on",
)


@contract
def test_contract_a_published_message_arrives_with_its_properties():
    assert CONNECTION is not None
    settings = EventBusSettings(event_bus="servicebus", ServiceBusConnection=CONNECTION)
    publisher = ServiceBusPublisher(client_from_settings(settings), settings.event_bus_queue)
    sent = order_placed_message()
    publisher.publish(sent)
    publisher.publish(sent)  # duplicate detection drops the second copy
    publisher.close()

    with (
        ServiceBusClient.from_connection_string(CONNECTION) as client,
        client.get_queue_receiver(
            "orders", receive_mode=ServiceBusReceiveMode.PEEK_LOCK, max_wait_time=5
        ) as receiver,
    ):
        received = [m for m in receiver.receive_messages(max_message_count=10, max_wait_time=5)]
        ours = [m for m in received if m.message_id == sent.message_id]
        for m in received:
            receiver.complete_message(m)

    assert len(ours) == 1
    [message] = ours
    assert message.subject == "OrderPlaced"
    assert message.content_type == "application/json"
    assert message.application_properties[b"traceparent"].decode() == TRACEPARENT
    assert json.loads(b"".join(message.body)) == json.loads(sent.body)


@contract
def test_contract_dead_letters_are_listed_replayed_and_purged():
    assert CONNECTION is not None
    from functions.shared.eventbus.dead_letters import ServiceBusDeadLetters, replay_message_id

    replayed, purged = order_placed_message(), order_placed_message()
    with ServiceBusClient.from_connection_string(CONNECTION) as client:
        with client.get_queue_sender("orders") as sender:
            sender.send_messages([to_servicebus_message(replayed), to_servicebus_message(purged)])
        with client.get_queue_receiver("orders", max_wait_time=5) as receiver:
            for message in receiver.receive_messages(max_message_count=10, max_wait_time=5):
                if message.message_id in (replayed.message_id, purged.message_id):
                    receiver.dead_letter_message(message, reason="ContractTest")
                else:
                    receiver.abandon_message(message)

        dead_letters = ServiceBusDeadLetters(client, "orders")
        ours = {
            r.message_id: r
            for r in dead_letters.list(limit=100)
            if r.message_id in (replayed.message_id, purged.message_id)
        }
        assert {r.reason for r in ours.values()} == {"ContractTest"}
        shown = dead_letters.show(ours[replayed.message_id].sequence_number)
        assert shown is not None
        assert json.loads(shown.body) == json.loads(replayed.body)

        assert dead_letters.replay([ours[replayed.message_id].sequence_number]) == 1
        assert dead_letters.purge([ours[purged.message_id].sequence_number]) == 1
        left = {r.message_id for r in dead_letters.list(limit=100)}
        assert not left & {replayed.message_id, purged.message_id}

        with client.get_queue_receiver("orders", max_wait_time=5) as receiver:
            back = receiver.receive_messages(max_message_count=10, max_wait_time=5)
            copy = replay_message_id(replayed.message_id, ours[replayed.message_id].sequence_number)
            assert copy in {m.message_id for m in back}
            for message in back:
                receiver.complete_message(message)
