"""catalog over HTTP beside its ceilings, all in the same run and under the same server settings:

- the minimal reference app (bench/reference_app.py): constant JSON, and one pooled
  point-select (async and sync pool; the faster is the ceiling);
- a raw psycopg point-select loop at the same concurrency (asyncio, one connection per client);
- catalog `GET /products/{id}` with tracing off (nothing exports) and with tracing ON
  (exporting to a local OTLP sink, 10% sampled through the standard OTEL_TRACES_SAMPLER
  variables);
- the same two for catalog as it was before issue 17 (bench/before.py), in the same rounds:
  the before/after of the figure itself, on this machine, in this run;
- data size: list pages, cursor pages, batch lookups and point reads with the 26 seed products,
  then with 100k products in the same table, same server.
"""

import random
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

from bench import before, wrk
from bench.harness import (
    TRACES_SAMPLER,
    TRACES_SAMPLER_ARG,
    Bench,
    Http,
    Rounds,
    otlp_sink,
    postgres_backends,
    tracing_env,
)
from bench.reference_app import POINT_SQL
from bench.results import Target
from bench.servers import REPO, Server, app_server
from dev.postgres import launcher as postgres
from functions.catalog.seed import seed, seed_products
from functions.shared import migrations

LARGE = 100_000
PAGE = 20  # products per list page and per batch lookup
GET_PRODUCT = "catalog.get_product.rps"
DATA_SIZE_BOUND = 1.2  # small -> large cost, at most (issue 17)


def _catalog(
    url: str,
    env: dict[str, str] | None = None,
    name: str = "catalog",
    root: Path = REPO,
    python: Path = Path(sys.executable),
):
    return app_server(
        "functions.catalog.api:create_app",
        "/catalog/health/ready",
        {"CATALOG_DATABASE_URL": url, **(env or {})},
        name=name,
        root=root,
        python=python,
    )


@dataclass(frozen=True)
class _Before:
    """catalog's tree and packages as they were before issue 17, and its own database."""

    root: Path
    python: Path
    url: str


@contextmanager
def _before(admin: str) -> Iterator[_Before | None]:
    """The old catalog's database, migrated and seeded by the old code; None, with the reason
    printed, where there is no such tree (bench/before.py)."""
    with before.old_code() as old:
        if old is None:
            yield None
            return
        root, python = old
        with postgres.fresh_database(admin, "bench_before_catalog") as url:
            before.prepare_databases(python, root, url)
            yield _Before(root, python, url)


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
        conn.execute("CHECKPOINT")  # the bulk write's dirty pages go to disk before measuring


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


def _cost(rounds: Rounds) -> list[float]:
    """catalog + Postgres CPU per request of each measured round."""
    return [r.cpu_ms["catalog"] + r.cpu_ms["postgres"] for r in rounds.measured]


def _measure_sizes(
    bench: Bench,
    servers: dict[str, tuple[Server, list[str]]],
    backends: Callable[[], set[int]],
) -> None:
    """Each request kind on the small and the large catalog, round-robin (so both see the same
    machine); records `catalog.size.<size>.<kind>.*`, and the cost (catalog + Postgres CPU per
    request) large over small round by round, its median as `catalog.size.<kind>.cost`."""
    paths = {size: _size_paths(ids, random.Random(17)) for size, (_, ids) in servers.items()}
    for kind in ("list_first", "list_cursor", "batch", "get"):
        results = bench.http_rounds(
            [
                Http(
                    f"catalog.size.{size}.{kind}",
                    f"{kind} ({len(ids):,} products)",
                    server.base_url,
                    wrk.paths_lua(paths[size][kind]),
                    {"catalog": {server.pid}, "postgres": backends},
                )
                for size, (server, ids) in servers.items()
            ]
        )
        large, small = (results[f"catalog.size.{size}.{kind}"] for size in ("large", "small"))
        bench.ratio(f"catalog.size.{kind}.cost", f"{kind}: CPU per request, large / small",
                    _cost(large), _cost(small), "lower")  # fmt: skip


@contextmanager
def _database(purpose: str = "bench_catalog") -> Iterator[tuple[str, str, str]]:
    admin = postgres.admin_url()
    with postgres.fresh_database(admin, purpose) as url:
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

        async def connect() -> psycopg.AsyncConnection:
            return await psycopg.AsyncConnection.connect(url, autocommit=True)

        rng = random.Random(1)

        async def point_select(conn: psycopg.AsyncConnection) -> None:
            await (await conn.execute(POINT_SQL, (rng.choice(ids),))).fetchone()

        print(f"raw driver ceiling ({bench.connections} concurrent clients)")
        bench.loop("raw.point_select", f"raw psycopg loop ({bench.connections} async conns)",
                   connect, point_select, {"postgres": backends})  # fmt: skip

        sampler = f"{TRACES_SAMPLER}={TRACES_SAMPLER_ARG}"
        print(f"catalog and its ceilings: same server settings, {bench.connections} connections,")
        print("wrk, round-robin (medians; req/s spread in parentheses); tracing off except the")
        print(f"traced catalog (OTLP to a local sink, sampler {sampler})")
        with (
            app_server(
                "bench.reference_app:create_app",
                "/health",
                {"REFERENCE_DATABASE_URL": url},
                name="reference",
            ) as ref,
            _catalog(url) as server,
            otlp_sink() as sink,
            _before(admin) as old,
            ExitStack() as old_servers,
        ):
            with _catalog(url, tracing_env(sink), "catalog-traced") as traced:
                ref_cpu = {"reference": {ref.pid}, "postgres": backends}
                entries = [
                    Http("reference.const", "minimal: constant JSON", ref.base_url,
                         wrk.paths_lua(["/const"]), ref_cpu),
                    Http("reference.point_async", "minimal: 1 point-select (async pool)",
                         ref.base_url, point_paths, ref_cpu),
                    Http("reference.point_sync", "minimal: 1 point-select (sync pool)",
                         ref.base_url, point_paths.replace("/point/", "/point-sync/"), ref_cpu),
                    Http("catalog.get_product", "catalog GET /products/{id}",
                         server.base_url, product_paths,
                         {"catalog": {server.pid}, "postgres": backends}),
                    Http("catalog_traced.get_product", "catalog GET /products/{id}, traced",
                         traced.base_url, product_paths,
                         {"catalog": {traced.pid}, "postgres": backends, "sink": {sink.pid}}),
                ]  # fmt: skip
                if old is not None:
                    entries += _before_entries(old, old_servers, admin, product_paths)
                results = bench.http_rounds(entries)
            # Stopping the traced app flushed its spans; wrk counts only completed requests,
            # so the figure is a hair high (the few in flight when each run ended).
            traced = results["catalog_traced.get_product"]
            served = traced.warmup.requests + sum(r.result.requests for r in traced.measured)
            per_request = sink.stats()["spans"] / served if served else 0.0
            bench.record("catalog_traced.spans_per_request", per_request, "spans/req")
            print(f"  spans exported per traced request: {per_request:.3f}")
        figures = bench.run.figures
        faster = max(
            ("point_async", "point_sync"), key=lambda k: figures[f"reference.{k}.rps"].value
        )
        best = figures[f"reference.{faster}.rps"].value
        bench.record("reference.point.rps", best, "req/s", f"minimal one-query ({faster})")
        _ratios(bench, results)

        print(f"data size: {len(ids)} vs {LARGE:,} products, round-robin")
        with _database("bench_catalog_large") as (_, large_url, large_name):
            _insert_large(large_url, LARGE)

            def both_backends() -> set[int]:
                return backends() | postgres_backends(admin, large_name)

            with _catalog(url) as small, _catalog(large_url, name="catalog-large") as large:
                servers = {"small": (small, ids), "large": (large, _ids(large_url))}
                _measure_sizes(bench, servers, both_backends)

    _targets(bench)


def _before_entries(old: _Before, opened: ExitStack, admin: str, paths: str) -> list[Http]:
    """catalog before issue 17, untraced and traced (to a sink of its own, so each sink's span
    count is one app's), served from its tree until `opened` closes."""

    dbname = conninfo_to_dict(old.url)["dbname"]

    def backends() -> set[int]:
        return postgres_backends(admin, dbname)

    sink = opened.enter_context(otlp_sink())
    plain = opened.enter_context(
        _catalog(old.url, name="catalog-before", root=old.root, python=old.python)
    )
    traced = opened.enter_context(
        _catalog(old.url, tracing_env(sink), "catalog-before-traced", old.root, old.python)
    )
    label = f"catalog before ({before.BEFORE})"
    return [
        Http("catalog_before.get_product", label, plain.base_url, paths,
             {"catalog": {plain.pid}, "postgres": backends}),
        Http("catalog_before_traced.get_product", f"{label}, traced", traced.base_url, paths,
             {"catalog": {traced.pid}, "postgres": backends, "sink": {sink.pid}}),
    ]  # fmt: skip


def _ratios(bench: Bench, results: dict[str, Rounds]) -> None:
    """catalog's req/s over each ceiling's, round by round, and their median (bench/stats.py):
    `catalog.vs_one_query` (the faster pool of that round), `catalog.vs_constant`, and the
    same for the traced catalog; and over catalog's before issue 17 (`catalog.vs_before`,
    `catalog_traced.vs_before`) when it was served."""

    def rps(key: str) -> list[float]:
        return [r.result.throughput for r in results[key].measured]

    ceilings = {
        "one_query": [max(a, s) for a, s in zip(rps("reference.point_async"),
                                                 rps("reference.point_sync"), strict=True)],
        "constant": rps("reference.const"),
    }  # fmt: skip
    for prefix in ("catalog", "catalog_traced"):
        for name, ceiling in ceilings.items():
            bench.ratio(f"{prefix}.vs_{name}", f"{prefix} / {name} ceiling, req/s",
                        rps(f"{prefix}.get_product"), ceiling)  # fmt: skip
    for prefix, old in (("catalog", "catalog_before"), ("catalog_traced", "catalog_before_traced")):
        if f"{old}.get_product" in results:
            bench.ratio(f"{prefix}.vs_before", f"{prefix} / {old}, req/s",
                        rps(f"{prefix}.get_product"), rps(f"{old}.get_product"))  # fmt: skip


def _targets(bench: Bench) -> None:
    for prefix, how in (("catalog", ""), ("catalog_traced", ", tracing ON")):
        bench.target(
            Target(
                f"{prefix}.vs_one_query",
                f"GET /products/{{id}} / minimal one-query endpoint, median of rounds{how}",
                f"{prefix}.vs_one_query",
                ">=",
                0.9,
            ),
            Target(
                f"{prefix}.vs_constant",
                f"GET /products/{{id}} / minimal constant-JSON endpoint, median of rounds{how}",
                f"{prefix}.vs_constant",
                ">=",
                0.45,
            ),
        )
    for what in ("list_first", "list_cursor", "batch", "get"):
        bench.target(
            Target(
                f"catalog.size.{what}",
                f"catalog {what}: CPU per request (app + Postgres), {LARGE // 1000}k / 26 "
                "products, median of rounds",
                f"catalog.size.{what}.cost",
                "<=",
                DATA_SIZE_BOUND,
            )
        )
