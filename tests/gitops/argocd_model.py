"""What Argo CD would see in argocd/: its objects, the Applications they generate, what they render.

Argo CD itself cannot run here, so this module reproduces the three steps the tests need:
read the manifests the root Application syncs, expand the TinyShop ApplicationSet's git
directory generator over environments/*, and render every Application whose source is a
path in this repository with the real `helm` and the value files the Application names.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import jsonschema
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
ARGOCD_DIR = REPO_ROOT / "argocd"
SCHEMA_DIR = REPO_ROOT / "schemas" / "kubernetes" / "argoproj.io"
REPO_URL = "https://github.com/example-org/tinyshop.git"
ARGO_KINDS = ("Application", "ApplicationSet", "AppProject")
# Prometheus Operator kinds: their CRDs come from kube-prometheus-stack, so whatever creates one
# must be applied after it (an object of a kind the API server does not know fails the sync).
MONITOR_KINDS = frozenset({"ServiceMonitor", "PodMonitor", "PrometheusRule"})
MONITOR_GROUP = "monitoring.coreos.com"
# How upstream charts name the switch of such an object: `serviceMonitor: {enabled: true}`
# (KEDA, the OpenTelemetry collector), `serviceMonitor: {create: true}` (F5's nginx-ingress),
# `prometheusRules: {enabled: true}`, `podMonitor: {enabled: true}`.
_MONITOR_KEY = re.compile(r"^(servicemonitors?|podmonitors?|prometheusrules?)$", re.IGNORECASE)
# Exact chart versions only: no ranges, wildcards, branches or HEAD.
PINNED_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
_GO_TEMPLATE = re.compile(r"\{\{\s*\.path\.(basename|path)\s*\}\}")


class ModelError(AssertionError):
    """Something Argo CD would reject or render differently from what the repository claims."""


@dataclass(frozen=True)
class Source:
    """One Application source, resolved against the repository."""

    repo_url: str
    target_revision: str
    path: str | None
    chart: str | None
    ref: str | None
    helm: dict[str, Any]

    @property
    def is_local(self) -> bool:
        return self.repo_url == REPO_URL


def load_documents(path: Path) -> list[dict[str, Any]]:
    """Every non-empty YAML document of a file."""
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def root_application(root: Path = REPO_ROOT) -> dict[str, Any]:
    """The Application the reader applies once (argocd/root.yaml)."""
    apps = [d for d in load_documents(root / "argocd" / "root.yaml") if d["kind"] == "Application"]
    if len(apps) != 1:
        raise ModelError(f"argocd/root.yaml must hold exactly one Application, found {len(apps)}")
    return apps[0]


def synced_files(root: Path = REPO_ROOT) -> list[Path]:
    """The files the root Application syncs (its directory source with include glob)."""
    app = root_application(root)
    source = app["spec"]["source"]
    base = root / source["path"]
    include = source.get("directory", {}).get("include", "*")
    patterns = include.strip("{}").split(",")
    recurse = source.get("directory", {}).get("recurse", False)
    candidates = base.rglob("*.yaml") if recurse else base.glob("*.yaml")
    files = sorted(
        p for p in candidates if any(fnmatch(str(p.relative_to(base)), pat) for pat in patterns)
    )
    if not files:
        raise ModelError("the root Application syncs no file")
    return files


def synced_objects(root: Path = REPO_ROOT) -> list[dict[str, Any]]:
    """Every object the root Application syncs."""
    return [doc for path in synced_files(root) for doc in load_documents(path)]


def environments(root: Path = REPO_ROOT) -> list[str]:
    """Directory names the git directory generator finds under environments/."""
    return sorted(p.name for p in (root / "environments").iterdir() if p.is_dir())


def expand_application_set(appset: dict[str, Any], root: Path = REPO_ROOT) -> list[dict[str, Any]]:
    """The Applications a git-directory-generator ApplicationSet creates (goTemplate)."""
    spec = appset["spec"]
    if not spec.get("goTemplate"):
        raise ModelError(f"ApplicationSet {appset['metadata']['name']} must use goTemplate")
    generated = []
    for generator in spec["generators"]:
        git = generator.get("git")
        if git is None or git["repoURL"] != REPO_URL:
            raise ModelError(f"unsupported generator {generator}")
        for entry in git["directories"]:
            if entry.get("exclude"):
                continue
            for directory in sorted(root.glob(entry["path"])):
                if not directory.is_dir():
                    continue
                params = {
                    "basename": directory.name,
                    "path": str(directory.relative_to(root)),
                }
                text = yaml.safe_dump(spec["template"], sort_keys=False)
                text = _GO_TEMPLATE.sub(lambda m, p=params: p[m.group(1)], text)
                if "{{" in text:
                    raise ModelError(f"unexpanded template parameter left in:\n{text}")
                template = yaml.safe_load(text)
                generated.append(
                    {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", **template}
                )
    return generated


def sources(app: dict[str, Any]) -> list[Source]:
    """An Application's source(s) as one list."""
    spec = app["spec"]
    raw = spec.get("sources") or [spec["source"]]
    return [
        Source(
            repo_url=s["repoURL"],
            target_revision=str(s.get("targetRevision", "")),
            path=s.get("path"),
            chart=s.get("chart"),
            ref=s.get("ref"),
            helm=s.get("helm", {}),
        )
        for s in raw
    ]


def value_file_paths(app: dict[str, Any], root: Path = REPO_ROOT) -> dict[str, list[Path]]:
    """Value files of each Helm source (keyed by chart name or path), resolved in the repository.

    `$values/x` means x in this repository (a `ref: values` source); a relative entry is
    relative to the source's path, and Argo CD refuses to leave the repository.
    """
    app_sources = sources(app)
    refs = {s.ref for s in app_sources if s.ref}
    resolved: dict[str, list[Path]] = {}
    for source in app_sources:
        if source.ref:
            if not source.is_local:
                raise ModelError(f"ref source {source.ref} must be this repository")
            continue
        files = []
        for entry in source.helm.get("valueFiles", []):
            if entry.startswith("$"):
                ref, _, rest = entry[1:].partition("/")
                if ref not in refs:
                    raise ModelError(f"{entry}: no source has ref {ref!r}")
                path = (root / rest).resolve()
            elif source.path is None:
                raise ModelError(f"{entry}: a relative value file needs a path source")
            else:
                path = (root / source.path / entry).resolve()
            if root.resolve() not in path.parents:
                raise ModelError(f"{entry} points outside the repository")
            files.append(path)
        resolved[source.chart or source.path or "?"] = files
    return resolved


# ------------------------------------------------------------------ schemas ----


def _schema(kind: str) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / f"{kind.lower()}_v1alpha1.json").read_text(encoding="utf-8"))


def schema_errors(obj: dict[str, Any]) -> list[str]:
    """Violations of the Argo CD CRD schema of the object's kind."""
    kind = obj.get("kind")
    if kind not in ARGO_KINDS or obj.get("apiVersion") != "argoproj.io/v1alpha1":
        return [f"not an Argo CD object: {obj.get('apiVersion')}/{kind}"]
    validator_cls = jsonschema.validators.validator_for(_schema(kind))
    validator = validator_cls(_schema(kind))
    return [
        f"{kind} {obj.get('metadata', {}).get('name')}: {'/'.join(map(str, e.absolute_path))}: "
        f"{e.message}"
        for e in validator.iter_errors(obj)
    ]


# --------------------------------------------------------------------- helm ----


def helm_binary() -> Path:
    """helm from the repo's tool script (.venv/bin or .dev/tools), else from PATH."""
    candidates = [
        Path(sys.executable).parent / "helm",
        REPO_ROOT / ".venv" / "bin" / "helm",
        REPO_ROOT / ".dev" / "tools" / "helm",
        REPO_ROOT / ".dev" / "tools" / "bin" / "helm",
    ]
    found = shutil.which("helm")
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise ModelError("helm not found in .venv/bin, .dev/tools or PATH: install it first")


def helm_template(
    chart_dir: Path,
    release: str,
    namespace: str,
    value_files: Iterable[Path] = (),
    values: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """`helm template` of a chart in this repository, as objects."""
    if not (chart_dir / "Chart.yaml").is_file():
        raise ModelError(f"{chart_dir} is not a Helm chart (no Chart.yaml)")
    command = [str(helm_binary()), "template", release, str(chart_dir), "--namespace", namespace]
    for path in value_files:
        if not path.is_file():
            raise ModelError(f"value file {path} does not exist")
        command += ["--values", str(path)]
    for key, value in (values or {}).items():
        command += ["--set-json", f"{key}={json.dumps(value)}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise ModelError(f"helm template {chart_dir} failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def render_application(app: dict[str, Any], root: Path = REPO_ROOT) -> list[dict[str, Any]]:
    """What a path-source Application deploys (helm template with its value files and values)."""
    local = [s for s in sources(app) if s.path is not None]
    if len(local) != 1:
        raise ModelError(f"{app['metadata']['name']}: expected one path source, got {len(local)}")
    source = local[0]
    files = value_file_paths(app, root)[source.path]
    inline = source.helm.get("valuesObject")
    return helm_template(
        root / source.path,
        source.helm.get("releaseName", app["metadata"]["name"]),
        app["spec"]["destination"]["namespace"],
        files,
        inline,
    )


def all_applications(root: Path = REPO_ROOT) -> Iterator[dict[str, Any]]:
    """Every Application Argo CD ends up with: synced, generated by ApplicationSets, and the
    children the generated parents render (recursively)."""
    pending = []
    for obj in synced_objects(root):
        if obj["kind"] == "Application":
            pending.append(obj)
        elif obj["kind"] == "ApplicationSet":
            pending.extend(expand_application_set(obj, root))
    seen = set()
    while pending:
        app = pending.pop(0)
        name = app["metadata"]["name"]
        if name in seen:
            raise ModelError(f"two Applications are named {name}")
        seen.add(name)
        yield app
        if app["metadata"]["name"] == "root":
            continue
        for source in sources(app):
            if source.is_local and source.path and source.path.startswith("argocd/"):
                rendered = render_application(app, root)
                pending.extend(o for o in rendered if o.get("kind") == "Application")


def sync_wave(obj: dict[str, Any]) -> int:
    """The argocd.argoproj.io/sync-wave annotation (0 when absent, as in Argo CD)."""
    annotations = obj.get("metadata", {}).get("annotations") or {}
    return int(annotations.get("argocd.argoproj.io/sync-wave", "0"))


def merge_values(*layers: dict[str, Any]) -> dict[str, Any]:
    """Helm's coalescing of value files: later files win, maps merge key by key, null deletes."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in (layer or {}).items():
            if value is None:
                merged.pop(key, None)
            elif isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = merge_values(merged[key], value)
            else:
                merged[key] = value
    return merged


def monitor_switches(values: Any, path: str = "") -> list[str]:
    """Dotted keys of the value blocks that switch a ServiceMonitor/PodMonitor/PrometheusRule on
    (`prometheus.operator.serviceMonitor` for `{enabled: true}` under that key)."""
    found: list[str] = []
    if isinstance(values, dict):
        for key, value in values.items():
            here = f"{path}.{key}" if path else str(key)
            if (
                _MONITOR_KEY.match(str(key))
                and isinstance(value, dict)
                and (value.get("enabled") is True or value.get("create") is True)
            ):
                found.append(here)
            found += monitor_switches(value, here)
    elif isinstance(values, list):
        for index, item in enumerate(values):
            found += monitor_switches(item, f"{path}[{index}]")
    return found


def monitor_objects(objects: Iterable[dict[str, Any]]) -> list[str]:
    """`Kind/name` of the rendered Prometheus Operator objects."""
    return [
        f"{o['kind']}/{o['metadata']['name']}"
        for o in objects
        if o.get("kind") in MONITOR_KINDS
        and str(o.get("apiVersion", "")).startswith(f"{MONITOR_GROUP}/")
    ]


def chart_monitor_switches(app: dict[str, Any], root: Path = REPO_ROOT) -> list[str]:
    """Monitor switches an upstream chart source's values turn on, layered as Argo CD does:
    "parameters > valuesObject > values > valueFiles"
    (https://argo-cd.readthedocs.io/en/stable/user-guide/helm/)."""
    found = []
    files = value_file_paths(app, root)
    for source in sources(app):
        if not source.chart:
            continue
        if source.helm.get("parameters"):
            raise ModelError(f"{source.chart}: helm.parameters are not modelled")
        layers = [yaml.safe_load(p.read_text(encoding="utf-8")) or {} for p in files[source.chart]]
        layers.append(yaml.safe_load(source.helm.get("values") or "{}") or {})
        layers.append(source.helm.get("valuesObject") or {})
        found += monitor_switches(merge_values(*layers))
    return found


def kinds_outside_project(rendered: Iterable[dict[str, Any]], project: dict[str, Any]) -> list[str]:
    """Rendered objects an AppProject's resource whitelists would refuse."""
    spec = project["spec"]
    cluster = {(e["group"], e["kind"]) for e in spec.get("clusterResourceWhitelist", [])}
    namespaced = spec.get("namespaceResourceWhitelist")
    allowed_ns = None if namespaced is None else {(e["group"], e["kind"]) for e in namespaced}
    refused = []
    for obj in rendered:
        group = obj["apiVersion"].rpartition("/")[0] if "/" in obj["apiVersion"] else ""
        key = (group, obj["kind"])
        if obj["kind"] in {"Namespace", "CustomResourceDefinition", "ClusterRole"}:
            if key not in cluster:
                refused.append(f"{obj['kind']}/{obj['metadata']['name']} (cluster-scoped)")
        elif allowed_ns is not None and key not in allowed_ns:
            refused.append(f"{obj['kind']}/{obj['metadata']['name']}")
    return refused
