"""Both OpenAPI documents describe exactly what the APIs do: schemathesis (`--checks all`)
generates requests from each document — valid and invalid ones, then stateful sequences along
the documents' links, so carts fill and checkouts really happen — against the real apps, and
any finding fails the test. Bounded: a fixed seed, a few examples per operation, a time budget.
"""

import subprocess
import sys
from pathlib import Path

import httpx

from dev.issuer import Issuer

SEED = "20261129"
BUDGET_SECONDS = 30


def schemathesis(schema_url: str, report: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(Path(__file__).with_name("schemathesis.toml")),
            "run",
            schema_url,
            "--checks",
            "all",
            "--seed",
            SEED,
            "--max-examples",
            "25",
            "--max-time",
            str(BUDGET_SECONDS),
            "--workers",
            "1",
            "--request-timeout",
            "10",
            "--suppress-health-check",
            "too_slow,filter_too_much",
            "--report",
            "junit",
            "--report-dir",
            str(report),
            *options,
        ],
        capture_output=True,
        text=True,
        timeout=BUDGET_SECONDS * 4,
    )


def assert_no_findings(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == 0, done.stdout[-20_000:] + done.stderr[-5_000:]


def test_the_catalog_api_does_what_its_document_says(catalog_url: str, tmp_path: Path):
    assert_no_findings(schemathesis(f"{catalog_url}/catalog/openapi.json", tmp_path))


def test_the_orders_api_does_what_its_document_says(
    orders_url: str, issuer: Issuer, tmp_path: Path, user: str
):
    token = issuer.token(user)
    done = schemathesis(
        f"{orders_url}/orders/openapi.json", tmp_path, "--header", f"Authorization: Bearer {token}"
    )
    assert_no_findings(done)
    # The links led from filled carts to real checkouts: the run's shopper has orders.
    orders = httpx.get(
        f"{orders_url}/orders", headers={"Authorization": f"Bearer {token}"}, timeout=10
    ).json()["items"]
    assert orders
