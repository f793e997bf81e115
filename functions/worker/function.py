"""worker's Azure Function: the Service Bus queue trigger of the `worker` Deployment, which
KEDA scales 0..N on the queue's length.

`connection="ServiceBusConnection"` resolves, identity-based, to the setting
`ServiceBusConnection__fullyQualifiedNamespace` (workload identity; the Service Bus Data
Receiver role), or to a connection string in `ServiceBusConnection`. Messages are completed when
the function returns and abandoned when it raises (host.json: autoCompleteMessages). Cosmos
outages are retried in the function (retry_policy.py, shared with the local consumer), then
raise, so the message is redelivered later. The queue name comes from the `EVENT_BUS_QUEUE`
app setting, the one orders publishes to. A poison message also raises — the Python trigger
cannot dead-letter explicitly without the preview settlement bindings — so Service Bus
dead-letters it after the queue's max delivery count (reason `MaxDeliveryCountExceeded`), and
every attempt logs the validation reason. The local consumer dead-letters it at once.
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
