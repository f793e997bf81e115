"""catalog during and after a database outage: 503 problems, failing readiness, and recovery
without a restart. The app reaches Postgres through a TCP proxy the test cuts and restores."""

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from dev.serve import serve
from dev.tcp_proxy import TcpProxy
from functions.catalog.api import create_app
from tests.conftest import catalog_settings


def _upstream(database_url: str) -> tuple[str, int] | Path:
    info = conninfo_to_dict(database_url)
    host, port = info.get("host", "127.0.0.1"), int(info.get("port", 5432))
    return Path(host) / f".s.PGSQL.{port}" if host.startswith("/") else (host, port)


@pytest.fixture
def proxy(catalog_db: str) -> Iterator[TcpProxy]:
    proxy = TcpProxy(_upstream(catalog_db)).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def client(catalog_db: str, proxy: TcpProxy) -> Iterator[httpx.Client]:
    via_proxy = make_conninfo(catalog_db, host="127.0.0.1", port=str(proxy.port))
    settings = catalog_settings(via_proxy, db_pool_timeout=1.0, db_connect_timeout=1)
    with serve(create_app(settings)) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield client


def _eventually(check, seconds: float = 15.0) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while True:
        response = check()
        if response.status_code == 200 or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def test_database_outage_gives_503_and_the_app_recovers_without_restart(
    client: httpx.Client, proxy: TcpProxy
):
    assert client.get("/products/french-press").status_code == 200

    proxy.stop()
    down = client.get("/products/french-press")
    not_ready = client.get("/catalog/health/ready")

    assert down.status_code == 503
    assert down.headers["content-type"] == "application/problem+json"
    assert down.headers["retry-after"] == "5"
    assert "database" in down.json()["detail"]
    assert not_ready.status_code == 503
    assert not_ready.json()["checks"] == {"database": "unavailable"}
    assert client.get("/catalog/health/live").status_code == 200

    proxy.start()
    recovered = _eventually(lambda: client.get("/products/french-press"))
    assert recovered.status_code == 200
    assert recovered.json()["id"] == "french-press"
    assert _eventually(lambda: client.get("/catalog/health/ready")).status_code == 200


def test_an_app_whose_first_request_meets_the_outage_recovers_too(
    client: httpx.Client, proxy: TcpProxy
):
    """The database is already down when the pool would open: the first callers get 503, and
    once the database is back a new pool serves (psycopg_pool's wait() closes the pool it gave
    up on, so the app must not keep that closed pool for ever)."""
    proxy.stop()
    first = client.get("/products/french-press")
    assert first.status_code == 503
    assert first.headers["content-type"] == "application/problem+json"
    assert client.get("/catalog/health/ready").status_code == 503

    proxy.start()
    recovered = _eventually(lambda: client.get("/products/french-press"))
    assert recovered.status_code == 200
    assert _eventually(lambda: client.get("/catalog/health/ready")).status_code == 200
