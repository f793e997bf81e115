"""One JSON log line per HTTP request (route, method, status, duration), for the ASGI apps.

uvicorn's own access log is off (`--no-access-log`): it logs the raw path (order ids, product
ids) and no route, status class or duration an operator can aggregate on. This line carries the
route template, so `route="/orders/{order_id}"` is searchable in Log Analytics without personal
data, and the trace and span ids (functions/shared/logs.py) lead to the request's trace.
Probes are not logged (kubelet calls them every few seconds).
"""

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from functions.shared.health import is_probe

_log = logging.getLogger("tinyshop.access")


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not _log.isEnabledFor(logging.INFO)
            or is_probe(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client sees if the app fails before answering

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            _log.info(
                "%s %s %s",
                scope["method"],
                route,
                status,
                extra={
                    "http_method": scope["method"],
                    "http_route": route,
                    "http_status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
