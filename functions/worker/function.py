"""worker's Azure Functions: order fulfilment as a Durable Functions orchestration on the `worker`
Deployment, which KEDA scales 0..N on the queue's length and on the task hub's work (mssql).

Functions (names shared with the chart's allow-list and KEDA, docs/architecture.md):
- `worker_order_placed` — Service Bus queue trigger + durable client: validates the message and
  starts `fulfil_order` with instance id = order id, unless it is under way or done
  (orchestrations.py says why and how);
- `fulfil_order` — the orchestrator (fulfilment.py, the one definition of the steps);
- `send_confirmation_email` (records `OrderPlaced` and claims the e-mail in one write, then
  sends) and `record_timeline_event` (`OrderConfirmed`) — its activities (activities.py);
- `worker_orchestration_status` (GET ops/orchestrations/{orderId}) and
  `worker_orchestrations_purge` (POST ops/orchestrations/purge) — operators' view and cleanup
  through the durable client (docs/operations.md, "Fulfilment orchestrations"). Not under
  `admin/`: the host reserves routes beginning `admin` or `runtime` for its own API and refuses
  a function that claims one at startup ("The specified route conflicts with one or more built
  in routes"; Azure/azure-functions-host, `ScriptHost.ValidateFunction` and its tests), and with
  `routePrefix: ""` (host.json) `admin/...` would be the host's `/admin/...` itself.

The Service Bus trigger: `connection="ServiceBusConnection"` resolves, identity-based, to
`ServiceBusConnection__fullyQualifiedNamespace` (workload identity) or to a connection string.
The queue name comes from `EVENT_BUS_QUEUE`, the one orders publishes to. host.json: each message
is its own invocation (up to `maxConcurrentCalls` 8 at once), `prefetchCount: 0`, completed when
the function returns, abandoned when it raises. The function only validates and starts an
orchestration, so it is short: once it returns, the durable task hub holds the work, and retries,
restarts and scale-in no longer depend on the message.
- a poison message raises on every delivery (the Python trigger cannot dead-letter explicitly
  without the preview settlement bindings), so Service Bus dead-letters it after the max delivery
  count (`MaxDeliveryCountExceeded`); every attempt logs the validation reason. It never starts
  an orchestration. The local consumer dead-letters it at once;
- the task hub unreachable (start or status fails): the delivery is abandoned and redelivered.

The admin functions are `ANONYMOUS` at the host, deliberately, like every HTTP function here:
no Ingress routes `ops/`, the worker has no Service, and operators reach a pod only through
`kubectl port-forward deploy/worker 8080` — Kubernetes RBAC (`pods/portforward`) is the gate. A
function key would add nothing: host keys live in each pod's own emptyDir
(`AzureWebJobsSecretStorageType=files`, different per replica), so reading one needs
`pods/exec`, a broader right than port-forward. The durable client needs `WEBSITE_HOSTNAME`
(the extension builds its management URLs from it and fails every client binding without it,
"Webhooks are not configured"): the chart sets `127.0.0.1:8080`, the host's own listener in
the pod (the SDK itself calls the extension at the binding's `rpcBaseUrl`, on localhost).
"""

import json
import logging
import uuid
from datetime import datetime
from http import HTTPStatus
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from functions.shared.eventbus.tracing import consuming
from functions.shared.events import PoisonMessage, parse_order_placed
from functions.shared.observability import setup
from functions.shared.problems import PROBLEM_JSON
from functions.shared.timeline_store import CosmosSettings
from functions.worker import activities
from functions.worker.fulfilment import (
    ORCHESTRATOR,
    RECORD_TIMELINE_EVENT,
    SEND_CONFIRMATION_EMAIL,
    fulfil_order,
    fulfilment_input,
    start_failure_counts,
)
from functions.worker.orchestrations import Status, order_status, purge_history, start_fulfilment
from functions.worker.store import WorkerTimelineStore

bp = df.Blueprint(http_auth_level=func.AuthLevel.ANONYMOUS)
_log = logging.getLogger("tinyshop.worker")
_store: WorkerTimelineStore | None = None
_mailer: activities.Mailer = activities.LogMailer()


def _timeline_store() -> WorkerTimelineStore:
    global _store
    if _store is None:  # created on first use, never at import (every pod imports this)
        _store = WorkerTimelineStore(CosmosSettings())
    return _store


@bp.function_name("worker_order_placed")
@bp.service_bus_queue_trigger(
    arg_name="message", queue_name="%EVENT_BUS_QUEUE%", connection="ServiceBusConnection"
)
@bp.durable_client_input(client_name="client")
async def order_placed(
    message: func.ServiceBusMessage, client: df.DurableOrchestrationClient
) -> None:
    setup("worker")
    start_failure_counts()
    try:
        with consuming(
            message.message_id, message.delivery_count, message.application_properties
        ) as span:
            order = fulfilment_input(parse_order_placed(message.subject, message.get_body()))
            span.set_attribute("tinyshop.order.id", order["orderId"])
            span.set_attribute("tinyshop.fulfilment", await start_fulfilment(client, order))
    except PoisonMessage as exc:
        _log.error(
            "poison message %s (delivery %s): %s",
            message.message_id,
            message.delivery_count,
            exc,
            extra={"dead_letter_reason": exc.reason},
        )
        raise


@bp.function_name(ORCHESTRATOR)
@bp.orchestration_trigger(context_name="context", orchestration=ORCHESTRATOR)
def fulfil_order_orchestrator(context: df.DurableOrchestrationContext):
    setup("worker")  # telemetry only (once per process): the failure count needs its meter
    start_failure_counts()
    return (yield from fulfil_order(context))


@bp.function_name(RECORD_TIMELINE_EVENT)
@bp.activity_trigger(input_name="step", activity=RECORD_TIMELINE_EVENT)
def record_timeline_event(step: dict) -> bool:
    setup("worker")
    return activities.record_timeline_event(step, _timeline_store())


@bp.function_name(SEND_CONFIRMATION_EMAIL)
@bp.activity_trigger(input_name="step", activity=SEND_CONFIRMATION_EMAIL)
def send_confirmation_email(step: dict) -> bool:
    setup("worker")
    return activities.send_confirmation_email(step, _timeline_store(), _mailer)


def _json(status: int, body: Any, mimetype: str = "application/json") -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype=mimetype)


def _problem(status: int, detail: str) -> func.HttpResponse:
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status}
    return _json(status, body | {"detail": detail}, PROBLEM_JSON)


@bp.function_name("worker_orchestration_status")
@bp.route(route="ops/orchestrations/{orderId}", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def orchestration_status(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """The order's fulfilment: runtimeStatus (Pending, Running, Completed, Failed with
    failureReason, Terminated), created and last updated times."""
    order_id = req.route_params.get("orderId", "")
    try:
        order_id = str(uuid.UUID(order_id))
    except ValueError:
        return _problem(400, "orderId must be an order id (a UUID)")
    view = await order_status(client, order_id)
    if view is None:
        return _problem(404, f"no fulfilment orchestration for order {order_id}")
    return _json(200, view)


@bp.function_name("worker_orchestrations_purge")
@bp.route(route="ops/orchestrations/purge", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def orchestrations_purge(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """Delete the history of finished fulfilments: body `{"createdBefore": "<ISO time with
    offset>", "runtimeStatus": ["Completed", ...]}` (default: Completed only)."""
    try:
        body = req.get_json()
        created_before = datetime.fromisoformat(body["createdBefore"])
        statuses = [Status(s) for s in body.get("runtimeStatus", ["Completed"])]
        deleted = await purge_history(client, created_before, statuses)
    except (ValueError, KeyError, TypeError) as exc:
        return _problem(400, f"invalid purge request: {exc}")
    _log.info("purged %d fulfilment orchestrations created before %s", deleted, created_before)
    return _json(200, {"instancesDeleted": deleted})
