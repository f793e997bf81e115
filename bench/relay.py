"""The outbox relay, outbox -> local queue, per event, beside the relay as it was before issue 17
(replayed statement for statement below, on the same tables, in the same run); with tracing off
and ON; then how the outbox and the local queue cost as they grow.

Each measurement runs in a child process (`python -m bench.relay --child ...`), so that tracing
ON (an SDK tracer provider exporting to the local OTLP sink) is that process's own setting, as
in the orders process where the relay runs, and its CPU is the relay's alone. The child reports
events/s, its CPU per event, and the CPU per event of the Postgres backends (orders and bus).

- after commit: one `publish_due(order_id=...)` per order, as after each checkout;
- sweep: `sweep()` over a backlog (claim and mark per batch of 100);
- data size: the sweep with 0 vs 1M published rows kept in the outbox (its claim and its prune),
  and receive + complete on a local queue holding 1k vs 100k messages.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb

from bench.cpu import cpu_seconds, spent
from bench.harness import Bench, otlp_sink, postgres_backends, tracing_env
from bench.results import Target
from dev.postgres import launcher as postgres
from functions.shared import migrations
from functions.shared.eventbus.local_queue import LocalQueue
from functions.shared.events import OutgoingMessage

EVENTS = 300
RATIO = 1.5  # issue 17: relay >= 1.5x today per event
ROUNDS = 3
DATA_SIZE_BOUND = 1.2
OUTBOX_LARGE = {"full": 1_000_000, "quick": 200_000}
QUEUE_SIZES = {"small": 1_000, "large": 100_000}
QUEUE_OPS = 500
ORDERS_MIGRATIONS = postgres.REPO / "functions" / "orders" / "migrations"
BUS_MIGRATIONS = postgres.REPO / "functions" / "shared" / "eventbus" / "migrations"


# --- the relay before issue 17 (functions/orders/relay.py and local_queue.py at c42f375) -----


def _legacy_send(conn: psycopg.Connection, queue: str, message) -> bool:
    """LocalQueue.send as it was: prune the seen ids, record the id, insert; 5 round trips."""
    with conn.transaction():
        conn.execute(
            "DELETE FROM seen_message_ids WHERE queue = %s AND seen_at < now() - %s",
            (queue, timedelta(minutes=10)),
        )
        first = conn.execute(
            "INSERT INTO seen_message_ids (queue, message_id) VALUES (%s, %s) "
            "ON CONFLICT DO NOTHING RETURNING 1",
            (queue, message.message_id),
        ).fetchone()
        if first is None:
            return False
        conn.execute(
            "INSERT INTO messages (queue, message_id, subject, content_type, body, "
            "application_properties) VALUES (%s, %s, %s, %s, %s, %s)",
            (
                queue,
                message.message_id,
                message.subject,
                message.content_type,
                message.body,
                Jsonb(message.application_properties),
            ),
        )
        return True


def _legacy_publish_due(db, bus, queue: str, order_id=None, batch_size: int = 100) -> int:
    """publish_due as it was: claim, then per row a send and its own mark."""
    from functions.orders.relay import CLAIM_LEASE
    from functions.shared.eventbus.tracing import publishing

    with db.connection() as conn:
        claimed = conn.execute(
            "UPDATE outbox SET next_attempt_at = now() + %(lease)s WHERE event_id IN ("
            " SELECT event_id FROM outbox"
            " WHERE published_at IS NULL AND next_attempt_at <= now()"
            " AND (%(order_id)s::uuid IS NULL OR order_id = %(order_id)s)"
            " ORDER BY created_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
            " RETURNING event_id, event_type, payload, trace_context, attempts, created_at",
            {"order_id": order_id, "limit": batch_size, "lease": CLAIM_LEASE},
        ).fetchall()
    published = 0
    for event_id, event_type, payload, trace_context, _, _ in sorted(claimed, key=lambda r: r[5]):
        message = OutgoingMessage.for_event(str(event_id), event_type, payload, trace_context)
        with publishing(message, trace_context) as traced, bus.connection() as conn:
            _legacy_send(conn, queue, traced)
        published += 1
        with db.connection() as conn:
            conn.execute(
                "UPDATE outbox SET published_at = now(), attempts = attempts + 1, "
                "last_error = NULL WHERE event_id = %s",
                (event_id,),
            )
    return published


# --- the child: one measurement --------------------------------------------------------------


def _due_orders(orders_db: str, count: int) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(count)]
    with (
        psycopg.connect(orders_db, autocommit=True) as conn,
        conn.transaction(),
        conn.cursor() as cur,
    ):
        cur.executemany(
            "INSERT INTO orders (id, user_id, status, currency, total) "
            "VALUES (%s, 'bench', 'placed', 'EUR', 39.30)",
            [(i,) for i in ids],
        )
        cur.executemany(
            "INSERT INTO outbox (event_id, event_type, order_id, payload, trace_context) "
            "VALUES (%s, 'OrderPlaced', %s, %s, %s)",
            [
                (uuid.uuid4(), i, Jsonb({"orderId": str(i), "total": "39.30"}), Jsonb({}))
                for i in ids
            ],
        )
    return ids


def _measured(run: Callable[[], int], admin: str, databases: list[str]) -> dict[str, float]:
    names = [conninfo_to_dict(url)["dbname"] for url in databases]
    backends = set().union(*(postgres_backends(admin, name) for name in names))
    before_pg = cpu_seconds(backends)
    before = time.process_time()
    began = time.perf_counter()
    events = run()
    wall = time.perf_counter() - began
    cpu = time.process_time() - before
    pg = spent(before_pg, cpu_seconds(backends))
    return {
        "events": events,
        "per_s": events / wall,
        "cpu_ms": 1000 * cpu / events,
        "postgres_ms": 1000 * pg / events,
    }


def _child(kind: str, orders_db: str, bus_db: str, admin: str) -> dict[str, float]:
    from functions.orders import relay
    from functions.orders.settings import OrdersSettings
    from functions.shared.db import Database
    from functions.shared.eventbus.local_queue import LocalQueuePublisher
    from functions.shared.observability import setup

    setup("orders")  # tracing as the orders process has it (ON when the env exports)
    settings = OrdersSettings(database_url=orders_db, relay_pool_max_size=3)
    # The relay's pool as the orders app builds it (async commits); the relay as it was before
    # issue 17 ran on a pool like the requests' (every commit waits for its flush).
    db = (
        Database(settings, "bench-legacy-relay")
        if kind.startswith("legacy_")
        else relay.relay_database(settings)
    )
    queue_name = f"bench-{kind}-{uuid.uuid4().hex[:6]}"
    queue = LocalQueue(bus_db, queue=queue_name)
    publisher = LocalQueuePublisher(queue)
    warm = _due_orders(orders_db, 20)
    for order_id in warm:  # pools open, statements prepared, the first prune done
        relay.publish_due(db, publisher, order_id=order_id)
    bus = Database(OrdersSettings(database_url=bus_db, db_pool_max_size=3), "bench-legacy-bus")
    ids = _due_orders(orders_db, EVENTS)
    try:
        if kind == "after_commit":

            def run() -> int:
                return sum(relay.publish_due(db, publisher, order_id=i).published for i in ids)
        elif kind == "legacy_after_commit":

            def run() -> int:
                return sum(_legacy_publish_due(db, bus, queue_name, order_id=i) for i in ids)
        elif kind == "sweep":

            def run() -> int:
                return relay.sweep(db, publisher, timedelta(days=7)).published
        elif kind == "legacy_sweep":

            def run() -> int:
                total = 0
                while (published := _legacy_publish_due(db, bus, queue_name)) > 0:
                    total += published
                relay.prune(db, timedelta(days=7))
                return total
        else:
            raise ValueError(kind)
        return _measured(run, admin, [orders_db, bus_db])
    finally:
        bus.close()
        queue.close()
        db.close()


def _run_child(kind: str, orders_db: str, bus_db: str, env: dict[str, str]) -> dict[str, float]:
    argv = [sys.executable, "-m", "bench.relay", "--child", kind, orders_db, bus_db]
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "LOG_LEVEL": "WARNING", **env},
        cwd=postgres.REPO,
    )
    if done.returncode != 0:
        raise RuntimeError(f"relay child {kind} failed:\n{done.stdout}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _record(bench: Bench, key: str, label: str, figures: dict[str, float]) -> None:
    bench.record(f"{key}.events_per_s", figures["per_s"], "events/s", label)
    bench.record(f"{key}.cpu_ms", figures["cpu_ms"], "ms/event", label, "lower")
    bench.record(f"{key}.postgres_ms", figures["postgres_ms"], "ms/event", label, "lower")
    print(
        f"  {label:<52} {figures['per_s']:7.0f} events/s  cpu ms/event: relay "
        f"{figures['cpu_ms']:.3f}  postgres {figures['postgres_ms']:.3f}",
        flush=True,
    )


def _alternating(
    bench: Bench,
    prefix: str,
    rounds: int,
    orders_db: str,
    bus_db: str,
    env: dict[str, str],
    kinds: tuple[tuple[str, str], ...],
) -> None:
    """Every kind once per round, the order reversed every other round (before and now see the
    machine alike: this VM's speed drifts within minutes); records each figure's median, and
    for each kind with a `legacy_` twin `prefix.kind.vs_before`: the median of the per-round
    ratios of events/s (bench/stats.py)."""
    runs: dict[str, list[dict[str, float]]] = {kind: [] for kind, _ in kinds}
    for round_ in range(rounds):
        for kind, _ in kinds if round_ % 2 == 0 else kinds[::-1]:
            runs[kind].append(_run_child(kind, orders_db, bus_db, env))
    for kind, label in kinds:
        medians = _medians(runs[kind])
        _record(bench, f"{prefix}.{kind}", label, medians)
    for kind in (k for k, _ in kinds if f"legacy_{k}" in runs):
        bench.ratio(f"{prefix}.{kind}.vs_before", f"{kind}: events/s, now / before",
                    _per_s(runs[kind]), _per_s(runs[f"legacy_{kind}"]))  # fmt: skip


def _per_s(runs: list[dict[str, float]]) -> list[float]:
    return [r["per_s"] for r in runs]


def _medians(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's median over the rounds."""
    return {figure: statistics.median(r[figure] for r in runs) for figure in runs[0]}


# --- data size -------------------------------------------------------------------------------


def _published_rows(orders_db: str, count: int) -> None:
    """`count` published outbox rows inside the retention period (all of one order: the
    foreign key needs an order, not one each), then fresh statistics."""
    with psycopg.connect(orders_db, autocommit=True) as conn:
        order_id = uuid.uuid4()
        conn.execute(
            "INSERT INTO orders (id, user_id, status, currency, total) "
            "VALUES (%s, 'bench-kept', 'placed', 'EUR', 1)",
            (order_id,),
        )
        conn.execute(
            "INSERT INTO outbox (event_id, event_type, order_id, payload, created_at, "
            "published_at, attempts) SELECT gen_random_uuid(), 'OrderPlaced', %s, '{}', "
            "now() - n * interval '0.5 second', now() - n * interval '0.5 second', 1 "
            "FROM generate_series(1, %s) AS n",
            (order_id, count),
        )
        conn.execute("VACUUM ANALYZE outbox")


@contextmanager
def _queue_of(admin: str, size: int) -> Iterator[LocalQueue]:
    """A local queue holding `size` messages, in a bus database of its own (as `make dev` has one
    queue per bus database: the receive's plan walks the primary key, so another queue's older
    messages at its head would be read past on every receive, +0.4 ms of Postgres per receive
    for 1,000 of them; docs/performance.md, "Data size")."""
    name = f"bench-size-{size}"
    with postgres.fresh_database(admin, f"bench_queue_{size}") as bus_db:
        migrations.upgrade(bus_db, BUS_MIGRATIONS)
        with psycopg.connect(bus_db, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO messages (queue, message_id, subject, content_type, body) "
                "SELECT %s, gen_random_uuid()::text, 'OrderPlaced', 'application/json', "
                "'\\x7b7d' FROM generate_series(1, %s)",
                (name, size),
            )
            conn.execute("VACUUM ANALYZE messages")
        queue = LocalQueue(bus_db, queue=name)
        try:
            for _ in range(20):  # warm-up
                [m] = queue.receive(1)
                queue.complete(m)
            yield queue
        finally:
            queue.close()


def _queue_ops(queue: LocalQueue, admin: str) -> dict[str, float]:
    """receive(1) + complete + send (so the queue keeps its size), QUEUE_OPS times."""

    def run() -> int:
        for _ in range(QUEUE_OPS):
            [m] = queue.receive(1)
            queue.complete(m)
            queue.send(OutgoingMessage.for_event(str(uuid.uuid4()), "OrderPlaced", {}, {}))
        return QUEUE_OPS

    return _measured(run, admin, [queue.database_url])


def _data_size(bench: Bench, admin: str) -> None:
    large = OUTBOX_LARGE["quick" if bench.quick else "full"]
    outboxes = {"small": 0, "large": large}  # published rows kept
    rounds = 1 if bench.quick else ROUNDS
    sweeps: dict[str, list[dict[str, float]]] = {size: [] for size in outboxes}
    with ExitStack() as opened:
        databases = {}
        for size, kept in outboxes.items():
            orders_db = opened.enter_context(postgres.fresh_database(admin, "bench_relay_size"))
            bus_db = opened.enter_context(postgres.fresh_database(admin, "bench_relay_size_bus"))
            migrations.upgrade(orders_db, ORDERS_MIGRATIONS)
            migrations.upgrade(bus_db, BUS_MIGRATIONS)
            if kept:
                _published_rows(orders_db, kept)
            databases[size] = (orders_db, bus_db)
        for round_ in range(rounds):  # alternating, as the local queue's sizes below
            for size in ("small", "large") if round_ % 2 == 0 else ("large", "small"):
                sweeps[size].append(_run_child("sweep", *databases[size], {}))
    for size, kept in outboxes.items():
        medians = _medians(sweeps[size])
        _record(bench, f"relay.size.{size}.sweep", f"sweep + prune, {kept} published rows kept",
                medians)  # fmt: skip
    with (
        _queue_of(admin, QUEUE_SIZES["small"]) as small,
        _queue_of(admin, QUEUE_SIZES["large"]) as large_queue,
    ):
        queues = {"small": small, "large": large_queue}
        runs: dict[str, list[dict[str, float]]] = {size: [] for size in queues}
        for round_ in range(rounds):  # alternating, medians (as the relay's before and now)
            for size in ("small", "large") if round_ % 2 == 0 else ("large", "small"):
                runs[size].append(_queue_ops(queues[size], admin))
    for size, count in QUEUE_SIZES.items():
        figures = _medians(runs[size])
        label = f"receive + complete (+ send), queue of {count} messages"
        bench.record(f"queue.size.{size}.ops_per_s", figures["per_s"], "ops/s", label)
        bench.record(f"queue.size.{size}.cpu_ms", figures["cpu_ms"], "ms/op", label, "lower")
        print(f"  {label:<52} {figures['per_s']:7.0f} ops/s  cpu ms/op: client "
              f"{figures['cpu_ms']:.3f}  postgres {figures['postgres_ms']:.3f}")  # fmt: skip
    sweep = bench.ratio("relay.size.cost", "sweep + prune: events/s, small / large",
                        _per_s(sweeps["small"]), _per_s(sweeps["large"]), "lower")  # fmt: skip
    queue = bench.ratio("queue.size.cost", "local queue: ops/s, small / large",
                        _per_s(runs["small"]), _per_s(runs["large"]), "lower")  # fmt: skip
    print("  cost small -> large (small/large throughput)")
    print(f"    outbox sweep + prune   0 -> {large} published rows   {sweep:5.2f}x")
    print(f"    queue receive+complete {QUEUE_SIZES['small']} -> {QUEUE_SIZES['large']} messages"
          f"   {queue:5.2f}x")  # fmt: skip
    bench.target(
        Target("relay.size.sweep",
               f"outbox sweep + prune: cost 0 -> {large} published rows, median of rounds",
               "relay.size.cost", "<=", DATA_SIZE_BOUND),
        Target("queue.size.receive",
               "local queue receive + complete: cost 1k -> 100k messages, median of rounds",
               "queue.size.cost", "<=", DATA_SIZE_BOUND),
    )  # fmt: skip


# --- the suite -------------------------------------------------------------------------------


def run(bench: Bench) -> None:
    admin = postgres.admin_url()
    with (
        postgres.fresh_database(admin, "bench_relay_orders") as orders_db,
        postgres.fresh_database(admin, "bench_relay_bus") as bus_db,
    ):
        migrations.upgrade(orders_db, ORDERS_MIGRATIONS)
        migrations.upgrade(bus_db, BUS_MIGRATIONS)
        rounds = 1 if bench.quick else ROUNDS
        print(f"outbox -> local queue, {EVENTS} OrderPlaced events, tracing off "
              f"(before and now alternating, median of {rounds} rounds)")  # fmt: skip
        _run_child("after_commit", orders_db, bus_db, {})  # warm-up: caches, not recorded
        _alternating(bench, "relay", rounds, orders_db, bus_db, {}, (
            ("legacy_after_commit", "before: publish after checkout, one order at a time"),
            ("after_commit", "now: publish after checkout, one order at a time"),
            ("legacy_sweep", "before: sweep of a backlog"),
            ("sweep", "now: sweep of a backlog"),
        ))  # fmt: skip
        print("tracing ON (OTLP to a local sink)")
        with otlp_sink() as sink:
            _alternating(bench, "relay_traced", rounds, orders_db, bus_db, tracing_env(sink), (
                ("legacy_after_commit", "before: publish after checkout, traced"),
                ("after_commit", "now: publish after checkout, traced"),
            ))  # fmt: skip
    print("data size")
    _data_size(bench, admin)
    for prefix, how in (("relay", ""), ("relay_traced", ", tracing ON")):
        bench.target(
            Target(f"{prefix}.after_commit",
                   f"relay after checkout / before, per event, median of rounds{how}",
                   f"{prefix}.after_commit.vs_before", ">=", RATIO),
        )  # fmt: skip
    bench.target(
        Target("relay.sweep", "relay sweep / before, per event, median of rounds",
               "relay.sweep.vs_before", ">=", RATIO),
    )  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.relay")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "ORDERS_DB", "BUS_DB"))
    args = parser.parse_args()
    if args.child:
        kind, orders_db, bus_db = args.child
        print(json.dumps(_child(kind, orders_db, bus_db, postgres.admin_url())))
