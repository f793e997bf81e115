"""The metrics the apps really export, read from a real scrape of this process's Prometheus
endpoint (tests/conftest.py) after a checkout went through the real local chain: and every
alert rule and dashboard query names only those metrics (or recording rules, or the few
cluster metrics a dashboard lists as external)."""

import time
import uuid

import httpx
import pytest
from flask.testing import FlaskClient

from functions.orders import outbox_metrics
from functions.shared.eventbus import queue_metrics
from functions.shared.eventbus.local_queue import LocalQueue
from functions.shared.eventbus.queue_metrics import observe_local_queue
from tests.conftest import METRICS_URL, REPO, SPANS
from tests.support.promql import exposition_names, metric_names, rules
from tests.ui.conftest import SignIn
from tests.ui.test_pages import KEY, add, csrf
from tools import dashboards

RULES = REPO / "charts" / "tinyshop" / "rules" / "tinyshop.rules.yaml"


def _scrape() -> str:
    # Generous: this test process holds the gauges of every app the suite started before (a
    # process in AKS has one), and a gauge whose database is gone waits out its bounded timeout.
    response = httpx.get(METRICS_URL, timeout=60)
    assert response.status_code == 200
    return response.text


def _sample(text: str, name: str, **labels: str) -> float | None:
    """The value of the first sample of `name` having `labels`, or None."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


_SCRAPED: dict[str, str] = {}


@pytest.fixture
def exposition(client: FlaskClient, sign_in: SignIn, shopper: str, bus_db: str) -> str:
    """The scrape after one placed and one refused checkout through the UI, once the worker
    has confirmed the order (so the pipeline lag is recorded). Driven once per module."""
    if "text" in _SCRAPED:
        return _SCRAPED["text"]
    observe_local_queue(LocalQueue(bus_db, queue="ui-orders"))  # what the worker's main() does
    sign_in(client, shopper)
    add(client, "french-press")
    review = client.get("/checkout")
    form = {
        "idempotency_key": KEY.search(review.text)[1],
        "csrf_token": csrf(client),
    }
    assert client.post("/checkout", data=form).status_code == 302
    refused = {"idempotency_key": str(uuid.uuid4()), "csrf_token": csrf(client)}
    client.post("/checkout", data=refused)  # the cart is empty now: refused
    deadline = time.monotonic() + 30
    text = _scrape()
    while _sample(text, "tinyshop_order_pipeline_lag_seconds_count") is None:
        assert time.monotonic() < deadline, "the worker never confirmed the order"
        time.sleep(0.2)
        text = _scrape()
    _SCRAPED["text"] = text
    return text


def test_every_http_app_reports_red_metrics_per_route(exposition: str) -> None:
    duration = "http_server_request_duration_seconds_count"
    # The UI's POST /checkout (Flask's OpenTelemetry instrumentation), and orders' (FastAPI's own).
    for scope in ("opentelemetry.instrumentation.flask", "fastapi"):
        checkout = {"http_route": "/checkout", "http_request_method": "POST"}
        assert _sample(exposition, duration, otel_scope_name=scope, **checkout) >= 1
    assert _sample(exposition, duration, http_route="/products") >= 1  # catalog
    bucket = _sample(
        exposition, "http_server_request_duration_seconds_bucket", http_route="/checkout", le="0.5"
    )
    assert bucket is not None  # the SLO threshold is a bucket boundary
    assert _sample(exposition, "http_server_request_duration_seconds_bucket", le="0.075") is None, (
        "the SDK's default buckets are replaced by observability.HTTP_DURATION_BUCKETS"
    )


def test_business_and_pipeline_metrics_are_exported(exposition: str) -> None:
    assert _sample(exposition, "tinyshop_checkouts_total", outcome="placed") >= 1
    assert (
        _sample(exposition, "tinyshop_checkouts_total", outcome="refused", reason="EmptyCart") >= 1
    )
    assert _sample(exposition, "tinyshop_outbox_publishes_total", outcome="published") >= 1
    assert _sample(exposition, "tinyshop_worker_messages_total", outcome="completed") >= 1
    assert _sample(exposition, "tinyshop_worker_messages_total", outcome="poison") is not None
    assert _sample(exposition, "tinyshop_order_pipeline_lag_seconds_count") >= 1
    # One order: a transactional batch (OrderPlaced + the e-mail claim) and a create, >= 1 RU each.
    assert _sample(exposition, "tinyshop_cosmos_request_charge_total", method="POST") >= 2
    assert _sample(exposition, "tinyshop_cosmos_throttles_total") == 0
    assert _sample(exposition, "tinyshop_outbox_backlog") is not None
    assert _sample(exposition, "tinyshop_outbox_oldest_age_seconds") is not None
    assert _sample(exposition, "tinyshop_queue_depth", queue="ui-orders") is not None
    assert _sample(exposition, "tinyshop_queue_dead_letters", queue="ui-orders") is not None


def test_a_scrape_reads_the_gauges_without_tracing_them(exposition: str) -> None:
    SPANS.clear()
    text = _scrape()
    assert _sample(text, "tinyshop_outbox_backlog") is not None  # the gauges were read...
    statements = [s.attributes.get("db.statement", "") for s in SPANS.get_finished_spans()]
    # ...untraced. Only the gauges' own statements count: the worker threads' queue queries
    # may run meanwhile (their receive also says `count(*)` and `messages`).
    counts = [q for q in statements if q in (outbox_metrics.BACKLOG, queue_metrics.COUNTS)]
    assert counts == []


def _unknown(queries: list[str], exported: set[str], also: set[str]) -> dict[str, set[str]]:
    return {
        query: missing for query in queries if (missing := metric_names(query) - exported - also)
    }


def _recorded() -> set[str]:
    return {rule["record"] for rule in rules(RULES) if "record" in rule}


def test_every_rule_names_only_exported_metrics(exposition: str) -> None:
    exported = exposition_names(exposition)
    queries = [rule["expr"] for rule in rules(RULES)]
    assert len(queries) >= 10
    assert _unknown(queries, exported, _recorded() | set(dashboards.EXTERNAL_METRICS)) == {}


def test_every_dashboard_query_names_only_exported_metrics(exposition: str) -> None:
    exported = exposition_names(exposition)
    queries = [query for board in dashboards.BOARDS for query in dashboards.queries(board)]
    assert len(queries) >= 15
    assert _unknown(queries, exported, _recorded() | set(dashboards.EXTERNAL_METRICS)) == {}


def test_the_cross_check_catches_a_misspelt_metric(exposition: str) -> None:
    """Mutation: the check above fails for a query naming a metric nobody exports."""
    exported = exposition_names(exposition)
    wrong = "sum(rate(tinyshop_checkout_total[5m]))"  # `checkouts`, not `checkout`
    assert _unknown([wrong], exported, _recorded()) == {wrong: {"tinyshop_checkout_total"}}
