"""orders' catalog client over real HTTP: batching, bounded retries of idempotent reads."""

import asyncio
import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from dev.serve import serve
from functions.orders.catalog_client import CatalogClient, CatalogUnavailable
from tests.conftest import SPANS


def fetch_products(url: str, ids: list[str], attempts: int, timeout: float = 1) -> dict:
    """One `products` call on a fresh client, on a loop of its own, the client closed after."""

    async def call() -> dict:
        client = CatalogClient(url, timeout=timeout, attempts=attempts)
        try:
            return await client.products(ids)
        finally:
            await client.close()

    return asyncio.run(call())


def flaky_catalog(failures: int, status: int = 503) -> tuple[FastAPI, list[str]]:
    """A catalog stand-in that fails `failures` times, then answers; it records each request."""
    app = FastAPI()
    calls: list[str] = []

    @app.get("/products")
    def products(ids: str) -> JSONResponse:
        calls.append(ids)
        if len(calls) <= failures:
            return JSONResponse({"title": "busy"}, status_code=status)
        items = [
            {"id": i, "name": i.title(), "price": "1.10", "currency": "EUR"} for i in ids.split(",")
        ]
        return JSONResponse({"items": items, "nextCursor": None})

    return app, calls


def test_transient_failures_are_retried_within_the_attempt_budget():
    app, calls = flaky_catalog(failures=2)
    with serve(app) as url:
        found = fetch_products(url, ["a", "b"], attempts=3)
    assert found["a"].price == Decimal("1.10")
    assert len(calls) == 3


def test_after_the_attempt_budget_the_catalog_is_unavailable():
    app, calls = flaky_catalog(failures=5)
    with serve(app) as url, pytest.raises(CatalogUnavailable):
        fetch_products(url, ["a"], attempts=3)
    assert len(calls) == 3


def test_client_errors_are_not_retried():
    app, calls = flaky_catalog(failures=5, status=400)
    with serve(app) as url, pytest.raises(CatalogUnavailable):
        fetch_products(url, ["a"], attempts=3)
    assert len(calls) == 1


def test_more_ids_than_one_request_allows_are_split_into_batches():
    app, calls = flaky_catalog(failures=0)
    ids = [f"p{i}" for i in range(150)]
    with serve(app) as url:
        found = fetch_products(url, ids, attempts=1)
    assert set(found) == set(ids)
    assert [len(c.split(",")) for c in calls] == [100, 50]


def test_concurrent_calls_do_not_wait_for_each_others_connections():
    """24 calls at once to a catalog that takes 0.6 s each all answer within one 1 s attempt:
    none queues for a connection another call holds (a queued call's wait would count against
    its attempt's timeout)."""
    app = FastAPI()

    @app.get("/products")
    async def slow(ids: str) -> JSONResponse:
        await asyncio.sleep(0.6)
        return JSONResponse({"items": [], "nextCursor": None})

    async def at_once(url: str) -> list:
        client = CatalogClient(url, timeout=1, attempts=1)
        try:
            return await asyncio.gather(
                *(client.products([f"p{i}"]) for i in range(24)), return_exceptions=True
            )
        finally:
            await client.close()

    with serve(app) as url:
        answers = asyncio.run(at_once(url))
    assert answers == [{}] * 24


def test_cookies_a_catalog_sets_are_never_sent_back():
    """One client serves every shopper: a cookie from catalog (or anything in front of it) must
    not travel with the next call, whoever makes it."""
    app = FastAPI()
    cookies: list[str | None] = []

    @app.get("/products")
    def products(request: Request) -> JSONResponse:
        cookies.append(request.headers.get("cookie"))
        response = JSONResponse({"items": [], "nextCursor": None})
        response.set_cookie("affinity", "shopper-1")
        return response

    async def twice(url: str) -> None:
        client = CatalogClient(url, timeout=1, attempts=1)
        try:
            await client.products(["a"])
            await client.products(["b"])
        finally:
            await client.close()

    with serve(app) as url:
        # By name, as in a cluster: aiohttp's default jar would ignore cookies of a bare IP.
        asyncio.run(twice(url.replace("127.0.0.1", "localhost")))
    assert cookies == [None, None]


class _ClosingHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 answers without `Connection: close`, after which the server closes the
    connection anyway: what a client sees when its kept-alive connection timed out server-side."""

    protocol_version = "HTTP/1.1"
    served: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.served.append(self.path)
        body = json.dumps({"items": [], "nextCursor": None}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


class _ClosingServer(ThreadingHTTPServer):
    """Tells the test when it has closed a connection (after each answer, see the handler)."""

    closed = threading.Semaphore(0)

    def shutdown_request(self, request: object) -> None:
        super().shutdown_request(request)  # type: ignore[arg-type]
        self.closed.release()


def test_a_kept_alive_connection_the_server_closed_is_replaced_without_using_an_attempt():
    server = _ClosingServer(("127.0.0.1", 0), _ClosingHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    async def three_calls() -> None:
        client = CatalogClient(f"http://127.0.0.1:{server.server_port}", timeout=2, attempts=1)
        try:
            for _ in range(3):  # one attempt each: a connection closed while idle must not cost it
                assert await client.products(["a"]) == {}
                # closed server-side before the next call
                assert await asyncio.to_thread(server.closed.acquire, timeout=5)
        finally:
            await client.close()

    try:
        asyncio.run(three_calls())
    finally:
        server.shutdown()
    assert len(_ClosingHandler.served) == 3


def test_the_catalog_call_is_a_client_span_whose_context_catalog_receives():
    """Trace continuity: catalog's request carries the caller's trace (W3C traceparent)."""
    app = FastAPI()
    received: list[str | None] = []

    @app.get("/products")
    def products(request: Request) -> JSONResponse:
        received.append(request.headers.get("traceparent"))
        return JSONResponse({"items": [], "nextCursor": None})

    tracer = trace.get_tracer("test")
    with serve(app) as url, tracer.start_as_current_span("caller") as caller:
        fetch_products(url, ["a"], attempts=1)
    [client] = [
        s
        for s in SPANS.get_finished_spans()
        if s.kind == SpanKind.CLIENT
        and s.parent
        and s.parent.span_id == caller.get_span_context().span_id
    ]
    assert client.attributes["http.request.method"] == "GET"
    assert client.attributes["http.response.status_code"] == 200
    trace_id = caller.get_span_context().trace_id
    [traceparent] = received
    assert traceparent.startswith(f"00-{trace_id:032x}-{client.context.span_id:016x}-")
