"""Argo CD (argocd/): every object valid, in its project, pinned, rendering, and synced in order.

Argo CD cannot run here; tests/gitops/argocd_model.py reproduces what it would read (the root
Application's directory, the ApplicationSet's git directory generator) and renders every
Application whose source lives in this repository with the real `helm`.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.gitops.argocd_model import (
    ARGO_KINDS,
    PINNED_VERSION,
    REPO_ROOT,
    REPO_URL,
    ModelError,
    all_applications,
    chart_monitor_switches,
    environments,
    expand_application_set,
    helm_template,
    kinds_outside_project,
    load_documents,
    monitor_objects,
    render_application,
    schema_errors,
    sources,
    sync_wave,
    synced_objects,
    value_file_paths,
)

K8S_SCHEMAS = REPO_ROOT / "schemas" / "kubernetes"
SHA = re.compile(r"^[0-9a-f]{40}$")
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Add-ons that ship CRDs: pruning them could delete every custom resource of that kind.
CRD_ADDONS = {"argo-cd", "keda", "kube-prometheus-stack"}


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return synced_objects()


@pytest.fixture(scope="module")
def apps() -> dict[str, dict[str, Any]]:
    return {app["metadata"]["name"]: app for app in all_applications()}


@pytest.fixture(scope="module")
def projects(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == "AppProject"}


class Renders(Mapping[str, list[dict[str, Any]]]):
    """Objects of every Application with a path source, by Application name, rendered on first
    use: a chart that fails to render fails the tests about it, not every test."""

    def __init__(self, apps: dict[str, dict[str, Any]]) -> None:
        self._apps = {
            name: app
            for name, app in apps.items()
            if name != "root" and any(s.path for s in sources(app))
        }
        self._done: dict[str, list[dict[str, Any]]] = {}

    def __getitem__(self, name: str) -> list[dict[str, Any]]:
        if name not in self._done:
            self._done[name] = render_application(self._apps[name])
        return self._done[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._apps)

    def __len__(self) -> int:
        return len(self._apps)


@pytest.fixture(scope="module")
def rendered(apps: dict[str, dict[str, Any]]) -> Renders:
    return Renders(apps)


def _env_apps(apps: dict[str, dict[str, Any]], suffix: str) -> dict[str, dict[str, Any]]:
    return {env: apps[f"tinyshop-{env}-{suffix}"] for env in environments()}


# ------------------------------------------------------------- schemas ----


def test_every_argocd_object_matches_its_crd_schema(
    objects: list[dict[str, Any]], apps: dict[str, dict[str, Any]]
) -> None:
    checked = [o for o in objects if o["kind"] in ARGO_KINDS] + list(apps.values())
    names = {(o["kind"], o["metadata"]["name"]) for o in checked}
    assert ("Application", "root") in names
    assert ("ApplicationSet", "tinyshop") in names
    assert {("AppProject", "platform"), ("AppProject", "tinyshop")} <= names
    for env in environments():
        assert ("Application", f"tinyshop-{env}-app") in names
    assert len(checked) >= 14
    errors = [e for o in checked for e in schema_errors(o)]
    assert errors == []


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda a: a["spec"].pop("destination"), "destination"),
        (lambda a: a["spec"]["syncPolicy"]["automated"].update(prun=True), "prun"),
        (lambda a: a["spec"].update(project=["platform"]), "project"),
    ],
)
def test_schema_check_rejects_broken_applications(
    apps: dict[str, dict[str, Any]], mutate: Any, expected: str
) -> None:
    broken = copy.deepcopy(apps["keda"])
    mutate(broken)
    assert any(expected in error for error in schema_errors(broken))


def test_rendered_custom_resources_match_their_crd_schemas(
    rendered: Renders,
) -> None:
    """ScaledObjects, SecretProviderClasses, monitors... of every local chart."""
    checked = 0
    for objects in rendered.values():
        for obj in objects:
            group, _, version = obj["apiVersion"].rpartition("/")
            schema_file = K8S_SCHEMAS / group / f"{obj['kind'].lower()}_{version}.json"
            if group and schema_file.is_file():
                schema = json.loads(schema_file.read_text(encoding="utf-8"))
                jsonschema.validators.validator_for(schema)(schema).validate(obj)
                checked += 1
    # cloudflared's SecretProviderClass + PodMonitor, the KEDA objects, the children.
    assert checked >= 5


# ------------------------------------------------------------ projects ----


def test_nothing_runs_in_the_default_project(
    apps: dict[str, dict[str, Any]], projects: dict[str, dict[str, Any]]
) -> None:
    assert set(projects) == {"platform", "tinyshop"}
    for name, app in apps.items():
        assert app["spec"]["project"] in projects, name


def _destination_allowed(app: dict[str, Any], project: dict[str, Any]) -> bool:
    dest = app["spec"]["destination"]
    for allowed in project["spec"]["destinations"]:
        cluster_ok = ("server" in allowed and allowed["server"] in ("*", dest.get("server"))) or (
            "name" in allowed and allowed["name"] in ("*", dest.get("name"))
        )
        if cluster_ok and allowed["namespace"] in ("*", dest["namespace"]):
            return True
    return False


def test_every_application_stays_inside_its_project(
    apps: dict[str, dict[str, Any]], projects: dict[str, dict[str, Any]]
) -> None:
    for name, app in apps.items():
        project = projects[app["spec"]["project"]]
        for source in sources(app):
            assert source.repo_url in project["spec"]["sourceRepos"], (name, source.repo_url)
        assert _destination_allowed(app, project), name
    tinyshop = projects["tinyshop"]["spec"]
    assert tinyshop["sourceRepos"] == [REPO_URL]
    assert {d["namespace"] for d in tinyshop["destinations"]} == {"tinyshop"}
    assert tinyshop["clusterResourceWhitelist"] == [{"group": "", "kind": "Namespace"}]


def test_project_check_refuses_a_foreign_namespace(
    apps: dict[str, dict[str, Any]], projects: dict[str, dict[str, Any]]
) -> None:
    app = copy.deepcopy(next(a for n, a in apps.items() if n.endswith("-app")))
    app["spec"]["destination"]["namespace"] = "kube-system"
    assert not _destination_allowed(app, projects["tinyshop"])


def test_tinyshop_renders_only_kinds_its_project_allows(
    apps: dict[str, dict[str, Any]],
    projects: dict[str, dict[str, Any]],
    rendered: Renders,
) -> None:
    children = [n for n, a in apps.items() if a["spec"]["project"] == "tinyshop"]
    assert len(children) == 2 * len(environments())
    for name in children:
        assert rendered[name], name
        assert kinds_outside_project(rendered[name], projects["tinyshop"]) == [], name


def test_kind_check_refuses_a_secret_and_a_cluster_role(
    projects: dict[str, dict[str, Any]],
) -> None:
    sneaky = [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "c"},
        },
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ok"}},
    ]
    assert kinds_outside_project(sneaky, projects["tinyshop"]) == [
        "Secret/s",
        "ClusterRole/c (cluster-scoped)",
    ]


# -------------------------------------------------------------- sources ----


def test_this_repository_has_one_url_everywhere(apps: dict[str, dict[str, Any]]) -> None:
    """A fork replaces one string; a stray second spelling would silently point elsewhere."""
    urls = set(re.findall(r"https://github\.com/[\w.-]+/[\w.-]+", _all_argocd_text()))
    assert urls == {REPO_URL}
    local = [s for app in apps.values() for s in sources(app) if s.is_local]
    assert {s.target_revision for s in local} == {"main"}


def _all_argocd_text() -> str:
    return "\n".join(
        p.read_text(encoding="utf-8") for p in sorted((REPO_ROOT / "argocd").rglob("*.yaml"))
    )


def unpinned_charts(apps: dict[str, dict[str, Any]]) -> list[str]:
    """Upstream chart sources whose version is not one exact release."""
    return [
        f"{name}: {s.chart}@{s.target_revision}"
        for name, app in apps.items()
        for s in sources(app)
        if s.chart and not PINNED_VERSION.match(s.target_revision)
    ]


def test_platform_charts_are_pinned_to_exact_versions(apps: dict[str, dict[str, Any]]) -> None:
    upstream = {s.chart: s for app in apps.values() for s in sources(app) if s.chart}
    assert set(upstream) == {
        "argo-cd",
        "keda",
        "kube-prometheus-stack",
        "nginx-ingress",
        "opentelemetry-collector",
    }
    assert all(not s.is_local for s in upstream.values())
    assert unpinned_charts(apps) == []


@pytest.mark.parametrize("revision", ["HEAD", "2.x", "*", "~2.18.0", "main", ""])
def test_pin_check_rejects_floating_versions(
    apps: dict[str, dict[str, Any]], revision: str
) -> None:
    mutated = copy.deepcopy(apps["keda"])
    mutated["spec"]["sources"][0]["targetRevision"] = revision
    assert unpinned_charts({"keda": mutated}) == [f"keda: keda@{revision}"]


def test_every_value_file_and_path_exists(apps: dict[str, dict[str, Any]]) -> None:
    count = 0
    for name, app in apps.items():
        for source in sources(app):
            if source.path:
                assert (REPO_ROOT / source.path).is_dir(), (name, source.path)
        for files in value_file_paths(app).values():
            for path in files:
                assert path.is_file(), (name, path)
                assert isinstance(yaml.safe_load(path.read_text(encoding="utf-8")), dict), path
                count += 1
    assert count >= 10


def test_value_file_outside_the_repository_is_refused(apps: dict[str, dict[str, Any]]) -> None:
    mutated = copy.deepcopy(apps["cloudflared"])
    mutated["spec"]["source"]["helm"]["valueFiles"] = ["../../../../etc/passwd"]
    with pytest.raises(ModelError, match="outside the repository"):
        value_file_paths(mutated)


def test_every_local_source_renders(rendered: Renders) -> None:
    assert {"cloudflared"} | {f"tinyshop-{e}" for e in environments()} <= set(rendered)
    for name, objects in rendered.items():
        assert objects, name


# ------------------------------------------------------------ ordering ----


def test_sync_waves_put_crds_and_controllers_before_tinyshop(
    objects: list[dict[str, Any]],
) -> None:
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    wave = {key: sync_wave(obj) for key, obj in by_name.items()}
    appset = wave[("ApplicationSet", "tinyshop")]
    projects = max(wave[("AppProject", n)] for n in ("platform", "tinyshop"))
    platform = {n for (k, n) in wave if k == "Application" and n != "root"}
    assert platform == {
        "argo-cd",
        "keda",
        "kube-prometheus-stack",
        "nginx-ingress",
        "opentelemetry-collector",
        "cloudflared",
    }
    for name in platform:
        assert projects < wave[("Application", name)] < appset, name
    # KEDA, the collector and the ingress controller create ServiceMonitors: after the operator
    # (every other add-on: test_every_add_on_creating_monitors_syncs_after_the_...).
    for name in ("keda", "nginx-ingress", "opentelemetry-collector"):
        assert wave[("Application", "kube-prometheus-stack")] < wave[("Application", name)]
    assert wave[("Application", "nginx-ingress")] < wave[("Application", "cloudflared")]


def monitor_order_problems(
    platform: dict[str, dict[str, Any]], rendered: Mapping[str, list[dict[str, Any]]]
) -> list[str]:
    """Platform Applications that create Prometheus Operator objects but may sync before
    kube-prometheus-stack has installed their CRDs, with nothing that would sync them again.

    Argo CD's root applies wave n+1 only once wave n is Healthy
    (https://argo-cd.readthedocs.io/en/stable/user-guide/sync-waves/); inside one wave the
    Applications sync at the same time, and an object whose CRD does not exist yet fails the
    whole sync. "Automatic sync will not reattempt a sync if the previous sync attempt against
    the same commit-SHA and parameters had failed"
    (https://argo-cd.readthedocs.io/en/stable/user-guide/auto_sync/#automated-sync-semantics)
    unless `syncPolicy.retry` is set, so such an Application must be in a later wave, or retry.
    """
    [provider] = [
        n
        for n, a in platform.items()
        if any(s.chart == "kube-prometheus-stack" for s in sources(a))
    ]
    crd_wave = sync_wave(platform[provider])
    problems = []
    for name, app in sorted(platform.items()):
        if name == provider:
            continue
        creates = chart_monitor_switches(app)
        if any(s.path for s in sources(app)):
            creates += monitor_objects(rendered[name])
        if not creates:
            continue
        retry = app["spec"]["syncPolicy"].get("retry") or {}
        retries = retry.get("limit", 0) != 0
        if sync_wave(app) <= crd_wave and not retries:
            problems.append(
                f"{name} (wave {sync_wave(app)}) creates {', '.join(creates)} but may sync before "
                f"{provider} (wave {crd_wave}) installs their CRDs, and has no syncPolicy.retry"
            )
    return problems


def _platform_apps(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        o["metadata"]["name"]: o
        for o in objects
        if o["kind"] == "Application" and o["metadata"]["name"] != "root"
    }


def test_every_add_on_creating_monitors_syncs_after_the_prometheus_operator_crds(
    objects: list[dict[str, Any]], rendered: Renders
) -> None:
    platform = _platform_apps(objects)
    creating = {
        name
        for name, app in platform.items()
        if chart_monitor_switches(app) or (name in rendered and monitor_objects(rendered[name]))
    }
    # The detector really sees every add-on that creates monitors (values or rendered objects).
    assert creating == {"keda", "nginx-ingress", "opentelemetry-collector", "cloudflared"}
    assert monitor_order_problems(platform, rendered) == []


@pytest.mark.parametrize(
    ("name", "wave", "retry", "expected"),
    [
        # KEDA's chart values enable ServiceMonitors: in the operator's wave, without retry.
        ("keda", "-5", None, ["keda (wave -5) creates prometheus.operator.serviceMonitor"]),
        # Same wave, but retried until the CRDs exist: acceptable.
        ("keda", "-5", {"limit": 5, "backoff": {"duration": "10s"}}, []),
        # `limit: 0` means no retry at all.
        ("keda", "-5", {"limit": 0}, ["keda (wave -5)"]),
        (
            "nginx-ingress",
            "-6",
            None,
            ["nginx-ingress (wave -6) creates prometheus.serviceMonitor"],
        ),
        # A local chart: found from its rendered PodMonitor, not from a values key.
        ("cloudflared", "-5", None, ["cloudflared (wave -5) creates PodMonitor/cloudflared"]),
    ],
)
def test_monitor_order_check_notices_an_add_on_racing_the_operator(
    objects: list[dict[str, Any]],
    rendered: Renders,
    name: str,
    wave: str,
    retry: dict[str, Any] | None,
    expected: list[str],
) -> None:
    platform = copy.deepcopy(_platform_apps(objects))
    platform[name]["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] = wave
    platform[name]["spec"]["syncPolicy"].pop("retry", None)
    if retry is not None:
        platform[name]["spec"]["syncPolicy"]["retry"] = retry
    problems = monitor_order_problems(platform, rendered)
    assert len(problems) == len(expected), problems
    for problem, start in zip(problems, expected, strict=True):
        assert problem.startswith(start), problem


def test_a_monitor_switched_off_by_a_later_layer_is_not_counted(
    objects: list[dict[str, Any]],
) -> None:
    keda = copy.deepcopy(_platform_apps(objects)["keda"])
    assert chart_monitor_switches(keda) == [
        "prometheus.operator.serviceMonitor",
        "prometheus.metricServer.serviceMonitor",
    ]
    # valuesObject is layered over the value files: one switched off, one removed (null).
    keda["spec"]["sources"][0]["helm"]["valuesObject"] = {
        "prometheus": {"operator": {"serviceMonitor": {"enabled": False}}, "metricServer": None}
    }
    assert chart_monitor_switches(keda) == []


def test_keda_objects_follow_the_workloads_in_every_environment(
    apps: dict[str, dict[str, Any]],
) -> None:
    for env in environments():
        app, keda = apps[f"tinyshop-{env}-app"], apps[f"tinyshop-{env}-keda"]
        assert sync_wave(app) < sync_wave(keda)
        assert app["spec"]["destination"] == keda["spec"]["destination"]
        assert app["spec"]["destination"] == {"name": env, "namespace": "tinyshop"}
        assert "CreateNamespace=true" in app["spec"]["syncPolicy"]["syncOptions"]


def test_parents_wait_for_child_health(objects: list[dict[str, Any]]) -> None:
    """Waves across child Applications need Argo CD's (removed) Application health check."""
    values = yaml.safe_load((REPO_ROOT / "argocd/bootstrap/argocd-values.yaml").read_text())
    lua = values["configs"]["cm"]["resource.customizations.health.argoproj.io_Application"]
    assert "obj.status.health.status" in lua
    assert "return hs" in lua
    self_managed = next(o for o in objects if o["metadata"]["name"] == "argo-cd")
    files = value_file_paths(self_managed)["argo-cd"]
    # The bootstrap values first (the health check), then only the generated per-cluster
    # image registries (tests/gitops/test_platform_images.py).
    assert files == [
        REPO_ROOT / "argocd/bootstrap/argocd-values.yaml",
        REPO_ROOT / "environments/dev/platform/argo-cd.values.yaml",
    ]


def test_migrations_are_presync_hooks_of_the_rollout(
    rendered: Renders,
) -> None:
    for env in environments():
        jobs = [o for o in rendered[f"tinyshop-{env}-app"] if o["kind"] == "Job"]
        assert jobs, "the chart renders its migration Job(s)"
        for job in jobs:
            hooks = job["metadata"]["annotations"]["helm.sh/hook"].split(",")
            assert {"pre-install", "pre-upgrade"} <= set(hooks), job["metadata"]["name"]


def test_scaled_object_targets_the_rendered_worker(
    rendered: Renders,
) -> None:
    for env in environments():
        deployments = {
            o["metadata"]["name"]
            for o in rendered[f"tinyshop-{env}-app"]
            if o["kind"] == "Deployment"
        }
        assert {"catalog", "orders", "worker", "ui"} <= deployments
        scaled = [o for o in rendered[f"tinyshop-{env}-keda"] if o["kind"] == "ScaledObject"]
        assert [s["spec"]["scaleTargetRef"]["name"] for s in scaled] == ["worker"]


# -------------------------------------------------------------- syncing ----


def test_automated_sync_heals_everything_and_prunes_where_safe(
    apps: dict[str, dict[str, Any]],
) -> None:
    no_prune = set()
    for name, app in apps.items():
        automated = app["spec"]["syncPolicy"]["automated"]
        assert automated["selfHeal"] is True, name
        if not automated["prune"]:
            no_prune.add(name)
    assert no_prune == CRD_ADDONS
    for name in CRD_ADDONS:
        assert "ServerSideApply=true" in apps[name]["spec"]["syncPolicy"]["syncOptions"], name


def test_worker_replicas_are_left_to_keda(apps: dict[str, dict[str, Any]]) -> None:
    for env, app in _env_apps(apps, "app").items():
        ignored = app["spec"]["ignoreDifferences"]
        assert {
            "group": "apps",
            "kind": "Deployment",
            "name": "worker",
            "jsonPointers": ["/spec/replicas"],
        } in ignored, env
        assert "RespectIgnoreDifferences=true" in app["spec"]["syncPolicy"]["syncOptions"]


# --------------------------------------------------------- environments ----


def _images_of(objects: list[dict[str, Any]]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for obj in objects:
        if obj["kind"] not in {"Deployment", "Job"}:
            continue
        pod = obj["spec"]["template"]["spec"]
        for container in pod.get("initContainers", []) + pod["containers"]:
            found.setdefault(obj["metadata"]["name"], set()).add(container["image"])
    return found


def test_images_yaml_sets_the_tag_of_every_tinyshop_container(
    apps: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """The promote workflow's file really drives the chart (not a value the chart ignores)."""
    functions_sha, ui_sha = "1" * 40, "2" * 40
    for env, app in _env_apps(apps, "app").items():
        files = value_file_paths(app)["charts/tinyshop"]
        assert files[-1] == REPO_ROOT / "environments" / env / "images.yaml"
        images = yaml.safe_load(files[-1].read_text(encoding="utf-8"))
        assert set(images) == {"images"}
        assert set(images["images"]) == {"functions", "ui"}
        assert all(SHA.match(v["tag"]) for v in images["images"].values())
        promoted = tmp_path / f"{env}-images.yaml"
        promoted.write_text(
            yaml.safe_dump({"images": {"functions": {"tag": functions_sha}, "ui": {"tag": ui_sha}}})
        )
        objects = helm_template(
            REPO_ROOT / "charts/tinyshop", "tinyshop", "tinyshop", [*files[:-1], promoted]
        )
        by_workload = _images_of(objects)
        for name in ("catalog", "orders", "worker"):
            assert all(
                i.endswith(f"/tinyshop/functions:{functions_sha}") for i in by_workload[name]
            ), by_workload[name]
        assert all(i.endswith(f"/tinyshop/ui:{ui_sha}") for i in by_workload["ui"])


def test_a_second_environment_needs_no_new_argocd_file(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    for part in ("argocd", "environments", "charts", "keda", "schemas"):
        shutil.copytree(REPO_ROOT / part, root / part)
    argocd_before = sorted(p.relative_to(root) for p in (root / "argocd").rglob("*"))
    shutil.copytree(root / "environments" / "dev", root / "environments" / "prod")

    names = {a["metadata"]["name"]: a for a in all_applications(root)}

    assert {"tinyshop-prod", "tinyshop-prod-app", "tinyshop-prod-keda"} <= set(names)
    prod = names["tinyshop-prod-app"]
    assert prod["spec"]["destination"] == {"name": "prod", "namespace": "tinyshop"}
    files = value_file_paths(prod, root)["charts/tinyshop"]
    assert all(root / "environments" / "prod" in f.parents for f in files)
    assert render_application(prod, root)
    assert sorted(p.relative_to(root) for p in (root / "argocd").rglob("*")) == argocd_before


def test_generator_fails_on_an_unexpanded_parameter(objects: list[dict[str, Any]]) -> None:
    appset = copy.deepcopy(next(o for o in objects if o["kind"] == "ApplicationSet"))
    appset["spec"]["template"]["metadata"]["name"] = "tinyshop-{{ .path.segments }}"
    with pytest.raises(ModelError, match="unexpanded"):
        expand_application_set(appset)


# ------------------------------------------------------------- add-ons ----


def test_keda_operator_uses_workload_identity() -> None:
    shared = yaml.safe_load((REPO_ROOT / "argocd/platform/values/keda.yaml").read_text())
    assert shared["podIdentity"]["azureWorkload"]["enabled"] is True
    assert shared["serviceAccount"]["operator"]["name"] == "keda-operator"
    for env in environments():
        per_cluster = REPO_ROOT / "environments" / env / "platform" / "keda.values.yaml"
        if not per_cluster.exists():
            continue
        ids = yaml.safe_load(per_cluster.read_text())["podIdentity"]["azureWorkload"]
        assert GUID.match(ids["clientId"])
        assert GUID.match(ids["tenantId"])


def test_cloudflared_reads_its_token_from_key_vault_as_itself(
    rendered: Renders,
) -> None:
    objects = {o["kind"]: o for o in rendered["cloudflared"]}
    assert "Secret" not in objects
    client_id = objects["ServiceAccount"]["metadata"]["annotations"][
        "azure.workload.identity/client-id"
    ]
    spc = objects["SecretProviderClass"]["spec"]["parameters"]
    assert spc["clientID"] == client_id
    assert spc["usePodIdentity"] == "false"
    pod = objects["Deployment"]["spec"]["template"]
    assert pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    volume = pod["spec"]["volumes"][0]["csi"]["volumeAttributes"]["secretProviderClass"]
    assert volume == objects["SecretProviderClass"]["metadata"]["name"]
    container = pod["spec"]["containers"][0]
    assert not container["image"].endswith(":latest")
    assert "--token-file" in container["args"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_cloudflared_chart_refuses_missing_identity(tmp_path: Path) -> None:
    empty = tmp_path / "values.yaml"
    empty.write_text("identity:\n  clientId: ''\n")
    with pytest.raises(ModelError, match="clientId"):
        helm_template(REPO_ROOT / "argocd/platform/cloudflared", "c", "cloudflared", [empty])


def test_ingress_service_is_where_the_tunnel_forwards(apps: dict[str, dict[str, Any]]) -> None:
    """Terraform's tunnel origin and the controller's Service name/namespace agree."""
    variables = (REPO_ROOT / "infra/terraform/modules/cloudflare/variables.tf").read_text()
    origin = re.search(r'default\s*=\s*"http://([\w-]+)\.([\w-]+)\.svc', variables)
    assert origin, "origin_service default not found"
    values = yaml.safe_load((REPO_ROOT / "argocd/platform/values/nginx-ingress.yaml").read_text())
    assert values["serviceNameOverride"] == origin.group(1)
    assert apps["nginx-ingress"]["spec"]["destination"]["namespace"] == origin.group(2)
    assert values["controller"]["ingressClass"]["name"] == "nginx"
    assert values["controller"]["service"]["type"] == "ClusterIP"


def test_root_is_applied_with_its_project(objects: list[dict[str, Any]]) -> None:
    """One `kubectl apply -f argocd/root.yaml` creates the project and the root together."""
    docs = load_documents(REPO_ROOT / "argocd/root.yaml")
    assert [d["kind"] for d in docs] == ["AppProject", "Application"]
    root = docs[1]
    assert root["spec"]["project"] == docs[0]["metadata"]["name"] == "platform"
    assert "finalizers" not in root["metadata"]
    assert any(o["kind"] == "Application" and o["metadata"]["name"] == "root" for o in objects)
