"""orders `POST /checkout` over HTTP (real catalog, real Postgres, real local OIDC tokens) beside a
raw SQL loop performing the same inserts in one transaction, in the same run."""

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import psycopg
from psycopg.types.json import Jsonb

from bench.servers import uvicorn_process
from bench.stats import Result, compare
from dev.oidc import launcher as local_oidc
from dev.postgres import launcher as postgres
from functions.catalog.seed import seed
from functions.shared import migrations
from functions.shared.eventbus.local_queue import MIGRATIONS as BUS_MIGRATIONS

CONCURRENCY = 8
DURATION = 5.0
CART = {"french-press": 1, "tea-infuser": 3}


def _http_checkouts(orders_url: str, tokens: list[str], duration: float) -> Result:
    latencies: list[list[float]] = [[] for _ in tokens]
    stop = time.perf_counter() + duration

    def shopper(index: int) -> None:
        headers = {"Authorization": f"Bearer {tokens[index]}"}
        with httpx.Client(base_url=orders_url, headers=headers, timeout=10) as http:
            while time.perf_counter() < stop:
                for product_id, quantity in CART.items():
                    http.post(
                        "/cart/items", json={"productId": product_id, "quantity": quantity}
                    ).raise_for_status()
                started = time.perf_counter()
                http.post("/checkout").raise_for_status()
                latencies[index].append((time.perf_counter() - started) * 1000)

    began = time.perf_counter()
    with ThreadPoolExecutor(len(tokens)) as pool:
        list(pool.map(shopper, range(len(tokens))))
    merged = [ms for per_user in latencies for ms in per_user]
    return Result(
        f"HTTP POST /checkout (c={len(tokens)})", len(merged), time.perf_counter() - began, merged
    )


def _raw_checkouts(url: str, duration: float) -> Result:
    """The checkout transaction's statements, straight from psycopg on one connection."""
    latencies: list[float] = []
    user = "raw-loop"
    prices = {"french-press": Decimal("39.00"), "tea-infuser": Decimal("0.10")}
    with psycopg.connect(url, autocommit=True) as conn:
        began = time.perf_counter()
        stop = began + duration
        while time.perf_counter() < stop:
            with conn.transaction():
                conn.execute(
                    "INSERT INTO carts (user_id) VALUES (%s) ON CONFLICT DO NOTHING", (user,)
                )
                for product_id, quantity in CART.items():
                    conn.execute(
                        "INSERT INTO cart_items (user_id, product_id, quantity) "
                        "VALUES (%s, %s, %s)",
                        (user, product_id, quantity),
                    )
            started = time.perf_counter()
            with conn.transaction():
                conn.execute("SELECT 1 FROM carts WHERE user_id = %s FOR UPDATE", (user,))
                lines = conn.execute(
                    "SELECT product_id, quantity FROM cart_items WHERE user_id = %s", (user,)
                ).fetchall()
                order_id = uuid.uuid4()
                total = sum(prices[p] * q for p, q in lines)
                conn.execute(
                    "INSERT INTO orders (id, user_id, status, currency, total, created_at) "
                    "VALUES (%s, %s, 'placed', 'EUR', %s, %s)",
                    (order_id, user, total, datetime.now(UTC)),
                )
                with conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO order_items (order_id, product_id, name, unit_price, quantity)"
                        " VALUES (%s, %s, %s, %s, %s)",
                        [(order_id, p, p, prices[p], q) for p, q in lines],
                    )
                conn.execute(
                    "INSERT INTO outbox (event_id, event_type, order_id, payload) "
                    "VALUES (%s, 'OrderPlaced', %s, %s)",
                    (uuid.uuid4(), order_id, Jsonb({"total": str(total)})),
                )
                conn.execute("DELETE FROM cart_items WHERE user_id = %s", (user,))
            latencies.append((time.perf_counter() - started) * 1000)
        return Result(
            "raw SQL checkout transaction (1 conn)",
            len(latencies),
            time.perf_counter() - began,
            latencies,
        )


def run() -> None:
    admin = postgres.admin_url()
    with (
        postgres.fresh_database(admin, "bench_catalog") as catalog_db,
        postgres.fresh_database(admin, "bench_orders") as orders_db,
        postgres.fresh_database(admin, "bench_bus") as bus_db,
        local_oidc.running(port=0) as oidc,
    ):
        migrations.upgrade(bus_db, BUS_MIGRATIONS)
        migrations.upgrade(catalog_db, postgres.REPO / "functions" / "catalog" / "migrations")
        seed(catalog_db)
        migrations.upgrade(orders_db, postgres.REPO / "functions" / "orders" / "migrations")
        tokens = [oidc.token(f"bench-shopper-{i}") for i in range(CONCURRENCY)]
        with (
            uvicorn_process(
                "functions.catalog.api:create_app",
                7171,
                "/catalog/health/ready",
                {"CATALOG_DATABASE_URL": catalog_db},
            ) as catalog_url,
            uvicorn_process(
                "functions.orders.api:create_app",
                7172,
                "/orders/health/ready",
                {
                    "ORDERS_DATABASE_URL": orders_db,
                    "ORDERS_CATALOG_URL": catalog_url,
                    "ORDERS_OIDC_ISSUER": oidc.issuer,
                    "EVENT_BUS": "local",
                    "LOCAL_BUS_DATABASE_URL": bus_db,
                    "SSL_CERT_FILE": str(oidc.ca_bundle),
                },
            ) as orders_url,
        ):
            _http_checkouts(orders_url, tokens, 1.0)  # warm-up: JWKS, pools, code paths
            app = _http_checkouts(orders_url, tokens, DURATION)
        baseline = _raw_checkouts(orders_db, DURATION)
    print("orders: checkouts (each after filling the cart with 2 products, untimed)")
    print(app.line())
    print(baseline.line())
    print(compare(app, baseline))
