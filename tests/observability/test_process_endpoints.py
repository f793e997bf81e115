"""Each local process serves its own /metrics (METRICS_PORT), as `make dev` runs it: the worker
as `python -m functions.worker` reports its outcomes, the local queue's depth and dead letters
(observed by its main()), and catalog under uvicorn reports RED metrics per route."""

import re
import sys
import uuid

import httpx

from dev.cosmos.launcher import LocalCosmos
from dev.serve import free_port
from dev.server_process import ServerProcess, wait_until
from functions.shared.eventbus.local_queue import LocalQueue
from functions.shared.events import OutgoingMessage


def _scrape(port: int) -> str:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.TransportError:
        return ""


def _has(text: str, pattern: str) -> bool:
    return re.search(pattern, text, re.MULTILINE) is not None


def test_the_worker_process_reports_outcomes_and_its_queue(bus_db: str, cosmos: LocalCosmos):
    queue = LocalQueue(bus_db, queue=f"metrics-{uuid.uuid4().hex[:8]}")
    port = free_port()
    worker = ServerProcess(
        [sys.executable, "-m", "functions.worker"],
        re.compile(r"consuming local queue"),
        name="python -m functions.worker",
        env={
            "METRICS_PORT": str(port),
            "EVENT_BUS_QUEUE": queue.queue,
            "LOCAL_BUS_DATABASE_URL": bus_db,
            "COSMOS_ENDPOINT": cosmos.endpoint,
            "COSMOS_KEY": cosmos.key,
            "WORKER_IDLE_SECONDS": "0.2",
        },
    )
    worker.start()
    try:
        depth = rf'^tinyshop_queue_depth\{{.*queue="{queue.queue}".*\}} 0\.0$'
        assert wait_until(lambda: _has(_scrape(port), depth), timeout=15), _scrape(port)
        queue.send(OutgoingMessage("poison-1", "OrderPlaced", b'{"version": 2}'))
        dead = rf'^tinyshop_queue_dead_letters\{{.*queue="{queue.queue}".*\}} 1\.0$'
        poison = r'^tinyshop_worker_messages_total\{.*outcome="poison".*\} 1\.0$'
        assert wait_until(lambda: _has(_scrape(port), dead), timeout=15), _scrape(port)
        assert _has(_scrape(port), poison)
    finally:
        worker.stop()
        queue.close()


def test_an_api_process_reports_red_metrics_per_route(catalog_db: str):
    port, metrics_port = free_port(), free_port()
    catalog = ServerProcess(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "functions.catalog.api:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
        ],
        re.compile(r"Uvicorn running on"),
        name="catalog",
        env={"METRICS_PORT": str(metrics_port), "CATALOG_DATABASE_URL": catalog_db},
    )
    catalog.start()
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/products/moka-pot-6").status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/catalog/health/ready").status_code == 200
        text = _scrape(metrics_port)
        route = (
            r"^http_server_request_duration_seconds_count"
            r'\{.*http_route="/products/\{product_id\}".*\} 1\.0$'
        )
        assert _has(text, route), text
        assert "catalog/health" not in text  # probes are not measured
    finally:
        catalog.stop()
