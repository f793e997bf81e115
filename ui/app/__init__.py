"""TinyShop's shopper UI: a Flask app factory (`create_app`) for gunicorn, `make dev` and tests.

    gunicorn -c ui/gunicorn.conf.py 'ui.app:create_app()'

Every replica is stateless: sessions live in Postgres (`ui.app.sessions`), MSAL's token cache
lives in the session, and the Flask secret key (CSRF signing) comes from the environment.
"""

from datetime import timedelta

import httpx
from flask import Flask, Response, request
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from ui.app import errors, formatting, health, signin, telemetry, views
from ui.app.auth import Auth
from ui.app.clients import CatalogApi, OrdersApi
from ui.app.services import EXTENSION, Services
from ui.app.sessions import PostgresSessionInterface, SessionStore
from ui.app.settings import UiSettings

csrf = CSRFProtect()


def _security_headers(settings: UiSettings):
    """No scripts at all; forms may only go to this site (and, through a redirect, the IdP)."""
    idp = httpx.URL(settings.oidc_authority)
    idp_origin = f"{idp.scheme}://{idp.netloc.decode()}"
    policy = (
        "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; "
        f"form-action 'self' {idp_origin}; frame-ancestors 'none'; base-uri 'none'; "
        "object-src 'none'"
    )

    def add(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if not request.path.startswith("/static/"):
            # Pages name the shopper and show their cart: never cache them anywhere.
            response.headers["Cache-Control"] = "no-store"
        return response

    return add


def create_app(
    settings: UiSettings | None = None,
    *,
    catalog_transport: httpx.BaseTransport | None = None,
    orders_transport: httpx.BaseTransport | None = None,
) -> Flask:
    """Build the UI. Nothing connects here: pools and MSAL discovery start on first use, so
    the app starts (and liveness answers) even while a dependency is down. The transports let
    tests stand in for catalog/orders."""
    settings = settings or UiSettings()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.flask_secret_key(),
        SESSION_COOKIE_NAME=settings.session_cookie_name,
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        SESSION_COOKIE_HTTPONLY=True,
        # Lax, not Strict: the IdP's redirect back to /auth/callback is a cross-site top-level
        # GET that must carry the cookie (the sign-in flow is in the session).
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_PATH="/",
        WTF_CSRF_TIME_LIMIT=None,  # valid as long as the session: forms don't go stale at 1 h
        WTF_CSRF_SSL_STRICT=True,  # over https also require a same-origin Referer
        MAX_CONTENT_LENGTH=64 * 1024,
        TEMPLATES_AUTO_RELOAD=False,
    )
    store = SessionStore(
        settings.session_database_url, settings.session_pool_max_size, settings.session_pool_timeout
    )
    app.session_interface = PostgresSessionInterface(
        store, timedelta(seconds=settings.session_lifetime)
    )
    timeouts = (settings.http_timeout, settings.http_connect_timeout)
    app.extensions[EXTENSION] = Services(
        settings=settings,
        catalog=CatalogApi(str(settings.catalog_url), *timeouts, transport=catalog_transport),
        orders=OrdersApi(str(settings.orders_url), *timeouts, transport=orders_transport),
        auth=Auth(settings),
        sessions=store,
    )
    csrf.init_app(app)
    app.jinja_env.filters.update(formatting.FILTERS)
    app.register_blueprint(views.bp)
    app.register_blueprint(signin.bp)
    app.add_url_rule(settings.redirect_path, "auth.callback", signin.callback, methods=["GET"])
    app.register_blueprint(health.bp)
    errors.register(app)
    app.after_request(_security_headers(settings))
    telemetry.instrument(app)
    if settings.proxy_fix_hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app,
            x_for=settings.proxy_fix_hops,
            x_proto=settings.proxy_fix_hops,
            x_host=settings.proxy_fix_hops,
        )
    return app
