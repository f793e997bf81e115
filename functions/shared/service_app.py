"""The FastAPI app every TinyShop HTTP service is built on, so they all behave alike: problem+json
errors (with the app's own domain errors mapped in one place), probes and docs under the
service's own prefix (no route collides when the Functions host runs every app at once), the
app's dependencies on `app.state.dependencies` (reached through typed `Depends` aliases), and
tracing."""

import inspect
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from functions.shared.body_limit import BodyLimit
from functions.shared.head_requests import HeadAsGet
from functions.shared.health import Check, health_router
from functions.shared.observability import flush
from functions.shared.problems import (
    DomainErrorMapper,
    document_problems,
    install_problem_handlers,
)
from functions.shared.telemetry import instrument, telemetry_config

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def _flushing_telemetry(lifespan: Lifespan) -> Lifespan:
    """The app's lifespan, then an export of the telemetry still buffered (observability.flush)."""

    @asynccontextmanager
    async def wrapped(app: FastAPI) -> AsyncIterator[None]:
        async with lifespan(app):
            yield
        await run_in_threadpool(flush)  # the exporters block on HTTP

    return wrapped


# Every argument an APIRoute is built from is kept on it under the same name.
_ROUTE_FIELDS = tuple(
    name
    for name in inspect.signature(APIRoute.__init__).parameters
    if name not in ("self", "dependency_overrides_provider")
)


def _add_routes(app: FastAPI, router: APIRouter) -> None:
    """The router's routes, built again as routes of the app itself, as `include_router` did
    before FastAPI 0.137. Since then it adds the router as one route that is resolved again on
    every request (its routes' versions summed, each route matched in a context it sets and
    restores): ~6 % of a product read's CPU under 0.165 (docs/performance.md, "Catalog").
    Built by the app's router, each route gets the app as its `dependency_overrides`
    provider, and the OpenAPI document stays the same (tests/test_service_app.py)."""
    if router.on_startup or router.on_shutdown:
        raise ValueError("a router with startup or shutdown handlers needs include_router")
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise TypeError(f"{route!r}: only APIRoutes are copied")
        app.router.add_api_route(**{name: getattr(route, name) for name in _ROUTE_FIELDS})


def service_app(
    name: str,
    summary: str,
    lifespan: Lifespan,
    checks: Mapping[str, Check],
    routers: Iterable[APIRouter],
    dependencies: object,
    domain_errors: Mapping[type[Exception], DomainErrorMapper] | None = None,
    body_limits: Mapping[str, int] | None = None,
    errors: Mapping[int, str] | None = None,
) -> FastAPI:
    """An app with `/{name}/health/live|ready`, `/{name}/docs`, `/{name}/openapi.json`; request
    bodies are bounded by `body_limits` (`"METHOD /path"` -> bytes; body_limit.py). `errors` are
    the statuses every route of `routers` can answer (e.g. 401 without a token); the OpenAPI
    document lists them, with 413 and 422, as problem+json on each operation."""
    app = FastAPI(
        title=f"TinyShop {name}",
        version="1.0.0",
        summary=summary,
        docs_url=f"/{name}/docs",
        openapi_url=f"/{name}/openapi.json",
        redoc_url=None,
        lifespan=_flushing_telemetry(lifespan),
        telemetry=telemetry_config(),
    )
    app.state.dependencies = dependencies
    # Probes first, so e.g. `/orders/health/live` is never read as an order id.
    for router in (health_router(f"/{name}", checks), *routers):
        _add_routes(app, router)

    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document_problems(generate(), errors or {}, apart=f"/{name}/health/")
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/docs", include_in_schema=False)  # convenience under uvicorn (one app per port)
    def docs() -> RedirectResponse:
        return RedirectResponse(f"/{name}/docs")

    app.add_middleware(BodyLimit, limits=body_limits or {})
    app.add_middleware(HeadAsGet)
    install_problem_handlers(app, domain_errors)  # its 500 catch-all wraps the middleware too
    instrument(app, name)
    return app
