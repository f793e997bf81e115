"""`make dev`'s stack (dev/stack.py): prepares the databases, serves catalog on :7071, orders on
:7072, the local OIDC provider on :8443, the Cosmos stand-in on :8081 and the shop on :8000,
runs the worker (restarted by the supervisor when it crashes),
supports the README's curl session (whose order's timeline fills in), stops everything on
Ctrl-C, and can be run again — with the first run's order timeline kept."""

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from dev.postgres.launcher import fresh_database
from dev.server_process import wait_until
from tests.conftest import REPO

CATALOG = "http://127.0.0.1:7071"
ORDERS = "http://127.0.0.1:7072"
PORTS = (7071, 7072, 8443, 8081, 8000)
SHOP = "http://127.0.0.1:8000"


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


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

    def serving() -> bool:
        return (
            _ready(f"{CATALOG}/catalog/health/ready")
            and _ready(f"{ORDERS}/orders/health/ready")
            and _port_open(8443)
            and _port_open(8081)
            and _ready(f"{SHOP}/healthz/ready")
        )

    if wait_until(serving, timeout=60, alive=lambda: stack.poll() is None, interval=0.3):
        return stack
    if stack.poll() is not None:
        pytest.fail(f"dev stack exited early:\n{stack.stdout.read()}")
    os.killpg(stack.pid, signal.SIGKILL)
    pytest.fail(f"dev stack did not serve within 60 s:\n{stack.stdout.read()}")


def _ctrl_c(stack: subprocess.Popen) -> str:
    os.killpg(stack.pid, signal.SIGINT)
    try:
        out, _ = stack.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(stack.pid, signal.SIGKILL)
        raise
    return out


def _kill_worker(stack: subprocess.Popen) -> int:
    """SIGKILL the stack's worker process (a crash, as in a failure drill); returns its pid."""
    import psutil

    [worker] = [
        p
        for p in psutil.Process(stack.pid).children(recursive=True)
        if "functions.worker" in " ".join(p.cmdline())
    ]
    worker.kill()
    return worker.pid


def _token() -> str:
    return subprocess.run(
        [sys.executable, "-m", "dev.token", "alice"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.strip()


def _timeline(order_id: str) -> list[str]:
    auth = {"Authorization": f"Bearer {_token()}"}
    order = httpx.get(f"{ORDERS}/orders/{order_id}", headers=auth).json()
    return [e["type"] for e in order["timeline"]["events"]]


def _readme_curl_session() -> list[dict]:
    """token -> add to cart -> checkout -> timeline fills in -> list orders (the README's curl
    session)."""
    auth = {"Authorization": f"Bearer {_token()}"}
    added = httpx.post(
        f"{ORDERS}/cart/items", headers=auth, json={"productId": "french-press", "quantity": 2}
    )
    assert added.status_code == 200, added.text
    placed = httpx.post(f"{ORDERS}/checkout", headers=auth)
    assert placed.status_code == 201, placed.text
    order_url = f"{ORDERS}/orders/{placed.json()['id']}"
    deadline = time.monotonic() + 30  # the worker fills the timeline from the event
    while len(httpx.get(order_url, headers=auth).json()["timeline"]["events"]) < 3:
        assert time.monotonic() < deadline, httpx.get(order_url, headers=auth).text
        time.sleep(0.2)
    return httpx.get(f"{ORDERS}/orders", headers=auth).json()["items"]


@pytest.mark.slow
def test_make_dev_serves_the_shop_stops_on_ctrl_c_and_reruns(postgres_admin_url: str):
    busy = [port for port in PORTS if _port_open(port)]
    if busy:
        pytest.fail(f"ports {busy} are taken: stop `make dev` before running the tests")
    with (
        fresh_database(postgres_admin_url, "test_dev_catalog") as catalog_db,
        fresh_database(postgres_admin_url, "test_dev_orders") as orders_db,
        fresh_database(postgres_admin_url, "test_dev_bus") as bus_db,
        fresh_database(postgres_admin_url, "test_dev_ui") as ui_db,
    ):
        env = {
            **os.environ,
            "CATALOG_DATABASE_URL": catalog_db,
            "ORDERS_DATABASE_URL": orders_db,
            "LOCAL_BUS_DATABASE_URL": bus_db,
            "UI_SESSION_DATABASE_URL": ui_db,
        }
        first_order = None
        for run in (1, 2):
            stack = _run_stack_until_serving(env)
            try:
                products = httpx.get(f"{CATALOG}/products", params={"limit": 100}).json()["items"]
                shop_front = httpx.get(SHOP)
                if run == 1:  # a crashed worker comes back; the session's timeline still fills
                    killed = _kill_worker(stack)
                else:  # the first run's timeline was kept by the Cosmos stand-in
                    kept = _timeline(first_order)
                orders = _readme_curl_session()
            finally:
                output = _ctrl_c(stack)

            assert len(products) >= 24, output
            assert shop_front.status_code == 200
            assert products[0]["name"] in shop_front.text
            assert "Sign in" in shop_front.text
            assert len(orders) == run  # the second run sees the first run's order
            assert orders[0]["total"] == "78.00"
            assert "http://127.0.0.1:7071/products" in output
            seeded = "26 products seeded" if run == 1 else "0 products seeded"
            assert seeded in output
            if run == 1:
                first_order = orders[0]["id"]
                assert f"started worker (pid {killed})" in output
                assert "worker exited with signal SIGKILL" in output
                assert output.count("started worker (pid") == 2
            else:
                assert kept == ["OrderPlaced", "ConfirmationEmailSent", "OrderConfirmed"]
            assert not [port for port in PORTS if _port_open(port)], "still listening"
