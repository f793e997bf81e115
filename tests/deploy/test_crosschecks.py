"""The rendered manifests agree with the code, host.json and Terraform — and each cross-check
fails when one side is broken (mutation evidence)."""

import copy
from pathlib import Path

import pytest

from functions.catalog.settings import CatalogSettings
from functions.orders.settings import OrdersSettings
from functions.shared.eventbus.settings import EventBusSettings
from functions.shared.timeline_store import CosmosSettings
from tests.deploy import crosschecks as cc
from tests.deploy import render
from tests.deploy.terraform_facts import environment_facts
from ui.app.settings import UiSettings

TERRAFORM = environment_facts("dev")


def _deployment(manifests: list[dict], name: str) -> dict:
    return next(m for m in manifests if m["kind"] == "Deployment" and m["metadata"]["name"] == name)


def _container(manifests: list[dict], name: str) -> dict:
    return _deployment(manifests, name)["spec"]["template"]["spec"]["containers"][0]


def _set_env(manifests: list[dict], app: str, name: str, value: str | None) -> None:
    container = _container(manifests, app)
    container["env"] = [e for e in container["env"] if e["name"] != name]
    if value is not None:
        container["env"].append({"name": name, "value": value})


# ------------------------------------------------------------------------------ allow-lists


# The worker's functions of issue 16 (the contract with the durable app half): the Service Bus
# trigger, the fulfil_order orchestrator, its activities and the two admin HTTP functions.
DURABLE_WORKER_FUNCTIONS = {
    "worker_order_placed",
    "fulfil_order",
    "record_timeline_event",
    "send_confirmation_email",
    *cc.WORKER_ADMIN_FUNCTIONS,
}


@pytest.fixture(scope="module")
def functions_by_app(indexed_by_app) -> dict[str, set[str]]:
    """app -> the functions its Deployment must run: what its blueprint registers. Until the
    durable app half (functions/worker) is merged, the worker registers none of the durable
    functions yet; then the contract list stands in for them. Once any of them is registered
    the real registration is the only truth (a renamed function fails the check)."""
    by_app = {app: set(functions) for app, functions in indexed_by_app.items()}
    if not (DURABLE_WORKER_FUNCTIONS - {"worker_order_placed"}) & by_app["worker"]:
        by_app["worker"] |= DURABLE_WORKER_FUNCTIONS
    return by_app


@pytest.fixture(scope="module")
def all_functions(functions_by_app, registered_functions) -> set[str]:
    """What the hosts index, plus the contract's worker functions before the app half lands."""
    return registered_functions | functions_by_app["worker"]


def test_the_worker_runs_exactly_the_durable_contracts_functions(dev):
    assert set(cc.allow_list(cc.app_env(dev["tinyshop"], "worker"))) == DURABLE_WORKER_FUNCTIONS


def test_each_deployment_runs_exactly_its_apps_functions(dev, functions_by_app, all_functions):
    assert cc.check_allow_lists(dev["tinyshop"], functions_by_app, all_functions) == []


def test_the_allow_list_check_fails_on_a_wrong_or_missing_function(
    dev, functions_by_app, all_functions
):
    broken = copy.deepcopy(dev["tinyshop"])
    _set_env(broken, "orders", "AzureFunctionsJobHost__functions__3", None)  # outbox sweep
    _set_env(broken, "catalog", "AzureFunctionsJobHost__functions__2", "orders_cart")
    _set_env(broken, "worker", "AzureFunctionsJobHost__functions__1", "fulfil_orders")
    problems = cc.check_allow_lists(broken, functions_by_app, all_functions)
    assert any(p.startswith("worker: allow-list") for p in problems)
    assert any(p.startswith("orders: allow-list") for p in problems)
    assert any(p.startswith("catalog: allow-list") for p in problems)


def test_the_allow_list_check_fails_on_shared_or_missing_host_ids(
    dev, functions_by_app, all_functions
):
    broken = copy.deepcopy(dev["tinyshop"])
    _set_env(broken, "worker", "AzureFunctionsWebHost__hostid", "tinyshop-orders")
    _set_env(broken, "catalog", "AzureFunctionsWebHost__hostid", None)
    problems = cc.check_allow_lists(broken, functions_by_app, all_functions)
    assert any("also another app's" in p for p in problems)
    assert any(p.startswith("catalog: AzureFunctionsWebHost__hostid") for p in problems)


def test_the_allow_list_check_fails_when_a_new_function_is_deployed_nowhere(
    dev, functions_by_app, all_functions
):
    problems = cc.check_allow_lists(
        dev["tinyshop"], functions_by_app, all_functions | {"orders_refund"}
    )
    assert problems == ["functions no Deployment runs: ['orders_refund']"]


# ------------------------------------------------------------------------ required settings


@pytest.fixture(scope="module")
def app_settings(indexed_by_app) -> dict[str, cc.AppSettings]:
    def bindings(app: str) -> tuple[tuple[str, ...], ...]:
        raw = [b for f in indexed_by_app[app].values() for b in f]
        return tuple(cc.binding_settings(raw))

    host = ("AzureWebJobsStorage__accountName", "AzureFunctionsWebHost__hostid")
    return {
        "catalog": cc.AppSettings((CatalogSettings,), bindings("catalog"), also_required=host),
        "orders": cc.AppSettings(
            (OrdersSettings, EventBusSettings, CosmosSettings),
            bindings("orders"),
            # The cluster publishes to Service Bus and shows the Cosmos timeline.
            pinned=(("EVENT_BUS", "servicebus"),),
            also_required=(
                *host,
                "COSMOS_ENDPOINT",
                "ServiceBusConnection__fullyQualifiedNamespace",
            ),
        ),
        "worker": cc.AppSettings(
            (CosmosSettings,), bindings("worker"), also_required=(*host, "COSMOS_ENDPOINT")
        ),
        "ui": cc.AppSettings((UiSettings,)),
    }


def test_the_worker_bindings_name_the_settings_its_deployment_must_set(app_settings):
    assert set(app_settings["worker"].binding_settings) == {
        ("EVENT_BUS_QUEUE",),
        ("ServiceBusConnection__fullyQualifiedNamespace", "ServiceBusConnection"),
    }


def test_loopback_defaults_count_as_required_settings():
    required = cc.required_settings(OrdersSettings)
    assert ["ORDERS_DATABASE_URL"] in required
    assert ["ORDERS_CATALOG_URL"] in required
    assert ["ORDERS_OIDC_ISSUER"] in required
    assert ["ORDERS_MAX_CART_ITEMS"] not in required


def test_every_setting_an_app_cannot_run_without_is_set_and_loads(dev, app_settings):
    assert cc.check_required_settings(dev["tinyshop"], app_settings) == []


@pytest.mark.parametrize(
    ("app", "name", "value", "complaint"),
    [
        ("orders", "ORDERS_OIDC_ISSUER", None, "ORDERS_OIDC_ISSUER is not set"),
        ("catalog", "CATALOG_DATABASE_URL", None, "CATALOG_DATABASE_URL is not set"),
        ("worker", "EVENT_BUS_QUEUE", None, "EVENT_BUS_QUEUE is not set"),
        ("orders", "EVENT_BUS", "local", "EVENT_BUS is 'local'"),
        ("orders", "ORDERS_CATALOG_TIMEOUT", "soon", "OrdersSettings rejects"),
        ("ui", "UI_OIDC_AUTHORITY", "https://127.0.0.1:8443/t/v2.0", "local development"),
        ("ui", "UI_SECRET_KEY", None, "UiSettings rejects"),
    ],
)
def test_the_settings_check_fails_on_a_missing_or_wrong_setting(
    dev, app_settings, app: str, name: str, value: str | None, complaint: str
):
    broken = copy.deepcopy(dev["tinyshop"])
    _set_env(broken, app, name, value)
    problems = cc.check_required_settings(broken, app_settings)
    assert any(complaint in p for p in problems), problems


# ------------------------------------------------------------------------------------ secrets


def test_every_secret_a_pod_reads_comes_from_key_vault_through_a_class_it_mounts(dev):
    assert cc.check_secrets(dev["tinyshop"], set(TERRAFORM.key_vault_secrets)) == []


def test_the_secret_check_fails_on_an_unsynced_key(dev):
    broken = copy.deepcopy(dev["tinyshop"])
    env = _container(broken, "ui")["env"]
    ref = next(e for e in env if e["name"] == "UI_CLIENT_SECRET")["valueFrom"]["secretKeyRef"]
    ref["key"] = "CLIENT_SECRET"
    problems = cc.check_secrets(broken, set(TERRAFORM.key_vault_secrets))
    assert problems == ["Deployment/ui: ui-secrets/CLIENT_SECRET has no SecretProviderClass"]


def test_the_secret_check_fails_on_a_key_vault_secret_terraform_does_not_create(dev):
    problems = cc.check_secrets(
        dev["tinyshop"], set(TERRAFORM.key_vault_secrets) - {"flask-secret-key"}
    )
    assert any("flask-secret-key is not in Terraform" in p for p in problems)


def test_the_secret_check_fails_when_the_pod_does_not_mount_the_class(dev):
    broken = copy.deepcopy(dev["tinyshop"])
    pod = _deployment(broken, "catalog")["spec"]["template"]["spec"]
    pod["volumes"] = [v for v in pod["volumes"] if "csi" not in v]
    problems = cc.check_secrets(broken, set(TERRAFORM.key_vault_secrets))
    assert problems == ["Deployment/catalog: reads catalog-secrets but does not mount catalog"]


# ------------------------------------------------------------------------ workload identities


def test_service_accounts_are_exactly_terraforms_federated_subjects(dev):
    assert cc.check_service_accounts(dev["tinyshop"], set(TERRAFORM.federated_subjects)) == []


def test_the_identity_check_fails_on_a_renamed_service_account(dev):
    broken = copy.deepcopy(dev["tinyshop"])
    account = next(
        m for m in broken if m["kind"] == "ServiceAccount" and m["metadata"]["name"] == "worker"
    )
    account["metadata"]["name"] = "worker-sa"
    problems = cc.check_service_accounts(broken, set(TERRAFORM.federated_subjects))
    assert any("!= Terraform's federated subjects" in p for p in problems)
    assert "Deployment/worker runs as 'worker'" in problems


def test_the_identity_check_fails_when_terraform_federates_another_namespace(dev):
    moved = {s.replace(":tinyshop:", ":shop:") for s in TERRAFORM.federated_subjects}
    problems = cc.check_service_accounts(dev["tinyshop"], moved)
    assert any("federates no ServiceAccount in namespace" in p for p in problems)


def test_the_identity_check_fails_on_a_pod_without_workload_identity(dev):
    broken = copy.deepcopy(dev["tinyshop"])
    job = next(m for m in broken if m["kind"] == "Job")
    del job["spec"]["template"]["metadata"]["labels"]["azure.workload.identity/use"]
    problems = cc.check_service_accounts(broken, set(TERRAFORM.federated_subjects))
    assert problems == [f"Job/{job['metadata']['name']} lacks azure.workload.identity/use"]


def test_terraform_federates_kedas_operator_where_the_keda_chart_expects_it():
    assert "system:serviceaccount:keda:keda-operator" in TERRAFORM.federated_subjects


def test_the_values_generator_reads_each_identity_output_terraform_defines():
    for app in ("catalog", "orders", "worker", "ui", "migrations", "keda"):
        assert TERRAFORM.outputs[f"{app}_identity_client_id"] == (
            f'${{module.identity.client_ids["{app}"]}}'
        )


# ---------------------------------------------------------------------------------------- KEDA


@pytest.fixture(scope="module")
def trigger_functions(indexed_by_app) -> set[str]:
    return {
        name
        for functions in indexed_by_app.values()
        for name, bindings in functions.items()
        if any(b["type"] == "serviceBusTrigger" for b in bindings)
    }


def _scaled_object_problems(dev, host_json, trigger_functions, keda=None, app=None):
    return cc.check_scaled_object(
        keda if keda is not None else dev["tinyshop-keda"],
        app if app is not None else dev["tinyshop"],
        TERRAFORM.servicebus_queue,
        host_json["extensions"]["serviceBus"]["maxConcurrentCalls"],
        trigger_functions,
    )


def test_the_scaled_object_scales_the_service_bus_worker_on_terraforms_queue(
    dev, host_json, trigger_functions
):
    assert trigger_functions == {"worker_order_placed"}
    assert _scaled_object_problems(dev, host_json, trigger_functions) == []


@pytest.mark.parametrize(
    ("path", "value", "complaint"),
    [
        (("spec", "scaleTargetRef", "name"), "orders", "runs no Service Bus trigger"),
        (("spec", "scaleTargetRef", "name"), "workers", "not a rendered Deployment"),
        (("spec", "triggers", 0, "metadata", "queueName"), "order", "!= Terraform's 'orders'"),
        (("spec", "triggers", 0, "metadata", "messageCount"), "16", "!= maxConcurrentCalls 8"),
        (("spec", "triggers", 0, "authenticationRef", "name"), "nothing", "TriggerAuthentication"),
        (("spec", "minReplicaCount"), 1, "minReplicaCount is not 0"),
    ],
)
def test_the_keda_check_fails_on_a_broken_scaled_object(
    dev, host_json, trigger_functions, path, value, complaint
):
    keda = copy.deepcopy(dev["tinyshop-keda"])
    node = next(m for m in keda if m["kind"] == "ScaledObject")
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    problems = _scaled_object_problems(dev, host_json, trigger_functions, keda=keda)
    assert any(complaint in p for p in problems), problems


def test_the_keda_check_fails_when_host_json_concurrency_changes(dev, host_json, trigger_functions):
    changed = copy.deepcopy(host_json)
    changed["extensions"]["serviceBus"]["maxConcurrentCalls"] = 16
    assert _scaled_object_problems(dev, changed, trigger_functions) == [
        "messageCount 8 != maxConcurrentCalls 16"
    ]


def test_the_keda_check_fails_when_an_hpa_competes_for_the_worker(
    dev, host_json, trigger_functions
):
    app = copy.deepcopy(dev["tinyshop"])
    hpa = copy.deepcopy(next(m for m in app if m["kind"] == "HorizontalPodAutoscaler"))
    hpa["metadata"]["name"] = "worker"
    hpa["spec"]["scaleTargetRef"]["name"] = "worker"
    problems = _scaled_object_problems(dev, host_json, trigger_functions, app=[*app, hpa])
    assert problems == ["HPA worker competes with KEDA"]


# ------------------------------------------------------------------------------------- ingress


@pytest.fixture(scope="module")
def api_routes(indexed_by_app) -> dict[str, tuple[str, str]]:
    """Public HTTP function -> (owning app, route), from the indexed bindings."""
    return {
        name: (app, trigger["route"])
        for app, functions in indexed_by_app.items()
        for name, bindings in functions.items()
        for trigger in bindings
        if trigger["type"] == "httpTrigger" and name not in cc.INTERNAL_FUNCTIONS
    }


@pytest.fixture(scope="module")
def ui_paths() -> list[str]:
    from ui.app import create_app

    return cc.flask_sample_paths(create_app().url_map)


HIDDEN = [
    "/api/orders/docs",
    "/api/orders/openapi.json",
    "/api/orders/health/ready",
    "/orders/openapi.json",
    "/catalog/docs",
    "/catalog/health/ready",
]


def _ingress_problems(manifests, api_routes, ui_paths, prefix="/api"):
    host = render.load_values("dev")["ingress"]["host"]
    return cc.check_ingress(manifests, host, prefix, api_routes, ui_paths, HIDDEN)


def test_the_ui_owns_the_pages_of_its_own_routes(ui_paths):
    assert {"/", "/cart", "/checkout", "/orders", "/products/sample", "/healthz/ready"} <= set(
        ui_paths
    )


def test_every_public_route_reaches_its_own_app(dev, api_routes, ui_paths):
    assert set(api_routes) == {
        "catalog_products",
        "orders_cart",
        "orders_checkout",
        "orders_history",
    }
    assert _ingress_problems(dev["tinyshop"], api_routes, ui_paths) == []


def test_the_ingress_check_fails_when_the_apis_shadow_the_ui_pages(
    helm_bin: Path, api_routes, ui_paths
):
    [release] = [r for r in render.environment_releases("dev") if r.name == "tinyshop"]
    unprefixed = render.render(helm_bin, release, {"ingress.apiPathPrefix": ""})
    problems = _ingress_problems(unprefixed, api_routes, ui_paths, prefix="")
    assert "UI page /cart -> ('orders', '/cart'), not ui" in problems


def test_the_ingress_check_fails_when_docs_become_public(helm_bin: Path, api_routes, ui_paths):
    [release] = [r for r in render.environment_releases("dev") if r.name == "tinyshop"]
    exposed = render.render(helm_bin, release, {"ingress.exposeApiDocs": True})
    problems = _ingress_problems(exposed, api_routes, ui_paths)
    assert any(p.startswith("/orders/openapi.json is public") for p in problems)


def test_the_ingress_check_fails_when_a_route_goes_to_the_wrong_app(dev, api_routes, ui_paths):
    broken = copy.deepcopy(dev["tinyshop"])
    api = next(
        m for m in broken if m["kind"] == "Ingress" and m["metadata"]["name"] == "tinyshop-api"
    )
    api["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] = "orders"
    problems = _ingress_problems(broken, api_routes, ui_paths)
    assert any(p.startswith("catalog_products: /api/products ->") for p in problems)


# ------------------------------------------------------------------------ durable task hub


@pytest.fixture(scope="module")
def durable_task(host_json) -> dict:
    return host_json["extensions"]["durableTask"]


def _job_container(manifests: list[dict], name: str) -> dict:
    job = next(m for m in manifests if m["kind"] == "Job" and m["metadata"]["name"] == name)
    return job["spec"]["template"]["spec"]["containers"][0]


def test_host_json_declares_the_durable_contract(durable_task):
    assert durable_task["hubName"] == "%DURABLE_TASK_HUB%"
    assert durable_task["storageProvider"] == {
        "type": "mssql",
        "connectionStringName": "DURABLE_SQL_CONNECTION",
        "createDatabaseIfNotExists": False,
    }


def test_the_worker_and_the_grants_job_agree_with_host_json(dev, durable_task):
    assert cc.check_durable_settings(dev["tinyshop"], durable_task) == []


@pytest.mark.parametrize(
    ("name", "value", "complaint"),
    [
        ("DURABLE_SQL_CONNECTION", None, "DURABLE_SQL_CONNECTION is not set"),
        ("DURABLE_TASK_HUB", None, "hubName '%DURABLE_TASK_HUB%' is not a set %setting%"),
        (
            "DURABLE_SQL_CONNECTION",
            "Server=tcp:s.database.windows.net,1433;Database=durable;User Id=x;Password=p;"
            "Encrypt=True",
            "not an Entra connection without secret",
        ),
        (
            "DURABLE_SQL_CONNECTION",
            "Server=tcp:s.database.windows.net,1433;Database=durable;"
            "Authentication=Active Directory Managed Identity;User Id=x;Encrypt=False",
            "not encrypted",
        ),
        ("WEBSITE_HOSTNAME", "worker.tinyshop.svc:80", "is not the host's listener"),
        ("DURABLE_TASK_HUB", "tinyshop2", "DURABLE_SQL_USER is 'tinyshop', not 'tinyshop2'"),
    ],
)
def test_the_durable_settings_check_fails_on_a_broken_worker(
    dev, durable_task, name, value, complaint
):
    broken = copy.deepcopy(dev["tinyshop"])
    _set_env(broken, "worker", name, value)
    problems = cc.check_durable_settings(broken, durable_task)
    assert any(complaint in p for p in problems), problems


def test_the_durable_settings_check_fails_when_host_json_names_another_setting(dev, durable_task):
    changed = copy.deepcopy(durable_task)
    changed["storageProvider"]["connectionStringName"] = "SQLDB_Connection"
    changed["hubName"] = "%TASK_HUB%"
    problems = cc.check_durable_settings(dev["tinyshop"], changed)
    assert "worker: SQLDB_Connection is not set" in problems
    assert "worker: hubName '%TASK_HUB%' is not a set %setting%" in problems


def test_the_durable_settings_check_fails_when_the_job_creates_another_user(dev, durable_task):
    broken = copy.deepcopy(dev["tinyshop"])
    container = _job_container(broken, "durable-sql-grants")
    for item in container["env"]:
        if item["name"] == "DURABLE_SQL_USER_CLIENT_ID":
            item["value"] = "a1b2c3d4-3333-4aaa-8bbb-000000000003"  # the worker's own identity
    problems = cc.check_durable_settings(broken, durable_task)
    assert any(p.startswith("Job/durable-sql-grants: DURABLE_SQL_USER_CLIENT_ID") for p in problems)


def test_the_mssql_trigger_counts_the_workers_task_hub(dev, durable_task):
    assert cc.check_durable_scaling(dev["tinyshop-keda"], dev["tinyshop"], durable_task) == []


def test_the_scaling_check_fails_when_host_json_concurrency_changes(dev, durable_task):
    changed = copy.deepcopy(durable_task)
    changed["maxConcurrentActivityFunctions"] = 16
    assert cc.check_durable_scaling(dev["tinyshop-keda"], dev["tinyshop"], changed) == [
        "mssql query 'SELECT dt.GetScaleRecommendation(8, 8)' != "
        "'SELECT dt.GetScaleRecommendation(8, 16)' (host.json)"
    ]


@pytest.mark.parametrize(
    ("field", "value", "complaint"),
    [
        ("username", "keda", "!= the task hub 'tinyshop'"),
        ("database", "master", "mssql database 'master'"),
        ("host", "sql-other.database.windows.net", "is not the worker's"),
        ("targetValue", "8", "targetValue '8' != '1'"),
    ],
)
def test_the_scaling_check_fails_on_a_broken_mssql_trigger(
    dev, durable_task, field, value, complaint
):
    keda = copy.deepcopy(dev["tinyshop-keda"])
    so = next(m for m in keda if m["kind"] == "ScaledObject")
    next(t for t in so["spec"]["triggers"] if t["type"] == "mssql")["metadata"][field] = value
    problems = cc.check_durable_scaling(keda, dev["tinyshop"], durable_task)
    assert any(complaint in p for p in problems), problems


def test_the_scaling_check_fails_when_keda_logs_in_as_its_own_identity(dev, durable_task):
    keda = copy.deepcopy(dev["tinyshop-keda"])
    auth = next(
        m
        for m in keda
        if m["kind"] == "TriggerAuthentication"
        and m["metadata"]["name"] == "durable-sql-workload-identity"
    )
    auth["spec"]["podIdentity"]["identityId"] = render.load_values("dev", render.KEDA_CHART)[
        "identity"
    ]["clientId"]
    problems = cc.check_durable_scaling(keda, dev["tinyshop"], durable_task)
    assert any("they would count different task hubs" in p for p in problems), problems


def test_the_scaled_object_check_fails_without_the_mssql_trigger(dev, host_json, trigger_functions):
    keda = copy.deepcopy(dev["tinyshop-keda"])
    so = next(m for m in keda if m["kind"] == "ScaledObject")
    so["spec"]["triggers"] = [t for t in so["spec"]["triggers"] if t["type"] != "mssql"]
    problems = _scaled_object_problems(dev, host_json, trigger_functions, keda=keda)
    assert problems == ["triggers ['azure-servicebus'] != ['azure-servicebus', 'mssql']"]


def test_terraform_federates_the_durable_identity_with_the_worker_and_keda():
    """The identity the worker's connection string and KEDA's TriggerAuthentication name is
    federated with both ServiceAccounts and fed to the values by its own output."""
    assert TERRAFORM.outputs["durable_identity_client_id"] == (
        '${module.identity.client_ids["durable"]}'
    )
    assert TERRAFORM.durable_subjects == frozenset(
        {"system:serviceaccount:tinyshop:worker", "system:serviceaccount:keda:keda-operator"}
    )


def test_only_the_worker_and_the_grants_job_reach_sql(dev):
    assert cc.check_sql_egress(dev["tinyshop"], TERRAFORM.private_endpoints_cidr) == []


def test_the_sql_egress_check_fails_on_another_subnet(dev):
    problems = cc.check_sql_egress(dev["tinyshop"], "10.1.6.0/24")
    assert "worker: no egress to 10.1.6.0/24:1433" in problems


def test_the_worker_admin_functions_have_no_service(dev):
    assert cc.check_admin_functions_unexposed(dev["tinyshop"]) == []
    broken = copy.deepcopy(dev["tinyshop"])
    service = copy.deepcopy(next(m for m in broken if m["kind"] == "Service"))
    service["metadata"]["name"] = "worker"
    service["spec"]["selector"]["app.kubernetes.io/name"] = "worker"
    assert cc.check_admin_functions_unexposed([*broken, service]) == [
        "Service worker selects the worker's pods"
    ]
