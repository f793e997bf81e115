"""catalog `GET /products/{id}` over HTTP (uvicorn process, real Postgres) beside a raw psycopg
point-select loop on the same database, in the same run."""

import random
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg

from bench.servers import uvicorn_process
from bench.stats import Result, compare
from dev.postgres import launcher as postgres
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


def run() -> None:
    ids = [p.id for p in seed_products()]
    with postgres.fresh_database(postgres.admin_url(), "bench_catalog") as url:
        migrations.ensure_database(url)
        migrations.upgrade(url, postgres.REPO / "functions" / "catalog" / "migrations")
        seed(url)
        with uvicorn_process(
            "functions.catalog.api:create_app",
            7171,
            "/catalog/health/ready",
            {"CATALOG_DATABASE_URL": url},
        ) as base_url:
            _http_load(base_url, ids, WARMUP)
            app = _http_load(base_url, ids, DURATION)
        baseline = _raw_loop(url, ids, DURATION)
    print("catalog: product point reads")
    print(app.line())
    print(baseline.line())
    print(compare(app, baseline))
