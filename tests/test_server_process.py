"""The readiness helper (dev/server_process.py): a server is ready when the process we started
says so, never because something else answers on its port."""

import os
import re
import socket
import sys

import pytest

from dev.server_process import ProcessNotReady, ServerProcess

# `python -u -m http.server` prints this once it has bound its socket.
SERVING = re.compile(r"Serving HTTP on 127\.0\.0\.1 port (?P<port>\d+)")


def http_server(port: int, timeout: float = 10) -> ServerProcess:
    argv = [sys.executable, "-u", "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    return ServerProcess(argv, SERVING, name="http.server", timeout=timeout)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_ready_once_the_child_prints_its_line_and_reaped_after_stop() -> None:
    server = http_server(0)
    ready = server.start()
    pid = server.pid
    assert pid is not None
    assert server.is_running
    port = int(ready["port"])
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass  # it really listens on the port it printed
    assert server.stop() is not None
    assert not server.is_running
    assert gone(pid)


def test_a_port_taken_by_another_process_is_not_mistaken_for_ready() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]  # connect() to it succeeds: a port poll says "ready"
        server = http_server(port)
        with pytest.raises(ProcessNotReady, match="Address already in use"):
            server.start()
        assert not server.is_running


def test_a_silent_child_times_out_and_is_stopped() -> None:
    silent = ServerProcess(
        [sys.executable, "-c", "import time; time.sleep(60)"], SERVING, name="silent", timeout=1
    )
    with pytest.raises(ProcessNotReady, match="within 1 s"):
        silent.start()
    assert silent.pid is None
    assert not silent.is_running
