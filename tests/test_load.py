"""`make load`'s shopper mix (load/locustfile.py) runs headless against the real apps: every
task of the mix is exercised, nothing fails, and the checkouts it reports are really in the
orders database. locust monkey-patches the process with gevent, so it runs in a subprocess."""

import csv
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg

from dev.issuer import Issuer

REPO = Path(__file__).resolve().parents[1]


def run_locust(tmp_path: Path, env: dict[str, str], seconds: int = 8) -> dict[str, dict]:
    report = tmp_path / "report"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(REPO / "load" / "locustfile.py"),
            "--headless",
            "--users=6",
            "--spawn-rate=6",
            f"--run-time={seconds}s",
            f"--csv={report}",
            "--only-summary",
            "--exit-code-on-error=1",
        ],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    stats_file = Path(f"{report}_stats.csv")
    assert stats_file.exists(), result.stderr[-2000:]
    with stats_file.open(encoding="utf-8") as handle:
        stats = {row["Name"]: row for row in csv.DictReader(handle)}
    stats["__exit__"] = {"code": result.returncode, "stderr": result.stderr[-2000:]}
    return stats


def test_the_shopper_mix_runs_clean_and_its_checkouts_are_real(
    tmp_path: Path, catalog_url: str, orders_url: str, issuer: Issuer, orders_db: str
) -> None:
    shoppers = [f"load-{uuid.uuid4().hex[:8]}" for _ in range(6)]
    tokens = tmp_path / "tokens"
    tokens.write_text("\n".join(issuer.token(s) for s in shoppers), encoding="utf-8")
    stats = run_locust(
        tmp_path,
        {
            "TINYSHOP_LOAD_CATALOG_URL": catalog_url,
            "TINYSHOP_LOAD_ORDERS_URL": orders_url,
            "TINYSHOP_LOAD_TOKENS_FILE": str(tokens),
            "TINYSHOP_LOAD_WAIT_SECONDS": "0,0.05",
        },
    )
    assert stats["__exit__"]["code"] == 0, stats["__exit__"]["stderr"]
    total = stats["Aggregated"]
    assert int(total["Request Count"]) > 100
    assert int(total["Failure Count"]) == 0
    for name in ["/products", "/products/{id}", "/cart/items", "/cart", "/checkout", "/orders"]:
        assert int(stats[name]["Request Count"]) > 0, name
    with psycopg.connect(orders_db) as conn:
        placed = conn.execute(
            "SELECT count(*) FROM orders WHERE user_id = ANY(%s)", (shoppers,)
        ).fetchone()[0]
    # Each order came from a first checkout, and each retried checkout replayed its order
    # (the locustfile fails a retry that does not); the run may stop between the two.
    replays = int(stats["/checkout (retry)"]["Request Count"])
    assert 0 < replays <= placed <= int(stats["/checkout"]["Request Count"])


def test_a_refused_token_fails_the_run(
    tmp_path: Path, catalog_url: str, orders_url: str, issuer: Issuer
) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text(issuer.token("load-expired", lifetime=-120), encoding="utf-8")
    stats = run_locust(
        tmp_path,
        {
            "TINYSHOP_LOAD_CATALOG_URL": catalog_url,
            "TINYSHOP_LOAD_ORDERS_URL": orders_url,
            "TINYSHOP_LOAD_TOKENS_FILE": str(tokens),
        },
        seconds=4,
    )
    assert stats["__exit__"]["code"] != 0
    assert int(stats["Aggregated"]["Failure Count"]) > 0
