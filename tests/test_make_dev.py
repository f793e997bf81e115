"""`make dev`'s stack (dev/stack.py): prepares the databases, serves the seeded catalog on
127.0.0.1:7071, stops everything on Ctrl-C, and can be run again."""

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from dev.postgres import fresh_database
from tests.conftest import REPO

CATALOG = "http://127.0.0.1:7071"


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _run_stack_until_serving(env: dict[str, str]) -> subprocess.Popen:
    stack = subprocess.Popen(
        [sys.executable, "-m", "dev.stack"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, like a terminal's foreground job
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if stack.poll() is not None:
            pytest.fail(f"dev stack exited early:\n{stack.stdout.read()}")
        try:
            if httpx.get(f"{CATALOG}/catalog/health/ready", timeout=1).status_code == 200:
                return stack
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    os.killpg(stack.pid, signal.SIGKILL)
    pytest.fail("dev stack did not serve the catalog within 60 s")


def _ctrl_c(stack: subprocess.Popen) -> str:
    os.killpg(stack.pid, signal.SIGINT)
    try:
        out, _ = stack.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(stack.pid, signal.SIGKILL)
        raise
    return out


@pytest.mark.slow
def test_make_dev_serves_the_seeded_catalog_stops_on_ctrl_c_and_reruns(postgres_admin_url: str):
    if _port_open(7071):
        pytest.fail("port 7071 is taken: stop `make dev` before running the tests")
    with fresh_database(postgres_admin_url, "test_devstack") as url:
        env = {**os.environ, "CATALOG_DATABASE_URL": url}
        for run in (1, 2):
            stack = _run_stack_until_serving(env)
            products = httpx.get(f"{CATALOG}/products", params={"limit": 100}).json()["items"]
            output = _ctrl_c(stack)

            assert len(products) >= 24, output
            assert "http://127.0.0.1:7071/products" in output
            seeded = "26 products seeded" if run == 1 else "0 products seeded"
            assert seeded in output
            assert not _port_open(7071), "catalog still listening after Ctrl-C"
