"""TinyShop's shopper load, for locust (https://docs.locust.io): `make load` runs it headless
against `make dev`; the same file drives a cluster through its ingress.

A shopper browses (catalog), fills a cart, sometimes checks out with an Idempotency-Key (retried
once with the same key, as a client after a timeout would) and looks at the order history. The
mix is weighted like a shop's traffic: many reads, few checkouts.

Where it points (environment variables):
- TINYSHOP_LOAD_CATALOG_URL / TINYSHOP_LOAD_ORDERS_URL: the two APIs. Locally
  http://127.0.0.1:7071 and :7072 (the defaults); on AKS both are https://<shop host>/api
  (the ingress routes /api/products to catalog and /api/cart, /api/checkout, /api/orders to
  orders).
- Access tokens, one shopper per token:
  - TINYSHOP_LOAD_TOKENS_FILE: a file of access tokens, one per line (obtained however your
    identity provider allows: for Entra External ID, sign test users in once through the UI's
    auth-code flow with PKCE, or use a confidential test client; no password grant);
  - otherwise the local OIDC provider of `make dev` (what `make token` uses), for
    TINYSHOP_LOAD_USERS distinct shoppers (default 50); run from the repository root.
- TINYSHOP_LOAD_WAIT_SECONDS: think time between a shopper's actions, "min,max" (default 0.5,2).
"""

from __future__ import annotations

import itertools
import os
import random
import threading
import uuid
from pathlib import Path

from locust import HttpUser, between, task

CATALOG = os.environ.get("TINYSHOP_LOAD_CATALOG_URL", "http://127.0.0.1:7071").rstrip("/")
ORDERS = os.environ.get("TINYSHOP_LOAD_ORDERS_URL", "http://127.0.0.1:7072").rstrip("/")
USERS = int(os.environ.get("TINYSHOP_LOAD_USERS", "50"))
# Think time between a shopper's actions, "min,max" seconds (0,0 = as fast as possible).
WAIT = tuple(float(s) for s in os.environ.get("TINYSHOP_LOAD_WAIT_SECONDS", "0.5,2").split(","))


def _local_token(user: str) -> str:
    """A token from `make dev`'s OIDC provider (the code behind `make token`)."""
    from dev.oidc.launcher import ISSUER, ISSUER_ENV, fetch_token  # the repository's own

    return fetch_token(user, os.environ.get(ISSUER_ENV) or ISSUER, None)


class _Tokens:
    """Hands each simulated shopper a token: round robin over a tokens file, or one local
    shopper per slot (fetched on first use and kept, so start-up is not a burst of sign-ins)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._file: list[str] | None = None
        self._local: dict[int, str] = {}
        self._next = itertools.count()

    def take(self) -> str:
        tokens_file = os.environ.get("TINYSHOP_LOAD_TOKENS_FILE")
        with self._lock:
            slot = next(self._next)
            if tokens_file:
                if self._file is None:
                    self._file = Path(tokens_file).read_text(encoding="utf-8").split()
                    if not self._file:
                        raise RuntimeError(f"{tokens_file} holds no token")
                return self._file[slot % len(self._file)]
            slot %= USERS
            cached = self._local.get(slot)
        if cached is None:
            cached = _local_token(f"load-shopper-{slot}")
            with self._lock:
                self._local[slot] = cached
        return cached


TOKENS = _Tokens()


class Shopper(HttpUser):
    """One signed-in shopper; `host` is unused (the APIs' URLs are absolute)."""

    host = CATALOG
    wait_time = between(*WAIT)

    def on_start(self) -> None:
        self.client.headers["Authorization"] = f"Bearer {TOKENS.take()}"
        self.product_ids: list[str] = []
        page = self.client.get(f"{CATALOG}/products?limit=50", name="/products")
        if page.ok:
            self.product_ids = [p["id"] for p in page.json()["items"]]

    @task(6)
    def browse(self) -> None:
        self.client.get(f"{CATALOG}/products?limit=20", name="/products")

    @task(4)
    def view_product(self) -> None:
        if self.product_ids:
            product = random.choice(self.product_ids)  # noqa: S311 (load mix, not security)
            self.client.get(f"{CATALOG}/products/{product}", name="/products/{id}")

    @task(3)
    def add_to_cart(self) -> None:
        if self.product_ids:
            body = {"productId": random.choice(self.product_ids), "quantity": random.randint(1, 3)}  # noqa: S311
            self.client.post(f"{ORDERS}/cart/items", json=body, name="/cart/items")

    @task(2)
    def view_cart(self) -> None:
        self.client.get(f"{ORDERS}/cart", name="/cart")

    @task(1)
    def checkout(self) -> None:
        key = str(uuid.uuid4())
        with self.client.post(
            f"{ORDERS}/checkout",
            headers={"Idempotency-Key": key},
            name="/checkout",
            catch_response=True,
        ) as response:
            if response.status_code == 409:  # empty cart: a normal outcome, not a failure
                response.success()
                return
        if response.status_code == 201:
            # A client retrying after a lost response must get the same order back.
            with self.client.post(
                f"{ORDERS}/checkout",
                headers={"Idempotency-Key": key},
                name="/checkout (retry)",
                catch_response=True,
            ) as retry:
                same = retry.status_code in (200, 201) and retry.json().get("id") == (
                    response.json().get("id")
                )
                if not same or retry.headers.get("Idempotent-Replayed") != "true":
                    retry.failure("a retried checkout did not replay the same order")

    @task(1)
    def history(self) -> None:
        self.client.get(f"{ORDERS}/orders?limit=10", name="/orders")
