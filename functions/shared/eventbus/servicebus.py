"""EventPublisher onto Azure Service Bus (`azure-servicebus`).

Authenticates with `DefaultAzureCredential` (workload identity in AKS) when a fully qualified
namespace is configured, else with a connection string (the emulator, or a developer's own
namespace). One sender is kept open and recreated after a failure.
"""

import contextlib
import threading

from azure.core.exceptions import AzureError
from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusSender
from azure.servicebus.exceptions import ServiceBusError

from functions.shared.eventbus.publisher import PublishError
from functions.shared.eventbus.settings import EventBusSettings
from functions.shared.events import OutgoingMessage


def to_servicebus_message(message: OutgoingMessage) -> ServiceBusMessage:
    """The contract's message on the wire (docs/architecture.md, "Event contract"): message_id
    = eventId (duplicate detection), subject = event type, content type JSON, W3C trace context
    (traceparent/tracestate) as application properties."""
    return ServiceBusMessage(
        message.body,
        message_id=message.message_id,
        subject=message.subject,
        content_type=message.content_type,
        application_properties=dict(message.application_properties),
    )


# Fail fast: a publish that cannot get through is retried by the outbox sweep, not here.
_CLIENT_RETRIES = {"retry_total": 2, "retry_backoff_factor": 0.5, "retry_backoff_max": 5}
SEND_TIMEOUT_SECONDS = 10


def client_from_settings(settings: EventBusSettings) -> ServiceBusClient:
    if settings.servicebus_namespace:
        from azure.identity import DefaultAzureCredential

        return ServiceBusClient(
            settings.servicebus_namespace, DefaultAzureCredential(), **_CLIENT_RETRIES
        )
    if settings.servicebus_connection_string:
        return ServiceBusClient.from_connection_string(
            settings.servicebus_connection_string, **_CLIENT_RETRIES
        )
    raise ValueError(
        "EVENT_BUS=servicebus needs ServiceBusConnection__fullyQualifiedNamespace "
        "(workload identity) or ServiceBusConnection (a connection string)"
    )


class ServiceBusPublisher:
    def __init__(self, client: ServiceBusClient, queue: str) -> None:
        self._client = client
        self._queue = queue
        self._sender: ServiceBusSender | None = None
        self._lock = threading.Lock()

    def publish(self, message: OutgoingMessage) -> None:
        with self._lock:
            try:
                if self._sender is None:
                    self._sender = self._client.get_queue_sender(self._queue)
                # Without a timeout the SDK waits forever on an endpoint that never answers.
                self._sender.send_messages(
                    to_servicebus_message(message), timeout=SEND_TIMEOUT_SECONDS
                )
            except (ServiceBusError, AzureError) as exc:
                self._close_sender()
                raise PublishError(f"Service Bus send failed: {exc}") from exc

    def _close_sender(self) -> None:
        if self._sender is not None:
            with contextlib.suppress(ServiceBusError, AzureError):
                self._sender.close()
            self._sender = None

    def close(self) -> None:
        with self._lock:
            self._close_sender()
            self._client.close()
