"""TinyShop's Grafana dashboards, generated from code with grafana-foundation-sdk.

    python -m tools.dashboards          # (re)write charts/tinyshop/dashboards/*.json
    python -m tools.dashboards --check  # fail when a committed file is stale

The chart ships every JSON file there as a ConfigMap labelled for kube-prometheus-stack's
Grafana sidecar (charts/tinyshop/templates/grafana-dashboards.yaml). Each panel is declared
once below as data (title, what it tells an operator, queries), so docs/operations.md can
describe the same panels and tests/observability/test_dashboards.py can check that every
query parses and names only metrics the apps export (or the recording rules and the few
cluster metrics listed in EXTERNAL_METRICS).

Queries use fixed `[5m]` windows instead of Grafana's `$__rate_interval`, so they are plain
PromQL that promtool and a parser accept as they are.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard, prometheus, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef, GridPos

OUT = Path(__file__).resolve().parents[1] / "charts" / "tinyshop" / "dashboards"
# kube-prometheus-stack provisions its Prometheus data source with this uid.
DATASOURCE = DataSourceRef(type_val="prometheus", uid="prometheus")
# Metrics of the cluster, not of the apps: KEDA's operator and kube-state-metrics (both
# installed by argocd/), named as those projects document them.
EXTERNAL_METRICS = {
    "keda_scaler_metrics_value": "KEDA operator: the value a scaler reads (the queue length)",
    "kube_horizontalpodautoscaler_status_current_replicas": "kube-state-metrics",
    "kube_horizontalpodautoscaler_spec_max_replicas": "kube-state-metrics",
}
RATE = "[5m]"


@dataclass(frozen=True)
class Panel:
    title: str
    description: str
    unit: str
    queries: list[tuple[str, str]]  # (PromQL, legend)


@dataclass(frozen=True)
class Row:
    title: str
    panels: list[Panel]


@dataclass(frozen=True)
class Board:
    uid: str
    title: str
    description: str
    rows: list[Row] = field(default_factory=list)


HTTP = "http_server_request_duration_seconds"
OVERVIEW = Board(
    uid="tinyshop-overview",
    title="TinyShop / Overview",
    description="RED per app, the checkout funnel and the order pipeline's lag.",
    rows=[
        Row(
            "RED per app",
            [
                Panel(
                    "Requests per second",
                    "Traffic of each app (probes excluded).",
                    "reqps",
                    [(f"sum by (service_name) (rate({HTTP}_count{RATE}))", "{{service_name}}")],
                ),
                Panel(
                    "5xx ratio",
                    "Share of answers that are server errors, per app "
                    "(alert TinyShopHighErrorRatio above 5 %).",
                    "percentunit",
                    [
                        (
                            "sum by (service_name) (rate("
                            f'{HTTP}_count{{http_response_status_code=~"5.."}}{RATE}))'
                            f" / sum by (service_name) (rate({HTTP}_count{RATE}))",
                            "{{service_name}}",
                        )
                    ],
                ),
                Panel(
                    "p95 latency per route",
                    "95th percentile of the server-side duration of each app's routes.",
                    "s",
                    [
                        (
                            "histogram_quantile(0.95, sum by (service_name, http_route, le) "
                            f"(rate({HTTP}_bucket{RATE})))",
                            "{{service_name}} {{http_route}}",
                        )
                    ],
                ),
            ],
        ),
        Row(
            "Checkout funnel",
            [
                Panel(
                    "Checkouts by outcome",
                    "Orders placed, idempotent replays, and refusals.",
                    "ops",
                    [("sum by (outcome) (rate(tinyshop_checkouts_total[5m]))", "{{outcome}}")],
                ),
                Panel(
                    "Refusals by reason",
                    "Why checkouts were refused (EmptyCart, UnknownProduct, "
                    "CatalogUnavailable, ...).",
                    "ops",
                    [
                        (
                            "sum by (reason) "
                            '(rate(tinyshop_checkouts_total{outcome="refused"}[5m]))',
                            "{{reason}}",
                        )
                    ],
                ),
                Panel(
                    "Checkouts slower than the SLO",
                    "Share of POST /checkout slower than 0.5 s (SLO: at most 1 %).",
                    "percentunit",
                    [("tinyshop:checkout_slow_ratio:rate5m", "slow share (5m)")],
                ),
            ],
        ),
        Row(
            "Order pipeline",
            [
                Panel(
                    "Outbox",
                    "Unpublished outbox rows and the age of the oldest "
                    "(alert TinyShopOutboxLagging above 5 min).",
                    "short",
                    [
                        ("max(tinyshop_outbox_backlog)", "unpublished rows"),
                        ("max(tinyshop_outbox_oldest_age_seconds)", "oldest row age (s)"),
                    ],
                ),
                Panel(
                    "Relay publishes",
                    "Outbox rows published to the bus, and failed attempts.",
                    "ops",
                    [
                        (
                            "sum by (outcome) (rate(tinyshop_outbox_publishes_total[5m]))",
                            "{{outcome}}",
                        )
                    ],
                ),
                Panel(
                    "Order commit to OrderConfirmed",
                    "End-to-end lag of the pipeline (outbox, bus, worker, Cosmos).",
                    "s",
                    [
                        (
                            "histogram_quantile(0.5, sum by (le) "
                            "(rate(tinyshop_order_pipeline_lag_seconds_bucket[5m])))",
                            "p50",
                        ),
                        (
                            "histogram_quantile(0.95, sum by (le) "
                            "(rate(tinyshop_order_pipeline_lag_seconds_bucket[5m])))",
                            "p95",
                        ),
                    ],
                ),
                Panel(
                    "Worker outcomes",
                    "Messages completed, failed (retried) and poison (dead-lettered).",
                    "ops",
                    [
                        (
                            "sum by (outcome) (rate(tinyshop_worker_messages_total[5m]))",
                            "{{outcome}}",
                        )
                    ],
                ),
                Panel(
                    "Cosmos DB",
                    "Request units per second the worker and orders spend, and 429 throttles.",
                    "short",
                    [
                        ("sum(rate(tinyshop_cosmos_request_charge_total[5m]))", "RU/s"),
                        ("sum(rate(tinyshop_cosmos_throttles_total[5m]))", "throttles/s"),
                    ],
                ),
            ],
        ),
    ],
)

WORKER = Board(
    uid="tinyshop-worker",
    title="TinyShop / Worker and KEDA",
    description="Queue length against worker replicas against throughput.",
    rows=[
        Row(
            "Scaling",
            [
                Panel(
                    "Queue length",
                    "Messages waiting: KEDA's reading of the Service Bus queue in AKS, the "
                    "local queue's depth in `make dev`.",
                    "short",
                    [
                        ('max(keda_scaler_metrics_value{scaledObject="worker"})', "KEDA"),
                        ("max by (queue) (tinyshop_queue_depth)", "local {{queue}}"),
                    ],
                ),
                Panel(
                    "Worker replicas",
                    "Replicas KEDA's HPA runs, and its maximum "
                    "(alert TinyShopWorkerSaturated at the maximum with a growing queue).",
                    "short",
                    [
                        (
                            "max(kube_horizontalpodautoscaler_status_current_replicas"
                            '{horizontalpodautoscaler="keda-hpa-worker"})',
                            "replicas",
                        ),
                        (
                            "max(kube_horizontalpodautoscaler_spec_max_replicas"
                            '{horizontalpodautoscaler="keda-hpa-worker"})',
                            "maximum",
                        ),
                    ],
                ),
                Panel(
                    "Throughput",
                    "Messages completed per second by all replicas.",
                    "ops",
                    [
                        (
                            'sum(rate(tinyshop_worker_messages_total{outcome="completed"}[5m]))',
                            "completed/s",
                        )
                    ],
                ),
            ],
        ),
        Row(
            "Failures",
            [
                Panel(
                    "Failure ratio",
                    "Failed and poison messages over all handled "
                    "(alert TinyShopWorkerFailing above 10 %).",
                    "percentunit",
                    [
                        (
                            'sum(rate(tinyshop_worker_messages_total{outcome=~"failed|poison"}[5m]))'
                            " / sum(rate(tinyshop_worker_messages_total[5m]))",
                            "failure ratio",
                        )
                    ],
                ),
                Panel(
                    "Dead letters",
                    "Messages in the dead-letter queue (alert TinyShopDeadLetters).",
                    "short",
                    [("max by (queue) (tinyshop_queue_dead_letters)", "{{queue}}")],
                ),
            ],
        ),
    ],
)

BOARDS = [OVERVIEW, WORKER]


def queries(board: Board) -> list[str]:
    return [expr for row in board.rows for panel in row.panels for expr, _ in panel.queries]


def build(board: Board) -> dict:
    """The board as Grafana JSON (3 panels of 8 columns per row)."""
    builder = (
        dashboard.Dashboard(board.title)
        .uid(board.uid)
        .description(board.description)
        .tags(["tinyshop"])
        .refresh("30s")
        .time("now-1h", "now")
        .editable()
    )
    y = 0
    for row in board.rows:
        builder = builder.with_row(dashboard.Row(row.title))
        y += 1
        for index, panel in enumerate(row.panels):
            ts = (
                timeseries.Panel()
                .title(panel.title)
                .description(panel.description)
                .unit(panel.unit)
                .datasource(DATASOURCE)
                .grid_pos(GridPos(h=8, w=8, x=(index % 3) * 8, y=y + (index // 3) * 8))
            )
            for ref, (expr, legend) in zip("ABCDEFGH", panel.queries, strict=False):
                ts = ts.with_target(
                    prometheus.Dataquery()
                    .expr(expr)
                    .legend_format(legend)
                    .ref_id(ref)
                    .datasource(DATASOURCE)
                )
            builder = builder.with_panel(ts)
        y += 8 * ((len(row.panels) + 2) // 3)
    return json.loads(JSONEncoder(sort_keys=True, indent=2).encode(builder.build()))


def rendered(board: Board) -> str:
    return json.dumps(build(board), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when a file is stale")
    args = parser.parse_args(argv)
    stale = []
    for board in BOARDS:
        path = OUT / f"{board.uid}.json"
        text = rendered(board)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        print("stale dashboards (run `python -m tools.dashboards`):", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
