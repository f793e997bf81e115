"""RFC 9457 problem details: the one error format of every TinyShop API.

Routes raise `Problem` (each app's API maps its domain errors to one, in one place); framework
errors (unknown route, validation) and database outages are mapped here, so no handler ever
builds an error body by hand and no stack trace leaks. See docs/architecture.md, "HTTP API".
"""

import logging
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PROBLEM_JSON = "application/problem+json"
_log = logging.getLogger(__name__)


class Problem(Exception):
    """An error a client can act on, rendered as `application/problem+json`."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        type_: str = "about:blank",
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.type = type_
        self.headers = dict(headers or {})
        self.extensions = extensions


# The problem+json body as the OpenAPI documents describe it (components.schemas.Problem).
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details; further members depend on the problem.",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "With 422: each invalid field and why.",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}
_PROBLEM_CONTENT = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}


def documented(statuses: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a route: each status, with why it is given, answered as problem+json."""
    return {
        status: {"description": description, "content": _PROBLEM_CONTENT}
        for status, description in statuses.items()
    }


def document_problems(
    schema: dict[str, Any], every_operation: Mapping[int, str], apart: str | None = None
) -> None:
    """Complete an OpenAPI document in place: the Problem schema, `every_operation`'s statuses
    on each operation (except paths under `apart`, e.g. the probes), 422 on each operation that
    takes input, 400 on each that takes a body, and 413 (body_limit.py) on all of them."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            extra = dict(every_operation) if not (apart and path.startswith(apart)) else {}
            if operation.get("parameters") or operation.get("requestBody"):
                extra[422] = "A parameter or the body is invalid; `errors` says which and why."
            if operation.get("requestBody"):  # FastAPI's answer to a body that is not UTF-8
                extra[400] = "The body could not be read as UTF-8 JSON."
            extra[413] = "The request body is larger than this route accepts."
            for status, description in extra.items():
                documented_by_route = responses.get(str(status), {})
                if documented_by_route.get("content") != _PROBLEM_CONTENT:  # absent or FastAPI's
                    responses[str(status)] = {
                        "description": description,
                        "content": _PROBLEM_CONTENT,
                    }
    # FastAPI's own 422 body, replaced above: the APIs never answer with it.
    for unused in ("HTTPValidationError", "ValidationError"):
        schema["components"]["schemas"].pop(unused, None)


def invalid_request(errors: list[dict[str, str]]) -> Problem:
    """The one 422 for values a client sent wrong: `errors` lists `{"field", "message"}`."""
    fields = ", ".join(dict.fromkeys(e["field"] for e in errors))
    return Problem(422, f"Invalid value for: {fields}.", title="Invalid request", errors=errors)


def invalid_field(field: str, message: str) -> Problem:
    """A 422 for one invalid field the framework's own validation could not catch."""
    return invalid_request([{"field": field, "message": message}])


def _render(problem: Problem, instance: str) -> JSONResponse:
    return problem_response(
        problem.status,
        problem.detail,
        title=problem.title,
        type_=problem.type,
        instance=instance,
        headers=problem.headers,
        **problem.extensions,
    )


def problem_response(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    type_: str = "about:blank",
    instance: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": type_,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extensions)
    return JSONResponse(
        body,
        status_code=status,
        media_type=PROBLEM_JSON,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


DomainErrorMapper = Callable[[Exception], "Problem"]


def _field_name(loc: tuple[Any, ...]) -> str:
    """('query', 'limit') -> 'limit'; ('body', 'items', 0, 'quantity') -> 'items[0].quantity'."""
    parts = [p for p in loc if p not in ("query", "path", "body", "header")]
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


def install_problem_handlers(
    app: FastAPI, domain_errors: Mapping[type[Exception], DomainErrorMapper] | None = None
) -> None:
    """Route every error of `app` through problem+json; `domain_errors` maps the app's own
    exception types (and their subclasses) to the problem each one is answered with."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return _render(exc, request.url.path)

    for error_type, to_problem in (domain_errors or {}).items():

        async def _domain(
            request: Request, exc: Exception, to_problem: DomainErrorMapper = to_problem
        ) -> JSONResponse:
            return _render(to_problem(exc), request.url.path)

        app.add_exception_handler(error_type, _domain)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _field_name(tuple(e.get("loc", ()))), "message": e.get("msg", "invalid")}
            for e in exc.errors()
        ]
        return _render(invalid_request(errors), request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return problem_response(
            exc.status_code, detail, instance=request.url.path, headers=exc.headers
        )

    async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        _log.warning("database unavailable: %s", exc.__class__.__name__, exc_info=exc)
        return problem_response(
            503,
            "The service's database is unavailable. Retry shortly.",
            title="Service unavailable",
            instance=request.url.path,
            headers={"Retry-After": "5"},
        )

    app.add_exception_handler(psycopg.OperationalError, _database_unavailable)
    app.add_exception_handler(PoolTimeout, _database_unavailable)

    # Last, so outermost: it sees whatever no handler above took.
    app.add_middleware(_UnexpectedErrors)


class _UnexpectedErrors:
    """Answers an exception no handler took with a 500 problem and logs it exactly once.

    Not an `Exception` handler: Starlette runs those in its ServerErrorMiddleware, which
    re-raises after answering, so uvicorn (or the Functions glue) logged every 500 a second
    time. If the response had already started, the error is logged and the response is left
    cut short (nothing else can be sent)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception:
            _log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if not started:
                response = problem_response(
                    500, "An unexpected error occurred.", instance=scope["path"]
                )
                await response(scope, receive, send)
