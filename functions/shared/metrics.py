"""TinyShop's business and pipeline metrics: every instrument in one place, so the names the
alerts and dashboards use (charts/tinyshop/rules/, dashboards/) have one home.

Instruments come from the API's global meter, so they bind to whatever meter provider the
process installs (functions/shared/observability.py), even one installed after this import.
Prometheus names: dots become underscores, counters get `_total`, unit `s` becomes `_seconds`
(e.g. `tinyshop.checkouts` -> `tinyshop_checkouts_total`). Labels stay few and bounded: outcomes
and reasons come from code, never from a request (no user, order or product ids).

Gauges of shared state (outbox backlog, local queue depth) are observed by every replica that
registers them, so queries take `max`, not `sum`, over instances.
"""

from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from opentelemetry import metrics
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.metrics import CallbackOptions, Observation

_meter = metrics.get_meter("tinyshop")

CHECKOUT_OUTCOMES = ("placed", "replayed", "refused")
WORKER_OUTCOMES = ("completed", "failed", "poison")
PUBLISH_OUTCOMES = ("published", "failed")

checkouts = _meter.create_counter(
    "tinyshop.checkouts",
    unit="{checkout}",
    description="Checkout requests by outcome (placed, replayed, refused) and refusal reason.",
)
outbox_publishes = _meter.create_counter(
    "tinyshop.outbox.publishes",
    unit="{message}",
    description="Outbox rows the relay tried to publish, by outcome (published, failed).",
)
worker_messages = _meter.create_counter(
    "tinyshop.worker.messages",
    unit="{message}",
    description="Messages the worker handled, by outcome (completed, failed, poison).",
)
pipeline_lag = _meter.create_histogram(
    "tinyshop.order.pipeline_lag",
    unit="s",
    description="From the order's commit to its OrderConfirmed document in Cosmos DB.",
)
cosmos_request_charge = _meter.create_counter(
    "tinyshop.cosmos.request_charge",
    unit="{RU}",
    description="Request units Cosmos DB charged, by HTTP method.",
)
cosmos_throttles = _meter.create_counter(
    "tinyshop.cosmos.throttles",
    unit="{response}",
    description="Cosmos DB answers 429 (request rate too large), each retry counted.",
)

_zeroed: set[int] = set()


def _zero(counter: Any, label: str, values: Iterable[str]) -> None:
    """Start each outcome's series at 0 on first use, so rate() and ratios work (and alerts can
    evaluate) before the first failure ever happens."""
    if id(counter) in _zeroed:
        return
    _zeroed.add(id(counter))
    for value in values:
        counter.add(0, {label: value})


def checkout_outcome(outcome: str, reason: str | None = None) -> None:
    _zero(checkouts, "outcome", CHECKOUT_OUTCOMES)
    checkouts.add(1, {"outcome": outcome} | ({"reason": reason} if reason else {}))


def publish_outcome(outcome: str) -> None:
    _zero(outbox_publishes, "outcome", PUBLISH_OUTCOMES)
    outbox_publishes.add(1, {"outcome": outcome})


def worker_outcome(outcome: str) -> None:
    _zero(worker_messages, "outcome", WORKER_OUTCOMES)
    worker_messages.add(1, {"outcome": outcome})


def order_confirmed(lag: timedelta) -> None:
    pipeline_lag.record(max(lag.total_seconds(), 0.0))


def cosmos_response(pipeline_response: Any) -> None:
    """azure-core `raw_response_hook`: every Cosmos HTTP response, retries included."""
    response = pipeline_response.http_response
    method = pipeline_response.http_request.method
    _zero(cosmos_throttles, "method", ("POST",))
    charge = response.headers.get("x-ms-request-charge")
    if charge:
        cosmos_request_charge.add(float(charge), {"method": method})
    if response.status_code == 429:
        cosmos_throttles.add(1, {"method": method})


def observe_gauges(
    name: str, unit: str, description: str, read: Callable[[], Iterable[tuple[float, dict]]]
) -> None:
    """An observable gauge whose values `read` returns at each collection; a failing read (the
    database is down) reports nothing instead of breaking the whole scrape."""

    def callback(_: CallbackOptions) -> Iterable[Observation]:
        try:
            # A collection is not work to trace: no psycopg span per scrape.
            with suppress_instrumentation():
                return [Observation(value, attributes) for value, attributes in read()]
        except Exception:
            return []

    _meter.create_observable_gauge(name, callbacks=[callback], unit=unit, description=description)
