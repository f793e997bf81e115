"""The event contract between orders (producer) and worker (consumer), in one place: the
`OrderPlaced` payload, its version rules and validation, and its mapping to and from a bus
message. See docs/architecture.md, "Event contract".

Version rules: a consumer accepts exactly the versions it knows (today: 1). Any other version,
subject or shape is a `PoisonMessage` — dead-lettered with its reason instead of guessed at — so
a producer change can never be half-understood. A field the consumer does not know is ignored:
adding one does not change the version (docs/architecture.md, "Event contract"), so orders can
be deployed with it before the worker that reads it, without a message of the rollout poisoned.
"""

import json
from dataclasses import dataclass, field
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from functions.shared.identifiers import ProductId
from functions.shared.money import Money

ORDER_PLACED = "OrderPlaced"
SUPPORTED_VERSION = 1
CONTENT_TYPE = "application/json"


class _Event(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore"
    )


class OrderPlacedItem(_Event):
    product_id: ProductId
    name: str = Field(min_length=1)
    unit_price: Money
    quantity: int = Field(ge=1, le=99)


class OrderPlaced(_Event):
    version: Literal[1] = SUPPORTED_VERSION
    event_id: UUID
    occurred_at: AwareDatetime
    order_id: UUID
    user_id: str = Field(min_length=1)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    total: Money
    items: list[OrderPlacedItem] = Field(min_length=1)

    def to_json_dict(self) -> dict:
        """The payload as stored in the outbox and sent on the bus (camelCase JSON)."""
        return self.model_dump(mode="json", by_alias=True)


@dataclass(frozen=True)
class OutgoingMessage:
    """A bus message as the contract fixes it: the event id is the message id (the queue's
    duplicate detection), the event type the subject, W3C trace context in application
    properties. Each bus adapter maps it to its own SDK's message type."""

    message_id: str
    subject: str
    body: bytes
    content_type: str = CONTENT_TYPE
    application_properties: dict[str, str] = field(default_factory=dict)

    @classmethod
    def for_event(
        cls, event_id: str, event_type: str, payload: dict, trace_context: dict[str, str]
    ) -> "OutgoingMessage":
        """The message of one outbox row (its payload is already the event's JSON dict)."""
        return cls(
            message_id=event_id,
            subject=event_type,
            body=json.dumps(payload, separators=(",", ":")).encode(),
            application_properties=dict(trace_context),
        )


class PoisonMessage(Exception):
    """A message that can never be processed; `reason` is the dead-letter reason."""

    def __init__(self, reason: str, description: str) -> None:
        super().__init__(f"{reason}: {description}")
        self.reason = reason
        self.description = description[:1000]


def parse_order_placed(subject: str | None, body: bytes | str) -> OrderPlaced:
    """The `OrderPlaced` event in a received message, or `PoisonMessage` saying why not.

    Every failure to read a body is poison, whatever its exception (a deeply nested body makes
    `json.loads` raise `RecursionError`, not `ValueError`): the same bytes fail the same way on
    every delivery, so retrying them only delays the messages behind them."""
    try:
        return _parse(subject, body)
    except PoisonMessage:
        raise
    except Exception as exc:
        raise PoisonMessage("MalformedBody", f"{type(exc).__name__}: {exc}") from exc


def _parse(subject: str | None, body: bytes | str) -> OrderPlaced:
    if subject not in (None, "", ORDER_PLACED):
        raise PoisonMessage("UnknownEventType", f"subject {subject!r} is not {ORDER_PLACED}")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PoisonMessage("MalformedBody", f"not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise PoisonMessage("MalformedBody", "the body is not a JSON object")
    version = payload.get("version")
    if type(version) is not int or version != SUPPORTED_VERSION:  # not true, not 1.0
        raise PoisonMessage(
            "UnsupportedVersion", f"version {payload.get('version')!r} is not {SUPPORTED_VERSION}"
        )
    try:
        return OrderPlaced.model_validate(payload)
    except ValidationError as exc:
        raise PoisonMessage("InvalidEvent", str(exc)) from exc
