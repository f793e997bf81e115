"""How the apps are served locally and in tests: uvicorn with TinyShop's protocol settings.

In Azure the Functions host and NGINX in front of it own connection handling (NGINX's
`client_header_timeout`/`client_body_timeout` answer a slow client with 408, see
docs/architecture.md, "HTTP API"). Locally uvicorn is the whole server, with its httptools
protocol (the C parser llhttp; uvicorn's `--http httptools`): it has a keep-alive timeout but no
request timeout, so a client that never finishes its headers or its body would hold its
connection for ever, and no bound on a request's head. `LocalHttpToolsProtocol` adds both and
makes what the server itself refuses (a malformed or oversized request, a timeout)
problem+json like every other TinyShop error:
- a request whose headers and body have not all arrived `request_timeout` seconds after its
  first byte is answered 408 and its connection closed (measured from the first byte, so a
  client dripping one byte at a time is cut off too);
- a connection that sends nothing for that long is closed silently;
- a request the parser refuses is answered 400, or 431 when its head (request line and
  headers) exceeds MAX_HEADER_BYTES, whole or still arriving, instead of uvicorn's text/plain
  400.
The app's own work is not bounded here (the apps bound their database, catalog and Cosmos
calls themselves). Why httptools and not uvicorn's pure-Python h11: about 1 ms less per
request at concurrency 1 for a checkout, which crosses two local servers (docs/performance.md,
"Server settings"); under the Functions host none of this runs.
"""

import argparse
import json
import logging
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from functions.shared.problems import PROBLEM_JSON

REQUEST_TIMEOUT = 10.0  # seconds from a request's first byte to its last
MAX_HEADER_BYTES = 16 * 1024  # bound on a request's head; more is a 431
KEEP_ALIVE_TIMEOUT = 5  # seconds an idle kept-alive connection stays open (uvicorn's default)


def _problem_bytes(status: int, title: str, detail: str) -> bytes:
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail})
    head = (
        f"HTTP/1.1 {status} {title}\r\ncontent-type: {PROBLEM_JSON}\r\n"
        f"content-length: {len(body)}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body.encode()


class _HeadTooLarge(Exception):
    """Raised from a parser callback: httptools stops and raises HttpParserCallbackError (an
    HttpParserError), which uvicorn answers with `send_400_response`."""


class LocalHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a request timeout, a bound on the request's head and
    problem+json refusals."""

    request_timeout: float = REQUEST_TIMEOUT

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._request_timer: Any = None
        self._request_started = False
        self._receiving = True  # idle, or a request not all arrived (h11's IDLE / SEND_BODY)
        self._head_done = False  # the current request's headers are all in
        self._head_bytes = 0  # the current head as parsed so far (request target, headers)
        self._unparsed_bytes = 0  # bytes fed while the current head was still incomplete
        self._error_status = 400
        self._arm()

    # Parser callbacks: the head's size, as h11 counted it (target, names, values, separators).
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head_done = True
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._receiving = False  # the whole request is in: the app has it
        self._head_done = False  # the next bytes begin the next request's head
        self._unparsed_bytes = 0
        self._disarm()
        self._request_started = False

    def on_response_complete(self) -> None:
        self._receiving = True  # waiting for the next request (the keep-alive timer runs)
        super().on_response_complete()

    def _count_head(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEADER_BYTES:
            self._error_status = 431
            raise _HeadTooLarge("Request headers too large.")

    def data_received(self, data: bytes) -> None:
        if self._receiving and not self._request_started:
            # A request's first byte: its time runs from here. On a new connection the timer
            # armed when it opened (the wait for a first byte) is restarted.
            self._disarm()
            self._request_started = True
            self._arm()
        head_pending = not self._head_done
        super().data_received(data)
        # A head still arriving is held by the parser until it ends: bound it by the bytes fed
        # so far, apart from the parsed parts counted above (one head, counted once each way).
        if head_pending and not self._head_done and not self.transport.is_closing():
            self._unparsed_bytes += len(data)
            if self._unparsed_bytes > MAX_HEADER_BYTES:
                self._error_status = 431
                self.send_400_response("Request headers too large.")

    def _arm(self) -> None:
        if self._request_timer is None:
            self._request_timer = self.loop.call_later(self.request_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._request_timer is not None:
            self._request_timer.cancel()
            self._request_timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _timed_out(self) -> None:
        self._request_timer = None
        if self.transport.is_closing() or not self._receiving:
            return
        receiving_body = self._head_done and self.cycle is not None
        if receiving_body:
            # The app is waiting for the rest of the body: it sees a disconnect instead.
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        if self._request_started and not (receiving_body and self.cycle.response_started):
            self.transport.write(
                _problem_bytes(
                    408,
                    "Request Timeout",
                    f"The request did not arrive within {self.request_timeout:g} seconds.",
                )
            )
        self.transport.close()

    def send_400_response(self, msg: str) -> None:
        status = self._error_status if self._error_status in (400, 431) else 400
        title = "Request Header Fields Too Large" if status == 431 else "Bad Request"
        detail = "Request headers too large." if status == 431 else msg
        self.transport.write(_problem_bytes(status, title, detail))
        self.transport.close()


def protocol(request_timeout: float) -> type[LocalHttpToolsProtocol]:
    """`LocalHttpToolsProtocol` with another request timeout (tests use a short one)."""
    if request_timeout == LocalHttpToolsProtocol.request_timeout:
        return LocalHttpToolsProtocol
    return type(
        "LocalHttpToolsProtocol", (LocalHttpToolsProtocol,), {"request_timeout": request_timeout}
    )


def config(
    app: Any,  # an ASGI app, or an import string with factory=True
    port: int,
    request_timeout: float = REQUEST_TIMEOUT,
    **options: Any,
) -> uvicorn.Config:
    """The uvicorn configuration of every local TinyShop server."""
    return uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        http=protocol(request_timeout),
        timeout_keep_alive=KEEP_ALIVE_TIMEOUT,
        **options,
    )


def _keep_uvicorn_access_log_off() -> None:
    """uvicorn turns its access log off by detaching the `uvicorn.access` logger; the app
    factory's `configure_logging` (run by `Config.load`, after uvicorn set its loggers up)
    attaches it to the root JSON handler again, and uvicorn logs a line per request whenever
    that logger has a handler. The apps log their own line (access_log.py, with the route and
    no ids): without this every request was logged twice at INFO, and uvicorn's line was ~15%
    of catalog's CPU per request even with LOG_LEVEL=WARNING (its logger keeps level INFO)."""
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False


def main(argv: list[str] | None = None) -> None:
    """`python -m functions.shared.local_server functions.orders.api:create_app --port 7072`
    (`--port 0` binds a free port; the "Uvicorn running on" line names it)."""
    parser = argparse.ArgumentParser(prog="python -m functions.shared.local_server")
    parser.add_argument("factory", help="module:function building the ASGI app")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    server_config = config(args.factory, args.port, factory=True, access_log=False)
    server_config.load()  # builds the app now, so its logging set-up can be corrected
    _keep_uvicorn_access_log_off()
    uvicorn.Server(server_config).run()


if __name__ == "__main__":
    main()
