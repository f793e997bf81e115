"""Screenshots of the local Prometheus graphs of TinyShop's key queries, taken during a load
run, for docs/operations.md (`make observability-screenshots`).

What runs, all on free loopback ports and fresh databases, nothing mocked: catalog and orders
as uvicorn processes, the worker as `python -m functions.worker` and the UI under gunicorn, each
with its own METRICS_PORT; the Cosmos stand-in and the local OIDC provider; Debian's Prometheus
with the config and rules of `make dev` (dev/prometheus/launcher.py) scraping every second.
Shoppers fill carts and check out for `--seconds` while anonymous visitors browse the UI, some
check out an empty cart (refused), and two malformed messages are put on the queue
(dead-lettered). Then headless Chromium (Debian's, driven by Playwright) opens Prometheus'
graph page for each query and saves a PNG.

The queries are the dashboards' (tools/dashboards.py) with a 30 s window instead of 5 m, so a
few minutes of load draw a readable graph.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import httpx
import yaml

from bench.servers import app_server
from dev.cosmos import launcher as local_cosmos
from dev.oidc import launcher as local_oidc
from dev.postgres import launcher as postgres
from dev.prometheus import launcher as prometheus
from functions.catalog.seed import seed
from functions.shared import migrations
from functions.shared.eventbus.local_queue import MIGRATIONS as BUS_MIGRATIONS
from functions.shared.eventbus.local_queue import LocalQueue
from functions.shared.events import OutgoingMessage
from ui.app.schema import migrate as migrate_ui

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "screenshots" / "observability"
CHROMIUM = Path(os.environ.get("TINYSHOP_CHROMIUM", "/usr/bin/chromium"))
PRODUCTS = ["french-press", "burr-grinder", "digital-scale", "moka-pot-6", "knock-box"]
W = "[30s]"
# (file name, title, PromQL) — the dashboards' key queries over a 30 s window.
GRAPHS = [
    (
        "01-requests-per-second",
        "Requests per second per app",
        f"sum by (service_name) (rate(http_server_request_duration_seconds_count{W}))",
    ),
    (
        "02-p95-latency",
        "p95 latency per app and route",
        "histogram_quantile(0.95, sum by (service_name, http_route, le) "
        f"(rate(http_server_request_duration_seconds_bucket{W})))",
    ),
    (
        "03-checkouts-by-outcome",
        "Checkouts by outcome",
        f"sum by (outcome) (rate(tinyshop_checkouts_total{W}))",
    ),
    (
        "04-outbox",
        "Outbox backlog and oldest age",
        'label_replace(max(tinyshop_outbox_backlog), "series", "unpublished rows", "", "")'
        ' or label_replace(max(tinyshop_outbox_oldest_age_seconds), "series", "oldest age (s)",'
        ' "", "")',
    ),
    (
        "05-pipeline-lag",
        "Order commit to OrderConfirmed, p95",
        "histogram_quantile(0.95, sum by (le) "
        f"(rate(tinyshop_order_pipeline_lag_seconds_bucket{W})))",
    ),
    (
        "06-worker-outcomes",
        "Worker outcomes",
        f"sum by (outcome) (rate(tinyshop_worker_messages_total{W}))",
    ),
    (
        "07-queue",
        "Local queue depth and dead letters",
        'label_replace(max by (queue) (tinyshop_queue_depth), "series", "depth", "", "")'
        ' or label_replace(max by (queue) (tinyshop_queue_dead_letters), "series",'
        ' "dead letters", "", "")',
    ),
    (
        "08-cosmos",
        "Cosmos DB request units per second",
        f"sum(rate(tinyshop_cosmos_request_charge_total{W}))",
    ),
]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _process(argv: list[str], env: dict[str, str], name: str) -> Iterator[None]:
    log = (REPO / ".dev" / f"screenshots-{name}.log").open("w")
    process = subprocess.Popen(argv, env={**os.environ, **env}, stdout=log, stderr=log, cwd=REPO)
    try:
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _shopper(orders: str, token: str, stop: threading.Event, counts: dict[str, int]) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=orders, headers=headers, timeout=10) as http:
        while not stop.is_set():
            if random.random() < 0.1:  # noqa: S311 (load shape, not security)
                answer = http.post("/checkout", headers={"Idempotency-Key": str(uuid.uuid4())})
            else:
                for product in random.sample(PRODUCTS, 2):
                    http.post("/cart/items", json={"productId": product, "quantity": 1})
                answer = http.post("/checkout", headers={"Idempotency-Key": str(uuid.uuid4())})
            counts[str(answer.status_code)] = counts.get(str(answer.status_code), 0) + 1
            stop.wait(random.uniform(0.05, 0.3))  # noqa: S311


def _browse(catalog: str, ui: str, stop: threading.Event) -> None:
    """Anonymous shoppers: the UI's product pages (which call catalog) and catalog's API."""
    with httpx.Client(base_url=catalog, timeout=10) as http, httpx.Client(timeout=10) as web:
        while not stop.is_set():
            http.get("/products", params={"limit": 10})
            http.get("/products/no-such-product")  # a 404 now and then
            web.get(f"{ui}/")
            web.get(f"{ui}/products/{random.choice(PRODUCTS)}")  # noqa: S311
            stop.wait(0.2)


def _wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


def _screenshots(prometheus_url: str, out: Path, minutes: int) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    saved = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-GB")
        for name, _, query in GRAPHS:
            params = {
                "g0.expr": query,
                "g0.tab": "0",
                "g0.range_input": f"{minutes}m",
                "g0.stacked": "0",
            }
            page.goto(f"{prometheus_url}/graph?{urlencode(params)}")
            page.wait_for_selector("canvas, .graph-legend, svg", timeout=15_000)
            time.sleep(1.5)  # the graph draws after the query returns
            path = out / f"{name}.png"
            page.screenshot(path=str(path), full_page=True, animations="disabled")
            saved.append(path)
        browser.close()
    return saved


def run(seconds: float, out: Path) -> list[Path]:
    binary = shutil.which("prometheus")
    if binary is None:
        raise SystemExit("prometheus is missing: bash tools/apt_install.sh prometheus prometheus")
    admin = postgres.admin_url()
    ports = {name: _free_port() for name in ("catalog", "orders", "worker", "ui")}
    with (
        postgres.fresh_database(admin, "obs_catalog") as catalog_db,
        postgres.fresh_database(admin, "obs_orders") as orders_db,
        postgres.fresh_database(admin, "obs_bus") as bus_db,
        postgres.fresh_database(admin, "obs_ui") as ui_db,
        local_oidc.running(port=0) as oidc,
        local_cosmos.running(port=0) as cosmos,
    ):
        migrations.upgrade(bus_db, BUS_MIGRATIONS)
        migrations.upgrade(catalog_db, REPO / "functions" / "catalog" / "migrations")
        seed(catalog_db)
        migrations.upgrade(orders_db, REPO / "functions" / "orders" / "migrations")
        migrate_ui(ui_db)
        bus = {"EVENT_BUS": "local", "LOCAL_BUS_DATABASE_URL": bus_db, "LOG_LEVEL": "WARNING"}
        cosmos_env = {
            "COSMOS_ENDPOINT": cosmos.endpoint,
            "COSMOS_KEY": cosmos.key,
            "COSMOS_CREATE_IF_MISSING": "true",
        }
        state = REPO / ".dev" / "screenshots-prometheus"
        shutil.rmtree(state, ignore_errors=True)
        state.mkdir(parents=True)
        config = prometheus.config(ports)
        config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
        (state / "prometheus.yml").write_text(yaml.safe_dump(config))
        prom_port, ui_port = _free_port(), _free_port()
        with (
            app_server(
                "functions.catalog.api:create_app",
                "/catalog/health/ready",
                {"CATALOG_DATABASE_URL": catalog_db, "METRICS_PORT": str(ports["catalog"])},
            ) as catalog,
            app_server(
                "functions.orders.api:create_app",
                "/orders/health/ready",
                {
                    "ORDERS_DATABASE_URL": orders_db,
                    "ORDERS_CATALOG_URL": catalog.base_url,
                    "ORDERS_OIDC_ISSUER": oidc.issuer,
                    "SSL_CERT_FILE": str(oidc.ca_bundle),
                    "METRICS_PORT": str(ports["orders"]),
                    **bus,
                    **cosmos_env,
                },
            ) as orders,
            _process(
                [sys.executable, "-m", "functions.worker"],
                {"METRICS_PORT": str(ports["worker"]), **bus, **cosmos_env},
                "worker",
            ),
            _process(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "-c",
                    "ui/gunicorn.conf.py",
                    "--bind",
                    f"127.0.0.1:{ui_port}",
                    "ui.app:create_app()",
                ],
                {
                    "UI_WORKERS": "1",
                    "METRICS_PORT": str(ports["ui"]),
                    "UI_CATALOG_URL": catalog.base_url,
                    "UI_ORDERS_URL": orders.base_url,
                    "UI_OIDC_AUTHORITY": oidc.issuer,
                    "UI_SESSION_DATABASE_URL": ui_db,
                    "UI_SESSION_COOKIE_SECURE": "false",
                    "LOG_LEVEL": "WARNING",
                },
                "ui",
            ),
            _process(
                [
                    binary,
                    f"--config.file={state / 'prometheus.yml'}",
                    f"--storage.tsdb.path={state / 'data'}",
                    f"--web.listen-address=127.0.0.1:{prom_port}",
                ],
                {},
                "prometheus",
            ),
        ):
            ui_url = f"http://127.0.0.1:{ui_port}"
            _wait_for(f"{ui_url}/healthz/live")
            tokens = [oidc.token(f"load-shopper-{i}") for i in range(4)]
            stop = threading.Event()
            counts: dict[str, int] = {}
            threads = [
                threading.Thread(target=_shopper, args=(orders.base_url, t, stop, counts))
                for t in tokens
            ]
            threads.append(threading.Thread(target=_browse, args=(catalog.base_url, ui_url, stop)))
            for thread in threads:
                thread.start()
            queue = LocalQueue(bus_db, queue="orders")
            time.sleep(seconds / 2)
            for i in range(2):  # poison: dead-lettered by the worker at once
                queue.send(OutgoingMessage(f"poison-{i}", "OrderPlaced", b'{"version": 2}'))
            time.sleep(seconds / 2)
            minutes = int(seconds // 60) + 1
            saved = _screenshots(f"http://127.0.0.1:{prom_port}", out, minutes)
            stop.set()
            for thread in threads:
                thread.join(timeout=15)
            queue.close()
            print(f"checkout answers during the run: {counts}")
    return saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180, help="length of the load run")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    for path in run(args.seconds, args.out):
        print(f"wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
