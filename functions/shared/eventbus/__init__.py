"""The event bus between orders (publisher) and worker (consumer): DESIGN §4 and §6.

One small interface, `EventPublisher`, with two real adapters chosen by `EVENT_BUS`:
`servicebus` (Azure Service Bus, production) and `local` (a Postgres-backed queue with
peek-lock semantics, for `make dev` and tests). The worker consumes Service Bus through the
Functions trigger in Azure and the local queue through `python -m functions.worker` locally;
both call the same handler.
"""

from functions.shared.eventbus.message import EventPublisher, OutgoingMessage, PublishError

__all__ = ["EventPublisher", "OutgoingMessage", "PublishError"]
