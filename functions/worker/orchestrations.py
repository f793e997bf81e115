"""What the worker asks of the durable client (the Functions host's Durable Task extension, task
hub in Azure SQL): start an order's fulfilment once, show its status, purge old history.

Starting: the instance id is the order id. Durable's default (`overridableExistingInstanceStates`
= `NonRunningStates`, the value host.json keeps) REPLACES an instance that is Completed, Failed
or Terminated and refuses one that is Pending or Running. A redelivered `OrderPlaced` must not
restart a finished fulfilment, so the status is checked first:
- none: start it;
- Pending, Running, ContinuedAsNew, Suspended: already under way: nothing to do;
- Completed: done: nothing to do (a redelivery changes nothing);
- Failed, Terminated: started again, deliberately: this is how an operator retries a failed
  fulfilment once its cause is fixed (`python -m functions.orders republish <order-id>` or a
  dead-letter replay) and the activities' deterministic ids make the rerun write nothing twice.
Two deliveries racing past the check: the second start is refused while the first is Pending or
Running (the host answers an error), and the status read again shows it started: not an error.
In the narrow window where the first already Completed, the second restarts it: the activities
are idempotent, so that rerun changes nothing either.
(OverridableStates: https://learn.microsoft.com/dotnet/api/microsoft.azure.webjobs.extensions.durabletask.overridablestates)
"""

import logging
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus

from functions.worker.fulfilment import ORCHESTRATOR

Status = df.OrchestrationRuntimeStatus
_log = logging.getLogger("tinyshop.worker")

UNDER_WAY = frozenset({Status.Pending, Status.Running, Status.ContinuedAsNew, Status.Suspended})
RESTARTABLE = frozenset({Status.Failed, Status.Terminated})
TERMINAL = frozenset({Status.Completed, Status.Failed, Status.Terminated})


async def _status(client: df.DurableOrchestrationClient, order_id: str) -> Status | None:
    found = await client.get_status(order_id)
    return found.runtime_status if found and found.instance_id else None


async def start_fulfilment(client: df.DurableOrchestrationClient, order: dict[str, Any]) -> str:
    """Start the order's fulfilment unless it is under way or done; what was decided."""
    order_id = order["orderId"]
    status = await _status(client, order_id)
    if status in UNDER_WAY or status == Status.Completed:
        _log.info("fulfilment of order %s is already %s", order_id, status.value)
        return "already " + status.value
    try:
        await client.start_new(ORCHESTRATOR, order_id, order)
    except Exception:
        again = await _status(client, order_id)
        if again in UNDER_WAY or again == Status.Completed:  # a parallel delivery started it
            _log.info("fulfilment of order %s was started by another delivery", order_id)
            return "already " + again.value
        raise
    _log.info("fulfilment of order %s started", order_id)
    return "restarted" if status in RESTARTABLE else "started"


def status_view(status: DurableOrchestrationStatus) -> dict[str, Any]:
    """What an operator needs of one instance; a failure's reason is its output."""
    runtime = status.runtime_status
    view: dict[str, Any] = {
        "orderId": status.instance_id,
        "name": status.name,
        "runtimeStatus": runtime.value if runtime else None,
        "createdTime": status.created_time.isoformat() if status.created_time else None,
        "lastUpdatedTime": (
            status.last_updated_time.isoformat() if status.last_updated_time else None
        ),
    }
    if runtime == Status.Failed:
        view["failureReason"] = status.output
    elif runtime == Status.Completed:
        view["output"] = status.output
    return view


async def order_status(client: df.DurableOrchestrationClient, order_id: str) -> dict | None:
    """The order's fulfilment status, or None when there is no such instance."""
    found = await client.get_status(order_id)
    if not found or not found.instance_id:
        return None
    return status_view(found)


async def purge_history(
    client: df.DurableOrchestrationClient, created_before: datetime, statuses: list[Status]
) -> int:
    """Delete the history of finished instances created before `created_before`."""
    if not statuses or not set(statuses) <= TERMINAL:
        raise ValueError("only Completed, Failed or Terminated instances can be purged")
    if created_before.tzinfo is None or created_before > datetime.now(UTC):
        raise ValueError("createdBefore must be a time in the past, with its UTC offset")
    result = await client.purge_instance_history_by(
        created_time_from=datetime(2000, 1, 1, tzinfo=UTC),  # the SDK requires a lower bound
        created_time_to=created_before,
        runtime_status=statuses,
    )
    return result.instances_deleted
