"""Event bus settings. The Service Bus names are the Functions trigger's own connection
settings, so the publisher (orders) and the trigger (worker) are configured alike:
`ServiceBusConnection__fullyQualifiedNamespace` (workload identity) or `ServiceBusConnection`
(a connection string)."""

from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

QUEUE = "orders"


class EventBusSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    event_bus: Literal["local", "servicebus"] = Field(
        default="local", description="Which adapter publishes and (locally) consumes events."
    )
    event_bus_queue: str = QUEUE
    local_bus_database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/bus",
        description="The local queue's own database.",
    )
    local_bus_lock_seconds: float = Field(default=30, gt=0, le=300)
    local_bus_max_delivery_count: int = Field(default=10, ge=1, le=100)
    servicebus_namespace: str | None = Field(
        default=None,
        validation_alias=AliasChoices("ServiceBusConnection__fullyQualifiedNamespace"),
        description="e.g. sbns-tinyshop-dev-xxxxx.servicebus.windows.net (DefaultAzureCredential)",
    )
    servicebus_connection_string: str | None = Field(
        default=None, validation_alias=AliasChoices("ServiceBusConnection")
    )
