"""Request body limits per route, enforced by the app itself (an ASGI middleware), so they hold
wherever the app runs: under uvicorn (`make dev`, tests) and behind the Functions host, whose
`AsgiMiddleware` hands the whole body over in one message. NGINX in front rejects larger bodies
even earlier (`proxy-body-size`, see docs/architecture.md, "HTTP API").

A body is refused with a 413 problem as soon as its `Content-Length`, or the bytes actually
received, pass the route's limit — it is never read to the end — and the connection is closed,
since the rest of the body is still on its way. Bodies within the limit are buffered (a few KiB
at most) and replayed to the app unchanged.
"""

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from functions.shared.problems import problem_response

# Routes without a request body still accept a small one (`{}` from a generic client).
DEFAULT_MAX_BODY_BYTES = 256


class BodyLimit:
    """`limits` maps `"METHOD /path"` (the route as written, no path parameters) to the most
    bytes its body may have; any other request gets `default`."""

    def __init__(
        self, app: ASGIApp, limits: Mapping[str, int], default: int = DEFAULT_MAX_BODY_BYTES
    ) -> None:
        self.app = app
        self.limits = dict(limits)
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(f"{scope['method']} {scope['path']}", self.default)
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, limit)
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break  # the client went away: let the app see it
            size += len(message.get("body", b""))
            if size > limit:
                await self._refuse(scope, receive, send, limit)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = problem_response(
            413,
            f"The request body is larger than this route accepts ({limit} bytes).",
            instance=scope["path"],
            headers={"Connection": "close"},
            maxBytes=limit,
        )
        await response(scope, receive, send)
