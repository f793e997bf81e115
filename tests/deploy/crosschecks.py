"""Cross-checks between the rendered manifests and the sources they must agree with.

Each check is a pure function of parsed inputs that returns the list of disagreements (empty
means they agree), so the tests can feed it the real rendering and, as mutation evidence, a
deliberately broken copy that must produce a problem.
"""

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import yaml
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

Manifest = dict[str, Any]
SECRET = object()  # stands for an env value that comes from a Secret (valueFrom)
SECRET_PLACEHOLDER = "value-from-key-vault"

# Image repositories the images workflow pushes (CONTRACT): <acr>/tinyshop/<name>:<git sha>.
IMAGE_REPOSITORIES = {"functions": "tinyshop/functions", "ui": "tinyshop/ui"}
# HTTP functions that are not part of the public API (probes, OpenAPI, docs), and the worker's
# admin-only orchestration functions, reached by `kubectl port-forward` (no Service, no Ingress).
WORKER_ADMIN_FUNCTIONS = {"worker_orchestration_status", "worker_orchestrations_purge"}
INTERNAL_FUNCTIONS = {"catalog_ops", *WORKER_ADMIN_FUNCTIONS}
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


# ----------------------------------------------------------------------------- access helpers


def by_kind(manifests: Iterable[Manifest], kind: str) -> dict[str, Manifest]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def pod_specs(manifests: Iterable[Manifest]) -> dict[str, dict[str, Any]]:
    """`Kind/name` -> pod spec of every workload (Deployments and Jobs)."""
    return {
        f"{m['kind']}/{m['metadata']['name']}": m["spec"]["template"]["spec"]
        for m in manifests
        if m["kind"] in {"Deployment", "Job"}
    }


def containers(pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def env_of(container: Mapping[str, Any]) -> dict[str, Any]:
    """Literal values as strings; Secret references as SECRET."""
    return {
        item["name"]: SECRET if "valueFrom" in item else item.get("value", "")
        for item in container.get("env", [])
    }


def app_env(manifests: Iterable[Manifest], app: str) -> dict[str, Any]:
    deployment = by_kind(manifests, "Deployment")[app]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return env_of(container)


def allow_list(env: Mapping[str, Any]) -> list[str]:
    """The host's allow-list from AzureFunctionsJobHost__functions__N, in index order."""
    entries = {
        int(name.rsplit("__", 1)[1]): value
        for name, value in env.items()
        if re.fullmatch(r"AzureFunctionsJobHost__functions__\d+", name)
    }
    if sorted(entries) != list(range(len(entries))):
        return [f"<indexes not 0..N-1: {sorted(entries)}>"]
    return [entries[i] for i in sorted(entries)]


# ------------------------------------------------------------------------------- 1 allow-lists


def check_allow_lists(
    manifests: list[Manifest],
    functions_by_app: Mapping[str, set[str]],
    registered: set[str],
) -> list[str]:
    """Each Functions Deployment runs exactly its app's functions; together they run every
    function function_app.py registers; host ids are fixed, distinct and <= 32 characters."""
    problems = []
    host_ids: dict[str, str] = {}
    for app, expected in functions_by_app.items():
        deployment = by_kind(manifests, "Deployment").get(app)
        if deployment is None:
            problems.append(f"no Deployment {app}")
            continue
        env = app_env(manifests, app)
        listed = allow_list(env)
        if set(listed) != expected or len(listed) != len(set(listed)):
            problems.append(f"{app}: allow-list {listed} != its functions {sorted(expected)}")
        host_id = env.get("AzureFunctionsWebHost__hostid")
        if not isinstance(host_id, str) or not 0 < len(host_id) <= 32:
            problems.append(f"{app}: AzureFunctionsWebHost__hostid {host_id!r} (1..32 chars)")
        elif host_id in host_ids.values():
            problems.append(f"{app}: host id {host_id} is also another app's")
        else:
            host_ids[app] = host_id
    covered = set().union(*functions_by_app.values()) if functions_by_app else set()
    if covered != registered:
        problems.append(f"functions no Deployment runs: {sorted(registered - covered)}")
    return problems


# ------------------------------------------------------------------------ 2 required settings


def env_names(settings: type[BaseSettings], field_name: str) -> list[str]:
    field = settings.model_fields[field_name]
    alias = field.validation_alias
    if alias is not None:
        choices = getattr(alias, "choices", [alias])
        return [c for c in choices if isinstance(c, str)]
    prefix = settings.model_config.get("env_prefix", "")
    return [f"{prefix}{field_name}".upper()]


def _is_loopback(value: object) -> bool:
    if not isinstance(value, str) and not hasattr(value, "host"):
        return False
    host = urlsplit(str(value)).hostname
    return host in LOOPBACK_HOSTS


def required_settings(settings: type[BaseSettings]) -> list[list[str]]:
    """Settings that must be set in the cluster: those without a default, and those whose
    default points at the developer's machine (a loopback URL) — except the local event bus
    adapter's own settings, which the servicebus adapter never reads. Each entry lists the
    accepted names (aliases)."""
    required = []
    for name, field in settings.model_fields.items():
        default = field.default
        no_default = default is PydanticUndefined and field.default_factory is None
        if no_default or (_is_loopback(default) and not name.startswith("local_")):
            required.append(env_names(settings, name))
    return required


def _load_settings(settings: type[BaseSettings], env: Mapping[str, Any]) -> BaseSettings:
    literal = {k: SECRET_PLACEHOLDER if v is SECRET else str(v) for k, v in env.items()}
    with mock.patch.dict(os.environ, literal, clear=True):
        return settings(_env_file=None)


def _has(env: Mapping[str, Any], names: list[str]) -> bool:
    lowered = {k.lower() for k in env}  # pydantic-settings matches case-insensitively
    return any(n.lower() in lowered for n in names)


@dataclass(frozen=True)
class AppSettings:
    """What one app reads: its settings classes, the settings its function bindings name, and
    values the cluster must pin (e.g. EVENT_BUS=servicebus)."""

    classes: tuple[type[BaseSettings], ...]
    binding_settings: tuple[tuple[str, ...], ...] = ()
    pinned: tuple[tuple[str, str], ...] = ()
    also_required: tuple[str, ...] = ()


def check_required_settings(
    manifests: list[Manifest], apps: Mapping[str, AppSettings]
) -> list[str]:
    """Every setting an app cannot run without in the cluster is set in its Deployment, and
    the Deployment's settings load with the app's own settings classes."""
    problems = []
    for app, spec in apps.items():
        try:
            env = app_env(manifests, app)
        except KeyError:
            problems.append(f"no Deployment {app}")
            continue
        needed = [names for cls in spec.classes for names in required_settings(cls)]
        needed += [list(names) for names in spec.binding_settings]
        needed += [[name] for name in spec.also_required]
        for names in needed:
            if not _has(env, names):
                problems.append(f"{app}: {' or '.join(names)} is not set")
        for name, value in spec.pinned:
            if env.get(name) != value:
                problems.append(f"{app}: {name} is {env.get(name)!r}, must be {value!r}")
        for cls in spec.classes:
            try:
                loaded = _load_settings(cls, env)
            except ValueError as exc:
                problems.append(f"{app}: {cls.__name__} rejects the Deployment's env: {exc}")
                continue
            if getattr(loaded, "is_local", False):
                problems.append(f"{app}: {cls.__name__} sees the local development setup")
    return problems


def binding_settings(raw_bindings: Iterable[Mapping[str, Any]]) -> list[tuple[str, ...]]:
    """App settings a function's bindings resolve at run time: %NAME% expressions, and each
    `connection` (identity-based: NAME__fullyQualifiedNamespace, or a connection string NAME)."""
    needed: list[tuple[str, ...]] = []
    for binding in raw_bindings:
        for key, value in binding.items():
            if not isinstance(value, str):
                continue
            needed += [(name,) for name in re.findall(r"%([^%]+)%", value)]
            if key == "connection":
                needed.append((f"{value}__fullyQualifiedNamespace", value))
    return needed


# ------------------------------------------------------------------------------------ 3 secrets


def spc_outputs(spc: Manifest) -> dict[tuple[str, str], str]:
    """(Secret name, key) -> Key Vault object name, from one SecretProviderClass."""
    objects = yaml.safe_load(spc["spec"]["parameters"]["objects"])["array"]
    parsed = [yaml.safe_load(item) for item in objects]
    by_alias = {o.get("objectAlias") or o["objectName"]: o["objectName"] for o in parsed}
    produced = {}
    for secret in spc["spec"].get("secretObjects", []):
        for item in secret["data"]:
            if item["objectName"] in by_alias:
                produced[(secret["secretName"], item["key"])] = by_alias[item["objectName"]]
    return produced


def check_secrets(manifests: list[Manifest], key_vault_secrets: set[str]) -> list[str]:
    """Every Secret a pod reads is synced by a SecretProviderClass the pod mounts, from a Key
    Vault secret Terraform creates; the chart itself renders no Secret."""
    problems = [f"chart renders Secret {n}" for n in by_kind(manifests, "Secret")]
    classes = by_kind(manifests, "SecretProviderClass")
    produced = {
        key: (name, obj) for name, spc in classes.items() for key, obj in spc_outputs(spc).items()
    }
    for workload, pod in pod_specs(manifests).items():
        mounted = {
            v["csi"]["volumeAttributes"]["secretProviderClass"]
            for v in pod.get("volumes", [])
            if v.get("csi", {}).get("driver") == "secrets-store.csi.k8s.io"
        }
        for container in containers(pod):
            for item in container.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if not ref:
                    continue
                source = produced.get((ref["name"], ref["key"]))
                if source is None:
                    problems.append(
                        f"{workload}: {ref['name']}/{ref['key']} has no SecretProviderClass"
                    )
                    continue
                spc_name, kv_object = source
                if spc_name not in mounted:
                    problems.append(
                        f"{workload}: reads {ref['name']} but does not mount {spc_name}"
                    )
                if kv_object not in key_vault_secrets:
                    problems.append(f"{workload}: Key Vault secret {kv_object} is not in Terraform")
    return problems


# ----------------------------------------------------------------------- 4 workload identities


def check_service_accounts(manifests: list[Manifest], federated_subjects: set[str]) -> list[str]:
    """The ServiceAccounts are exactly Terraform's federated subjects in this namespace; every
    pod runs as one of them, annotated with a client id, and asks for workload identity."""
    problems = []
    accounts = [m for m in manifests if m["kind"] == "ServiceAccount"]
    namespaces = {m["metadata"]["namespace"] for m in accounts}
    rendered = {
        f"system:serviceaccount:{m['metadata']['namespace']}:{m['metadata']['name']}"
        for m in accounts
    }
    expected = {s for s in federated_subjects if s.split(":")[2] in namespaces}
    if not expected:
        problems.append(
            f"Terraform federates no ServiceAccount in namespace(s) {sorted(namespaces)}"
        )
    if rendered != expected:
        problems.append(
            f"ServiceAccounts {sorted(rendered)} != Terraform's federated subjects "
            f"{sorted(expected)}"
        )
    names = {m["metadata"]["name"]: m for m in accounts}
    for account in accounts:
        if not account["metadata"].get("annotations", {}).get("azure.workload.identity/client-id"):
            problems.append(f"ServiceAccount {account['metadata']['name']} has no client-id")
    for m in manifests:
        if m["kind"] not in {"Deployment", "Job"}:
            continue
        template = m["spec"]["template"]
        account = template["spec"].get("serviceAccountName")
        if account not in names:
            problems.append(f"{m['kind']}/{m['metadata']['name']} runs as {account!r}")
        if template["metadata"]["labels"].get("azure.workload.identity/use") != "true":
            problems.append(
                f"{m['kind']}/{m['metadata']['name']} lacks azure.workload.identity/use"
            )
    return problems


# ------------------------------------------------------------------------------------- 5 KEDA


def check_scaled_object(
    keda_manifests: list[Manifest],
    app_manifests: list[Manifest],
    queue: str,
    max_concurrent_calls: int,
    trigger_functions: set[str],
) -> list[str]:
    """The ScaledObject scales the Deployment that runs the Service Bus trigger, on the queue
    Terraform creates, with one replica's concurrency (host.json maxConcurrentCalls) as its
    target; its TriggerAuthentication uses KEDA's workload identity; no HPA competes."""
    problems = []
    scaled = by_kind(keda_manifests, "ScaledObject")
    if len(scaled) != 1:
        return [f"expected one ScaledObject, found {sorted(scaled)}"]
    [so] = scaled.values()
    target = so["spec"]["scaleTargetRef"]
    deployments = by_kind(app_manifests, "Deployment")
    if target.get("kind", "Deployment") != "Deployment" or target["name"] not in deployments:
        return [f"ScaledObject targets {target}, not a rendered Deployment"]
    env = app_env(app_manifests, target["name"])
    if not trigger_functions & set(allow_list(env)):
        problems.append(f"ScaledObject targets {target['name']}, which runs no Service Bus trigger")
    if so["metadata"]["namespace"] != deployments[target["name"]]["metadata"]["namespace"]:
        problems.append("ScaledObject and its Deployment are in different namespaces")
    triggers = so["spec"]["triggers"]
    if [t["type"] for t in triggers] != ["azure-servicebus", "mssql"]:
        problems.append(
            f"triggers {[t['type'] for t in triggers]} != ['azure-servicebus', 'mssql']"
        )
    for trigger in triggers:
        if trigger["type"] != "azure-servicebus":
            continue  # the mssql trigger: check_durable_scaling
        meta = trigger["metadata"]
        if meta.get("queueName") != queue:
            problems.append(f"trigger queue {meta.get('queueName')!r} != Terraform's {queue!r}")
        if env.get("EVENT_BUS_QUEUE") != queue:
            problems.append(f"worker EVENT_BUS_QUEUE {env.get('EVENT_BUS_QUEUE')!r} != {queue!r}")
        if str(meta.get("messageCount")) != str(max_concurrent_calls):
            problems.append(
                f"messageCount {meta.get('messageCount')} != maxConcurrentCalls "
                f"{max_concurrent_calls}"
            )
        auth = by_kind(keda_manifests, "TriggerAuthentication").get(
            trigger.get("authenticationRef", {}).get("name", "")
        )
        identity = (auth or {}).get("spec", {}).get("podIdentity", {})
        if identity.get("provider") != "azure-workload" or not identity.get("identityId"):
            problems.append(
                "the trigger's TriggerAuthentication is not azure-workload with a client id"
            )
    if so["spec"].get("minReplicaCount", 0) != 0:
        problems.append("minReplicaCount is not 0")
    for hpa in by_kind(app_manifests, "HorizontalPodAutoscaler").values():
        if hpa["spec"]["scaleTargetRef"]["name"] == target["name"]:
            problems.append(f"HPA {hpa['metadata']['name']} competes with KEDA")
    return problems


# ---------------------------------------------------------------------------------- 6 ingress


@dataclass(frozen=True)
class Route:
    """One nginx `location` that F5's NGINX Ingress Controller generates for an Ingress path."""

    kind: str  # "exact" (location =), "prefix" (location), or "regex" (location ~ "^...")
    path: str
    service: str
    rewrite: str | None


def ingress_routes(manifests: list[Manifest], host: str) -> list[Route]:
    """The controller's locations for `host`: an Ingress with `nginx.org/path-regex:
    case_sensitive` turns each of its paths into `location ~ "^<path>"` (that Ingress only);
    otherwise Exact paths are `location =` and the rest prefix locations.
    `nginx.org/rewrite-target` applies to the paths of its own Ingress."""
    found = []
    for ingress in by_kind(manifests, "Ingress").values():
        annotations = ingress["metadata"].get("annotations", {})
        regex = annotations.get("nginx.org/path-regex") == "case_sensitive"
        rewrite = annotations.get("nginx.org/rewrite-target")
        for rule in ingress["spec"]["rules"]:
            if rule.get("host") != host:
                continue
            for path in rule["http"]["paths"]:
                kind = "regex" if regex else "exact" if path["pathType"] == "Exact" else "prefix"
                found.append(Route(kind, path["path"], path["backend"]["service"]["name"], rewrite))
    return found


def resolve(routes: list[Route], path: str) -> tuple[str, str] | None:
    """(Service, upstream path) that answers `path`, or None (the controller's 404), by nginx's
    location rules (https://nginx.org/en/docs/http/ngx_http_core_module.html#location): an exact
    match wins; else a matching regex location beats the longest matching prefix. Two regex
    locations matching one path would depend on config order, so that is refused as ambiguous."""
    for route in routes:
        if route.kind == "exact" and route.path == path:
            return route.service, path
    regexes = [
        (route, match)
        for route in routes
        if route.kind == "regex" and (match := re.match(route.path, path))
    ]
    if len(regexes) > 1:
        raise ValueError(f"{path} matches several regex locations: {[r.path for r, _ in regexes]}")
    if regexes:
        route, match = regexes[0]
        if route.rewrite:  # nginx's $1 is Python's \1
            return route.service, match.expand(re.sub(r"\$(\d)", r"\\\1", route.rewrite))
        return route.service, path
    prefixes = [r for r in routes if r.kind == "prefix" and path.startswith(r.path)]
    if prefixes:
        return max(prefixes, key=lambda r: len(r.path)).service, path
    return None


def check_ingress(
    manifests: list[Manifest],
    host: str,
    api_prefix: str,
    api_routes: Mapping[str, tuple[str, str]],
    ui_paths: Iterable[str],
    hidden_paths: Iterable[str],
) -> list[str]:
    """Every public HTTP route of the apps reaches its own app with its own path: API routes
    (function -> (owning Deployment, route)) under `api_prefix`, the UI's pages at theirs; the
    docs, OpenAPI and probe routes reach no API."""
    problems = []
    routes = ingress_routes(manifests, host)
    services = {
        name: svc["spec"]["selector"].get("app.kubernetes.io/name")
        for name, svc in by_kind(manifests, "Service").items()
    }
    for function, (app, route) in api_routes.items():
        prefix = route.split("/{")[0]
        samples = [f"/{prefix}"] + ([f"/{prefix}/sample"] if "{*" in route else [])
        for sample in samples:
            answer = resolve(routes, api_prefix + sample)
            if answer is None or services.get(answer[0]) != app or answer[1] != sample:
                problems.append(
                    f"{function}: {api_prefix + sample} -> {answer}, not {app} {sample}"
                )
    for path in ui_paths:
        answer = resolve(routes, path)
        if answer is None or services.get(answer[0]) != "ui" or answer[1] != path:
            problems.append(f"UI page {path} -> {answer}, not ui")
    for path in hidden_paths:
        answer = resolve(routes, path)
        if answer is not None and services.get(answer[0]) in {"catalog", "orders"}:
            problems.append(f"{path} is public ({answer})")
    return problems


def flask_sample_paths(url_map: Any) -> list[str]:
    """One concrete path per Flask rule (converters filled with sample values)."""
    samples = {"uuid": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "path": "a/b", "int": "1"}
    paths = []
    for rule in url_map.iter_rules():
        path = re.sub(
            r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>",
            lambda m: samples.get(m.group(1) or "", "sample"),
            rule.rule,
        )
        paths.append(path)
    return sorted(set(paths))


# ----------------------------------------------------------------------- 7 images and secrets


def check_images(manifests: list[Manifest], registry: str) -> list[str]:
    """Every container runs <registry>/<CONTRACT repository>:<tag>, never `latest`."""
    problems = []
    allowed = {f"{registry}/{repo}" for repo in IMAGE_REPOSITORIES.values()}
    for workload, pod in pod_specs(manifests).items():
        for container in containers(pod):
            image = container["image"]
            repository, _, tag = image.rpartition(":")
            if repository not in allowed:
                problems.append(f"{workload}: image {image} is not one of {sorted(allowed)}")
            if not tag or tag == "latest" or "@" in repository:
                problems.append(f"{workload}: image {image} has no immutable tag")
    return problems


# Names of settings that hold secrets: *PASSWORD, *SECRET, *TOKEN, *KEY, and connection strings
# (the Functions host's AzureWebJobsStorage, ServiceBusConnection, ...).
SECRET_NAME = re.compile(
    r"(PASSWORD|SECRET|TOKEN|KEY|CONNECTION|CONNECTIONSTRING|^AzureWebJobsStorage)$", re.IGNORECASE
)
SECRET_VALUE = re.compile(
    r"(AccountKey=|SharedAccessKey=|password=|://[^/@:]+:[^/@]+@)", re.IGNORECASE
)


# Microsoft.Data.SqlClient authentication modes that carry no secret in the connection string:
# the token comes from the pod's workload identity
# (https://learn.microsoft.com/sql/connect/ado-net/sql/azure-active-directory-authentication).
ENTRA_SQL_AUTHENTICATION = {
    "active directory managed identity",
    "active directory msi",
    "active directory workload identity",
    "active directory default",
}
_SQL_SECRET_KEYS = {"password", "pwd"}


def sql_connection_parts(value: str) -> dict[str, str]:
    """`Key=Value;...` of an ADO.NET connection string, keys lower-cased (no quoting is used)."""
    parts = {}
    for item in value.split(";"):
        if item.strip():
            key, _, val = item.partition("=")
            parts[key.strip().lower()] = val.strip()
    return parts


def is_secretless_sql_connection(value: object) -> bool:
    """An SQL connection string that authenticates with Entra ID and holds no password."""
    if not isinstance(value, str):
        return False
    parts = sql_connection_parts(value)
    return parts.get(
        "authentication", ""
    ).lower() in ENTRA_SQL_AUTHENTICATION and not _SQL_SECRET_KEYS & set(parts)


def check_no_secret_values(manifests: list[Manifest]) -> list[str]:
    """No secret material in the rendered manifests: secret-named settings come from Secrets
    (except SQL connection strings that authenticate with Entra ID and hold no password), and
    no value anywhere looks like a key, a connection string or a URL with a password."""
    problems = []
    for workload, pod in pod_specs(manifests).items():
        for container in containers(pod):
            for item in container.get("env", []):
                if (
                    SECRET_NAME.search(item["name"])
                    and "valueFrom" not in item
                    and not is_secretless_sql_connection(item.get("value"))
                ):
                    problems.append(f"{workload}: {item['name']} is a literal value")
    text = json.dumps(manifests)
    problems += [f"secret-looking value: {m.group(0)}" for m in SECRET_VALUE.finditer(text)]
    return problems


# ------------------------------------------------------------- 8 who may read which secret


def spc_objects(spc: Manifest) -> set[str]:
    """Every Key Vault object a SecretProviderClass fetches: a pod that mounts it sees them all."""
    objects = yaml.safe_load(spc["spec"]["parameters"]["objects"])["array"]
    return {yaml.safe_load(item)["objectName"] for item in objects}


def _is_migration_job(manifest: Manifest) -> bool:
    if manifest["kind"] != "Job":
        return False
    labels = manifest["spec"]["template"]["metadata"].get("labels", {})
    return labels.get("app.kubernetes.io/component") == "migrations"


def _logs_in_to_postgres(pod: Mapping[str, Any]) -> bool:
    """A container of the pod has a Postgres URL (the durable-sql-grants Job has none: it logs
    in to Azure SQL with its Entra token)."""
    return any(
        isinstance(v, str) and v.startswith("postgresql://")
        for c in containers(pod)
        for v in env_of(c).values()
    )


def _env_secret(
    container: Mapping[str, Any], name: str, produced: Mapping[tuple[str, str], str]
) -> str | None:
    """The Key Vault object behind env `name` of a container (None: not from a Secret)."""
    for item in container.get("env", []):
        ref = item.get("valueFrom", {}).get("secretKeyRef")
        if item["name"] == name and ref:
            return produced.get((ref["name"], ref["key"]))
    return None


def check_secret_access(
    manifests: list[Manifest],
    secret_readers: Mapping[str, Iterable[str]],
    admin_secret: str,
) -> list[str]:
    """Every Key Vault secret a pod can reach (the classes it mounts, the Secrets it reads) is
    one its ServiceAccount's identity may read per Terraform's role assignments, fetched with
    that identity; no app Deployment reaches the Postgres administrator's secret, and every
    migration Job logs in with it."""
    problems = []
    classes = by_kind(manifests, "SecretProviderClass")
    accounts = by_kind(manifests, "ServiceAccount")
    produced = {key: obj for spc in classes.values() for key, obj in spc_outputs(spc).items()}
    by_secret: dict[str, set[str]] = {}
    for (secret, _key), obj in produced.items():
        by_secret.setdefault(secret, set()).add(obj)
    for m in manifests:
        if m["kind"] not in {"Deployment", "Job"}:
            continue
        workload = f"{m['kind']}/{m['metadata']['name']}"
        pod = m["spec"]["template"]["spec"]
        account = pod.get("serviceAccountName", "default")
        subject = f"system:serviceaccount:{m['metadata']['namespace']}:{account}"
        annotations = accounts.get(account, {}).get("metadata", {}).get("annotations", {})
        client_id = annotations.get("azure.workload.identity/client-id")
        reached: set[str] = set()
        for volume in pod.get("volumes", []):
            class_name = (
                volume.get("csi", {}).get("volumeAttributes", {}).get("secretProviderClass")
            )
            if class_name:
                spc = classes.get(class_name)
                if spc is None:
                    problems.append(
                        f"{workload}: mounts a missing SecretProviderClass {class_name}"
                    )
                    continue
                if spc["spec"]["parameters"].get("clientID") != client_id:
                    problems.append(
                        f"{workload}: {class_name} fetches with another identity than "
                        f"ServiceAccount {account}'s"
                    )
                reached |= spc_objects(spc)
            if "secret" in volume:
                reached |= by_secret.get(volume["secret"].get("secretName", ""), set())
        for container in containers(pod):
            for item in container.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref and (ref["name"], ref["key"]) in produced:
                    reached.add(produced[(ref["name"], ref["key"])])
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    reached |= by_secret.get(source["secretRef"]["name"], set())
        allowed = set(secret_readers.get(subject, ()))
        problems += [
            f"{workload}: reaches Key Vault secret {obj}, which {subject} may not read"
            for obj in sorted(reached - allowed)
        ]
        if m["kind"] == "Deployment" and admin_secret in reached:
            problems.append(f"{workload}: an app pod reaches the administrator's {admin_secret}")
        if _is_migration_job(m) and _logs_in_to_postgres(pod):
            logins = {_env_secret(c, "PGPASSWORD", produced) for c in containers(pod)}
            if logins != {admin_secret}:
                problems.append(f"{workload}: PGPASSWORD from {sorted(map(str, logins))}")
    if not any(_is_migration_job(m) for m in manifests):
        problems.append("no migration Job rendered")
    return problems


# App -> the setting that holds its database URL (the login is the URL's user).
DATABASE_URL_SETTINGS = {
    "catalog": "CATALOG_DATABASE_URL",
    "orders": "ORDERS_DATABASE_URL",
    "ui": "UI_SESSION_DATABASE_URL",
}


def check_database_logins(
    manifests: list[Manifest], app_roles: Mapping[str, tuple[str, str]], admin_login: str
) -> list[str]:
    """Each app logs in as its own Terraform-named role with that role's password; its
    migration Job logs in as the administrator and sets exactly that role and password."""
    problems = []
    classes = by_kind(manifests, "SecretProviderClass")
    produced = {key: obj for spc in classes.values() for key, obj in spc_outputs(spc).items()}
    workloads = {f"{m['kind']}/{m['metadata']['name']}": m for m in manifests}
    for app, (role, secret) in app_roles.items():
        setting = DATABASE_URL_SETTINGS[app]
        expected = {
            f"Deployment/{app}": (role, {"PGPASSWORD": secret}),
            f"Job/{app}-migrate": (
                admin_login,
                {"MIGRATE_APP_ROLE_PASSWORD": secret, "MIGRATE_APP_ROLE": role},
            ),
        }
        for workload, (login, env) in expected.items():
            if workload not in workloads:
                problems.append(f"no {workload}")
                continue
            pod = workloads[workload]["spec"]["template"]["spec"]
            for container in containers(pod):
                url = env_of(container).get(setting)
                if not isinstance(url, str):
                    continue  # e.g. a sidecar without the database
                if urlsplit(url).username != login:
                    problems.append(f"{workload}: logs in as {urlsplit(url).username!r}")
                if workload.startswith("Job/") and container["name"] != "migrate":
                    continue  # the catalog Job's seed container only inserts rows
                for name, want in env.items():
                    got = (
                        env_of(container).get(name)
                        if name == "MIGRATE_APP_ROLE"
                        else _env_secret(container, name, produced)
                    )
                    if got != want:
                        problems.append(f"{workload}: {name} is {got!r}, not {want!r}")
    return problems


# ------------------------------------------------------------------ 9 the durable task hub

DURABLE_SQL_CONNECTION = "DURABLE_SQL_CONNECTION"


def _percent_setting(value: str) -> str | None:
    match = re.fullmatch(r"%([^%]+)%", value)
    return match.group(1) if match else None


def durable_connection(env: Mapping[str, Any], name: str) -> dict[str, str]:
    value = env.get(name)
    return sql_connection_parts(value) if isinstance(value, str) else {}


def check_durable_settings(
    manifests: list[Manifest], durable_task: Mapping[str, Any], container_port: int = 8080
) -> list[str]:
    """The worker sets what host.json's durableTask block names (the storage provider's
    connectionStringName, the %setting% of hubName), its connection string logs in with Entra
    ID through a managed identity, without a secret, encrypted, on 1433, WEBSITE_HOSTNAME is
    the host's own listener, and the durable-sql-grants Job creates exactly the user the worker
    logs in as: named after the task hub, for the identity of the connection string's User Id,
    in the same server and database."""
    problems = []
    env = app_env(manifests, "worker")
    provider = durable_task.get("storageProvider", {})
    if provider.get("type") != "mssql":
        problems.append(f"host.json storageProvider type {provider.get('type')!r} != 'mssql'")
    connection_name = provider.get("connectionStringName", "")
    if connection_name not in env:
        problems.append(f"worker: {connection_name or '<connectionStringName>'} is not set")
    hub_setting = _percent_setting(str(durable_task.get("hubName", "")))
    if hub_setting is None or hub_setting not in env:
        problems.append(f"worker: hubName {durable_task.get('hubName')!r} is not a set %setting%")
    hub = env.get(hub_setting or "", "")
    parts = durable_connection(env, connection_name)
    if not is_secretless_sql_connection(env.get(connection_name)):
        problems.append(f"worker: {connection_name} is not an Entra connection without secret")
    server = re.fullmatch(r"tcp:([a-z0-9-]+\.database\.windows\.net),1433", parts.get("server", ""))
    if server is None:
        problems.append(f"worker: Server {parts.get('server')!r} is not tcp:<fqdn>,1433")
    if parts.get("encrypt", "").lower() not in {"true", "mandatory", "strict"}:
        problems.append("worker: the SQL connection is not encrypted")
    if parts.get("trustservercertificate", "false").lower() != "false":
        problems.append("worker: the SQL connection trusts any server certificate")
    if env.get("WEBSITE_HOSTNAME") != f"127.0.0.1:{container_port}":
        problems.append(
            f"worker: WEBSITE_HOSTNAME {env.get('WEBSITE_HOSTNAME')!r} is not the host's "
            f"listener 127.0.0.1:{container_port}"
        )
    jobs = {m["metadata"]["name"]: m for m in manifests if m["kind"] == "Job"}
    job = jobs.get("durable-sql-grants")
    if job is None:
        return [*problems, "no Job/durable-sql-grants creates the task hub's database user"]
    [container] = job["spec"]["template"]["spec"]["containers"]
    job_env = env_of(container)
    expected = {
        "DURABLE_SQL_SERVER": server.group(1) if server else None,
        "DURABLE_SQL_DATABASE": parts.get("database"),
        "DURABLE_SQL_USER": hub,
        "DURABLE_SQL_USER_CLIENT_ID": parts.get("user id"),
    }
    for name, want in expected.items():
        if job_env.get(name) != want:
            problems.append(
                f"Job/durable-sql-grants: {name} is {job_env.get(name)!r}, not {want!r}"
            )
    if job["spec"]["template"]["spec"].get("serviceAccountName") != "migrations":
        problems.append("Job/durable-sql-grants does not run as the SQL admin (migrations)")
    return problems


def check_durable_scaling(
    keda_manifests: list[Manifest], app_manifests: list[Manifest], durable_task: Mapping[str, Any]
) -> list[str]:
    """The ScaledObject's mssql trigger asks the worker's task hub for its scale recommendation
    with host.json's per-replica concurrency, one replica per recommended worker (targetValue
    1), and logs in as the worker's own task hub user (same server, database, user name = task
    hub, same managed identity): the SQL provider's task hub is the login's USER_NAME()."""
    problems = []
    [so] = by_kind(keda_manifests, "ScaledObject").values()
    mssql = [t for t in so["spec"]["triggers"] if t["type"] == "mssql"]
    if len(mssql) != 1:
        return [f"expected one mssql trigger, found {len(mssql)}"]
    meta = mssql[0]["metadata"]
    orchestrations = durable_task.get("maxConcurrentOrchestratorFunctions")
    activities = durable_task.get("maxConcurrentActivityFunctions")
    query = f"SELECT dt.GetScaleRecommendation({orchestrations}, {activities})"
    if meta.get("query") != query:
        problems.append(f"mssql query {meta.get('query')!r} != {query!r} (host.json)")
    if str(meta.get("targetValue")) != "1":
        problems.append(f"mssql targetValue {meta.get('targetValue')!r} != '1'")
    env = app_env(app_manifests, "worker")
    connection_name = durable_task.get("storageProvider", {}).get("connectionStringName", "")
    parts = durable_connection(env, connection_name)
    hub = env.get(_percent_setting(str(durable_task.get("hubName", ""))) or "", "")
    if f"tcp:{meta.get('host')},{meta.get('port', '1433')}" != parts.get("server"):
        problems.append(
            f"mssql host {meta.get('host')!r} is not the worker's {parts.get('server')!r}"
        )
    if meta.get("database") != parts.get("database"):
        problems.append(f"mssql database {meta.get('database')!r} != {parts.get('database')!r}")
    if meta.get("username") != hub:
        problems.append(f"mssql username {meta.get('username')!r} != the task hub {hub!r}")
    auth = by_kind(keda_manifests, "TriggerAuthentication").get(
        mssql[0].get("authenticationRef", {}).get("name", "")
    )
    identity = (auth or {}).get("spec", {}).get("podIdentity", {})
    if identity.get("provider") != "azure-workload":
        problems.append("the mssql trigger's TriggerAuthentication is not azure-workload")
    if identity.get("identityId") != parts.get("user id"):
        problems.append(
            f"the mssql trigger logs in as {identity.get('identityId')!r}, the worker as "
            f"{parts.get('user id')!r}: they would count different task hubs"
        )
    return problems


def check_sql_egress(manifests: list[Manifest], private_endpoints_cidr: str) -> list[str]:
    """The worker and the durable-sql-grants Job may reach the SQL private endpoint's subnet
    (Terraform's private-endpoint subnet) on 1433; no other pod may."""
    problems = []
    allowed: dict[str, bool] = {}
    for policy in by_kind(manifests, "NetworkPolicy").values():
        selector = policy["spec"]["podSelector"].get("matchLabels", {})
        for rule in policy["spec"].get("egress", []):
            ports = {(p.get("protocol"), p.get("port")) for p in rule.get("ports", [])}
            cidrs = {t["ipBlock"]["cidr"] for t in rule.get("to", []) if "ipBlock" in t}
            if ("TCP", 1433) in ports:
                name = selector.get("app.kubernetes.io/name", "<any>")
                allowed[name] = allowed.get(name, False) or cidrs == {private_endpoints_cidr}
    for name in ("worker", "durable-sql-grants"):
        if not allowed.get(name):
            problems.append(f"{name}: no egress to {private_endpoints_cidr}:1433")
    problems += [
        f"{n}: egress to 1433 it does not need"
        for n in sorted(set(allowed) - {"worker", "durable-sql-grants"})
    ]
    return problems


def check_admin_functions_unexposed(manifests: list[Manifest]) -> list[str]:
    """The worker's admin functions (orchestration status, purge) are reached by port-forward
    only: no Service selects the worker's pods, so no Ingress can route to them."""
    return [
        f"Service {name} selects the worker's pods"
        for name, svc in by_kind(manifests, "Service").items()
        if svc["spec"].get("selector", {}).get("app.kubernetes.io/name") == "worker"
    ]
