"""The Grafana dashboards are generated from tools/dashboards.py (committed output is fresh) and
every panel query is valid PromQL for both a parser and Prometheus' own promtool. Whether the
queries name real metrics is checked against a real scrape in tests/ui/test_metrics.py."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.promql import metric_names
from tools import dashboards

QUERIES = [query for board in dashboards.BOARDS for query in dashboards.queries(board)]


def test_the_committed_dashboards_are_what_the_code_generates() -> None:
    assert dashboards.main(["--check"]) == 0


def test_a_stale_dashboard_is_detected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutation: a hand-edited dashboard file fails the freshness check."""
    shutil.copytree(dashboards.OUT, tmp_path, dirs_exist_ok=True)
    edited = tmp_path / f"{dashboards.OVERVIEW.uid}.json"
    edited.write_text(edited.read_text().replace("Requests per second", "Requests"))
    monkeypatch.setattr(dashboards, "OUT", tmp_path)
    assert dashboards.main(["--check"]) == 1


@pytest.mark.parametrize("query", QUERIES)
def test_every_panel_query_parses(query: str) -> None:
    assert metric_names(query)  # parses, and selects at least one metric


def test_the_parser_rejects_broken_promql() -> None:
    """Mutation: the check above can fail."""
    with pytest.raises(ValueError, match="parenthesis"):
        metric_names("sum(rate(tinyshop_checkouts_total[5m])")


def _promtool_check(queries: list[str], folder: Path) -> subprocess.CompletedProcess[str]:
    rules = [{"record": f"tinyshop:panel_{i}", "expr": q} for i, q in enumerate(queries)]
    path = folder / "panels.rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: `make test` installs Debian's prometheus package"
    return subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )


def test_promtool_accepts_every_panel_query(tmp_path: Path) -> None:
    done = _promtool_check(QUERIES, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(QUERIES)} rules found" in done.stdout


def test_promtool_rejects_a_broken_query(tmp_path: Path) -> None:
    done = _promtool_check(["sum(rate(tinyshop_checkouts_total[5m])"], tmp_path)
    assert done.returncode != 0


def test_every_panel_is_described_in_the_operations_guide() -> None:
    guide = (dashboards.OUT.parents[2] / "docs" / "operations.md").read_text()
    for board in dashboards.BOARDS:
        assert f"**{board.title}**" in guide
        for row in board.rows:
            for panel in row.panels:
                assert f"| {row.title} | {panel.title} |" in guide, panel.title
