"""`make dev`'s Prometheus: scrapes the /metrics endpoint of every local process and loads the
same alert rules as the cluster (charts/tinyshop/rules/tinyshop.rules.yaml), so a developer
can run the dashboards' and alerts' queries locally at http://127.0.0.1:9090.

It runs when Debian's `prometheus` is installed, or when asked with `make dev PROMETHEUS=1`
(which installs it through tools/apt_install.sh); `PROMETHEUS=0` turns it off. Turned off or
missing, this process just waits: dev/supervisor.py would report and restart one that exits.

Each process serves its metrics on its own port (METRICS_PORT in dev/Procfile, the numbers
below); the scrape config labels each target with `service_name`, the label the collector
derives from the resource attribute in AKS, so every query works in both places.
"""

import json
import os
import shutil
import signal
import socket
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STATE = REPO / ".dev" / "prometheus"
RULES = REPO / "charts" / "tinyshop" / "rules" / "tinyshop.rules.yaml"
PORT = 9090
# service_name -> METRICS_PORT of its process in dev/Procfile.
TARGETS = {"catalog": 9464, "orders": 9465, "worker": 9466, "ui": 9467}
SCRAPE_INTERVAL = "5s"  # short, so a few minutes of `make dev` draw a graph


def config(targets: dict[str, int] = TARGETS, rules: Path = RULES) -> dict:
    return {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "rule_files": [str(rules)],
        "scrape_configs": [
            {
                "job_name": "tinyshop",
                "static_configs": [
                    {"targets": [f"127.0.0.1:{port}"], "labels": {"service_name": name}}
                    for name, port in targets.items()
                ],
            }
        ],
    }


def wanted(setting: str | None, installed: bool) -> bool:
    """PROMETHEUS=1 asks for it, 0 refuses it, unset (or empty) means "if installed"."""
    if setting in (None, ""):
        return installed
    return setting == "1"


def _wait_forever() -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()


def write_config(settings: dict, folder: Path) -> Path:
    """`folder/prometheus.yml`, written as JSON: JSON is YAML (1.2), which Prometheus reads,
    and `make dev`'s packages (requirements-dev.txt) hold no YAML library."""
    path = folder / "prometheus.yml"
    path.write_text(json.dumps(settings, indent=2))
    return path


def main() -> int:
    binary = shutil.which("prometheus")
    if not wanted(os.environ.get("PROMETHEUS"), binary is not None):
        print("Prometheus off (make dev PROMETHEUS=1 installs and runs it)", flush=True)
        _wait_forever()
        return 0
    if binary is None:
        print("prometheus is not installed: run `make dev PROMETHEUS=1`", flush=True)
        _wait_forever()
        return 0
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", PORT)) == 0:
            print(f"port {PORT} is taken: the local Prometheus stays off", flush=True)
            _wait_forever()
            return 0
    STATE.mkdir(parents=True, exist_ok=True)
    path = write_config(config(), STATE)
    print(f"Prometheus on http://127.0.0.1:{PORT} (config {path})", flush=True)
    os.execv(  # noqa: S606 (a fixed binary and arguments)
        binary,
        [
            binary,
            f"--config.file={path}",
            f"--storage.tsdb.path={STATE / 'data'}",
            "--storage.tsdb.retention.time=1d",
            f"--web.listen-address=127.0.0.1:{PORT}",
            "--log.level=warn",
        ],
    )


if __name__ == "__main__":
    sys.exit(main())
