"""The worker's handler against the Cosmos DB stand-in through the real azure-cosmos SDK."""

import json
import logging
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from dev.cosmos.launcher import LocalCosmos
from functions.shared.events import PoisonMessage
from functions.shared.timeline_store import CosmosTimelineStore, TimelineStoreUnavailable
from functions.worker.handler import handle
from tests.conftest import cosmos_settings


def order_placed(**overrides: object) -> dict:
    order_id = str(uuid.uuid4())
    return {
        "version": 1,
        "eventId": str(uuid.uuid4()),
        "occurredAt": datetime.now(UTC).isoformat(),
        "orderId": order_id,
        "userId": "alice",
        "currency": "EUR",
        "total": "39.30",
        "items": [
            {
                "productId": "french-press",
                "name": "French Press",
                "unitPrice": "39.00",
                "quantity": 1,
            },
            {"productId": "tea-infuser", "name": "Infuser", "unitPrice": "0.10", "quantity": 3},
        ],
    } | overrides


@pytest.fixture(scope="module")
def store(cosmos: LocalCosmos) -> CosmosTimelineStore:
    return CosmosTimelineStore(cosmos_settings(cosmos))


def body(event: dict) -> bytes:
    return json.dumps(event).encode()


def test_an_order_placed_event_writes_the_three_timeline_documents(store: CosmosTimelineStore):
    event = order_placed()

    handle("OrderPlaced", body(event), store)

    timeline = store.events(event["orderId"])
    assert [e["type"] for e in timeline] == [
        "OrderPlaced",
        "ConfirmationEmailSent",
        "OrderConfirmed",
    ]
    placed = timeline[0]
    assert placed["occurredAt"] == datetime.fromisoformat(event["occurredAt"]).isoformat()
    assert placed["data"] == {
        "eventId": event["eventId"],
        "total": "39.30",
        "currency": "EUR",
        "itemCount": 4,
    }
    assert timeline[1]["data"]["to"] == "alice"


def test_a_redelivered_message_changes_nothing_and_sends_no_second_email(
    store: CosmosTimelineStore, caplog: pytest.LogCaptureFixture
):
    event = order_placed()
    with caplog.at_level(logging.INFO, logger="tinyshop.worker"):
        handle("OrderPlaced", body(event), store)
        first = store.events(event["orderId"])
        handle("OrderPlaced", body(event), store)
        handle("OrderPlaced", body(event), store)

    assert store.events(event["orderId"]) == first
    emails = [r for r in caplog.records if r.getMessage() == "confirmation e-mail sent"]
    assert len(emails) == 1
    assert emails[0].order_id == event["orderId"]


def test_documents_have_deterministic_ids_in_the_order_partition(store: CosmosTimelineStore):
    event = order_placed()
    handle("OrderPlaced", body(event), store)

    documents = store.container.query_items(
        "SELECT c.id FROM c WHERE c.orderId = @orderId",
        parameters=[{"name": "@orderId", "value": event["orderId"]}],
        partition_key=event["orderId"],
    )
    types = ("OrderPlaced", "ConfirmationEmailSent", "OrderConfirmed")
    assert sorted(d["id"] for d in documents) == sorted(f"{event['orderId']}:{t}" for t in types)


@pytest.mark.parametrize(
    ("subject", "raw", "reason"),
    [
        ("OrderPlaced", b"not json", "MalformedBody"),
        ("OrderPlaced", b"[1, 2]", "MalformedBody"),
        ("OrderPlaced", body(order_placed(version=2)), "UnsupportedVersion"),
        (
            "OrderPlaced",
            body({k: v for k, v in order_placed().items() if k != "orderId"}),
            "InvalidEvent",
        ),
        ("OrderPlaced", body(order_placed(total="-")), "InvalidEvent"),
        ("OrderPlaced", body(order_placed(items=[])), "InvalidEvent"),
        ("OrderShipped", body(order_placed()), "UnknownEventType"),
    ],
    ids=[
        "not-json",
        "not-an-object",
        "version-2",
        "no-order-id",
        "bad-total",
        "no-items",
        "subject",
    ],
)
def test_a_message_that_can_never_succeed_is_poison_with_a_reason(
    store: CosmosTimelineStore, subject: str, raw: bytes, reason: str
):
    with pytest.raises(PoisonMessage) as caught:
        handle(subject, raw, store)
    assert caught.value.reason == reason
    assert caught.value.description


def test_cosmos_unreachable_is_a_transient_error(cosmos: LocalCosmos):
    from dev.cosmos.launcher import endpoint_for
    from dev.serve import free_port

    nowhere = CosmosTimelineStore(
        cosmos_settings(cosmos, endpoint=endpoint_for(free_port()), retry_total=0, timeout=1)
    )
    with pytest.raises(TimelineStoreUnavailable):
        handle("OrderPlaced", body(order_placed()), nowhere)


def test_the_same_event_handled_in_parallel_sends_one_email(
    store: CosmosTimelineStore, caplog: pytest.LogCaptureFixture
):
    """Two consumers holding the same message (a lock that expired mid-processing)."""
    event = order_placed()
    with caplog.at_level(logging.INFO, logger="tinyshop.worker"), ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: handle("OrderPlaced", body(event), store), range(4)))

    emails = [r for r in caplog.records if r.getMessage() == "confirmation e-mail sent"]
    assert len(emails) == 1
    assert [e["type"] for e in store.events(event["orderId"])] == [
        "OrderPlaced",
        "ConfirmationEmailSent",
        "OrderConfirmed",
    ]


def test_an_order_takes_two_cosmos_writes_then_a_redelivery_writes_nothing(
    cosmos: LocalCosmos, monkeypatch: pytest.MonkeyPatch
):
    """OrderPlaced and the e-mail claim go in one transactional batch, OrderConfirmed alone
    (issue 17): 2 requests, not 3 (3 with `batch_writes` off, the stand-in's default). A
    redelivery finds the batch's documents there (409) and falls back to one create per
    document, each a conflict: nothing is written twice."""
    from functions.shared import metrics

    requests: list[tuple[str, int]] = []

    prefer: set[str] = set()

    def hook(response: object) -> None:
        http = response.http_response  # type: ignore[attr-defined]
        requests.append((http.request.method, http.status_code))
        if http.request.method == "POST":
            prefer.add(http.request.headers.get("Prefer", ""))

    monkeypatch.setattr(metrics, "cosmos_response", hook)
    # its client takes the hook; batches on, as in Azure (the stand-in serves them in memory)
    store = CosmosTimelineStore(cosmos_settings(cosmos, batch_writes=True))
    handle("OrderPlaced", body(order_placed()), store)  # the client reads its metadata
    event = order_placed()

    def writes() -> list[tuple[str, int]]:  # the SDK may GET metadata (caches) meanwhile
        return [r for r in requests if r[0] == "POST"]

    requests.clear()
    handle("OrderPlaced", body(event), store)
    assert writes() == [("POST", 200), ("POST", 201)]  # the batch, then OrderConfirmed

    requests.clear()
    handle("OrderPlaced", body(event), store)
    # the batch (its operation failed 409), then the three creates, each a conflict
    assert len(writes()) == 4
    assert [status for _, status in writes()[1:]] == [409, 409, 409]
    assert prefer == {"return=minimal"}  # writes ask for no document back
    assert len(store.events(event["orderId"])) == 3


def test_the_cosmos_client_follows_a_proxy_from_the_environment_only_when_one_is_set(
    cosmos: LocalCosmos, monkeypatch: pytest.MonkeyPatch
):
    """Without proxy or CA variables the client skips requests' per-request environment
    lookup (timeline_store.py); with one set it still follows it: here a proxy that refuses
    connections, so the write fails as an outage."""
    from functions.shared.timeline_store import _reads_environment

    for name in list(os.environ):
        if _reads_environment({name: ""}):
            monkeypatch.delenv(name)
    settings = cosmos_settings(cosmos).model_copy(update={"retry_total": 0, "timeout": 2})
    order = str(uuid.uuid4())
    assert CosmosTimelineStore(settings).add(order, "OrderPlaced", datetime.now(UTC), {}) is True

    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # discard port: refused
    with pytest.raises(TimelineStoreUnavailable):
        CosmosTimelineStore(settings).add(order, "OrderConfirmed", datetime.now(UTC), {})
    assert _reads_environment({"HTTPS_PROXY": "x"})
    assert _reads_environment({"REQUESTS_CA_BUNDLE": "x"})
    assert not _reads_environment({"PATH": "/bin", "COSMOS_ENDPOINT": "x"})


def test_against_the_local_stand_in_batches_are_off_unless_asked_for(cosmos: LocalCosmos):
    """`make dev`'s stand-in journals no transactional batch (dev/cosmos/server.js): its
    documents must survive a restart, so locally each event is its own create by default."""
    local = CosmosTimelineStore(cosmos_settings(cosmos))
    assert local._batch_writes is False
    assert CosmosTimelineStore(cosmos_settings(cosmos, batch_writes=True))._batch_writes
    azure = cosmos_settings(cosmos, endpoint="https://tinyshop.documents.azure.com:443/")
    assert CosmosTimelineStore(azure)._batch_writes is True
