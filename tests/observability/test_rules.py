"""The alert rules are valid Prometheus rules, every alert is unit-tested with promtool (firing
and not firing) and has a runbook in docs/operations.md. tests/deploy/test_observability_objects.py
checks that the chart ships this very file.

promtool comes from Debian's `prometheus` package (`make test` installs it through
tools/apt_install.sh)."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.support.promql import rules

RULES_DIR = REPO / "charts" / "tinyshop" / "rules"
RULES = RULES_DIR / "tinyshop.rules.yaml"
RULE_TESTS = RULES_DIR / "tinyshop.rules.test.yaml"
OPERATIONS = REPO / "docs" / "operations.md"


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is missing: `make test` installs Debian's prometheus package"
    return found


def _run(*args: str, cwd: Path = RULES_DIR) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)


def _alerts() -> list[str]:
    return [rule["alert"] for rule in rules(RULES) if "alert" in rule]


def test_promtool_accepts_the_rules(promtool: str) -> None:
    done = _run(promtool, "check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules(RULES))} rules found" in done.stdout


def test_promtool_unit_tests_of_the_alerts_pass(promtool: str) -> None:
    done = _run(promtool, "test", "rules", str(RULE_TESTS))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_alert_is_tested_firing_and_silent() -> None:
    tested = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    firing, silent = set(), set()
    for case in tested:
        for check in case.get("alert_rule_test", []):
            (firing if check["exp_alerts"] else silent).add(check["alertname"])
    assert len(_alerts()) >= 7
    assert set(_alerts()) <= firing, "an alert without a test that makes it fire"
    assert set(_alerts()) <= silent, "an alert without a test that keeps it silent"


def test_every_alert_has_a_runbook_section() -> None:
    headings = {
        line.removeprefix("### ").strip()
        for line in OPERATIONS.read_text().splitlines()
        if line.startswith("### ")
    }
    for rule in rules(RULES):
        if "alert" in rule:
            assert rule["alert"] in headings, f"no runbook section for {rule['alert']}"
            anchor = rule["alert"].lower()
            assert rule["annotations"]["runbook_url"] == f"docs/operations.md#{anchor}"


def test_a_broken_threshold_fails_the_unit_tests(promtool: str, tmp_path: Path) -> None:
    """Mutation: the 5xx alert at 50 % instead of 5 % no longer fires on 10 % errors, and
    promtool's tests notice."""
    text = RULES.read_text()
    assert text.count("> 0.05\n") == 1
    (tmp_path / RULES.name).write_text(text.replace("> 0.05\n", "> 0.5\n"))
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    done = _run(promtool, "test", "rules", RULE_TESTS.name, cwd=tmp_path)
    assert done.returncode != 0
    assert "TinyShopHighErrorRatio" in done.stdout + done.stderr
