"""worker's Azure Function: the Service Bus queue trigger of the `worker` Deployment, which
KEDA scales 0..N on the queue's length.

`connection="ServiceBusConnection"` resolves, identity-based, to the setting
`ServiceBusConnection__fullyQualifiedNamespace` (workload identity; the Service Bus Data
Receiver role), or to a connection string in `ServiceBusConnection`. The queue name comes from
the `EVENT_BUS_QUEUE` app setting, the one orders publishes to.

How the host treats messages (host.json `extensions.serviceBus`), and why no valid event is
lost to a bad neighbour:
- each message is its own invocation (single cardinality); up to `maxConcurrentCalls` (8) run
  at once per replica, and `prefetchCount: 0` means the host locks only messages it is about to
  run, so no delivery is counted for a message that was never attempted;
- `autoCompleteMessages`: the host completes a message when the function returns and abandons
  it when it raises — that message only; the others it holds are unaffected;
- while a message runs the host renews its lock (`maxAutoLockRenewalDuration` 5 min, within
  `functionTimeout` 5 min);
- a Cosmos outage is retried inside the function (retry_policy.py, shared with the local
  consumer) for up to 90 s, then raises: that delivery is counted. With the queue's max delivery
  count of 10 (Terraform `max_delivery_count`), an outage of about 15 minutes is ridden out;
  beyond that, valid events reach the dead-letter queue as `MaxDeliveryCountExceeded`. The
  operator's remedy once Cosmos is back: re-publish the affected orders from the source of
  truth (`python -m functions.orders republish --since <time>`; the worker is idempotent) or
  resubmit the dead letters (docs/architecture.md, "Event bus adapters");
- a poison message also raises — the Python trigger cannot dead-letter explicitly without the
  preview settlement bindings — so Service Bus dead-letters it after the max delivery count
  (reason `MaxDeliveryCountExceeded`), and every attempt logs the validation reason. It is
  never retried in the function, so it costs its neighbours nothing. The local consumer
  dead-letters it at once;
- any other exception (a bug) is not retried in the function either: the delivery is abandoned
  and the message redelivered until the max delivery count.
"""

import logging

import azure.functions as func

from functions.shared.eventbus.tracing import consuming
from functions.shared.events import PoisonMessage
from functions.shared.observability import setup
from functions.shared.timeline_store import CosmosSettings, CosmosTimelineStore
from functions.worker.handler import handle
from functions.worker.retry_policy import RetryPolicy

bp = func.Blueprint()
_log = logging.getLogger("tinyshop.worker")
_store: CosmosTimelineStore | None = None


def _timeline_store() -> CosmosTimelineStore:
    global _store
    if _store is None:  # created on first message, never at import (every pod imports this)
        _store = CosmosTimelineStore(CosmosSettings())
    return _store


_retry = RetryPolicy()


@bp.function_name("worker_order_placed")
@bp.service_bus_queue_trigger(
    arg_name="message", queue_name="%EVENT_BUS_QUEUE%", connection="ServiceBusConnection"
)
def order_placed(message: func.ServiceBusMessage) -> None:
    setup("worker")
    try:
        with consuming(message.message_id, message.delivery_count, message.application_properties):
            _retry.retrying()(handle, message.subject, message.get_body(), _timeline_store())
    except PoisonMessage as exc:
        _log.error(
            "poison message %s (delivery %s): %s",
            message.message_id,
            message.delivery_count,
            exc,
            extra={"dead_letter_reason": exc.reason},
        )
        raise
