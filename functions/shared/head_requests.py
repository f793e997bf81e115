"""HEAD on every GET route (RFC 9110 §9.3.2): the GET response's status and headers, no body.

FastAPI registers a GET route for GET only, so HEAD used to answer 405. Serving it as the GET
it stands for, with the body dropped here, keeps the OpenAPI documents GET-only (HEAD is
implied) and works the same under uvicorn and behind the Functions host (whose HTTP functions
accept HEAD, see asgi_function.py). A route without GET still answers HEAD with 405.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)
