"""The charts lint, render for every environment, and every rendered object is valid for the
pinned Kubernetes version (core kinds) or its CRD schema (custom resources); the values schema
rejects what must never be deployed."""

import copy
import re
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest

from tests.deploy import render
from tests.deploy.crosschecks import check_images, check_no_secret_values

RELEASES = [r for env in render.environments() for r in render.environment_releases(env)]
RELEASE_IDS = [f"{r.values[0].parent.name}-{r.name}" for r in RELEASES]


@pytest.mark.parametrize("release", RELEASES, ids=RELEASE_IDS)
def test_helm_lint_passes_with_each_environments_values(helm_bin: Path, release: render.Release):
    out = render.helm(
        helm_bin,
        "lint",
        "--strict",
        str(release.chart),
        "--namespace",
        render.NAMESPACE,
        *render.value_args(release.values),
    )
    assert "0 chart(s) failed" in out


def test_every_environment_renders_the_objects_the_cluster_needs(rendered):
    for env, releases in rendered.items():
        kinds = sorted(m["kind"] for m in releases["tinyshop"])
        assert kinds.count("Deployment") == 4, env
        # one migration Job per database owner + the durable task hub's database user
        jobs = sorted(m["metadata"]["name"] for m in releases["tinyshop"] if m["kind"] == "Job")
        assert jobs == ["catalog-migrate", "durable-sql-grants", "orders-migrate", "ui-migrate"]
        # catalog, orders, worker (its log pseudonym key), ui and the migration Jobs'
        # `migrations`
        assert kinds.count("SecretProviderClass") == 5, env
        assert kinds.count("ServiceAccount") == 5, env
        assert {m["kind"] for m in releases["tinyshop-keda"]} == {
            "ScaledObject",
            "TriggerAuthentication",
        }


def test_every_rendered_object_is_valid_for_its_schema(rendered):
    checked = {"kubernetes-validate": 0, "crd-schema": 0}
    for releases in rendered.values():
        for manifests in releases.values():
            for manifest in manifests:
                checked[render.validate(manifest)] += 1
    assert checked["kubernetes-validate"] >= 30
    assert checked["crd-schema"] >= 5
    print(f"validated {checked} (Kubernetes {render.KUBERNETES_VERSION})")


def test_core_validation_is_strict_about_unknown_fields(dev):
    deployment = copy.deepcopy(next(m for m in dev["tinyshop"] if m["kind"] == "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        render.validate(deployment)


def test_custom_resources_are_checked_against_their_crd_schema(dev):
    scaled = copy.deepcopy(next(m for m in dev["tinyshop-keda"] if m["kind"] == "ScaledObject"))
    scaled["spec"]["minReplicaCount"] = "zero"
    with pytest.raises(jsonschema.ValidationError):
        render.validate(scaled)
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    with pytest.raises(FileNotFoundError):
        render.validate(unknown)


def test_rendered_manifests_hold_no_latest_tag_and_no_secret_value(rendered):
    for env, releases in rendered.items():
        registry = render.load_values(env)["images"]["registry"]
        assert check_images(releases["tinyshop"], registry) == [], env
        for manifests in releases.values():
            assert check_no_secret_values(manifests) == [], env


def test_the_image_and_secret_checks_can_fail(dev):
    broken = copy.deepcopy(dev["tinyshop"])
    job = next(m for m in broken if m["kind"] == "Job")
    container = job["spec"]["template"]["spec"]["containers"][0]
    container["image"] = container["image"].rsplit(":", 1)[0] + ":latest"
    container["env"].append({"name": "PGPASSWORD", "value": "hunter2"})
    container["env"].append({"name": "DSN", "value": "postgresql://app:hunter2@db/orders"})
    container["env"].append({"name": "ServiceBusConnection", "value": "Endpoint=sb://x/"})
    registry = render.load_values("dev")["images"]["registry"]
    assert any("latest" in p for p in check_images(broken, registry))
    problems = check_no_secret_values(broken)
    assert any("PGPASSWORD is a literal" in p for p in problems)
    assert any("ServiceBusConnection is a literal" in p for p in problems)
    assert any("secret-looking value" in p for p in problems)


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ({"images.functions.tag": "latest"}, "images.functions.tag"),
        ({"images.ui.tag": ""}, "images.ui.tag"),
        ({"images.functions.repository": "someone/else"}, "images.functions.repository"),
        ({"identities.worker": "not-a-guid"}, "identities.worker"),
        ({"azure.serviceBus.fullyQualifiedNamespace": "sb.example.com"}, "fullyQualifiedNamespace"),
    ],
)
def test_the_values_schema_rejects_what_must_never_be_deployed(
    helm_bin: Path, override: dict[str, str], complaint: str
):
    [release] = [r for r in render.environment_releases("dev") if r.name == "tinyshop"]
    with pytest.raises(render.RenderError, match=re.escape(complaint.split(".")[-1])):
        render.render(helm_bin, release, override)


def test_the_chart_refuses_a_namespace_terraform_does_not_federate(helm_bin: Path):
    [release] = [r for r in render.environment_releases("dev") if r.name == "tinyshop"]
    with pytest.raises(render.RenderError, match="federated"):
        render.helm(
            helm_bin,
            "template",
            "tinyshop",
            str(release.chart),
            "--namespace",
            "default",
            *render.value_args(release.values),
        )


def test_the_worker_has_no_hpa_and_no_fixed_replica_count(dev):
    worker = next(
        m
        for m in dev["tinyshop"]
        if m["kind"] == "Deployment" and m["metadata"]["name"] == "worker"
    )
    assert "replicas" not in worker["spec"]
    targets = {
        m["spec"]["scaleTargetRef"]["name"]
        for m in dev["tinyshop"]
        if m["kind"] == "HorizontalPodAutoscaler"
    }
    assert targets == {"catalog", "orders", "ui"}


def test_every_pod_is_hardened(dev):
    for manifest in dev["tinyshop"]:
        if manifest["kind"] not in {"Deployment", "Job"}:
            continue
        pod = manifest["spec"]["template"]["spec"]
        name = f"{manifest['kind']}/{manifest['metadata']['name']}"
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            ctx = container["securityContext"]
            assert ctx["readOnlyRootFilesystem"] is True, name
            assert ctx["allowPrivilegeEscalation"] is False, name
            assert ctx["capabilities"]["drop"] == ["ALL"], name
            assert container["resources"]["requests"], name
            assert container["resources"]["limits"], name


def test_functions_pods_get_an_empty_dir_for_exactly_the_paths_the_host_writes(dev):
    for manifest in dev["tinyshop"]:
        if manifest["kind"] != "Deployment" or manifest["metadata"]["name"] == "ui":
            continue
        pod = manifest["spec"]["template"]["spec"]
        empty = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        [container] = pod["containers"]
        writable = {m["mountPath"] for m in container["volumeMounts"] if m["name"] in empty}
        assert writable == {"/tmp", "/home/data", "/home/LogFiles"}  # noqa: S108
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert "ASPNETCORE_URLS" not in env  # the image sets :8080; the pod must not undo it
        assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]


def _leaf_lines_without_comment(path: Path) -> list[str]:
    """Lines of a values.yaml that set a value (not a parent mapping) without a comment on the
    line itself or directly above it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    missing = []
    for i, line in enumerate(lines):
        match = re.match(r"^(\s*)([A-Za-z_][\w-]*):(.*)$", line)
        if not match or not match.group(3).strip() or match.group(3).strip().startswith("#"):
            continue  # not a key, or a parent mapping
        if "#" in match.group(3):
            continue
        above = lines[i - 1].strip() if i else ""
        if not above.startswith("#"):
            missing.append(line)
    return missing


@pytest.mark.parametrize("chart", [render.CHART, render.KEDA_CHART], ids=["tinyshop", "keda"])
def test_every_value_is_documented(chart: Path):
    assert _leaf_lines_without_comment(chart / "values.yaml") == []


def test_the_documentation_check_finds_an_undocumented_value(tmp_path: Path):
    values = tmp_path / "values.yaml"
    values.write_text("# -- documented\na: 1\nparent:\n  b: 2\n", encoding="utf-8")
    assert _leaf_lines_without_comment(values) == ["  b: 2"]


def _selects(selector: dict, labels: dict[str, str]) -> bool:
    """A Kubernetes label selector (matchLabels and matchExpressions) against pod labels."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for rule in selector.get("matchExpressions", []):
        key, operator, values = rule["key"], rule["operator"], rule.get("values", [])
        matched = {
            "In": key in labels and labels[key] in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[operator]
        if not matched:
            return False
    return True


def _budgeted_pods(manifests: list[dict]) -> dict[str, set[str]]:
    """PodDisruptionBudget -> the workloads (kind/name) whose pod template it selects."""
    templates = {
        f"{m['kind']}/{m['metadata']['name']}": m["spec"]["template"]["metadata"]["labels"]
        for m in manifests
        if m["kind"] in {"Deployment", "Job"}
    }
    return {
        pdb["metadata"]["name"]: {
            workload
            for workload, labels in templates.items()
            if _selects(pdb["spec"]["selector"], labels)
        }
        for pdb in manifests
        if pdb["kind"] == "PodDisruptionBudget"
    }


def test_each_disruption_budget_covers_its_deployment_and_no_job(dev):
    """A budget with maxUnavailable needs every pod it selects to belong to a controller with
    a scale subresource; a Job has none, so a budget that also selects a migration Job's pods
    allows no eviction, and node drains stall for the 24 h the Job is kept."""
    assert _budgeted_pods(dev["tinyshop"]) == {
        app: {f"Deployment/{app}"} for app in ("catalog", "orders", "ui")
    }


def test_the_disruption_budget_check_sees_a_job_selected(dev):
    manifests = copy.deepcopy(dev["tinyshop"])
    for manifest in manifests:
        if manifest["kind"] == "PodDisruptionBudget":
            manifest["spec"]["selector"].pop("matchExpressions")
    assert "Job/orders-migrate" in _budgeted_pods(manifests)["orders"]


def test_served_pods_keep_answering_a_moment_before_they_stop(dev):
    """Endpoints and NGINX's upstreams drop a deleted pod a little after it is told to stop:
    each pod behind a Service waits in preStop (inside its grace period) before SIGTERM."""
    served = {s["spec"]["selector"]["app.kubernetes.io/name"] for s in _kind(dev, "Service")}
    assert served == {"catalog", "orders", "ui"}
    for deployment in _kind(dev, "Deployment"):
        if deployment["metadata"]["name"] not in served:
            continue
        pod = deployment["spec"]["template"]["spec"]
        pause = pod["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
        assert 3 <= pause < pod["terminationGracePeriodSeconds"] / 2, deployment["metadata"]


def _kind(rendered: dict[str, list[dict]], kind: str) -> list[dict]:
    return [m for m in rendered["tinyshop"] if m["kind"] == kind]
