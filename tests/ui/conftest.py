"""Fixtures of the UI tests: the real local OIDC provider over https, an orders API that trusts
it, a migrated `ui` session database, and the Flask app (test client or real WSGI servers).

Only catalog, Postgres and the fixtures in tests/conftest.py are shared with the other suites;
the orders app here is our own because the session `orders_url` trusts a *test* issuer, while
the UI signs in through the real provider (dev/oidc/).
"""

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from dev.cosmos.launcher import LocalCosmos
from dev.oidc import launcher as local_oidc
from dev.oidc.launcher import LocalOidc
from dev.postgres.launcher import fresh_database
from dev.serve import serve
from functions.shared.eventbus.local_queue import LocalQueue, LocalQueuePublisher
from functions.shared.timeline_store import CosmosTimelineStore
from functions.worker import local_consumer
from functions.worker.settings import WorkerSettings
from tests.conftest import cosmos_settings, orders_settings
from ui.app import create_app
from ui.app.schema import migrate
from ui.app.services import EXTENSION
from ui.app.settings import UiSettings

_TRUST_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
# ui.app.auth silences this at import, but pytest resets warning filters around each test.
_MSAL_QUERY_MODE = "ignore:response_mode='form_post' is recommended:UserWarning"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith("tests/ui/"):
            item.add_marker(pytest.mark.filterwarnings(_MSAL_QUERY_MODE))


@pytest.fixture(scope="session")
def oidc() -> Iterator[LocalOidc]:
    """The local OIDC provider on a free port, trusted by this process for the whole session:
    MSAL (requests: REQUESTS_CA_BUNDLE) and the orders API's JWKS fetch (httpx/urllib:
    SSL_CERT_FILE). The bundle keeps the public roots; the variables are restored at the end."""
    saved = {name: os.environ.get(name) for name in _TRUST_VARIABLES}
    with local_oidc.running(0) as server:
        os.environ["SSL_CERT_FILE"] = str(server.ca_bundle)
        os.environ["REQUESTS_CA_BUNDLE"] = str(server.ca_bundle)
        os.environ.pop("CURL_CA_BUNDLE", None)  # requests would prefer it
        try:
            yield server
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


@pytest.fixture(scope="session")
def ui_orders_url(
    orders_db: str, catalog_url: str, oidc: LocalOidc, bus_db: str, cosmos: LocalCosmos
) -> Iterator[str]:
    """orders validating tokens of the real local provider (iss, aud, scp, JWKS over https),
    with its events flowing through the local queue and a worker into the Cosmos stand-in, so
    order pages show their timeline."""
    from functions.orders.api import create_app as create_orders_app

    queue = LocalQueue(bus_db, queue="ui-orders")
    app = create_orders_app(
        orders_settings(orders_db, catalog_url, oidc.issuer, outbox_sweep_seconds=1),
        publisher=LocalQueuePublisher(queue),
        events=CosmosTimelineStore(cosmos_settings(cosmos)),
    )
    stop = threading.Event()
    worker = threading.Thread(
        target=local_consumer.run,
        args=(queue, CosmosTimelineStore(cosmos_settings(cosmos)), WorkerSettings(), stop),
        daemon=True,
    )
    worker.start()
    try:
        with serve(app) as url:
            yield url
    finally:
        stop.set()
        worker.join(timeout=10)


@pytest.fixture(scope="session")
def ui_db(postgres_admin_url: str) -> Iterator[str]:
    with fresh_database(postgres_admin_url, "test_ui") as url:
        assert migrate(url) == "0001"
        yield url


@pytest.fixture
def ui_settings(
    catalog_url: str, ui_orders_url: str, oidc: LocalOidc, ui_db: str
) -> Callable[..., UiSettings]:
    """Settings of a UI wired to the real services; keyword arguments override."""

    def make(**overrides: object) -> UiSettings:
        values: dict[str, object] = {
            "catalog_url": catalog_url,
            "orders_url": ui_orders_url,
            "oidc_authority": oidc.issuer,
            "session_database_url": ui_db,
            "session_cookie_secure": False,
            "secret_key": "test-secret-key",
            "client_secret": "test-client-secret",
            "http_timeout": 10,
        }
        values.update(overrides)
        return UiSettings(**values)  # type: ignore[arg-type]

    return make


@pytest.fixture
def make_app(ui_settings: Callable[..., UiSettings]) -> Iterator[Callable[..., Flask]]:
    """Build UI apps (closed at the end of the test): `make_app(**setting_overrides)`, plus
    `catalog_transport=`/`orders_transport=` to stand in for an API."""
    apps: list[Flask] = []

    def make(
        *,
        catalog_transport: httpx.BaseTransport | None = None,
        orders_transport: httpx.BaseTransport | None = None,
        **overrides: object,
    ) -> Flask:
        app = create_app(
            ui_settings(**overrides),
            catalog_transport=catalog_transport,
            orders_transport=orders_transport,
        )
        app.config["TESTING"] = True
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions[EXTENSION].close()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def shopper() -> str:
    """A user name of this test only (their cart and orders are theirs alone)."""
    return f"shopper-{uuid.uuid4().hex[:8]}"


def with_login_hint(authorize_url: str, user: str) -> str:
    """The IdP's authorize URL as if the shopper had typed `user` into its sign-in form."""
    parts = urlsplit(authorize_url)
    query = [*parse_qsl(parts.query), ("login_hint", user)]
    return urlunsplit(parts._replace(query=urlencode(query)))


@dataclass
class SignIn:
    """Signs a Flask test client in through the real local provider."""

    oidc: LocalOidc

    def start(self, client: FlaskClient, next_path: str = "/") -> str:
        """GET /auth/sign-in; returns the IdP authorize URL the UI redirected to."""
        response = client.get("/auth/sign-in", query_string={"next": next_path})
        assert response.status_code == 302, response.text
        location = response.headers["Location"]
        assert location.startswith(self.oidc.issuer + "/authorize?"), location
        return location

    def idp(self, authorize_url: str, user: str) -> str:
        """The IdP's answer for `user`: the redirect URI with `code` and `state`."""
        with httpx.Client(verify=self.oidc.ssl_context(), timeout=10) as https:
            answer = https.get(with_login_hint(authorize_url, user))
        assert answer.status_code == 302, answer.text
        return answer.headers["Location"]

    def __call__(self, client: FlaskClient, user: str, next_path: str = "/") -> str:
        """Sign `user` in; returns where the UI sends them afterwards."""
        callback = urlsplit(self.idp(self.start(client, next_path), user))
        response = client.get(f"{callback.path}?{callback.query}")
        assert response.status_code == 302, response.text
        return response.headers["Location"]


@pytest.fixture
def sign_in(oidc: LocalOidc) -> SignIn:
    return SignIn(oidc)


@contextmanager
def serve_wsgi(app: Flask) -> Iterator[str]:
    """Serve `app` with werkzeug's threaded WSGI server on a free loopback port (real sockets,
    real cookies for a real browser); yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="ui-wsgi", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
