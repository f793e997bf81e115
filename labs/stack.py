"""A private TinyShop stack for one lab: the same real pieces the tests run (Postgres databases,
catalog and orders over HTTP, the local queue, worker consumers, the Cosmos DB stand-in), each
dependency reached through a `TcpProxy` that the lab cuts and restores — the fault injector.

Free ports and fresh databases only, so a lab never touches `make dev` or another lab."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from dev.cosmos import launcher as local_cosmos
from dev.issuer import Issuer, running_issuer
from dev.postgres import launcher as postgres
from dev.serve import serve
from dev.tcp_proxy import TcpProxy
from functions.catalog.seed import seed
from functions.catalog.settings import CatalogSettings
from functions.orders.settings import OrdersSettings
from functions.shared import migrations
from functions.shared.eventbus.local_queue import MIGRATIONS as BUS_MIGRATIONS
from functions.shared.eventbus.local_queue import LocalQueue, LocalQueuePublisher
from functions.shared.timeline_store import CosmosSettings, CosmosTimelineStore
from functions.worker import local_consumer
from functions.worker.settings import WorkerSettings

REPO = Path(__file__).resolve().parents[1]
TIMELINE = ["OrderPlaced", "ConfirmationEmailSent", "OrderConfirmed"]
Narrate = Callable[[str], None]


def quiet(_: str) -> None:
    """The narrator of tests: says nothing."""


def pg_upstream(database_url: str) -> tuple[str, int] | Path:
    """Where a Postgres URL points: (host, port), or the Unix socket for a socket directory."""
    info = conninfo_to_dict(database_url)
    host, port = info.get("host", "127.0.0.1"), int(info.get("port", 5432))
    return Path(host) / f".s.PGSQL.{port}" if host.startswith("/") else (host, port)


def via(database_url: str, proxy: TcpProxy) -> str:
    return make_conninfo(database_url, host="127.0.0.1", port=str(proxy.port))


@dataclass(frozen=True)
class Counts:
    """What a lab compares before and after its fault."""

    orders: int
    timeline_events: int
    complete_timelines: int
    queued: int
    dead_letters: int

    def __str__(self) -> str:
        return (
            f"orders={self.orders} timeline_events={self.timeline_events} "
            f"complete_timelines={self.complete_timelines} queued={self.queued} "
            f"dead_letters={self.dead_letters}"
        )


@dataclass
class Stack:
    orders_db: str
    bus_db: str
    catalog_url: str
    orders_url: str
    issuer: Issuer
    queue: LocalQueue
    cosmos: local_cosmos.LocalCosmos
    store: CosmosTimelineStore  # the workers': through the Cosmos proxy
    audit: CosmosTimelineStore  # the operator's: straight to the stand-in
    proxies: dict[str, TcpProxy]
    worker_settings: WorkerSettings
    _workers: list[tuple[threading.Thread, threading.Event]] = field(default_factory=list)

    def shopper(self, name: str | None = None) -> httpx.Client:
        user = name or f"shopper-{uuid.uuid4().hex[:8]}"
        headers = {"Authorization": f"Bearer {self.issuer.token(user)}"}
        return httpx.Client(base_url=self.orders_url, headers=headers, timeout=20)

    def checkout(self, shopper: httpx.Client, product_id: str = "knock-box") -> httpx.Response:
        added = shopper.post("/cart/items", json={"productId": product_id, "quantity": 1})
        if added.status_code >= 400:
            return added
        return shopper.post("/checkout")

    # -- workers ---------------------------------------------------------------------------
    def start_workers(self, count: int = 1, store: CosmosTimelineStore | None = None) -> None:
        """Start `count` consumers writing through `store` (default: through the Cosmos proxy)."""
        for _ in range(count):
            stop = threading.Event()
            thread = threading.Thread(
                target=local_consumer.run,
                args=(self.queue, store or self.store, self.worker_settings, stop),
                daemon=True,
            )
            thread.start()
            self._workers.append((thread, stop))

    def stop_workers(self) -> None:
        for _, stop in self._workers:
            stop.set()
        for thread, _ in self._workers:
            thread.join(timeout=10)
        self._workers.clear()

    # -- what the operator checks ------------------------------------------------------------
    def order_ids(self) -> list[str]:
        with psycopg.connect(self.orders_db) as conn:
            return [str(r[0]) for r in conn.execute("SELECT id FROM orders ORDER BY created_at")]

    def timeline_types(self, order_id: str) -> list[str]:
        return [e["type"] for e in self.audit.events(order_id)]

    def counts(self) -> Counts:
        ids = self.order_ids()
        timelines = [self.timeline_types(i) for i in ids]
        return Counts(
            orders=len(ids),
            timeline_events=sum(len(t) for t in timelines),
            complete_timelines=sum(t == TIMELINE for t in timelines),
            queued=self.queue.depth(),
            dead_letters=len(self.queue.dead_letters()),
        )

    def settle(self, seconds: float = 15) -> Counts:
        """Wait until every order has its full timeline and the queue is empty (or time out)."""
        deadline = time.monotonic() + seconds
        while True:
            counts = self.counts()
            done = counts.complete_timelines == counts.orders and counts.queued == 0
            if done or time.monotonic() > deadline:
                return counts
            time.sleep(0.1)


@contextmanager
def running(
    workers: int = 1,
    sweep_seconds: float = 0.5,
    max_delivery_count: int = 10,
    lock_seconds: float = 5,
    catalog_timeout: float = 2,
) -> Iterator[Stack]:
    """Start a private stack; yields it with `workers` consumers running."""
    with ExitStack() as stack:
        admin = postgres.admin_url()
        catalog_db = stack.enter_context(postgres.fresh_database(admin, "lab_catalog"))
        orders_db = stack.enter_context(postgres.fresh_database(admin, "lab_orders"))
        bus_db = stack.enter_context(postgres.fresh_database(admin, "lab_bus"))
        migrations.upgrade(catalog_db, REPO / "functions" / "catalog" / "migrations")
        seed(catalog_db)
        migrations.upgrade(orders_db, REPO / "functions" / "orders" / "migrations")
        migrations.upgrade(bus_db, BUS_MIGRATIONS)
        cosmos = stack.enter_context(local_cosmos.running(port=0))

        proxies = {
            "catalog-postgres": TcpProxy(pg_upstream(catalog_db)).start(),
            "orders-postgres": TcpProxy(pg_upstream(orders_db)).start(),
            "bus": TcpProxy(pg_upstream(bus_db)).start(),
            "cosmos": TcpProxy((cosmos.host, cosmos.port)).start(),
        }
        for proxy in proxies.values():
            stack.callback(proxy.stop)

        from functions.catalog.api import create_app as catalog_app
        from functions.orders.api import create_app as orders_app

        catalog_settings = CatalogSettings(
            database_url=via(catalog_db, proxies["catalog-postgres"]),
            db_pool_timeout=1.0,
            db_connect_timeout=1,
        )
        catalog_direct = stack.enter_context(serve(catalog_app(catalog_settings)))
        port = int(catalog_direct.rsplit(":", 1)[1])
        proxies["catalog"] = TcpProxy(("127.0.0.1", port)).start()
        stack.callback(proxies["catalog"].stop)
        catalog_url = f"http://127.0.0.1:{proxies['catalog'].port}"

        issuer = stack.enter_context(running_issuer())
        cosmos_via_proxy = CosmosSettings(
            endpoint=local_cosmos.endpoint_for(proxies["cosmos"].port, cosmos.host),
            key=cosmos.key,
            timeout=1,
            retry_total=0,
            create_if_missing=True,
        )
        publisher_queue = LocalQueue(via(bus_db, proxies["bus"]), queue="lab-orders")
        queue = LocalQueue(
            bus_db,
            queue="lab-orders",
            lock_seconds=lock_seconds,
            max_delivery_count=max_delivery_count,
        )
        orders_settings = OrdersSettings(
            database_url=via(orders_db, proxies["orders-postgres"]),
            catalog_url=catalog_url,
            oidc_issuer=issuer.url,
            outbox_sweep_seconds=sweep_seconds,
            catalog_timeout=catalog_timeout,
            db_pool_timeout=1.0,
            db_connect_timeout=1,
        )
        app = orders_app(
            orders_settings,
            publisher=LocalQueuePublisher(publisher_queue),
            events=CosmosTimelineStore(cosmos_via_proxy),
        )
        orders_url = stack.enter_context(serve(app))
        lab = Stack(
            orders_db=orders_db,
            bus_db=bus_db,
            catalog_url=catalog_url,
            orders_url=orders_url,
            issuer=issuer,
            queue=queue,
            cosmos=cosmos,
            store=CosmosTimelineStore(cosmos_via_proxy),
            audit=CosmosTimelineStore(
                CosmosSettings(endpoint=cosmos.endpoint, key=cosmos.key, create_if_missing=True)
            ),
            proxies=proxies,
            worker_settings=WorkerSettings(
                idle_seconds=0.05, retry_pause_seconds=0.2, batch_size=5
            ),
        )
        stack.callback(lab.stop_workers)
        lab.start_workers(workers)
        yield lab


@dataclass
class LabResult:
    """Counts before the fault and after the recovery, plus what was seen on the way."""

    before: Counts
    after: Counts
    seen: dict[str, object] = field(default_factory=dict)


def eventually(check: Callable[[], bool], seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True
