"""catalog over HTTP beside its ceilings, all in the same run and under the same server settings:

- the minimal reference app (bench/reference_app.py): constant JSON, and one pooled
  point-select (async and sync pool; the faster is the ceiling);
- a raw psycopg point-select loop at the same concurrency (asyncio, one connection per client);
- catalog `GET /products/{id}` with tracing off (nothing exports) and with tracing ON
  (exporting to a local OTLP sink, 10% sampled through the standard OTEL_TRACES_SAMPLER
  variables);
- data size: list pages, cursor pages, batch lookups and point reads with the 26 seed products,
  then with 100k products in the same table, same server.
"""

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
from psycopg.conninfo import conninfo_to_dict

from bench import wrk
from bench.harness import (
    TRACES_SAMPLER,
    TRACES_SAMPLER_ARG,
    Bench,
    otlp_sink,
    postgres_backends,
    tracing_env,
)
from bench.reference_app import POINT_SQL
from bench.results import Target
from bench.servers import Server, app_server
from dev.postgres import launcher as postgres
from functions.catalog.seed import seed, seed_products
from functions.shared import migrations

LARGE = 100_000
PAGE = 20  # products per list page and per batch lookup
GET_PRODUCT = "catalog.get_product.rps"
DATA_SIZE_BOUND = 1.2  # small -> large cost, at most (issue 17)


def _catalog(url: str, env: dict[str, str] | None = None, name: str = "catalog"):
    return app_server(
        "functions.catalog.api:create_app",
        "/catalog/health/ready",
        {"CATALOG_DATABASE_URL": url, **(env or {})},
        name=name,
    )


def _insert_large(url: str, count: int) -> None:
    """`count` more products (ids `bench-000001`...) in one statement, then fresh statistics."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO products (id, name, description, price, currency, stock) "
            "SELECT 'bench-' || lpad(n::text, 6, '0'), 'Bench product ' || n, "
            "'A generated product for the data-size benchmark.', (n %% 5000) / 100.0 + 1, "
            "'EUR', n %% 100 FROM generate_series(1, %s) AS n",
            (count,),
        )
        conn.execute("VACUUM ANALYZE products")


def _ids(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM products ORDER BY id")]


def _size_paths(ids: list[str], rng: random.Random) -> dict[str, list[str]]:
    """Requests of the same shape at any size: full pages only (cursors at least PAGE products
    before the end), batches of PAGE existing ids."""
    cursors = ids[: len(ids) - PAGE]
    cursors = rng.sample(cursors, min(len(cursors), 200))
    return {
        "list_first": [f"/products?limit={PAGE}"],
        "list_cursor": [f"/products?limit={PAGE}&cursor={c}" for c in cursors],
        "batch": [f"/products?ids={','.join(sorted(rng.sample(ids, PAGE)))}" for _ in range(100)],
        "get": [f"/products/{i}" for i in rng.sample(ids, min(len(ids), 500))],
    }


def _measure_sizes(
    bench: Bench, size: str, server: Server, ids: list[str], backends: Callable[[], set[int]]
) -> None:
    rng = random.Random(17)
    for what, paths in _size_paths(ids, rng).items():
        bench.http(
            f"catalog.size.{size}.{what}",
            f"{what} ({len(ids)} products)",
            server.base_url,
            wrk.paths_lua(paths),
            {"catalog": {server.pid}, "postgres": backends},
        )


@contextmanager
def _database() -> Iterator[tuple[str, str, str]]:
    admin = postgres.admin_url()
    with postgres.fresh_database(admin, "bench_catalog") as url:
        migrations.ensure_database(url)
        migrations.upgrade(url, postgres.REPO / "functions" / "catalog" / "migrations")
        seed(url)
        yield admin, url, conninfo_to_dict(url)["dbname"]


def run(bench: Bench) -> None:
    ids = sorted(p.id for p in seed_products())
    product_paths = wrk.paths_lua([f"/products/{i}" for i in ids])
    point_paths = wrk.paths_lua([f"/point/{i}" for i in ids])
    with _database() as (admin, url, dbname):

        def backends() -> set[int]:
            return postgres_backends(admin, dbname)

        print(f"ceilings (same server settings, {bench.connections} connections, wrk)")
        with app_server(
            "bench.reference_app:create_app",
            "/health",
            {"REFERENCE_DATABASE_URL": url},
            name="reference",
        ) as ref:
            cpu = {"reference": {ref.pid}, "postgres": backends}
            bench.http("reference.const", "minimal: constant JSON", ref.base_url,
                       wrk.paths_lua(["/const"]), cpu)  # fmt: skip
            a = bench.http("reference.point_async", "minimal: 1 point-select (async pool)",
                           ref.base_url, point_paths, cpu)  # fmt: skip
            sync_paths = point_paths.replace("/point/", "/point-sync/")
            s = bench.http("reference.point_sync", "minimal: 1 point-select (sync pool)",
                           ref.base_url, sync_paths, cpu)  # fmt: skip
            best = max(a.throughput, s.throughput)
            bench.record("reference.point.rps", best, "req/s", "minimal one-query (faster pool)")

        async def connect() -> psycopg.AsyncConnection:
            return await psycopg.AsyncConnection.connect(url, autocommit=True)

        rng = random.Random(1)

        async def point_select(conn: psycopg.AsyncConnection) -> None:
            await (await conn.execute(POINT_SQL, (rng.choice(ids),))).fetchone()

        bench.loop("raw.point_select", f"raw psycopg loop ({bench.connections} async conns)",
                   connect, point_select, {"postgres": backends})  # fmt: skip

        print("catalog, tracing off (nothing exports)")
        with _catalog(url) as server:
            bench.http("catalog.get_product", "catalog GET /products/{id}", server.base_url,
                       product_paths, {"catalog": {server.pid}, "postgres": backends})  # fmt: skip
            print("data size")
            _measure_sizes(bench, "small", server, ids, backends)
            _insert_large(url, LARGE)
            _measure_sizes(bench, "large", server, _ids(url), backends)

        sampler = f"{TRACES_SAMPLER}={TRACES_SAMPLER_ARG}"
        print(f"catalog, tracing ON (OTLP to a local sink, sampler {sampler})")
        with otlp_sink() as sink:
            with _catalog(url, tracing_env(sink), "catalog-traced") as server:
                before = sink.stats()["spans"]
                result = bench.http(
                    "catalog_traced.get_product",
                    "catalog GET /products/{id}, traced",
                    server.base_url,
                    product_paths,
                    {"catalog": {server.pid}, "postgres": backends, "sink": {sink.pid}},
                )
            # Stopping the app flushed its BatchSpanProcessor; warm-up spans are not counted.
            exported = sink.stats()["spans"] - before
            per_request = exported / result.requests if result.requests else 0.0
            bench.record("catalog_traced.spans_per_request", per_request, "spans/req")
            print(f"  spans exported per request: {per_request:.3f} (all spans of a sampled trace)")

    _targets(bench)


def _targets(bench: Bench) -> None:
    for prefix, how in (("catalog", ""), ("catalog_traced", ", tracing ON")):
        bench.target(
            Target(
                f"{prefix}.vs_one_query",
                f"GET /products/{{id}} vs minimal one-query endpoint{how}",
                f"{prefix}.get_product.rps",
                ">=",
                0.9,
                "reference.point.rps",
            ),
            Target(
                f"{prefix}.vs_constant",
                f"GET /products/{{id}} vs minimal constant-JSON endpoint{how}",
                f"{prefix}.get_product.rps",
                ">=",
                0.45,
                "reference.const.rps",
            ),
        )
    for what in ("list_first", "list_cursor", "batch", "get"):
        bench.target(
            Target(
                f"catalog.size.{what}",
                f"catalog {what}: cost 26 -> {LARGE // 1000}k products (small/large req/s)",
                f"catalog.size.small.{what}.rps",
                "<=",
                DATA_SIZE_BOUND,
                f"catalog.size.large.{what}.rps",
            )
        )
