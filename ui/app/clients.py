"""httpx clients of the catalog and orders APIs, and what their errors mean to a shopper.

One pooled `httpx.Client` per API and process (thread-safe, keep-alive), with short timeouts so
a slow dependency costs the shopper seconds, not a hung page. Errors come back as exceptions the
views turn into pages:

- `Unavailable`: transport errors, timeouts, 5xx. The page says to retry.
- `ApiProblem`: an RFC 9457 problem+json answer (4xx) with its `type` (`urn:tinyshop:*`),
  `detail` and extensions (e.g. `productIds`), so views can explain conflicts precisely.
- `NotSignedIn`: orders answered 401, i.e. the token was refused: sign in again.
"""

import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

_log = logging.getLogger(__name__)


class Unavailable(Exception):
    """The API could not be reached or failed on its side."""

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"{service}: {reason}")
        self.service = service


class NotSignedIn(Exception):
    """orders refused the access token (expired, revoked or for another issuer)."""


@dataclass
class ApiProblem(Exception):
    """A problem+json error the shopper can act on."""

    status: int
    type: str = "about:blank"
    title: str = ""
    detail: str = ""
    extensions: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.type}: {self.detail}"


# 5xx problems after which the change asked for WAS made: shown like any problem the shopper
# can act on (the page says what happened), not as an outage inviting a resubmission, which
# for "add one more" would add twice.
CHANGE_MADE = {"urn:tinyshop:cart-changed-catalog-unavailable"}


def _problem(response: httpx.Response) -> ApiProblem:
    body: dict[str, Any] = {}
    if response.headers.get("content-type", "").split(";")[0].strip() in (
        "application/problem+json",
        "application/json",
    ):
        try:
            parsed = response.json()
            body = parsed if isinstance(parsed, dict) else {}
        except ValueError:
            body = {}
    known = {"type", "title", "detail", "status", "instance"}
    return ApiProblem(
        status=response.status_code,
        type=str(body.get("type", "about:blank")),
        title=str(body.get("title", "")),
        detail=str(body.get("detail", "")),
        extensions={k: v for k, v in body.items() if k not in known},
    )


class _Api:
    service = "api"

    def __init__(
        self,
        base_url: str,
        timeout: float,
        connect_timeout: float,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            headers={"Accept": "application/json", "User-Agent": "tinyshop-ui"},
            transport=transport,
            follow_redirects=False,
        )
        HTTPXClientInstrumentor.instrument_client(self._http)  # client spans + traceparent

    def close(self) -> None:
        self._http.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:  # connect errors, timeouts, protocol errors
            _log.warning("%s %s %s failed: %s", self.service, method, path, exc.__class__.__name__)
            raise Unavailable(self.service, exc.__class__.__name__) from exc
        if response.status_code >= 500:
            _log.warning("%s %s %s answered %s", self.service, method, path, response.status_code)
            problem = _problem(response)
            if problem.type in CHANGE_MADE:  # not "nothing was lost, try again"
                raise problem
            raise Unavailable(self.service, f"HTTP {response.status_code}")
        if response.status_code == 401:
            raise NotSignedIn()
        if response.status_code >= 400:
            raise _problem(response)
        return response


class CatalogApi(_Api):
    service = "catalog"

    def products(self, limit: int, cursor: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        return self._send("GET", "/products", params=params).json()

    def product(self, product_id: str) -> dict[str, Any]:
        return self._send("GET", f"/products/{quote(product_id, safe='')}").json()


class OrdersApi(_Api):
    service = "orders"

    @staticmethod
    def _auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def cart(self, token: str) -> dict[str, Any]:
        return self._send("GET", "/cart", headers=self._auth(token)).json()

    def set_item(self, token: str, product_id: str, quantity: int) -> dict[str, Any]:
        body = {"productId": product_id, "quantity": quantity}
        return self._send("POST", "/cart/items", json=body, headers=self._auth(token)).json()

    def remove_item(self, token: str, product_id: str) -> None:
        path = f"/cart/items/{quote(product_id, safe='')}"
        self._send("DELETE", path, headers=self._auth(token))

    def checkout(self, token: str, idempotency_key: str) -> dict[str, Any]:
        headers = {**self._auth(token), "Idempotency-Key": idempotency_key}
        return self._send("POST", "/checkout", headers=headers).json()

    def orders(self, token: str, limit: int = 20, cursor: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        return self._send("GET", "/orders", params=params, headers=self._auth(token)).json()

    def order(self, token: str, order_id: str) -> dict[str, Any]:
        path = f"/orders/{quote(order_id, safe='')}"
        return self._send("GET", path, headers=self._auth(token)).json()
