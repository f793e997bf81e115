"""Least privilege for the database credential, across Terraform and the rendered chart: each app
logs in as its own role with only its own password; only the migration Jobs (ServiceAccount
`migrations`) see the Postgres administrator's password; and every Key Vault secret a pod can
reach is one its ServiceAccount's identity may read per Terraform's role assignments. Each check
is shown to fail on a broken rendering or a widened Terraform grant."""

import copy

import pytest
import yaml

from tests.deploy import crosschecks as cc
from tests.deploy import render
from tests.deploy.terraform_facts import environment_facts

TERRAFORM = environment_facts("dev")
ADMIN_SECRET = "postgres-admin-password"


def _access(manifests, readers=None):
    return cc.check_secret_access(manifests, readers or TERRAFORM.secret_readers, ADMIN_SECRET)


def _logins(manifests):
    admin = render.load_values("dev")["azure"]["postgres"]["admin"]["user"]
    return cc.check_database_logins(manifests, TERRAFORM.postgres_app_roles, admin)


def _workload(manifests, kind, name):
    return next(m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name)


def _spc(manifests, name):
    return _workload(manifests, "SecretProviderClass", name)


def _pod(manifests, kind, name):
    return _workload(manifests, kind, name)["spec"]["template"]["spec"]


# -------------------------------------------------------------------------- the real chart


def test_every_pod_reaches_only_secrets_its_identity_may_read(dev):
    assert _access(dev["tinyshop"]) == []


def test_each_app_logs_in_as_its_own_role_and_each_job_sets_it_as_the_administrator(dev):
    assert _logins(dev["tinyshop"]) == []


def test_the_admin_password_is_only_in_the_migrations_class(dev):
    holders = {
        name
        for name, spc in cc.by_kind(dev["tinyshop"], "SecretProviderClass").items()
        if ADMIN_SECRET in cc.spc_objects(spc)
    }
    assert holders == {"migrations"}
    jobs = [m for m in dev["tinyshop"] if m["kind"] == "Job"]
    assert {j["spec"]["template"]["spec"]["serviceAccountName"] for j in jobs} == {"migrations"}


# --------------------------------------------------------------------------- mutation tests


def test_the_access_check_fails_when_an_app_mounts_the_migrations_class(dev):
    broken = copy.deepcopy(dev["tinyshop"])
    for volume in _pod(broken, "Deployment", "orders")["volumes"]:
        if "csi" in volume:
            volume["csi"]["volumeAttributes"]["secretProviderClass"] = "migrations"
    problems = _access(broken)
    assert "Deployment/orders: an app pod reaches the administrator's postgres-admin-password" in (
        problems
    )
    assert any("migrations fetches with another identity" in p for p in problems)


def test_the_access_check_fails_when_an_app_reads_the_migrations_secret(dev):
    broken = copy.deepcopy(dev["tinyshop"])
    [container] = _pod(broken, "Deployment", "ui")["containers"]
    container.setdefault("envFrom", []).append({"secretRef": {"name": "migrations-secrets"}})
    problems = _access(broken)
    assert "Deployment/ui: an app pod reaches the administrator's postgres-admin-password" in (
        problems
    )
    assert any("reaches Key Vault secret postgres-catalog-password" in p for p in problems)


def test_the_access_check_fails_when_an_apps_class_names_the_admin_secret(dev):
    """The shared-credential setup this replaced: catalog's class fetches the admin password."""
    broken = copy.deepcopy(dev["tinyshop"])
    spc = _spc(broken, "catalog")
    params = spc["spec"]["parameters"]
    params["objects"] = params["objects"].replace("postgres-catalog-password", ADMIN_SECRET)
    problems = _access(broken)
    assert (
        "Deployment/catalog: reaches Key Vault secret postgres-admin-password, which "
        "system:serviceaccount:tinyshop:catalog may not read" in problems
    )
    assert "Deployment/catalog: an app pod reaches the administrator's postgres-admin-password" in (
        problems
    )


def test_the_access_check_fails_when_terraform_stops_granting_a_secret(dev):
    readers = dict(TERRAFORM.secret_readers)
    subject = "system:serviceaccount:tinyshop:ui"
    readers[subject] = readers[subject] - {"ui-client-secret"}
    problems = _access(dev["tinyshop"], readers)
    assert (
        f"Deployment/ui: reaches Key Vault secret ui-client-secret, which {subject} may not read"
        in (problems)
    )


def test_the_access_check_fails_when_a_job_runs_as_an_app(dev):
    broken = copy.deepcopy(dev["tinyshop"])
    _pod(broken, "Job", "orders-migrate")["serviceAccountName"] = "orders"
    problems = _access(broken)
    assert any(
        p.startswith("Job/orders-migrate: reaches Key Vault secret postgres-admin-password")
        for p in problems
    )


def test_the_access_check_fails_when_a_job_logs_in_with_an_app_password(dev):
    broken = copy.deepcopy(dev["tinyshop"])
    pod = _pod(broken, "Job", "ui-migrate")
    for container in cc.containers(pod):
        for item in container["env"]:
            if item["name"] == "PGPASSWORD":
                item["valueFrom"]["secretKeyRef"]["key"] = "UI_ROLE_PASSWORD"
    assert _access(broken) == ["Job/ui-migrate: PGPASSWORD from ['postgres-ui-password']"]


@pytest.mark.parametrize(
    ("workload", "name", "value", "complaint"),
    [
        (
            ("Deployment", "orders"),
            "ORDERS_DATABASE_URL",
            "postgresql://tinyshopadmin@h:5432/orders",
            "Deployment/orders: logs in as 'tinyshopadmin'",
        ),
        (
            ("Job", "catalog-migrate"),
            "MIGRATE_APP_ROLE",
            "orders_app",
            "Job/catalog-migrate: MIGRATE_APP_ROLE is 'orders_app', not 'catalog_app'",
        ),
        (
            ("Job", "ui-migrate"),
            "UI_SESSION_DATABASE_URL",
            "postgresql://ui_app@h:5432/ui",
            "Job/ui-migrate: logs in as 'ui_app'",
        ),
    ],
)
def test_the_login_check_fails_on_a_wrong_login(dev, workload, name, value, complaint):
    broken = copy.deepcopy(dev["tinyshop"])
    pod = _pod(broken, *workload)
    for container in cc.containers(pod):
        for item in container["env"]:
            if item["name"] == name:
                item["value"] = value
    assert complaint in _logins(broken)


def test_the_login_check_fails_when_an_app_gets_another_apps_password(dev):
    broken = copy.deepcopy(dev["tinyshop"])
    spc = _spc(broken, "orders")
    params = spc["spec"]["parameters"]
    params["objects"] = params["objects"].replace(
        "postgres-orders-password", "postgres-ui-password"
    )
    assert (
        "Deployment/orders: PGPASSWORD is 'postgres-ui-password', not 'postgres-orders-password'"
        in _logins(broken)
    )


def test_the_worker_gets_its_log_pseudonym_key_under_the_name_the_code_reads(
    dev, monkeypatch: pytest.MonkeyPatch
):
    """Key Vault's log-pseudonym-key -> the worker's class -> worker-secrets -> the env variable
    functions/shared/pseudonym.py keys the pseudonyms with (without it: no pseudonym)."""
    from functions.shared import pseudonym

    spc = _spc(dev["tinyshop"], "worker")
    [fetched] = yaml.safe_load(spc["spec"]["parameters"]["objects"])["array"]
    assert yaml.safe_load(fetched)["objectName"] == "log-pseudonym-key"
    alias = yaml.safe_load(fetched)["objectAlias"]
    [synced] = spc["spec"]["secretObjects"]
    assert synced["secretName"] == "worker-secrets"
    assert {"key": "LOG_PSEUDONYM_KEY", "objectName": alias} in synced["data"]
    [container] = _pod(dev["tinyshop"], "Deployment", "worker")["containers"]
    [env] = [e for e in container["env"] if e["name"] == "LOG_PSEUDONYM_KEY"]
    reference = {"name": "worker-secrets", "key": "LOG_PSEUDONYM_KEY"}
    assert env["valueFrom"]["secretKeyRef"] == reference
    monkeypatch.setenv(env["name"], "from-key-vault")
    assert pseudonym.pseudonym("alice") is not None
