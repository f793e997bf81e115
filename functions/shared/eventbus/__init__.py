"""The event bus between orders (publisher) and worker (consumer); see docs/architecture.md,
"Event bus adapters" and "Event contract".

One small port, `EventPublisher`, with two real adapters chosen by `EVENT_BUS`:
`servicebus` (Azure Service Bus, production) and `local` (a Postgres-backed queue with
peek-lock semantics, for `make dev` and tests). The worker consumes Service Bus through the
Functions trigger in Azure and the local queue through `python -m functions.worker` locally;
both call the same handler. The message itself is defined by the event contract
(`functions.shared.events.OutgoingMessage`).
"""

from functions.shared.eventbus.publisher import EventPublisher, PublishError

__all__ = ["EventPublisher", "PublishError"]
