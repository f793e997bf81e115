"""Shared fixtures: a real Postgres, freshly migrated databases and apps served over HTTP."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from dev.cosmos import launcher as local_cosmos
from dev.cosmos.launcher import LocalCosmos
from dev.issuer import Issuer, running_issuer
from dev.postgres import launcher as postgres
from dev.postgres.launcher import fresh_database
from dev.serve import free_port, serve
from functions.catalog.seed import seed
from functions.catalog.settings import CatalogSettings
from functions.orders.settings import OrdersSettings
from functions.shared import migrations, observability
from functions.shared.eventbus.local_queue import LocalQueue, LocalQueuePublisher
from functions.shared.timeline_store import CosmosSettings

REPO = Path(__file__).resolve().parent.parent
CATALOG_MIGRATIONS = REPO / "functions" / "catalog" / "migrations"
ORDERS_MIGRATIONS = REPO / "functions" / "orders" / "migrations"
BUS_MIGRATIONS = REPO / "functions" / "shared" / "eventbus" / "migrations"

# Installed before any app is built, so the apps' telemetry hook reuses it and tests can read spans.
SPANS = InMemorySpanExporter()
_provider = TracerProvider()
_provider.add_span_processor(SimpleSpanProcessor(SPANS))
trace.set_tracer_provider(_provider)
# Likewise the meter provider, with a real Prometheus endpoint of this process that the
# metrics tests scrape (tests/ui/test_metrics.py): every in-process app reports there.
METRICS_URL = f"http://127.0.0.1:{(_metrics_port := free_port())}/metrics"
observability.meter_provider("tests", observability.prometheus_endpoint(_metrics_port))


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    yield postgres.admin_url()
    postgres.stop_embedded()  # while pytest's output streams are still open


@pytest.fixture(scope="session")
def catalog_db(postgres_admin_url: str) -> Iterator[str]:
    """A migrated, seeded catalog database for this run (read-mostly: tests that change it
    restore what they change)."""
    with fresh_database(postgres_admin_url, "test_catalog") as url:
        migrations.upgrade(url, CATALOG_MIGRATIONS)
        seed(url)
        yield url


def catalog_settings(database_url: str, **overrides: object) -> CatalogSettings:
    return CatalogSettings(database_url=database_url, **overrides)


@pytest.fixture(scope="session")
def catalog_url(catalog_db: str) -> Iterator[str]:
    from functions.catalog.api import create_app

    with serve(create_app(catalog_settings(catalog_db))) as url:
        yield url


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=catalog_url, timeout=10) as client:
        yield client


@pytest.fixture(scope="session")
def issuer() -> Iterator[Issuer]:
    with running_issuer() as issuer:
        yield issuer


@pytest.fixture(scope="session")
def orders_db(postgres_admin_url: str) -> Iterator[str]:
    """A migrated orders database for this run; tests keep apart by using their own users."""
    with fresh_database(postgres_admin_url, "test_orders") as url:
        migrations.upgrade(url, ORDERS_MIGRATIONS)
        yield url


def orders_settings(
    database_url: str, catalog_url: str, issuer_url: str, **overrides: object
) -> OrdersSettings:
    overrides.setdefault("outbox_sweep_seconds", 0)  # tests sweep explicitly
    return OrdersSettings(
        database_url=database_url,
        catalog_url=catalog_url,
        oidc_issuer=issuer_url,
        **overrides,
    )


@pytest.fixture(scope="session")
def session_queue(bus_db: str) -> LocalQueue:
    """Where the session's orders app publishes."""
    return LocalQueue(bus_db, queue="session-orders")


@pytest.fixture(scope="session")
def orders_url(
    orders_db: str, catalog_url: str, issuer: Issuer, session_queue: LocalQueue
) -> Iterator[str]:
    from functions.orders.api import create_app

    app = create_app(
        orders_settings(orders_db, catalog_url, issuer.url),
        publisher=LocalQueuePublisher(session_queue),
    )
    with serve(app) as url:
        yield url


@pytest.fixture
def user() -> str:
    """A user of this test only, so tests never see each other's carts or orders."""
    return f"user-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def orders(orders_url: str, issuer: Issuer, user: str) -> Iterator[httpx.Client]:
    """An orders client signed in as `user`."""
    headers = {"Authorization": f"Bearer {issuer.token(user)}"}
    with httpx.Client(base_url=orders_url, headers=headers, timeout=20) as client:
        yield client


@pytest.fixture(scope="session")
def bus_db(postgres_admin_url: str) -> Iterator[str]:
    """The local event bus database for this run; tests use their own queue names."""
    with fresh_database(postgres_admin_url, "test_bus") as url:
        migrations.upgrade(url, BUS_MIGRATIONS)
        yield url


@pytest.fixture
def queue(bus_db: str) -> LocalQueue:
    """A queue of this test only (same database, its own queue name)."""
    return LocalQueue(bus_db, queue=f"q-{uuid.uuid4().hex[:8]}", lock_seconds=30)


@pytest.fixture(scope="session")
def cosmos() -> Iterator[LocalCosmos]:
    """The Cosmos DB stand-in (npm @vercel/cosmosdb-server behind dev/cosmos's launcher)."""
    with local_cosmos.running(port=0) as server:
        yield server


def cosmos_settings(server: LocalCosmos, **overrides: object) -> CosmosSettings:
    options = {
        "endpoint": server.endpoint,
        "key": server.key,
        "timeout": 2,
        "retry_total": 1,
        "create_if_missing": True,
    }
    return CosmosSettings(**(options | overrides))
