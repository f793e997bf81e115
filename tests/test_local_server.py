"""The local server (uvicorn with TinyShop's protocol settings, used by `make dev` and every
test): a slow or incomplete request is answered 408 and closed, so a slow client cannot hold a
connection for ever; what the server itself refuses is problem+json like everything else.
Spoken to with raw sockets, as a slow client would."""

import json
import re
import socket
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from dev.serve import serve
from dev.server_process import ServerProcess
from functions.catalog.api import create_app
from tests.conftest import REPO, catalog_settings

TIMEOUT = 1.0


@pytest.fixture(scope="module")
def address(catalog_db: str) -> Iterator[tuple[str, int]]:
    with serve(create_app(catalog_settings(catalog_db)), request_timeout=TIMEOUT) as url:
        host, port = url.removeprefix("http://").split(":")
        yield host, int(port)


def exchange(address: tuple[str, int], *parts: bytes, pause: float = 0) -> tuple[bytes, float]:
    """Send `parts` (pausing between them), then read until the server closes; returns what
    came back and how long the server took to close after the last part."""
    with socket.create_connection(address, timeout=TIMEOUT * 5) as client:
        for part in parts:
            client.sendall(part)
            time.sleep(pause)
        sent = time.monotonic()
        received = b""
        while chunk := client.recv(65536):
            received += chunk
        return received, time.monotonic() - sent


def status_and_problem(raw: bytes) -> tuple[int, dict[str, str], dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body)


def test_headers_that_never_finish_are_answered_408_and_closed(address):
    raw, _ = exchange(address, b"GET /products HTTP/1.1\r\nHost: shop\r\nX-Slow: 1")

    status, headers, problem = status_and_problem(raw)
    assert status == 408
    assert headers["content-type"] == "application/problem+json"
    assert problem["status"] == 408


def test_a_body_shorter_than_announced_is_answered_408_and_closed(address):
    raw, _ = exchange(
        address,
        b"POST /products HTTP/1.1\r\nHost: shop\r\nContent-Length: 100\r\n\r\n",
        b'{"a": 1',
    )

    status, _, problem = status_and_problem(raw)
    assert (status, problem["status"]) == (408, 408)


def test_a_connection_that_sends_nothing_is_closed(address):
    raw, _ = exchange(address)

    assert raw == b""


def test_a_client_dripping_its_headers_byte_by_byte_is_cut_off(address):
    request = b"GET /products HTTP/1.1\r\nHost: shop\r\nX-Drip: " + b"a" * 40 + b"\r\n\r\n"
    with socket.create_connection(address, timeout=TIMEOUT * 5) as client:
        started = time.monotonic()
        try:
            for byte in request:
                client.sendall(bytes([byte]))
                time.sleep(0.05)  # 4 s in all: each byte keeps the connection "active"
        except OSError:
            pass  # the server closed the connection under us
        received = client.recv(65536)
    assert received.startswith(b"HTTP/1.1 408")
    assert time.monotonic() - started < TIMEOUT * 3


def test_a_prompt_request_on_a_kept_alive_connection_is_still_served(address):
    request = b"GET /products/tea-infuser HTTP/1.1\r\nHost: shop\r\n\r\n"
    with socket.create_connection(address, timeout=TIMEOUT * 5) as client:
        for _ in range(2):
            client.sendall(request)
            time.sleep(TIMEOUT * 0.7)  # together longer than one request timeout
            assert client.recv(65536).startswith(b"HTTP/1.1 200")


def test_a_request_sent_late_on_a_new_connection_has_its_whole_time_from_its_first_byte(address):
    """The connection waits almost a timeout for its first byte, then the request arrives in two
    parts, the last one after the connection's first timeout would have passed."""
    head = b"GET /products/tea-infuser HTTP/1.1\r\nHost: shop\r\n"
    with socket.create_connection(address, timeout=TIMEOUT * 5) as client:
        time.sleep(TIMEOUT * 0.7)
        client.sendall(head)
        time.sleep(TIMEOUT * 0.6)
        client.sendall(b"\r\n")
        assert client.recv(65536).startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize(
    ("request_bytes", "expected"),
    [
        (b"NOT HTTP AT ALL\r\n\r\n", 400),
        (b"GET /products HTTP/1.1\r\nHost: shop\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n", 431),
        (b"GET /products HTTP/1.1\r\nHost: shop\r\nBad Header Name: x\r\n\r\n", 400),
    ],
    ids=["garbage", "oversized-header", "invalid-header-name"],
)
def test_requests_refused_below_the_app_are_problem_json(
    address, request_bytes: bytes, expected: int
):
    raw, _ = exchange(address, request_bytes)

    status, headers, problem = status_and_problem(raw)
    assert status == expected
    assert headers["content-type"] == "application/problem+json"
    assert problem["status"] == status


def test_a_head_that_keeps_coming_is_refused_at_the_bound_not_at_the_timeout(address):
    """The parser holds a head until it ends: one that outgrows the bound while still arriving
    is refused then, so a client cannot fill the server's memory for a whole timeout."""
    start = b"GET /products HTTP/1.1\r\nHost: shop\r\nX-Endless: "
    raw, _ = exchange(address, start + b"a" * 10_000, b"a" * 10_000, pause=0.05)

    status, _, problem = status_and_problem(raw)
    assert (status, problem["status"]) == (431, 431)


def test_a_head_under_the_bound_is_served_also_when_it_arrives_in_pieces(address):
    """The bytes of a head still arriving and the headers already parsed are one head, counted
    once: 14 KiB of headers in two pieces stay under the 16 KiB bound."""
    head = b"GET /products/tea-infuser HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n"
    head += b"X-One: " + b"a" * 7000 + b"\r\nX-Two: " + b"b" * 7000 + b"\r\n\r\n"
    raw, _ = exchange(address, head[:10_000], head[10_000:], pause=0.05)

    assert raw.startswith(b"HTTP/1.1 200"), raw[:200]


def test_make_dev_serves_the_apps_with_these_settings():
    procfile = (REPO / "dev" / "Procfile").read_text().splitlines()
    commands = dict(line.split(": ", 1) for line in procfile if line and not line.startswith("#"))

    for app, port in (("catalog", 7071), ("orders", 7072)):
        command = (
            f"$PYTHON -m functions.shared.local_server functions.{app}.api:create_app --port {port}"
        )
        # Only the process's own /metrics port (dev/prometheus/launcher.py) may come before it.
        assert re.fullmatch(rf"(env METRICS_PORT=\d+ )?{re.escape(command)}", commands[app])


def test_each_request_is_logged_once_by_the_app_and_never_by_uvicorn(catalog_db: str):
    """uvicorn's own access line (raw path, no route) stays off even though the app factory
    sets logging up after uvicorn did; the app's JSON line is the one line per request."""
    argv = [sys.executable, "-m", "functions.shared.local_server"]
    argv += ["functions.catalog.api:create_app", "--port", "0"]
    running = re.compile(r"Uvicorn running on (?P<url>http://127\.0\.0\.1:\d+)")
    env = {"CATALOG_DATABASE_URL": catalog_db, "LOG_LEVEL": "INFO"}
    server = ServerProcess(argv, running, name="local-server", env=env, cwd=REPO)
    url = server.start()["url"]
    try:
        for product in ("french-press", "no-such-product"):
            httpx.get(f"{url}/products/{product}", timeout=10)
    finally:
        server.stop()

    records = [json.loads(line) for line in server.output if line.startswith("{")]
    loggers = [r["logger"] for r in records]
    assert loggers.count("tinyshop.access") == 2
    assert "uvicorn.access" not in loggers
    statuses = [r["http_status"] for r in records if r["logger"] == "tinyshop.access"]
    assert statuses == [200, 404]
