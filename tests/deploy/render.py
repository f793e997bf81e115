"""Render the charts with the real helm binary and validate what comes out.

Core kinds are checked against the Kubernetes OpenAPI schemas of a pinned version
(kubernetes-validate, strict: unknown fields fail), custom resources against the CRD schemas
vendored in schemas/kubernetes/<group>/<kind>_<version>.json (jsonschema).
"""

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "tinyshop"
KEDA_CHART = REPO / "keda"
ENVIRONMENTS = REPO / "environments"
CRD_SCHEMAS = REPO / "schemas" / "kubernetes"
# The Kubernetes minor the manifests must be valid for (AKS supported versions; bump together
# with infra/terraform's kubernetes_version when the cluster moves on).
KUBERNETES_VERSION = "1.33.0"
NAMESPACE = "tinyshop"

Manifest = dict[str, Any]


class RenderError(RuntimeError):
    """helm refused the chart or the values."""


@dataclass(frozen=True)
class Release:
    """One chart rendered with one environment's values files."""

    name: str
    chart: Path
    values: tuple[Path, ...]


def environment_releases(env: str) -> list[Release]:
    """The releases ArgoCD syncs for `env`: the app chart (Terraform values + image tags) and
    the KEDA chart."""
    folder = ENVIRONMENTS / env
    return [
        Release("tinyshop", CHART, (folder / "tinyshop.values.yaml", folder / "images.yaml")),
        Release("tinyshop-keda", KEDA_CHART, (folder / "keda.values.yaml",)),
    ]


def environments() -> list[str]:
    return sorted(p.name for p in ENVIRONMENTS.iterdir() if p.is_dir())


def helm(helm_bin: Path, *args: str) -> str:
    result = subprocess.run(
        [str(helm_bin), *args], capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise RenderError(result.stderr.strip() or result.stdout.strip())
    return result.stdout


Overrides = dict[str, str | bool]


def value_args(values: tuple[Path, ...], overrides: Overrides | None = None) -> list[str]:
    args = [arg for path in values for arg in ("-f", str(path))]
    for key, value in (overrides or {}).items():
        if isinstance(value, bool):
            args += ["--set", f"{key}={str(value).lower()}"]
        else:
            args += ["--set-string", f"{key}={value}"]
    return args


def render(helm_bin: Path, release: Release, overrides: Overrides | None = None) -> list[Manifest]:
    """`helm template` of the release; hooks included (they are what ArgoCD runs as PreSync)."""
    out = helm(
        helm_bin,
        "template",
        release.name,
        str(release.chart),
        "--namespace",
        NAMESPACE,
        *value_args(release.values, overrides),
    )
    return [doc for doc in yaml.safe_load_all(out) if doc]


def validate_core(manifest: Manifest) -> None:
    """Strict OpenAPI validation of a built-in kind; raises on any error."""
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def crd_schema_path(manifest: Manifest) -> Path | None:
    group, _, version = manifest["apiVersion"].rpartition("/")
    # Built-in groups: core (""), dotless ones (apps, batch, policy, autoscaling) and *.k8s.io
    # (networking.k8s.io, ...). *.x-k8s.io groups are SIG projects' CRDs.
    if "." not in group or group.endswith(".k8s.io"):
        return None
    return CRD_SCHEMAS / group / f"{manifest['kind'].lower()}_{version}.json"


def is_custom_resource(manifest: Manifest) -> bool:
    return crd_schema_path(manifest) is not None


def validate_custom(manifest: Manifest) -> None:
    """Validate a custom resource against its vendored CRD schema; raises when it is unknown."""
    path = crd_schema_path(manifest)
    if path is None or not path.exists():
        raise FileNotFoundError(f"no CRD schema for {manifest['apiVersion']} {manifest['kind']}")
    schema = json.loads(path.read_text(encoding="utf-8"))
    # Not jsonschema.validate(): it first checks the schema against its metaschema, whose
    # "regex" format is Python's `re`, and CRD schemas hold Go patterns (PrometheusRule's
    # `^(?i)(abort|warn)?$` is valid Go, an error for Python 3.11).
    jsonschema.validators.validator_for(schema)(schema).validate(manifest)


def validate(manifest: Manifest) -> str:
    """Validate one rendered object; returns which validator checked it."""
    if is_custom_resource(manifest):
        validate_custom(manifest)
        return "crd-schema"
    validate_core(manifest)
    return "kubernetes-validate"


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_values(env: str, chart: Path = CHART) -> dict[str, Any]:
    """The values helm sees for `env`: the chart's defaults, then each values file in order."""
    [release] = [r for r in environment_releases(env) if r.chart == chart]
    values = yaml.safe_load((chart / "values.yaml").read_text(encoding="utf-8"))
    for path in release.values:
        values = _merge(values, yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    return values
