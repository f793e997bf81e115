"""catalog `GET /products/{id}` over HTTP (uvicorn process, real Postgres) beside a raw psycopg
point-select loop on the same database, in the same run."""

import os
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg

from bench.stats import Result, compare
from dev import postgres
from functions.catalog.seed import seed, seed_products
from functions.shared import migrations

CONCURRENCY = 16
DURATION = 5.0
WARMUP = 1.0


def _http_load(base_url: str, ids: list[str], duration: float) -> Result:
    """CONCURRENCY keep-alive clients, one thread each (httpx's async pool, not the server, was
    the bottleneck when measured with asyncio)."""
    latencies: list[list[float]] = [[] for _ in range(CONCURRENCY)]
    stop = time.perf_counter() + duration

    def client(mine: list[float]) -> None:
        with httpx.Client(base_url=base_url, timeout=10) as http:
            while time.perf_counter() < stop:
                started = time.perf_counter()
                http.get(f"/products/{random.choice(ids)}").raise_for_status()
                mine.append((time.perf_counter() - started) * 1000)

    began = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(client, latencies))
    merged = [ms for per_client in latencies for ms in per_client]
    return Result(
        f"HTTP GET /products/{{id}} (c={CONCURRENCY})",
        len(merged),
        time.perf_counter() - began,
        merged,
    )


def _raw_loop(url: str, ids: list[str], duration: float) -> Result:
    latencies: list[float] = []
    with psycopg.connect(url, autocommit=True) as conn:
        began = time.perf_counter()
        stop = began + duration
        while time.perf_counter() < stop:
            started = time.perf_counter()
            conn.execute(
                "SELECT id, name, description, price, currency, stock FROM products WHERE id = %s",
                (random.choice(ids),),
            ).fetchone()
            latencies.append((time.perf_counter() - started) * 1000)
        return Result(
            "raw psycopg point-select (1 conn)",
            len(latencies),
            time.perf_counter() - began,
            latencies,
        )


def _wait_until_serving(base_url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/catalog/health/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("catalog did not become ready")


def run() -> None:
    ids = [p.id for p in seed_products()]
    with postgres.fresh_database(postgres.admin_url(), "bench_catalog") as url:
        migrations.ensure_database(url)
        migrations.upgrade(url, postgres.REPO / "functions" / "catalog" / "migrations")
        seed(url)
        port = 7171
        server = subprocess.Popen(
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
                "--log-level",
                "warning",
            ],
            env={**os.environ, "CATALOG_DATABASE_URL": url, "LOG_LEVEL": "WARNING"},
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            _wait_until_serving(base_url)
            _http_load(base_url, ids, WARMUP)
            app = _http_load(base_url, ids, DURATION)
        finally:
            server.terminate()
            server.wait(timeout=10)
        baseline = _raw_loop(url, ids, DURATION)
    print("catalog: product point reads")
    print(app.line())
    print(baseline.line())
    print(compare(app, baseline))
