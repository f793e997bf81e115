"""The add-ons pull every image through the ACR cache: the firewall opens no public registry.

Cross-check of three parts that cannot meet here (no cluster, no Azure): the cache rules
Terraform creates (`acr_cache_rules` default, parsed with python-hcl2), the per-cluster values
deploy/platform_values.py generates from `terraform output -json`, and the Argo CD add-on
Applications that must load them.
"""

from __future__ import annotations

import copy
import fnmatch
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

from deploy import platform_values
from tests.gitops.argocd_model import REPO_ROOT, load_documents, value_file_paths

TF_VARIABLES = REPO_ROOT / "infra/terraform/envs/dev/variables.tf"
FIXTURE = REPO_ROOT / "tests/deploy/fixtures/terraform-output.dev.json"
APPS_DIR = REPO_ROOT / "argocd/apps"


def _unquote(text: str) -> str:
    """python-hcl2 keeps the quotes of HCL strings and quoted keys."""
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


def cache_rule_targets(variables_tf: Path = TF_VARIABLES) -> dict[str, str]:
    """Rule name -> target repository of the `acr_cache_rules` default."""
    with variables_tf.open(encoding="utf-8") as handle:
        parsed = hcl2.load(handle)
    for entry in parsed["variable"]:
        for name, body in entry.items():
            if _unquote(name) == "acr_cache_rules":
                return {_unquote(k): _unquote(r["target"]) for k, r in body["default"].items()}
    raise AssertionError("variable acr_cache_rules not found")


def image_references(values: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(values key, registry/repository) of every image mapping: any mapping with a string
    `repository`, joined to its `registry` when the chart splits the two."""
    if not isinstance(values, Mapping):
        return
    repository = values.get("repository")
    if isinstance(repository, str):
        registry = values.get("registry")
        yield path.rstrip("."), f"{registry}/{repository}" if registry else repository
    for key, child in values.items():
        yield from image_references(child, f"{path}{key}.")


def reference_problems(
    values_by_addon: Mapping[str, Any], login_server: str, targets: Mapping[str, str]
) -> list[str]:
    """Image overrides that leave the ACR cache or that no cache rule produces."""
    problems = []
    prefix = f"{login_server}/"
    for addon, values in values_by_addon.items():
        references = list(image_references(values))
        if not references:
            problems.append(f"{addon}: no image override")
        for key, reference in references:
            repository = reference.removeprefix(prefix)
            if reference == repository or not repository.startswith("cache/"):
                problems.append(f"{addon}: {key} = {reference} is not under {prefix}cache/")
            elif not any(
                repository == t or (t.endswith("/*") and fnmatch.fnmatch(repository, t))
                for t in targets.values()
            ):
                problems.append(f"{addon}: {key} = {reference}: no acr_cache_rules target")
    return problems


def addon_applications(apps_dir: Path = APPS_DIR) -> dict[str, dict[str, Any]]:
    """The Helm add-on Applications of the platform project (everything but the workloads)."""
    found = {}
    for path in sorted(apps_dir.glob("*.yaml")):
        for doc in load_documents(path):
            if doc.get("kind") == "Application" and doc["spec"].get("project") == "platform":
                found[doc["metadata"]["name"]] = doc
    return found


def per_cluster_problems(apps: Mapping[str, dict[str, Any]]) -> list[str]:
    """Add-ons whose Application does not load its generated per-cluster file last."""
    problems = []
    for name in sorted(set(apps) | set(platform_values.ADDON_IMAGES)):
        if name not in platform_values.ADDON_IMAGES:
            problems.append(f"{name}: an add-on deploy/platform_values.py does not know")
            continue
        if name not in apps:
            problems.append(f"{name}: no Application in argocd/apps")
            continue
        expected = REPO_ROOT / "environments" / "dev" / "platform" / f"{name}.values.yaml"
        files = [f for fs in value_file_paths(apps[name]).values() for f in fs]
        if not files or files[-1] != expected:
            problems.append(f"{name}: does not load {expected.relative_to(REPO_ROOT)} last")
        elif not expected.exists():
            problems.append(f"{name}: {expected.relative_to(REPO_ROOT)} is not committed")
    return problems


@pytest.fixture(scope="module")
def outputs() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def generated(outputs: dict[str, Any]) -> dict[str, Any]:
    return {
        addon: yaml.safe_load(content)
        for addon, content in (
            (name.removesuffix(".values.yaml"), text)
            for name, text in platform_values.render(outputs, "dev").items()
        )
    }


def _login_server(outputs: dict[str, Any]) -> str:
    return outputs["acr_login_server"]["value"]


def test_terraform_outputs_the_rules_terraform_declares(outputs: dict[str, Any]) -> None:
    """The recorded `acr_cache_repositories` is the HCL default, so the generator's own check
    and this one read the same rules."""
    assert outputs["acr_cache_repositories"]["value"] == cache_rule_targets()


def test_every_generated_image_comes_through_a_cache_rule(
    generated: dict[str, Any], outputs: dict[str, Any]
) -> None:
    assert set(generated) == set(addon_applications())
    assert reference_problems(generated, _login_server(outputs), cache_rule_targets()) == []


def test_the_committed_platform_files_come_through_a_cache_rule(outputs: dict[str, Any]) -> None:
    committed = {
        path.name.removesuffix(".values.yaml"): yaml.safe_load(path.read_text())
        for path in (REPO_ROOT / "environments" / "dev" / "platform").glob("*.values.yaml")
    }
    assert set(committed) == set(platform_values.ADDON_IMAGES)
    assert reference_problems(committed, _login_server(outputs), cache_rule_targets()) == []


def test_every_addon_application_loads_its_per_cluster_file() -> None:
    assert per_cluster_problems(addon_applications()) == []


# --------------------------------------------------------- mutation tests ----


def test_the_cross_check_notices_a_public_registry(
    generated: dict[str, Any], outputs: dict[str, Any]
) -> None:
    mutated = copy.deepcopy(generated)
    mutated["kube-prometheus-stack"]["grafana"]["sidecar"]["image"]["registry"] = "quay.io"
    assert reference_problems(mutated, _login_server(outputs), cache_rule_targets()) == [
        "kube-prometheus-stack: grafana.sidecar.image = quay.io/cache/kiwigrid/k8s-sidecar"
        f" is not under {_login_server(outputs)}/cache/"
    ]


def test_the_cross_check_notices_a_removed_cache_rule(
    generated: dict[str, Any], outputs: dict[str, Any], tmp_path: Path
) -> None:
    variables = TF_VARIABLES.read_text(encoding="utf-8")
    rule = [line for line in variables.splitlines(True) if line.lstrip().startswith("k8s-sidecar ")]
    assert len(rule) == 1
    copy_tf = tmp_path / "variables.tf"
    copy_tf.write_text(variables.replace(rule[0], ""), encoding="utf-8")
    problems = reference_problems(generated, _login_server(outputs), cache_rule_targets(copy_tf))
    assert problems == [
        "kube-prometheus-stack: grafana.sidecar.image = "
        f"{_login_server(outputs)}/cache/kiwigrid/k8s-sidecar: no acr_cache_rules target"
    ]


def test_the_cross_check_notices_an_addon_without_overrides(outputs: dict[str, Any]) -> None:
    problems = reference_problems({"keda": {}}, _login_server(outputs), cache_rule_targets())
    assert problems == ["keda: no image override"]


def test_the_cross_check_notices_an_application_without_its_file() -> None:
    apps = copy.deepcopy(addon_applications())
    value_files = apps["opentelemetry-collector"]["spec"]["sources"][0]["helm"]["valueFiles"]
    value_files.pop()
    assert per_cluster_problems(apps) == [
        "opentelemetry-collector: does not load "
        "environments/dev/platform/opentelemetry-collector.values.yaml last"
    ]


def test_the_cross_check_notices_an_unknown_addon() -> None:
    apps = copy.deepcopy(addon_applications())
    apps["cert-manager"] = copy.deepcopy(apps["keda"])
    assert per_cluster_problems(apps) == [
        "cert-manager: an add-on deploy/platform_values.py does not know"
    ]
