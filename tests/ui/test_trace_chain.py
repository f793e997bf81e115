"""One checkout is ONE trace, from the shopper's click to the worker's Cosmos writes.

Everything here is the real local chain the UI tests run: the Flask UI (test client), orders
and catalog over real HTTP, the outbox in Postgres, the relay, the local queue, the worker's
consumer thread and the Cosmos stand-in spoken to by the real azure-cosmos SDK. Spans land in
the in-memory exporter that tests/conftest.py installs before any app is built.
"""

import re
import time
import uuid
from collections.abc import Callable

from flask.testing import FlaskClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from tests.conftest import SPANS
from tests.ui.conftest import SignIn
from tests.ui.test_pages import CSRF, KEY, add


def _wait_for(found: Callable[[], list[ReadableSpan]], seconds: float = 30) -> list[ReadableSpan]:
    deadline = time.monotonic() + seconds
    while not (spans := found()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return spans


def _checkout(client: FlaskClient, sign_in: SignIn, shopper: str) -> str:
    """Sign in, fill the cart, place the order through the UI; returns the order id."""
    sign_in(client, shopper)
    add(client, "burr-grinder")
    review = client.get("/checkout")
    key = KEY.search(review.text).group(1)
    token = CSRF.search(review.text).group(1)
    SPANS.clear()
    placed = client.post("/checkout", data={"idempotency_key": key, "csrf_token": token})
    assert placed.status_code == 302, placed.text
    return re.fullmatch(r"/orders/([0-9a-f-]{36})", placed.headers["Location"]).group(1)


def _ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[ReadableSpan]:
    chain = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        chain.append(span)
    return chain


def test_a_checkout_is_one_trace_from_the_ui_to_the_worker_s_cosmos_writes(
    client: FlaskClient, sign_in: SignIn, shopper: str
) -> None:
    order_id = _checkout(client, sign_in, shopper)

    def consumer_done() -> list[ReadableSpan]:
        return [
            s
            for s in SPANS.get_finished_spans()
            if s.kind == SpanKind.CONSUMER and s.attributes.get("tinyshop.order.id") == order_id
        ]

    consumers = _wait_for(consumer_done)
    assert len(consumers) == 1, "the worker processed the order's message once"
    consumer = consumers[0]
    spans = SPANS.get_finished_spans()
    ui = [
        s
        for s in spans
        if s.kind == SpanKind.SERVER
        and s.attributes.get("http.route") == "/checkout"
        and s.attributes.get("http.request.method") == "POST"
        and s.parent is None
    ]
    assert len(ui) == 1, "the UI's POST /checkout starts the trace"
    trace_id = ui[0].context.trace_id
    in_trace = [s for s in spans if s.context.trace_id == trace_id]
    by_id = {s.context.span_id: s for s in in_trace}

    # UI -> orders: the UI's httpx client span is the parent of orders' server span.
    orders = [s for s in in_trace if s.kind == SpanKind.SERVER and s is not ui[0]]
    orders_checkout = [s for s in orders if s.attributes.get("http.route") == "/checkout"]
    assert len(orders_checkout) == 1
    assert orders_checkout[0].attributes["tinyshop.order.id"] == order_id
    ui_call = by_id[orders_checkout[0].parent.span_id]
    assert ui_call.kind == SpanKind.CLIENT
    assert ui_call.parent.span_id == ui[0].context.span_id

    # orders -> catalog: the one batch price call, a server span of catalog under orders.
    catalog = [s for s in orders if s.attributes.get("http.route") == "/products"]
    assert len(catalog) == 1
    assert orders_checkout[0] in _ancestors(catalog[0], by_id)

    # outbox row -> relay: the `send` span continues the context stored with the order.
    producers = [s for s in in_trace if s.kind == SpanKind.PRODUCER]
    assert len(producers) == 1
    producer = producers[0]
    assert orders_checkout[0] in _ancestors(producer, by_id)
    message_id = producer.attributes["messaging.message.id"]
    uuid.UUID(message_id)  # the event id is the message id

    # bus message -> worker: the producer is the consumer's PARENT (not a link).
    assert consumer.context.trace_id == trace_id
    assert consumer.parent.span_id == producer.context.span_id
    assert consumer.attributes["messaging.message.id"] == message_id
    assert consumer.attributes["messaging.servicebus.message.delivery_count"] == 1
    assert consumer.attributes["tinyshop.outcome"] == "completed"
    assert list(consumer.links) == []  # no Functions host here, so nothing to link

    # worker -> Cosmos: the three documents in two writes (OrderPlaced and the e-mail claim in
    # one transactional batch, then OrderConfirmed), azure-core spans under the consumer.
    writes = [
        s
        for s in in_trace
        if s.name in ("ContainerProxy.create_item", "ContainerProxy.execute_item_batch")
        and consumer in _ancestors(s, by_id)
    ]
    assert sorted(s.name for s in writes) == [
        "ContainerProxy.create_item",
        "ContainerProxy.execute_item_batch",
    ], sorted(s.name for s in in_trace)
    http = [
        s
        for s in in_trace
        if s.kind == SpanKind.CLIENT and any(w in _ancestors(s, by_id) for w in writes)
    ]
    assert len(http) >= 2

    # No personal data: the shopper's id is in no attribute of the whole trace.
    for span in in_trace:
        for value in span.attributes.values():
            assert shopper not in str(value), (span.name, value)
