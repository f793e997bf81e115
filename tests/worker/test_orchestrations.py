"""The worker's functions that use the durable client — the Service Bus starter and the admin
status/purge functions — called as the Python worker calls them (keyword arguments, the client
binding as its JSON), through the SDK's real `DurableOrchestrationClient`
over real sockets to a stand-in of the extension's HTTP API (durable_host.py)."""

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.functions as func
import pytest
from azure.durable_functions.models.utils import http_utils
from azure.functions.servicebus import ServiceBusMessage

from functions.shared.events import PoisonMessage
from tests.unit.builders import body, order_placed_payload
from tests.worker.durable_host import DurableHost, Instance, durable_host


@pytest.fixture
def host() -> Iterator[DurableHost]:
    with durable_host() as stand_in:
        yield stand_in


@pytest.fixture(scope="module")
def functions() -> dict[str, Any]:
    """The callables the Python worker invokes: the SDK's durable-client middleware around ours,
    which takes the client binding as its JSON (app.get_functions() may run once per process)."""
    from functions.worker import function

    return {
        "worker_order_placed": function.order_placed,
        "worker_orchestration_status": function.orchestration_status,
        "worker_orchestrations_purge": function.orchestrations_purge,
    }


def invoke(functions: dict[str, Any], name: str, host: DurableHost, **kwargs: Any) -> Any:
    """One invocation on a fresh event loop; the SDK's shared HTTP session belongs to a loop."""
    http_utils._client_session = None
    return asyncio.run(functions[name](client=host.client_binding(), **kwargs))


def delivery(payload: dict, subject: str = "OrderPlaced") -> ServiceBusMessage:
    return ServiceBusMessage(
        body=body(payload),
        message_id=payload["eventId"],
        subject=subject,
        delivery_count=1,
        application_properties={},
        user_properties={},
    )


# --- the Service Bus starter -----------------------------------------------------------------


def test_an_order_placed_message_starts_fulfil_order_with_the_order_id_as_instance_id(
    functions: dict[str, Any], host: DurableHost
):
    payload = order_placed_payload()

    invoke(functions, "worker_order_placed", host, message=delivery(payload))

    assert host.starts == [payload["orderId"]]
    instance = host.instances[payload["orderId"]]
    assert instance.name == "fulfil_order"
    # The SDK sends the input serialized (a JSON string); the orchestrator's get_input() decodes it.
    assert json.loads(instance.input) == {
        "orderId": payload["orderId"],
        "eventId": payload["eventId"],
        "userId": "alice",
        "occurredAt": datetime.fromisoformat(payload["occurredAt"]).isoformat(),
        "total": "39.30",
        "currency": "EUR",
        "itemCount": 4,
    }


@pytest.mark.parametrize("status", ["Pending", "Running", "Completed"])
def test_a_redelivery_does_not_restart_a_fulfilment_under_way_or_done(
    functions: dict[str, Any], host: DurableHost, status: str
):
    payload = order_placed_payload()
    host.instances[payload["orderId"]] = Instance("fulfil_order", {}, runtime_status=status)

    invoke(functions, "worker_order_placed", host, message=delivery(payload))

    assert host.starts == []
    assert host.instances[payload["orderId"]].runtime_status == status


@pytest.mark.parametrize("status", ["Failed", "Terminated"])
def test_a_redelivery_restarts_a_failed_fulfilment_deliberately(
    functions: dict[str, Any], host: DurableHost, status: str
):
    payload = order_placed_payload()
    host.instances[payload["orderId"]] = Instance("fulfil_order", {}, runtime_status=status)

    invoke(functions, "worker_order_placed", host, message=delivery(payload))

    assert host.starts == [payload["orderId"]]
    assert host.instances[payload["orderId"]].runtime_status == "Pending"


def test_a_start_refused_because_a_parallel_delivery_won_the_race_is_not_an_error(
    functions: dict[str, Any], host: DurableHost, monkeypatch: pytest.MonkeyPatch
):
    """The status read says "none", then the other delivery starts it: our start is refused
    (409) and the second read shows it under way."""
    from functions.worker import orchestrations

    payload = order_placed_payload()
    real = orchestrations._status
    reads: list[object] = []

    async def racing(client: Any, order_id: str) -> Any:
        reads.append(order_id)
        if len(reads) == 1:
            host.instances[order_id] = Instance("fulfil_order", {}, runtime_status="Running")
            return None  # what this delivery saw just before the other one started it
        return await real(client, order_id)

    monkeypatch.setattr(orchestrations, "_status", racing)

    invoke(functions, "worker_order_placed", host, message=delivery(payload))

    assert host.starts == []
    assert len(reads) == 2


def test_a_task_hub_that_refuses_the_start_fails_the_invocation_so_the_message_comes_back(
    functions: dict[str, Any], host: DurableHost
):
    host.refuse_starts = True

    with pytest.raises(Exception, match="unavailable"):
        invoke(functions, "worker_order_placed", host, message=delivery(order_placed_payload()))
    assert host.instances == {}


def test_a_poison_message_raises_and_starts_nothing(functions: dict[str, Any], host: DurableHost):
    with pytest.raises(PoisonMessage) as caught:
        invoke(
            functions,
            "worker_order_placed",
            host,
            message=delivery(order_placed_payload(version=2)),
        )

    assert caught.value.reason == "UnsupportedVersion"
    assert host.starts == []
    assert host.instances == {}


# --- the admin functions ---------------------------------------------------------------------


def request(method: str, url: str, body: bytes = b"", **route_params: str) -> func.HttpRequest:
    return func.HttpRequest(
        method, url, body=body, headers={}, route_params=route_params, params={}
    )


def status_of(functions: dict, host: DurableHost, order_id: str) -> func.HttpResponse:
    req = request("GET", f"http://localhost/ops/orchestrations/{order_id}", orderId=order_id)
    return invoke(functions, "worker_orchestration_status", host, req=req)


def test_status_shows_a_running_fulfilment(functions: dict, host: DurableHost):
    order_id = order_placed_payload()["orderId"]
    host.instances[order_id] = Instance("fulfil_order", {}, runtime_status="Running")

    response = status_of(functions, host, order_id)

    assert response.status_code == 200
    view = json.loads(response.get_body())
    assert view["orderId"] == order_id
    assert view["runtimeStatus"] == "Running"
    assert "failureReason" not in view


def test_status_shows_a_failed_fulfilment_with_its_reason(functions: dict, host: DurableHost):
    order_id = order_placed_payload()["orderId"]
    reason = "step ConfirmationEmailSent failed after its retries: MailNotSent: 421"
    host.instances[order_id] = Instance("fulfil_order", {}, runtime_status="Failed", output=reason)

    view = json.loads(status_of(functions, host, order_id).get_body())

    assert (view["runtimeStatus"], view["failureReason"]) == ("Failed", reason)


def test_status_of_an_unknown_order_is_a_404_problem(functions: dict, host: DurableHost):
    response = status_of(functions, host, order_placed_payload()["orderId"])

    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert json.loads(response.get_body())["status"] == 404


def test_status_of_something_that_is_not_an_order_id_is_a_400_problem(
    functions: dict, host: DurableHost
):
    response = status_of(functions, host, "../../instances")

    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"


def purge(functions: dict, host: DurableHost, payload: object) -> func.HttpResponse:
    req = request("POST", "http://localhost/ops/orchestrations/purge", json.dumps(payload).encode())
    return invoke(functions, "worker_orchestrations_purge", host, req=req)


def test_purge_deletes_old_finished_history_only(functions: dict, host: DurableHost):
    old = datetime.now(UTC) - timedelta(days=40)
    host.instances["old-done"] = Instance("fulfil_order", {}, "Completed", created=old)
    host.instances["old-failed"] = Instance("fulfil_order", {}, "Failed", created=old)
    host.instances["old-running"] = Instance("fulfil_order", {}, "Running", created=old)
    host.instances["new-done"] = Instance("fulfil_order", {}, "Completed")
    before = (datetime.now(UTC) - timedelta(days=30)).isoformat()

    response = purge(functions, host, {"createdBefore": before})

    assert response.status_code == 200
    assert json.loads(response.get_body()) == {"instancesDeleted": 1}
    assert set(host.instances) == {"old-failed", "old-running", "new-done"}


def test_purge_can_include_failed_history_when_asked(functions: dict, host: DurableHost):
    old = datetime.now(UTC) - timedelta(days=40)
    host.instances["old-failed"] = Instance("fulfil_order", {}, "Failed", created=old)
    before = (datetime.now(UTC) - timedelta(days=30)).isoformat()

    response = purge(functions, host, {"createdBefore": before, "runtimeStatus": ["Failed"]})

    assert json.loads(response.get_body()) == {"instancesDeleted": 1}


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"createdBefore": "yesterday"},
        {"createdBefore": "2026-01-01T00:00:00"},  # no UTC offset
        {"createdBefore": (datetime.now(UTC) + timedelta(days=1)).isoformat()},
        {"createdBefore": "2026-01-01T00:00:00+00:00", "runtimeStatus": ["Running"]},
        {"createdBefore": "2026-01-01T00:00:00+00:00", "runtimeStatus": ["Nope"]},
        ["not", "an", "object"],
    ],
)
def test_a_purge_that_could_touch_running_or_recent_work_is_refused(
    functions: dict, host: DurableHost, payload: object
):
    host.instances["old-running"] = Instance(
        "fulfil_order", {}, "Running", created=datetime(2020, 1, 1, tzinfo=UTC)
    )

    response = purge(functions, host, payload)

    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert "old-running" in host.instances
