"""How the apps are served locally and in tests: uvicorn with TinyShop's protocol settings.

In Azure the Functions host and NGINX in front of it own connection handling (NGINX's
`client_header_timeout`/`client_body_timeout` answer a slow client with 408, see
docs/architecture.md, "HTTP API"). Locally uvicorn is the whole server, and its h11 protocol
has a keep-alive timeout but no request timeout: a client that never finishes its headers or
its body holds its connection for ever. `LocalH11Protocol` adds the missing timeout and makes
what the server itself refuses (a malformed or oversized request, a timeout) problem+json like
every other TinyShop error:
- a request whose headers and body have not all arrived `request_timeout` seconds after its
  first byte is answered 408 and its connection closed (measured from the first byte, so a
  client dripping one byte at a time is cut off too);
- a connection that sends nothing for that long is closed silently;
- a request h11 cannot parse is answered 400, or 431 when its headers are too large
  (`h11_max_incomplete_event_size`), instead of uvicorn's text/plain 400.
The app's own work is not bounded here (the apps bound their database, catalog and Cosmos
calls themselves).
"""

import argparse
import json
import logging
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from functions.shared.problems import PROBLEM_JSON

REQUEST_TIMEOUT = 10.0  # seconds from a request's first byte to its last
MAX_HEADER_BYTES = 16 * 1024  # h11's limit on a request's head; more is a 431
KEEP_ALIVE_TIMEOUT = 5  # seconds an idle kept-alive connection stays open (uvicorn's default)


def _problem_bytes(status: int, title: str, detail: str) -> bytes:
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail})
    head = (
        f"HTTP/1.1 {status} {title}\r\ncontent-type: {PROBLEM_JSON}\r\n"
        f"content-length: {len(body)}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body.encode()


def _head_size(request: h11.Request) -> int:
    return len(request.target) + sum(len(name) + len(value) + 4 for name, value in request.headers)


class LocalH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a request timeout and problem+json refusals."""

    request_timeout: float = REQUEST_TIMEOUT

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._request_timer: Any = None
        self._request_started = False
        self._error_status = 400
        next_event = self.conn.next_event

        def remembering_next_event() -> Any:
            # uvicorn answers every h11 parse error with a bare 400; keep h11's status hint
            # (431 for a head over MAX_HEADER_BYTES) for send_400_response.
            try:
                event = next_event()
            except h11.RemoteProtocolError as exc:
                self._error_status = exc.error_status_hint
                raise
            # h11 bounds only a head that arrives in pieces; bound one that came at once too.
            if isinstance(event, h11.Request) and _head_size(event) > MAX_HEADER_BYTES:
                self._error_status = 431
                raise h11.RemoteProtocolError("Request headers too large.", 431)
            return event

        self.conn.next_event = remembering_next_event  # type: ignore[method-assign]
        self._arm()

    def _receiving_request(self) -> bool:
        return self.conn.their_state in (h11.IDLE, h11.SEND_BODY)

    def _arm(self) -> None:
        if self._request_timer is None:
            self._request_timer = self.loop.call_later(self.request_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._request_timer is not None:
            self._request_timer.cancel()
            self._request_timer = None

    def data_received(self, data: bytes) -> None:
        if self._receiving_request():
            self._request_started = True
            self._arm()
        super().data_received(data)

    def handle_events(self) -> None:
        super().handle_events()
        if not self._receiving_request():  # the whole request is in: the app has it
            self._disarm()
            self._request_started = False

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _timed_out(self) -> None:
        self._request_timer = None
        if self.transport.is_closing() or not self._receiving_request():
            return
        receiving_body = self.conn.their_state is h11.SEND_BODY and self.cycle is not None
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
        self.transport.write(_problem_bytes(status, title, msg))
        self.transport.close()


def protocol(request_timeout: float) -> type[LocalH11Protocol]:
    """`LocalH11Protocol` with another request timeout (tests use a short one)."""
    if request_timeout == LocalH11Protocol.request_timeout:
        return LocalH11Protocol
    return type("LocalH11Protocol", (LocalH11Protocol,), {"request_timeout": request_timeout})


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
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
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
