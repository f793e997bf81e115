"""checkov's helm framework over charts/tinyshop with the dev values and the real helm on PATH
(without helm checkov silently checks nothing, so the resource count is asserted)."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.deploy import render
from tests.support.checkov import CheckovInstallError, checkov_executable

# checkov renders into the `default` namespace; the chart refuses any namespace but the
# federated one, so the run sets namespace=default and skips only "do not use default"
# (test_charts proves the chart renders nowhere but `tinyshop`).
SKIPPED = ["CKV_K8S_21"]


@pytest.fixture(scope="module")
def checkov_bin() -> Path:
    try:
        return checkov_executable()
    except CheckovInstallError as exc:
        pytest.fail(str(exc))


def run_checkov(
    checkov_bin: Path, helm_bin: Path, chart: Path, values: list[Path], tmp: Path
) -> dict:
    namespace = tmp / "namespace.values.yaml"
    namespace.write_text("namespace: default\n", encoding="utf-8")
    env = dict(
        os.environ,
        PATH=f"{helm_bin.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        BC_SKIP_MAPPING="TRUE",
        CHECKOV_RUN_SCA_PACKAGE_SCAN_V2="false",
    )
    args = [str(checkov_bin), "-d", str(chart), "--framework", "helm", "-o", "json", "--quiet"]
    args += ["--compact", "--skip-download", "--skip-check", ",".join(SKIPPED)]
    for path in [*values, namespace]:
        args += ["--var-file", str(path)]
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600, check=False)
    report = json.loads(result.stdout)
    return report[0] if isinstance(report, list) else report


def test_checkov_passes_the_chart_and_really_checked_it(checkov_bin, helm_bin, tmp_path):
    [release] = [r for r in render.environment_releases("dev") if r.name == "tinyshop"]
    report = run_checkov(checkov_bin, helm_bin, release.chart, list(release.values), tmp_path)
    failed = report["results"]["failed_checks"]
    assert [(f["check_id"], f["resource"]) for f in failed] == []
    summary = report["summary"]
    assert summary["resource_count"] >= 30, summary
    assert summary["passed"] >= 300, summary
    print(f"checkov {summary['checkov_version']}: {summary}")


def test_checkov_flags_an_insecure_chart(checkov_bin, helm_bin, tmp_path):
    chart = tmp_path / "insecure"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: insecure\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("namespace: default\n")
    (chart / "templates" / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: bad, namespace: shop}\n"
        "spec:\n  containers:\n    - name: bad\n      image: nginx:latest\n"
        "      securityContext: {privileged: true}\n"
    )
    report = run_checkov(checkov_bin, helm_bin, chart, [], tmp_path)
    failed = {f["check_id"] for f in report["results"]["failed_checks"]}
    assert {"CKV_K8S_16", "CKV_K8S_14"} <= failed  # privileged; image tag latest
