"""`make dev`'s Prometheus (dev/prometheus/): its config is valid for promtool, names each
process's METRICS_PORT from dev/Procfile, and a real Prometheus scrapes a real endpoint with it
and evaluates TinyShop's rules."""

import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from dev.prometheus import launcher
from dev.serve import free_port
from tests.conftest import METRICS_URL, REPO

PROCFILE = REPO / "dev" / "Procfile"


def _procfile_ports() -> dict[str, int]:
    ports = {}
    for line in PROCFILE.read_text().splitlines():
        match = re.match(r"^(\w+): .*METRICS_PORT=(\d+) ", line)
        if match:
            ports[match[1]] = int(match[2])
    return ports


def test_every_process_with_metrics_is_a_scrape_target() -> None:
    assert _procfile_ports() == launcher.TARGETS
    assert set(launcher.TARGETS) == {"catalog", "orders", "worker", "ui"}


@pytest.mark.parametrize(
    ("setting", "installed", "runs"),
    [
        (None, True, True),
        (None, False, False),
        ("", True, True),
        ("1", False, True),
        ("0", True, False),
    ],
)
def test_prometheus_runs_when_installed_or_asked(
    setting: str | None, installed: bool, runs: bool
) -> None:
    assert launcher.wanted(setting, installed) is runs


def _write(config: dict, folder: Path) -> Path:
    return launcher.write_config(config, folder)  # what `make dev` writes, as it writes it


def test_promtool_accepts_the_config_and_its_rules(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: `make test` installs Debian's prometheus package"
    done = subprocess.run(
        [promtool, "check", "config", str(_write(launcher.config(), tmp_path))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 1 rule files found" in done.stdout


def test_a_real_prometheus_scrapes_an_app_endpoint_and_evaluates_the_rules(tmp_path: Path) -> None:
    """This test process serves the apps' metrics at METRICS_URL (tests/conftest.py)."""
    binary = shutil.which("prometheus")
    assert binary, "prometheus is missing: `make test` installs Debian's prometheus package"
    metrics_port = int(METRICS_URL.split(":")[2].split("/")[0])
    config = launcher.config({"orders": metrics_port})
    port = free_port()
    server = subprocess.Popen(
        [
            binary,
            f"--config.file={_write(config, tmp_path)}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    api = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline = time.monotonic() + 30
        result: list = []
        while not result and time.monotonic() < deadline:
            time.sleep(0.5)
            try:
                answer = httpx.get(f"{api}/query", params={"query": 'up{service_name="orders"}'})
            except httpx.TransportError:
                continue
            result = answer.json()["data"]["result"]
        assert result, "Prometheus never scraped the endpoint"
        assert result[0]["value"][1] == "1"
        groups = httpx.get(f"{api}/rules").json()["data"]["groups"]
        assert {g["name"] for g in groups} == {"tinyshop.slo", "tinyshop.http", "tinyshop.pipeline"}
        assert all(r["health"] != "err" for g in groups for r in g["rules"])
    finally:
        server.terminate()
        server.wait(timeout=20)
