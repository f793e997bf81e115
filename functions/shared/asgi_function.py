"""Serve a FastAPI app through HTTP-triggered Azure Functions.

Each app owns a few route prefixes; one anonymous HTTP function per prefix forwards the request to
the ASGI app through `func.AsgiMiddleware`. A catch-all `{*path}` also matches the bare prefix
(ASP.NET Core routing), so `products/{*path}` serves `/products` and `/products/{id}`. Auth is
anonymous at the host: the apps validate bearer tokens themselves, the same way under uvicorn.

Every Deployment imports `function_app.py` and so every app's module, but runs only its own
functions. The app is therefore built on its first request, not at import: one app's bad
configuration cannot stop another Deployment's host from indexing its functions.
"""

import json
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

import azure.functions as func
from starlette.types import ASGIApp

from functions.shared.problems import PROBLEM_JSON

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
App = TypeVar("App", bound=ASGIApp)
_log = logging.getLogger(__name__)


class LazyApp(Generic[App]):
    """Builds the app once, on first use, from any thread."""

    def __init__(self, factory: Callable[[], App]) -> None:
        self._factory = factory
        self._app: App | None = None
        self._middleware: func.AsgiMiddleware | None = None
        self._lock = threading.Lock()

    def get(self) -> App:
        with self._lock:
            if self._app is None:
                self._app = self._factory()
                self._middleware = func.AsgiMiddleware(self._app)
            return self._app

    @property
    def middleware(self) -> func.AsgiMiddleware:
        self.get()
        assert self._middleware is not None
        return self._middleware


def _internal_error() -> func.HttpResponse:
    body = {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "An unexpected error occurred.",
    }
    return func.HttpResponse(
        json.dumps(body),
        status_code=500,
        mimetype=PROBLEM_JSON,
        headers={"Cache-Control": "no-store"},
    )


async def handle(
    app: LazyApp, req: func.HttpRequest, context: func.Context | None
) -> func.HttpResponse:
    """Forward one request. The apps answer their own errors (problems.py, logged once there);
    what still escapes — e.g. an app that cannot be built — AsgiMiddleware would pass on to the
    host, which answers with its own, non-RFC 9457 500: turn it into the promised problem+json."""
    try:
        return await app.middleware.handle_async(req, context)
    except Exception:
        _log.exception("unhandled error on %s %s", req.method, req.url)
        return _internal_error()


def asgi_blueprint(
    app: LazyApp, routes: Mapping[str, str], methods: tuple[str, ...] = HTTP_METHODS
) -> func.Blueprint:
    """A blueprint with one HTTP function per `{function_name: route}` entry, all serving `app`."""
    bp = func.Blueprint()

    for function_name, route in routes.items():

        async def forward(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
            return await handle(app, req, context)

        bp.function_name(function_name)(
            bp.route(route=route, methods=list(methods), auth_level=func.AuthLevel.ANONYMOUS)(
                forward
            )
        )
    return bp
