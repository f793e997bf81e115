"""The order timeline store: Cosmos DB for NoSQL (docs/architecture.md, "Data ownership"); the
worker writes it, orders reads it.

Database `tinyshop`, container `order-events`, partition key `/orderId`. Each document's id is
`{orderId}:{eventType}`, so writing an event twice is a conflict, not a duplicate: a redelivered
message changes nothing. Every query stays within one order's partition. Locally (the Cosmos
stand-in) the database and container are created on start-up; in Azure Terraform owns them and
the apps' identities have data-plane roles only.
"""

import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from azure.core.pipeline.transport import RequestsTransport
from azure.cosmos import CosmosClient, PartitionKey
from azure.cosmos.container import ContainerProxy
from azure.cosmos.exceptions import (
    CosmosBatchOperationError,
    CosmosHttpResponseError,
    CosmosResourceExistsError,
)
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from functions.shared import metrics

TRANSIENT_STATUS = {408, 410, 429, 449, 500, 502, 503, 504}


class CosmosSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COSMOS_", extra="ignore", frozen=True)

    endpoint: str | None = Field(
        default=None, description="Account endpoint; unset means no timeline (orders) ."
    )
    key: str | None = Field(
        default=None, description="Account key (the local stand-in); unset: DefaultAzureCredential."
    )
    database: str = "tinyshop"
    container: str = "order-events"
    create_if_missing: bool = Field(
        default=False, description="Create database and container (local only; Terraform in Azure)."
    )
    timeout: float = Field(default=5, gt=0, le=60, description="Seconds per Cosmos request.")
    batch_writes: bool = Field(
        default=True,
        description="Write several events of an order in one transactional batch (add_all); "
        "off: one create per event.",
    )
    retry_total: int = Field(default=3, ge=0, le=10)


class TimelineStoreUnavailable(Exception):
    """The store is unreachable, throttling or failing: the operation may succeed later."""


class NewEvent(NamedTuple):
    """One event to write (`TimelineStore.add_all`)."""

    type: str
    occurred_at: datetime
    data: dict[str, Any]


class TimelineStore(Protocol):
    """The worker's port onto the timeline (Cosmos here; an in-memory fake in tests/unit)."""

    def add(
        self, order_id: str, event_type: str, occurred_at: datetime, data: dict[str, Any]
    ) -> bool:
        """Write the event once; False when it was already there (a redelivery). Raises
        `TimelineStoreUnavailable` when the store cannot be written right now."""
        ...

    def add_all(self, order_id: str, events: Sequence[NewEvent]) -> list[bool]:
        """Write the order's events in order, each once, in one request when none is there
        yet (all or nothing); if one is already there, each is written on its own, in order,
        as `add` does. Whether each was written by this call."""
        ...

    def events(self, order_id: str) -> list[dict[str, Any]]:
        """The order's events (`type`, `occurredAt`, `data`), oldest first."""
        ...


# What `requests` looks up in the environment on EVERY request when its session trusts it
# (requests.Session.merge_environment_settings: proxies, NO_PROXY, CA bundles; and ~/.netrc):
# a scan of os.environ per Cosmos request, ~10% of the SDK's CPU per request here, more in a pod
# whose environment carries a Service link per Service. azure-core's `use_env_settings=False`
# turns it off (session.trust_env), so it is off only when none of them is set: then the
# lookup can only find nothing. (RequestsTransport: azure-core, pipeline/transport/
# _requests_basic.py, https://learn.microsoft.com/python/api/azure-core/azure.core.pipeline.transport.requeststransport)
_ENVIRONMENT_SETTINGS = (
    "http_proxy", "https_proxy", "all_proxy", "no_proxy", "requests_ca_bundle", "curl_ca_bundle"
)  # fmt: skip


def _reads_environment(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the HTTP client must keep reading proxy and CA settings from the environment."""
    return any(name.lower() in _ENVIRONMENT_SETTINGS for name in environ)


def _transient(exc: Exception) -> bool:
    if isinstance(exc, (ServiceRequestError, ServiceResponseError, TimeoutError)):
        return True
    return isinstance(exc, CosmosHttpResponseError) and exc.status_code in TRANSIENT_STATUS


def document_id(order_id: str, event_type: str) -> str:
    return f"{order_id}:{event_type}"


def occurred_at_text(occurred_at: datetime) -> str:
    """An event's time as stored: ISO 8601 in UTC, whatever offset it came with (a time read
    from Postgres comes in the session's time zone), so a timeline reads in one zone."""
    return occurred_at.astimezone(UTC).isoformat()


def by_time(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Oldest first, by instant: documents written before times were kept in UTC may carry
    other offsets, which text order would put out of order."""
    return sorted(events, key=lambda e: datetime.fromisoformat(e["occurredAt"]))


def _document(order_id: str, event_type: str, occurred_at: datetime, data: dict) -> dict:
    return {
        "id": document_id(order_id, event_type),
        "orderId": order_id,
        "type": event_type,
        "occurredAt": occurred_at_text(occurred_at),
        "data": data,
    }


class CosmosTimelineStore:
    def __init__(self, settings: CosmosSettings) -> None:
        if not settings.endpoint:
            raise ValueError("COSMOS_ENDPOINT is not set")
        self.settings = settings
        self._container: ContainerProxy | None = None

    def _client(self) -> CosmosClient:
        s = self.settings
        options: dict[str, Any] = {
            "connection_timeout": s.timeout,
            "read_timeout": s.timeout,  # the SDK's default read timeout is 65 s
            "retry_total": s.retry_total,
            # 0 is read as "default" (9 throttle retries, 30 s) by the SDK: 1 is the minimum.
            "retry_throttle_total": max(s.retry_total, 1),
            "retry_throttle_backoff_max": s.timeout,
            # Request units and 429s of every response, retries included (metrics.py).
            "raw_response_hook": metrics.cosmos_response,
            # Writes answer without the document (`Prefer: return=minimal`; nothing here reads
            # it back): less to send and parse per write. CosmosClient `no_response_on_write`,
            # https://learn.microsoft.com/python/api/azure-cosmos/azure.cosmos.cosmosclient
            # (the local stand-in ignores the header and answers with the document anyway).
            "no_response_on_write": True,
        }
        if s.endpoint.startswith("http://"):  # the local stand-in: no TLS, no region discovery
            options["enable_endpoint_discovery"] = False
        if not _reads_environment():
            options["transport"] = RequestsTransport(use_env_settings=False)
        if s.key:
            return CosmosClient(s.endpoint, credential=s.key, **options)
        from azure.identity import DefaultAzureCredential

        return CosmosClient(s.endpoint, credential=DefaultAzureCredential(), **options)

    @property
    def container(self) -> ContainerProxy:
        if self._container is None:
            try:
                client = self._client()
                if self.settings.create_if_missing:
                    database = client.create_database_if_not_exists(self.settings.database)
                    self._container = database.create_container_if_not_exists(
                        self.settings.container, partition_key=PartitionKey(path="/orderId")
                    )
                else:
                    self._container = client.get_database_client(
                        self.settings.database
                    ).get_container_client(self.settings.container)
            except Exception as exc:
                if _transient(exc):
                    raise TimelineStoreUnavailable(str(exc)) from exc
                raise
        return self._container

    @property
    def _deadline(self) -> float:
        """Absolute seconds one operation may take, retries included."""
        return self.settings.timeout * (self.settings.retry_total + 1)

    def add(
        self, order_id: str, event_type: str, occurred_at: datetime, data: dict[str, Any]
    ) -> bool:
        """Write the event once; False when it was already there (a redelivery)."""
        document = _document(order_id, event_type, occurred_at, data)
        try:
            self.container.create_item(document, timeout=self._deadline)
            return True
        except CosmosResourceExistsError:
            return False
        except Exception as exc:
            if _transient(exc):
                raise TimelineStoreUnavailable(str(exc)) from exc
            raise

    def add_all(self, order_id: str, events: Sequence[NewEvent]) -> list[bool]:
        """Write the events in one transactional batch of creates (one request: the worker's
        first step records `OrderPlaced` and claims the e-mail together, fulfilment.py). Cosmos
        runs a batch all or nothing, and a create of an existing id fails it with 409 (the
        other operations 424): https://learn.microsoft.com/azure/cosmos-db/nosql/transactional-batch
        (Python: `ContainerProxy.execute_item_batch`, `CosmosBatchOperationError`). Then one
        of them is already there (a redelivery, a retry): each is written on its own, in order,
        so the result says which this call wrote, as `add` would. With `batch_writes` off, that
        is all it does (one request per event)."""
        if not self.settings.batch_writes:
            return [self.add(order_id, *event) for event in events]
        operations = [("create", (_document(order_id, *event),)) for event in events]
        try:
            self.container.execute_item_batch(
                operations, partition_key=order_id, timeout=self._deadline
            )
            return [True] * len(operations)
        except CosmosBatchOperationError as exc:  # an operation failed: which one says why
            if exc.status_code in TRANSIENT_STATUS:
                raise TimelineStoreUnavailable(str(exc)) from exc
            if exc.status_code != 409:
                raise
        except Exception as exc:
            if _transient(exc):
                raise TimelineStoreUnavailable(str(exc)) from exc
            raise
        return [self.add(order_id, *event) for event in events]

    def events(self, order_id: str) -> list[dict[str, Any]]:
        """The order's events, oldest first (one partition, never a cross-partition query)."""
        try:
            items = self.container.query_items(
                "SELECT c.type, c.occurredAt, c.data FROM c WHERE c.orderId = @orderId",
                parameters=[{"name": "@orderId", "value": order_id}],
                partition_key=order_id,
                timeout=self._deadline,
            )
            events = list(items)
        except Exception as exc:
            if _transient(exc):
                raise TimelineStoreUnavailable(str(exc)) from exc
            raise
        return by_time(events)
