"""The `helm install` commands of the by-hand path (docs/aks.md, docs/gitops.md) install what
Argo CD installs, and in an order a fresh cluster accepts.

A reader runs these commands literally, so for every `helm install` / `helm upgrade --install`
in a bash block:

* every `-f`/`--values` file exists;
* an upstream chart is one an Argo CD Application in argocd/ installs (the chart resolved the
  way helm resolves it: `oci://`, `--repo URL`, or `<alias>/<chart>` after a
  `helm repo add <alias> URL` of the same page), with the same `--version` (= targetRevision),
  release name, namespace, `--skip-crds` and the same value files in the same order, and no
  `--set` (Argo CD sets nothing inline, so the by-hand install would differ);
* a command that creates Prometheus Operator objects (ServiceMonitor, PodMonitor,
  PrometheusRule: from its Application's values, or rendered with the real `helm template` for
  a chart of this repository) comes after the install of kube-prometheus-stack, which owns
  their CRDs. Helm refuses a manifest whose kind the API server does not know ("no matches for
  kind"), so on a fresh cluster such an install fails.

Mutation tests feed a doctored copy of the page through the same check.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.gitops.argocd_model import (
    REPO_ROOT,
    chart_monitor_switches,
    helm_template,
    monitor_objects,
    sources,
    synced_objects,
    value_file_paths,
)

DOCS = {name: REPO_ROOT / "docs" / name for name in ("aks.md", "gitops.md")}
# The chart whose CRDs every ServiceMonitor/PodMonitor/PrometheusRule needs.
CRD_CHART = "kube-prometheus-stack"
_BASH_BLOCK = re.compile(r"^[ \t]*```(?:bash|sh|shell)\n(.*?)^[ \t]*```", re.M | re.S)
# helm flags that take a value (everything else that starts with `-` is a switch).
_WITH_VALUE = {
    "-f",
    "--values",
    "-n",
    "--namespace",
    "--version",
    "--repo",
    "--timeout",
    "--kube-context",
    "--set",
    "--set-string",
    "--set-json",
    "--set-file",
}
_SETS = ("--set", "--set-string", "--set-json", "--set-file")


@dataclass
class HelmCommand:
    """One `helm` command line of a page, flags read the way helm reads them."""

    line: str
    words: list[str]
    positional: list[str] = field(default_factory=list)
    flags: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        words = iter(self.words[1:])
        for word in words:
            if word.startswith("-"):
                name, eq, value = word.partition("=")
                if eq:
                    self.flags.setdefault(name, []).append(value)
                elif name in _WITH_VALUE:
                    self.flags.setdefault(name, []).append(next(words, ""))
                else:
                    self.flags.setdefault(name, []).append("")
            else:
                self.positional.append(word)

    def values(self, *names: str) -> list[str]:
        return [v for n in names for v in self.flags.get(n, [])]

    def one(self, *names: str) -> str | None:
        found = self.values(*names)
        return found[-1] if found else None

    @property
    def installs(self) -> bool:
        sub = self.positional[:1]
        return sub == ["install"] or (sub == ["upgrade"] and bool(self.values("--install", "-i")))

    @property
    def release(self) -> str:
        return self.positional[1]

    @property
    def chart(self) -> str:
        return self.positional[2]


def shell_lines(doc: str) -> list[str]:
    """Logical lines of the page's bash blocks (backslash continuations joined)."""
    return [
        line.strip()
        for block in _BASH_BLOCK.findall(doc)
        for line in block.replace("\\\n", " ").splitlines()
        if line.strip()
    ]


def helm_commands(doc: str) -> tuple[list[HelmCommand], dict[str, str]]:
    """The page's `helm` commands run directly (not quoted inside another command) and the
    repositories its `helm repo add` lines name."""
    commands, repos = [], {}
    for line in shell_lines(doc):
        if not line.startswith("helm "):
            continue
        words = shlex.split(line, comments=True)
        for stop in ("&&", "||", ";", "|"):
            if stop in words:
                words = words[: words.index(stop)]
        if words[0] != "helm":
            continue
        if words[1:3] == ["repo", "add"]:
            repos[words[3]] = words[4].rstrip("/")
            continue
        commands.append(HelmCommand(line, words))
    return commands, repos


@dataclass(frozen=True)
class ChartRef:
    repo_url: str | None  # None: a chart directory of this repository
    chart: str


def resolve_chart(command: HelmCommand, repos: dict[str, str]) -> ChartRef | str:
    """Where helm takes the chart from, or why it cannot."""
    chart = command.chart
    if chart.startswith("oci://"):
        repo, _, name = chart.removeprefix("oci://").rpartition("/")
        return ChartRef(repo, name)
    repo = command.one("--repo")
    if repo:
        return ChartRef(repo.rstrip("/"), chart)
    if (REPO_ROOT / chart / "Chart.yaml").is_file():
        return ChartRef(None, chart)
    alias, slash, name = chart.partition("/")
    if slash and alias in repos:
        return ChartRef(repos[alias], name)
    return f"`{chart}`: not a chart of this repository and no `helm repo add {alias}` on the page"


def _relative(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT))


def _set_values(command: HelmCommand) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in command.values("--set"):
        key, _, raw = item.partition("=")
        try:
            values[key] = json.loads(raw)
        except ValueError:
            values[key] = raw
    return values


def doc_problems(doc: str) -> list[str]:
    """Everything a page's helm installs get wrong against argocd/ and the repository."""
    apps = [o for o in synced_objects() if o["kind"] == "Application"]
    upstream = {
        (s.repo_url.rstrip("/"), s.chart): app
        for app in apps
        for s in sources(app)
        if s.chart and not s.is_local
    }
    commands, repos = helm_commands(doc)
    problems: list[str] = []
    crd_chart_installed = False
    for command in (c for c in commands if c.installs):
        where = f"helm install {command.release}"
        for path in command.values("-f", "--values"):
            if not (REPO_ROOT / path).is_file():
                problems.append(f"{where}: value file {path} does not exist")
        ref = resolve_chart(command, repos)
        if isinstance(ref, str):
            problems.append(f"{where}: {ref}")
            continue
        creates: list[str] = []
        if ref.repo_url is None:
            files = [REPO_ROOT / p for p in command.values("-f", "--values")]
            if all(f.is_file() for f in files):
                namespace = command.one("-n", "--namespace") or "default"
                objects = helm_template(
                    REPO_ROOT / ref.chart, command.release, namespace, files, _set_values(command)
                )
                creates = monitor_objects(objects)
        else:
            app = upstream.get((ref.repo_url, ref.chart))
            if app is None:
                problems.append(f"{where}: {ref.chart} from {ref.repo_url} is in no Application")
                continue
            [source] = [s for s in sources(app) if s.chart == ref.chart]
            name = app["metadata"]["name"]
            version = command.one("--version")
            if version != source.target_revision:
                problems.append(
                    f"{where}: --version {version} but argocd/apps ({name}) pins "
                    f"{source.target_revision}"
                )
            release = source.helm.get("releaseName", name)
            if command.release != release:
                problems.append(f"{where}: Argo CD's release is {release}")
            namespace = app["spec"]["destination"]["namespace"]
            if command.one("-n", "--namespace") != namespace:
                problems.append(f"{where}: Argo CD installs into namespace {namespace}")
            if bool(command.values("--skip-crds")) != bool(source.helm.get("skipCrds")):
                problems.append(f"{where}: --skip-crds differs from {name}'s helm.skipCrds")
            expected = [_relative(p) for p in value_file_paths(app)[ref.chart]]
            if command.values("-f", "--values") != expected:
                problems.append(
                    f"{where}: value files {command.values('-f', '--values')} but {name} "
                    f"uses {expected}"
                )
            if command.values(*_SETS):
                problems.append(f"{where}: --set values that {name} does not set")
            creates = chart_monitor_switches(app)
            crd_chart_installed |= ref.chart == CRD_CHART
        if creates and not crd_chart_installed and ref.chart != CRD_CHART:
            problems.append(
                f"{where}: creates {', '.join(creates)} before {CRD_CHART} installs their CRDs"
            )
    return problems


@pytest.mark.parametrize("page", sorted(DOCS))
def test_documented_helm_installs_match_argocd_and_the_repository(page: str) -> None:
    assert doc_problems(DOCS[page].read_text(encoding="utf-8")) == []


def test_the_pages_really_document_the_installs() -> None:
    """A broken parser must not turn the check into a no-op."""
    installed = {}
    for path in DOCS.values():
        commands, repos = helm_commands(path.read_text(encoding="utf-8"))
        for command in (c for c in commands if c.installs):
            ref = resolve_chart(command, repos)
            assert isinstance(ref, ChartRef), ref
            installed[ref.chart] = ref.repo_url
    assert {
        "argo-cd",
        "kube-prometheus-stack",
        "nginx-ingress",
        "keda",
        "opentelemetry-collector",
        "charts/tinyshop",
    } <= set(installed)
    assert installed["charts/tinyshop"] is None


def _aks() -> str:
    return DOCS["aks.md"].read_text(encoding="utf-8")


def _without_line(doc: str, needle: str) -> str:
    lines = doc.splitlines(keepends=True)
    hits = [i for i, line in enumerate(lines) if needle in line]
    assert len(hits) == 1, f"mutation anchor {needle!r} found {len(hits)} times"
    return "".join(lines[: hits[0]] + lines[hits[0] + 1 :])


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        # The per-cluster file with the ACR-cache image (the default image is on Docker Hub).
        (
            " -f environments/dev/platform/nginx-ingress.values.yaml",
            "",
            "helm install nginx-ingress: value files",
        ),
        ("keda --version 2.20.2", "keda --version 2.18.1", "pins 2.20.2"),
        ("keda --version 2.20.2", "keda", "--version None but argocd/apps (keda) pins 2.20.2"),
        (
            "-f environments/dev/platform/keda.values.yaml",
            "-f environments/dev/keda-platform.values.yaml",
            "keda-platform.values.yaml does not exist",
        ),
        ("-n keda --create-namespace", "-n kube-system", "namespace keda"),
        ("--skip-crds", "", "--skip-crds differs"),
    ],
)
def test_helm_check_notices_a_command_that_differs_from_argocd(
    old: str, new: str, complaint: str
) -> None:
    doc = _aks()
    assert old in doc, f"mutation anchor {old!r} not in docs/aks.md"
    problems = doc_problems(doc.replace(old, new, 1))
    assert any(complaint in p for p in problems), problems


def test_helm_check_notices_a_missing_repo_add() -> None:
    problems = doc_problems(_without_line(_aks(), "helm repo add kedacore"))
    assert any("no `helm repo add kedacore`" in p for p in problems), problems


def test_helm_check_notices_monitors_before_the_prometheus_operator() -> None:
    doc = _without_line(_aks(), "helm upgrade --install kube-prometheus-stack")
    problems = doc_problems(doc)
    for release, creates in (
        ("nginx-ingress", "prometheus.serviceMonitor"),
        ("keda", "prometheus.operator.serviceMonitor"),
        ("opentelemetry-collector", "serviceMonitor"),
        # The app chart renders its PrometheusRule by default.
        ("tinyshop", "PrometheusRule/"),
    ):
        prefix = f"helm install {release}: creates {creates}"
        assert any(p.startswith(prefix) for p in problems), (release, problems)


def test_helm_check_renders_the_app_chart_with_the_documented_set() -> None:
    """Without the operator, the app chart passes only with its PrometheusRule switched off."""
    doc = _without_line(_aks(), "helm upgrade --install kube-prometheus-stack")
    anchor = "helm upgrade --install tinyshop charts/tinyshop -n tinyshop \\\n"
    assert doc.count(anchor) == 1
    doc = doc.replace(anchor, anchor[:-2] + " --set monitoring.prometheusRules.enabled=false \\\n")
    problems = doc_problems(doc)
    assert not any(p.startswith("helm install tinyshop:") for p in problems), problems
