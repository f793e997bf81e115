"""worker's Azure Function: the Service Bus queue trigger of the `worker` Deployment, which
KEDA scales 0..N on the queue's length.

`connection="ServiceBusConnection"` resolves, identity-based, to the setting
`ServiceBusConnection__fullyQualifiedNamespace` (workload identity; the Service Bus Data
Receiver role), or to a connection string in `ServiceBusConnection`. Messages are completed when
the function returns and abandoned when it raises (host.json: autoCompleteMessages). Cosmos
outages are retried in the function with backoff for up to 90 s, then raise, so the message is
redelivered later. The queue name comes from the `EVENT_BUS_QUEUE` app setting, the one orders
publishes to. A poison message also raises — the Python
trigger cannot dead-letter explicitly without the preview settlement bindings — so Service Bus
dead-letters it after the queue's max delivery count (reason `MaxDeliveryCountExceeded`), and
every attempt logs the validation reason. The local consumer dead-letters it at once.
"""

import logging

import azure.functions as func
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential_jitter

from functions.shared.events import PoisonMessage
from functions.shared.timeline_store import (
    CosmosSettings,
    CosmosTimelineStore,
    TimelineStoreUnavailable,
)
from functions.worker.handler import handle

bp = func.Blueprint()
_log = logging.getLogger("tinyshop.worker")
_store: CosmosTimelineStore | None = None


def _timeline_store() -> CosmosTimelineStore:
    global _store
    if _store is None:  # created on first message, never at import (every pod imports this)
        _store = CosmosTimelineStore(CosmosSettings())
    return _store


# Service Bus redelivers an abandoned message at once, so a short Cosmos outage would burn the
# max delivery count in seconds: retry transient failures here first, well inside the host's
# lock renewal (maxAutoLockRenewalDuration 5 min) and functionTimeout (5 min).
_transient_retries = Retrying(
    retry=retry_if_exception_type(TimelineStoreUnavailable),
    wait=wait_exponential_jitter(initial=1, max=20),
    stop=stop_after_delay(90),
    reraise=True,
)


@bp.function_name("worker_order_placed")
@bp.service_bus_queue_trigger(
    arg_name="message", queue_name="%EVENT_BUS_QUEUE%", connection="ServiceBusConnection"
)
def order_placed(message: func.ServiceBusMessage) -> None:
    try:
        _transient_retries(handle, message.subject, message.get_body(), _timeline_store())
    except PoisonMessage as exc:
        _log.error(
            "poison message %s (delivery %s): %s",
            message.message_id,
            message.delivery_count,
            exc,
            extra={"dead_letter_reason": exc.reason},
        )
        raise
