"""What goes on the bus, and the interface every publisher implements."""

import json
from dataclasses import dataclass, field
from typing import Protocol


class PublishError(Exception):
    """The bus did not take the message; the outbox keeps it and tries again later."""


@dataclass(frozen=True)
class OutgoingMessage:
    """A bus message as DESIGN §4 fixes it: the event id is the message id (duplicate
    detection), the event type the subject, W3C trace context in application properties."""

    message_id: str
    subject: str
    body: bytes
    content_type: str = "application/json"
    application_properties: dict[str, str] = field(default_factory=dict)

    @classmethod
    def for_event(
        cls, event_id: str, event_type: str, payload: dict, trace_context: dict[str, str]
    ) -> "OutgoingMessage":
        return cls(
            message_id=event_id,
            subject=event_type,
            body=json.dumps(payload, separators=(",", ":")).encode(),
            application_properties=dict(trace_context),
        )


class EventPublisher(Protocol):
    def publish(self, message: OutgoingMessage) -> None:
        """Hand `message` to the bus, or raise PublishError. Publishing the same message id
        twice must be harmless (the bus drops duplicates; the worker is idempotent)."""
        ...

    def close(self) -> None: ...
