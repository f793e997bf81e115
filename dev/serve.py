"""Run an ASGI app with uvicorn on a free loopback port, so tests speak real HTTP."""

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

from dev.server_process import wait_until
from functions.shared import local_server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(
    app: ASGIApp, port: int | None = None, request_timeout: float = local_server.REQUEST_TIMEOUT
) -> Iterator[str]:
    """Serve `app` in a background thread with the local server's settings (as `make dev`
    does); yields its base URL and stops it on exit."""
    port = port or free_port()
    config = local_server.config(app, port, request_timeout, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    # `started` is set by this server once it has bound the port (a taken port ends the thread).
    if not wait_until(lambda: server.started, timeout=10, alive=thread.is_alive):
        server.should_exit = True
        raise RuntimeError(f"uvicorn did not start on port {port}")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
