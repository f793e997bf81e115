"""azure-cosmos clients (sync and aio) for a running Cosmos stand-in (dev/cosmos)."""

from typing import Any

from azure.cosmos import CosmosClient
from azure.cosmos.aio import CosmosClient as AsyncCosmosClient

from dev.cosmos.launcher import LocalCosmos


def sync_client(cosmos: LocalCosmos, **options: Any) -> CosmosClient:
    """A `CosmosClient` for `cosmos` with the SDK's defaults (`options` override them)."""
    return CosmosClient(cosmos.endpoint, credential=cosmos.key, **options)


def async_client(cosmos: LocalCosmos, **options: Any) -> AsyncCosmosClient:
    """An `azure.cosmos.aio.CosmosClient` for `cosmos` (use it with `async with`)."""
    return AsyncCosmosClient(cosmos.endpoint, credential=cosmos.key, **options)
