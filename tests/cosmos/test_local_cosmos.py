"""The local Cosmos stand-in through the real azure-cosmos SDK (sync and aio), over real sockets.

One stand-in (dev/cosmos/server.js) on a free port serves the module; tests that stop it or run
the foreground entry start their own. Every test uses its own order ids (partitions), so they
share the container without seeing each other's documents.
"""

import asyncio
import http.client
import json
import os
import socket
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3
from azure.core.exceptions import ServiceRequestError
from azure.cosmos import ContainerProxy, CosmosClient, PartitionKey
from azure.cosmos.exceptions import (
    CosmosBatchOperationError,
    CosmosHttpResponseError,
    CosmosResourceExistsError,
    CosmosResourceNotFoundError,
)

from dev.cosmos import launcher as local_cosmos
from dev.cosmos.launcher import CONTAINER, DATABASE, KEY, LISTENING, LocalCosmos
from dev.server_process import ServerProcess
from tests.support.cosmos import async_client, sync_client

REPO = Path(__file__).resolve().parents[2]
TIMELINE = "SELECT * FROM c WHERE c.orderId = @orderId ORDER BY c.occurredAt"


@pytest.fixture(scope="module")
def cosmos() -> Iterator[LocalCosmos]:
    with local_cosmos.running(0) as server:
        yield server


@pytest.fixture(scope="module")
def client(cosmos: LocalCosmos) -> Iterator[CosmosClient]:
    with sync_client(cosmos) as c:
        yield c


@pytest.fixture(scope="module")
def container(client: CosmosClient) -> ContainerProxy:
    """The app's container, which the launcher creates at start."""
    return client.get_database_client(DATABASE).get_container_client(CONTAINER)


def new_order() -> str:
    return str(uuid.uuid4())


def event(order_id: str, event_type: str, occurred_at: str, **data: object) -> dict:
    return {
        "id": f"{order_id}:{event_type}",
        "orderId": order_id,
        "type": event_type,
        "occurredAt": occurred_at,
        "data": data,
    }


def timeline(container: ContainerProxy, order_id: str, query: str = TIMELINE) -> list[dict]:
    parameters = [{"name": "@orderId", "value": order_id}]
    return list(container.query_items(query, parameters=parameters, partition_key=order_id))


def free_port() -> int:
    with socket.socket() as s:
        s.bind((local_cosmos.HOST, 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------------------ the SDK


def test_the_launcher_creates_the_apps_container(container: ContainerProxy) -> None:
    properties = container.read()
    assert properties["id"] == CONTAINER
    assert properties["partitionKey"]["paths"] == ["/orderId"]


def test_create_database_and_container_are_idempotent(client: CosmosClient) -> None:
    name = f"test-{uuid.uuid4().hex[:8]}"
    first = client.create_database_if_not_exists(name)
    again = client.create_database_if_not_exists(name)
    assert first.read()["_rid"] == again.read()["_rid"]
    key = PartitionKey(path="/orderId")
    made = first.create_container_if_not_exists("order-events", partition_key=key)
    same = again.create_container_if_not_exists("order-events", partition_key=key)
    assert made.read()["_rid"] == same.read()["_rid"]
    assert [c["id"] for c in first.list_containers()] == ["order-events"]
    client.delete_database(name)


def test_upsert_then_read(container: ContainerProxy) -> None:
    order_id = new_order()
    placed = event(order_id, "OrderPlaced", "2030-01-01T10:00:00+00:00", total="12.50")
    container.upsert_item(placed)
    assert container.read_item(placed["id"], partition_key=order_id)["data"] == {"total": "12.50"}

    container.upsert_item({**placed, "data": {"total": "13.00"}})  # upsert replaces
    stored = container.read_item(placed["id"], partition_key=order_id)
    assert stored["data"] == {"total": "13.00"}
    assert stored["orderId"] == order_id
    assert stored["_etag"]


def test_read_of_a_missing_item_is_404(container: ContainerProxy) -> None:
    """The bare package answers 500 here (the SDK would raise a plain CosmosHttpResponseError)."""
    order_id = new_order()
    with pytest.raises(CosmosResourceNotFoundError) as missing:
        container.read_item(f"{order_id}:OrderPlaced", partition_key=order_id)
    assert missing.value.status_code == 404

    # An existing id in another partition is just as missing, as in Cosmos DB.
    container.create_item(event(order_id, "OrderPlaced", "2030-01-01T10:00:00+00:00"))
    with pytest.raises(CosmosResourceNotFoundError) as elsewhere:
        container.read_item(f"{order_id}:OrderPlaced", partition_key=new_order())
    assert elsewhere.value.status_code == 404


def test_read_in_a_missing_container_is_404(client: CosmosClient) -> None:
    nowhere = client.get_database_client(DATABASE).get_container_client("no-such-container")
    with pytest.raises(CosmosResourceNotFoundError):
        nowhere.read_item("x", partition_key="x")


def test_create_of_an_existing_id_is_a_409_conflict(container: ContainerProxy) -> None:
    """What makes the worker idempotent: a redelivered event is a conflict, not a duplicate."""
    order_id = new_order()
    placed = event(order_id, "OrderPlaced", "2030-01-01T10:00:00+00:00", total="1.00")
    container.create_item(placed)
    with pytest.raises(CosmosResourceExistsError) as conflict:
        container.create_item({**placed, "data": {"total": "2.00"}})
    assert conflict.value.status_code == 409
    assert container.read_item(placed["id"], partition_key=order_id)["data"] == {"total": "1.00"}
    # ids are unique per partition only, as in Cosmos DB
    other = new_order()
    container.create_item({**placed, "orderId": other})
    assert len(timeline(container, order_id)) == len(timeline(container, other)) == 1


def test_a_transactional_batch_is_all_or_nothing(container: ContainerProxy) -> None:
    """As in Cosmos DB: a batch whose second create conflicts writes nothing (the package alone
    kept the first create; the launcher undoes it), the conflict is the batch's error and the
    other operation answers 424; a batch that succeeds writes every document."""
    order_id = new_order()
    placed = event(order_id, "OrderPlaced", "2030-01-01T10:00:00+00:00")
    claim = event(order_id, "ConfirmationEmailSent", "2030-01-01T10:00:01+00:00")
    container.create_item(claim)
    with pytest.raises(CosmosBatchOperationError) as failed:
        container.execute_item_batch(
            [("create", (placed,)), ("create", (claim,))], partition_key=order_id
        )
    assert failed.value.status_code == 409
    assert [r.get("statusCode") for r in failed.value.operation_responses] == [424, 409]
    assert [e["type"] for e in timeline(container, order_id)] == ["ConfirmationEmailSent"]

    other = new_order()
    results = container.execute_item_batch(
        [
            ("create", (event(other, "OrderPlaced", "2030-01-01T10:00:00+00:00"),)),
            ("create", (event(other, "OrderConfirmed", "2030-01-01T10:00:01+00:00"),)),
        ],
        partition_key=other,
    )
    assert [r["statusCode"] for r in results] == [201, 201]
    assert [e["type"] for e in timeline(container, other)] == ["OrderPlaced", "OrderConfirmed"]


def test_partition_query_returns_the_orders_events_in_time_order(
    container: ContainerProxy,
) -> None:
    order_id, other = new_order(), new_order()
    for event_type, at in [
        ("OrderConfirmed", "2030-01-01T10:00:02+00:00"),
        ("OrderPlaced", "2030-01-01T10:00:00+00:00"),
        ("ConfirmationEmailSent", "2030-01-01T10:00:01+00:00"),
    ]:
        container.create_item(event(order_id, event_type, at))
    container.create_item(event(other, "OrderPlaced", "2030-01-01T09:00:00+00:00"))

    expected = ["OrderPlaced", "ConfirmationEmailSent", "OrderConfirmed"]
    assert [e["type"] for e in timeline(container, order_id)] == expected
    descending = timeline(container, order_id, TIMELINE + " DESC")
    assert [e["type"] for e in descending] == expected[::-1]
    # The projection the orders app reads (functions/shared/timeline_store.py).
    projected = timeline(
        container,
        order_id,
        "SELECT c.type, c.occurredAt, c.data FROM c WHERE c.orderId = @orderId",
    )
    assert sorted(e["type"] for e in projected) == sorted(expected)
    assert set(projected[0]) == {"type", "occurredAt", "data"}


def test_the_apps_client_options_work_too(cosmos: LocalCosmos) -> None:
    """functions/shared/timeline_store.py turns endpoint discovery off for http:// endpoints and
    sets timeouts and retries; the stand-in must serve that configuration as well."""
    options = {"enable_endpoint_discovery": False, "connection_timeout": 5, "retry_total": 3}
    with sync_client(cosmos, **options) as client:
        container = client.get_database_client(DATABASE).get_container_client(CONTAINER)
        order_id = new_order()
        container.create_item(event(order_id, "OrderPlaced", "2030-01-01T10:00:00Z"))
        assert [e["type"] for e in timeline(container, order_id)] == ["OrderPlaced"]
        with pytest.raises(CosmosResourceNotFoundError):
            container.read_item(f"{order_id}:Missing", partition_key=order_id)


def test_documented_gaps_of_the_stand_in(container: ContainerProxy) -> None:
    """What dev/cosmos/README.md lists as unsupported; if one starts working, update the docs."""
    order_id = new_order()
    container.create_item(event(order_id, "OrderPlaced", "2030-01-01T10:00:00+00:00"))
    for query in [
        # A partition-scoped query must name the partition key in WHERE (Cosmos needs not).
        "SELECT * FROM c",
        "SELECT DISTINCT c.type FROM c WHERE c.orderId = @orderId",
        "SELECT c.type, COUNT(1) AS n FROM c WHERE c.orderId = @orderId GROUP BY c.type",
        TIMELINE + " OFFSET 0 LIMIT 1",
    ]:
        with pytest.raises(CosmosHttpResponseError) as refused:
            timeline(container, order_id, query)
        assert refused.value.status_code == 400, query


def test_the_aio_client_works_too(cosmos: LocalCosmos) -> None:
    order_id = new_order()

    async def scenario() -> tuple[list[str], int, int]:
        async with async_client(cosmos) as client:
            database = await client.create_database_if_not_exists(DATABASE)
            container = await database.create_container_if_not_exists(
                CONTAINER, partition_key=PartitionKey(path="/orderId")
            )
            await container.create_item(event(order_id, "OrderPlaced", "2030-01-01T10:00:01Z"))
            await container.upsert_item(event(order_id, "Earlier", "2030-01-01T10:00:00Z"))
            read = await container.read_item(f"{order_id}:OrderPlaced", partition_key=order_id)
            assert read["type"] == "OrderPlaced"
            try:
                await container.read_item(f"{order_id}:Missing", partition_key=order_id)
            except CosmosResourceNotFoundError as exc:
                missing = exc.status_code
            try:
                await container.create_item(read)
            except CosmosResourceExistsError as exc:
                conflict = exc.status_code
            items = container.query_items(
                TIMELINE,
                parameters=[{"name": "@orderId", "value": order_id}],
                partition_key=order_id,
            )
            return [item["type"] async for item in items], missing, conflict

    types, missing, conflict = asyncio.run(scenario())
    assert types == ["Earlier", "OrderPlaced"]
    assert (missing, conflict) == (404, 409)


# ------------------------------------------------------------------------------ keep-alive


def test_responses_keep_the_connection_alive(cosmos: LocalCosmos) -> None:
    """The bare package sends `connection: close` with every response."""
    connection = http.client.HTTPConnection(cosmos.host, cosmos.port, timeout=5)
    try:
        sockets = set()
        for path in ["/", "/dbs", f"/dbs/{DATABASE}/colls/{CONTAINER}", "/dbs/x/colls/y/docs/z"]:
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            assert response.getheader("connection", "").lower() != "close"
            assert not response.will_close
            sockets.add(id(connection.sock))
        assert len(sockets) == 1
        assert response.getheader("keep-alive") == "timeout=300"
    finally:
        connection.close()


def test_the_sdk_reuses_its_connections(
    cosmos: LocalCosmos, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counts the TCP connects the sync SDK makes (urllib3 under requests). After a warm-up
    (the SDK may open a second connection while it refreshes the account in the background),
    twenty more requests connect no more: with `connection: close`, each would reconnect."""
    connects = []
    new_conn = urllib3.connection.HTTPConnection._new_conn

    def counting_new_conn(self: urllib3.connection.HTTPConnection) -> socket.socket:
        connects.append(self.port)
        return new_conn(self)

    monkeypatch.setattr(urllib3.connection.HTTPConnection, "_new_conn", counting_new_conn)
    with sync_client(cosmos) as client:
        container = client.get_database_client(DATABASE).get_container_client(CONTAINER)
        order_id = new_order()
        container.upsert_item(event(order_id, "Warm-up", "2030-01-01T10:00:00Z"))
        warm = len(connects)
        assert 1 <= warm <= 2
        for n in range(10):
            container.upsert_item(event(order_id, f"E{n}", f"2030-01-01T10:00:0{n}Z"))
            container.read_item(f"{order_id}:E{n}", partition_key=order_id)
        assert len(connects) == warm
        assert set(connects) == {cosmos.port}


# ------------------------------------------------------------------------------ lifecycle


def test_stop_then_start_serves_again_on_the_same_port() -> None:
    with local_cosmos.running(0) as cosmos:
        port = cosmos.port
        with sync_client(cosmos) as client:
            container = client.get_database_client(DATABASE).get_container_client(CONTAINER)
            order_id = new_order()
            container.create_item(event(order_id, "OrderPlaced", "2030-01-01T10:00:00Z"))

            cosmos.stop()
            assert not cosmos.is_running
            with pytest.raises(ServiceRequestError):  # what the worker's retry must handle
                container.create_item(event(order_id, "OrderConfirmed", "2030-01-01T10:00:01Z"))

            cosmos.start()
            assert (cosmos.is_running, cosmos.port) == (True, port)
            # The same client carries on; the container exists again, the documents do not.
            container.create_item(event(order_id, "OrderConfirmed", "2030-01-01T10:00:01Z"))
            assert [e["type"] for e in timeline(container, order_id)] == ["OrderConfirmed"]


def test_with_a_data_file_documents_survive_a_restart_and_a_new_process(tmp_path: Path) -> None:
    """`make dev` keeps the stand-in's data under .dev/: a restarted stand-in, or the next run,
    still has every order's timeline (instead of an empty one, indistinguishable from "not
    processed yet")."""
    data = tmp_path / "cosmos" / "data.json"
    order_id = new_order()
    with local_cosmos.running(0, data_file=data) as cosmos, sync_client(cosmos) as client:
        container = client.get_database_client(DATABASE).get_container_client(CONTAINER)
        container.create_item(event(order_id, "OrderPlaced", "2030-01-01T10:00:00Z"))
        container.create_item(event(order_id, "OrderConfirmed", "2030-01-01T10:00:01Z"))
        container.delete_item(f"{order_id}:OrderConfirmed", partition_key=order_id)
        claim = event(order_id, "ConfirmationEmailSent", "2030-01-01T10:00:02Z")
        container.execute_item_batch([("create", (claim,))], partition_key=order_id)

        cosmos.stop()
        cosmos.start()
        kept = ["OrderPlaced", "ConfirmationEmailSent"]  # the batch's document too
        assert [e["type"] for e in timeline(container, order_id)] == kept

    with local_cosmos.running(0, data_file=data) as cosmos, sync_client(cosmos) as client:
        container = client.get_database_client(DATABASE).get_container_client(CONTAINER)
        assert [e["type"] for e in timeline(container, order_id)] == kept


def test_a_killed_stand_in_keeps_the_writes_it_acknowledged(tmp_path: Path) -> None:
    data = tmp_path / "data.json"
    order_id = new_order()
    with local_cosmos.running(0, data_file=data) as cosmos, sync_client(cosmos) as client:
        container = client.get_database_client(DATABASE).get_container_client(CONTAINER)
        container.create_item(event(order_id, "OrderPlaced", "2030-01-01T10:00:00Z"))
        assert cosmos.pid is not None
        os.kill(cosmos.pid, 9)  # no chance to save on the way out
        cosmos.stop()

        cosmos.start()
        assert [e["type"] for e in timeline(container, order_id)] == ["OrderPlaced"]


def test_node_is_stopped_when_the_block_fails() -> None:
    pids = []

    def fail_inside() -> None:
        with local_cosmos.running(0) as cosmos:
            pids.append(cosmos.pid)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_inside()
    [pid] = pids
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_start_fails_clearly_when_the_port_is_taken(cosmos: LocalCosmos) -> None:
    second = LocalCosmos(cosmos.port, timeout=10)
    with pytest.raises(local_cosmos.CosmosStandInError, match="EADDRINUSE"):
        second.start()
    assert not second.is_running
    assert cosmos.is_running


def test_foreground_entry_point_serves_the_app_container() -> None:
    """`python -m dev.cosmos` (the Procfile's `cosmos` process)."""
    port = free_port()
    process = ServerProcess(
        [sys.executable, "-m", "dev.cosmos", f"--port={port}", "--quiet"],
        LISTENING,
        name="python -m dev.cosmos",
        cwd=REPO,
        timeout=20,
    )
    listening = process.start()
    try:
        endpoint = local_cosmos.endpoint_for(port)
        with CosmosClient(endpoint, credential=KEY) as client:
            container = client.get_database_client(DATABASE).get_container_client(CONTAINER)
            assert container.read()["partitionKey"]["paths"] == ["/orderId"]
    finally:
        status = process.stop()  # SIGTERM
    assert status == 0, "\n".join(process.output)  # exec'd into node: exits cleanly on SIGTERM
    assert listening["port"] == str(port)


# ------------------------------------------------------------------------------ settings


def test_settings_point_the_apps_at_the_stand_in(cosmos: LocalCosmos) -> None:
    env = cosmos.settings()
    assert env["COSMOS_ENDPOINT"] == cosmos.endpoint == f"http://127.0.0.1:{cosmos.port}/"
    assert (env["COSMOS_DATABASE"], env["COSMOS_CONTAINER"]) == ("tinyshop", "order-events")
    assert env["COSMOS_KEY"] == KEY
    assert local_cosmos.ENDPOINT == "http://127.0.0.1:8081/"


def test_the_npm_package_is_pinned_exactly() -> None:
    package = json.loads((REPO / "dev" / "cosmos" / "package.json").read_text())
    lock = json.loads((REPO / "dev" / "cosmos" / "package-lock.json").read_text())
    pinned = package["dependencies"]["@vercel/cosmosdb-server"]
    assert pinned[0].isdigit(), "an exact version, not a range"
    assert lock["packages"]["node_modules/@vercel/cosmosdb-server"]["version"] == pinned
