"""orders' client of the catalog API: one batch price lookup, timeouts, bounded retries.

Reads are idempotent, so transport errors and 502/503/504 are retried a few times with jittered
exponential backoff (tenacity); anything still failing is `CatalogUnavailable`. The use cases
call catalog before they write, so the API's 503 for it (api.py) means nothing was written.

Every cart update and checkout makes one of these calls, so the client is urllib3's connection
pool (kept-alive connections, a dropped one replaced before use) rather than httpx: the same
request cost ~0.55 ms of CPU through httpx (URL parsing, header models) and ~0.2 ms more through
its OpenTelemetry wrapper, about a third of a cart update's CPU in orders (docs/performance.md).
urllib3 retries nothing here (`retries=False`): tenacity is the one retry policy. What the httpx
wrapper gave is kept: a CLIENT span per request with the stable HTTP semantic conventions, the
W3C trace context in the request headers (catalog's spans stay in the shopper's trace), and the
`http.client.request.duration` histogram
(https://opentelemetry.io/docs/specs/semconv/http/http-spans/#http-client,
https://opentelemetry.io/docs/specs/semconv/http/http-metrics/#metric-httpclientrequestduration).
"""

import json
import time
from collections.abc import Collection
from decimal import Decimal
from urllib.parse import urlencode, urlsplit

import urllib3
from opentelemetry import metrics, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from functions.orders.domain import CatalogProduct

BATCH_LIMIT = 100  # catalog's maximum `ids=` per request
_RETRYABLE_STATUS = {502, 503, 504}
_IDLE_CONNECTIONS = 16  # kept alive per client; more concurrent calls open (and close) more
_tracer = trace.get_tracer("tinyshop.orders.catalog_client")
_duration = metrics.get_meter("tinyshop.orders.catalog_client").create_histogram(
    "http.client.request.duration", unit="s", description="Duration of HTTP client requests."
)


class CatalogUnavailable(Exception):
    """catalog did not answer usefully within the attempts and timeouts."""


class _RetryableStatus(Exception):
    pass


class _Transport(Exception):
    """The connection failed (refused, reset, timed out, closed mid-answer)."""


class _Connections:
    """Kept-alive HTTP/1.1 connections to one origin, shared by threads (urllib3's pool checks
    that a kept connection is still open before reusing it, so a connection the server closed
    while it sat idle costs no attempt)."""

    def __init__(self, base_url: str, timeout: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")
        self._pool = urllib3.connection_from_url(
            base_url,
            maxsize=_IDLE_CONNECTIONS,
            timeout=urllib3.Timeout(timeout),
            retries=False,
        )

    def get(self, target: str, headers: dict[str, str]) -> tuple[int, bytes]:
        try:
            response = self._pool.request("GET", target, headers=headers)
        except urllib3.exceptions.HTTPError as exc:
            raise _Transport(str(exc) or type(exc).__name__) from exc
        return response.status, response.data

    def close(self) -> None:
        self._pool.close()


class CatalogClient:
    def __init__(self, base_url: str, timeout: float, attempts: int) -> None:
        self._base_url = base_url.rstrip("/")
        self._attempts = attempts
        self._connections = _Connections(self._base_url, timeout)

    def products(self, ids: Collection[str]) -> dict[str, CatalogProduct]:
        """Current name and price of each id that exists; unknown ids are absent."""
        wanted = sorted(set(ids))
        found: dict[str, CatalogProduct] = {}
        for start in range(0, len(wanted), BATCH_LIMIT):
            batch = wanted[start : start + BATCH_LIMIT]
            for item in self._get("/products", {"ids": ",".join(batch)})["items"]:
                found[item["id"]] = CatalogProduct(
                    id=item["id"],
                    name=item["name"],
                    price=Decimal(item["price"]),
                    currency=item["currency"],
                )
        return found

    def _get(self, path: str, params: dict[str, str]) -> dict:
        retrying = Retrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential_jitter(multiplier=0.05, max=0.5, jitter=0.05),
            retry=retry_if_exception_type((_Transport, _RetryableStatus)),
            reraise=True,
        )
        target = f"{self._connections.prefix}{path}?{urlencode(params)}"
        try:
            for attempt in retrying:
                with attempt:
                    status, body = self._traced_get(target)
                    if status in _RETRYABLE_STATUS:
                        raise _RetryableStatus(f"catalog answered {status}")
            if status >= 300:  # 4xx (and anything but 2xx): not retried, final
                raise _RetryableStatus(f"catalog answered {status}")
            return json.loads(body)
        except (_Transport, _RetryableStatus, ValueError) as exc:
            raise CatalogUnavailable(f"catalog {path} failed: {exc}") from exc

    def _traced_get(self, target: str) -> tuple[int, bytes]:
        """One request: a CLIENT span around it, its context in the headers, its duration."""
        c = self._connections
        attributes: dict[str, str | int] = {
            "http.request.method": "GET",
            "server.address": c.host,
            "server.port": c.port,
        }
        started = time.perf_counter()
        with _tracer.start_as_current_span(
            "GET",
            kind=SpanKind.CLIENT,
            attributes=attributes | {"url.full": f"{self._base_url}{target}"},
        ) as span:
            headers = {"Accept": "application/json"}
            propagate.inject(headers)
            try:
                status, body = c.get(target, headers)
            except _Transport as exc:
                span.set_status(Status(StatusCode.ERROR, str(exc)))
                span.set_attribute("error.type", type(exc.__cause__).__name__)
                _duration.record(time.perf_counter() - started, attributes)
                raise
            span.set_attribute("http.response.status_code", status)
            if status >= 400:
                span.set_status(Status(StatusCode.ERROR))
                span.set_attribute("error.type", str(status))
        _duration.record(
            time.perf_counter() - started, attributes | {"http.response.status_code": status}
        )
        return status, body

    def close(self) -> None:
        self._connections.close()
