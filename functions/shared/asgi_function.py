"""Serve a FastAPI app through HTTP-triggered Azure Functions.

Each app owns a few route prefixes; one anonymous HTTP function per prefix forwards the request to
the ASGI app through `func.AsgiMiddleware`. A catch-all `{*path}` also matches the bare prefix
(ASP.NET Core routing), so `products/{*path}` serves `/products` and `/products/{id}`. Auth is
anonymous at the host: the apps validate bearer tokens themselves, the same way under uvicorn.
"""

from collections.abc import Mapping

import azure.functions as func
from starlette.types import ASGIApp

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def asgi_blueprint(
    app: ASGIApp, routes: Mapping[str, str], methods: tuple[str, ...] = HTTP_METHODS
) -> func.Blueprint:
    """A blueprint with one HTTP function per `{function_name: route}` entry, all serving `app`."""
    bp = func.Blueprint()
    middleware = func.AsgiMiddleware(app)

    for function_name, route in routes.items():

        async def handle(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
            return await middleware.handle_async(req, context)

        bp.function_name(function_name)(
            bp.route(route=route, methods=list(methods), auth_level=func.AuthLevel.ANONYMOUS)(
                handle
            )
        )
    return bp
