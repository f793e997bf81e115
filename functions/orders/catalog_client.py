"""orders' client of the catalog API: one batch price lookup, timeouts, bounded retries.

Reads are idempotent, so transport errors and 502/503/504 are retried a few times with jittered
exponential backoff (tenacity); anything still failing is `CatalogUnavailable`. The use cases
call catalog before they write, so the API's 503 for it (api.py) means nothing was written.
"""

import threading
from collections.abc import Collection
from decimal import Decimal

import httpx
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from functions.orders.domain import CatalogProduct

BATCH_LIMIT = 100  # catalog's maximum `ids=` per request
_RETRYABLE_STATUS = {502, 503, 504}


class CatalogUnavailable(Exception):
    """catalog did not answer usefully within the attempts and timeouts."""


class _RetryableStatus(Exception):
    pass


class CatalogClient:
    def __init__(self, base_url: str, timeout: float, attempts: int) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._attempts = attempts
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    @property
    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(base_url=self._base_url, timeout=self._timeout)
                HTTPXClientInstrumentor.instrument_client(self._client)  # spans + traceparent
            return self._client

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
            retry=retry_if_exception_type((httpx.TransportError, _RetryableStatus)),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    response = self._http.get(path, params=params)
                    if response.status_code in _RETRYABLE_STATUS:
                        raise _RetryableStatus(f"catalog answered {response.status_code}")
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, _RetryableStatus, ValueError) as exc:
            raise CatalogUnavailable(f"catalog {path} failed: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
