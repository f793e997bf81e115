"""The port every bus adapter implements; what goes on the bus is the event contract's
`OutgoingMessage` (functions/shared/events.py)."""

from typing import Protocol

from functions.shared.events import OutgoingMessage


class PublishError(Exception):
    """The bus did not take the message; the outbox keeps it and tries again later."""


class EventPublisher(Protocol):
    def publish(self, message: OutgoingMessage) -> None:
        """Hand `message` to the bus, or raise PublishError. Publishing the same message id
        twice must be harmless (the bus drops duplicates; the worker is idempotent)."""
        ...

    def close(self) -> None: ...
