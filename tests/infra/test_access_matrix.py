"""Least privilege, as a specification: every role assignment and every federated subject.

The matrices below are the intended access of the environment (docs/infra.md, "Identities"
and "Terraform in GitHub Actions"). They are compared with what the parsed Terraform would
create (tf_access.py), in both directions: a grant that is missing, added, wider, or on
another role fails, and so does a renamed or added federated subject. The mutation tests
edit a copy of infra/terraform the way a careless change would and prove the check notices.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tf_access import (
    AKS_ISSUER,
    GITHUB_ISSUER,
    Grant,
    env_module,
    expr,
    federated_subjects,
    generic_wiring_problems,
    locals_of,
    parse_dir,
    role_matrix,
)
from tf_mutation import TF_DIR, mutated_copy

KV = 'module.keyvault.secret_resource_ids["{}"]'
CONTROL_PLANE = "aks:azurerm_user_assigned_identity.control_plane.principal_id"
KUBELET = "aks:azurerm_user_assigned_identity.kubelet.principal_id"
GH_APPLY = 'github_oidc:azurerm_user_assigned_identity.this["apply"].principal_id'
GH_BUILD = 'github_oidc:azurerm_user_assigned_identity.this["build"].principal_id'
SUBSCRIPTION = "data.azurerm_subscription.current.id"

EXPECTED_GRANTS = {
    # Workloads: data plane only, each on the one resource it uses.
    Grant("workload:orders", "Azure Service Bus Data Sender", "module.servicebus.queue_id"),
    Grant("workload:worker", "Azure Service Bus Data Receiver", "module.servicebus.queue_id"),
    Grant("workload:keda", "Azure Service Bus Data Owner", "module.servicebus.queue_id"),
    Grant(
        "workload:orders",
        'module.cosmos.builtin_role_definition_ids["data_reader"]',
        "module.cosmos.database_scope",
    ),
    Grant(
        "workload:worker",
        'module.cosmos.builtin_role_definition_ids["data_contributor"]',
        "module.cosmos.database_scope",
    ),
    # Each app reads only its own Postgres login's password; the administrator's password only
    # the migration Jobs, which also read the app passwords they set on the apps' roles.
    Grant("workload:catalog", "Key Vault Secrets User", KV.format("postgres-catalog-password")),
    Grant("workload:orders", "Key Vault Secrets User", KV.format("postgres-orders-password")),
    Grant("workload:ui", "Key Vault Secrets User", KV.format("postgres-ui-password")),
    Grant("workload:migrations", "Key Vault Secrets User", KV.format("postgres-admin-password")),
    Grant("workload:migrations", "Key Vault Secrets User", KV.format("postgres-catalog-password")),
    Grant("workload:migrations", "Key Vault Secrets User", KV.format("postgres-orders-password")),
    Grant("workload:migrations", "Key Vault Secrets User", KV.format("postgres-ui-password")),
    Grant("workload:ui", "Key Vault Secrets User", KV.format("ui-client-secret")),
    # The worker keys its log pseudonyms of users (functions/shared/pseudonym.py).
    Grant("workload:worker", "Key Vault Secrets User", KV.format("log-pseudonym-key")),
    Grant("workload:ui", "Key Vault Secrets User", KV.format("flask-secret-key")),
    Grant("workload:cloudflared", "Key Vault Secrets User", KV.format("cloudflare-tunnel-token")),
    Grant("workload:catalog", "Storage Blob Data Owner", "module.storage.id"),
    Grant("workload:orders", "Storage Blob Data Owner", "module.storage.id"),
    Grant("workload:worker", "Storage Blob Data Owner", "module.storage.id"),
    # AKS: the control plane joins its VNet, writes its route table and private DNS zone,
    # assigns the kubelet identity; the kubelet pulls from the registry.
    Grant(CONTROL_PLANE, "Network Contributor", "var.vnet_id"),
    Grant(CONTROL_PLANE, "Network Contributor", "var.route_table_id"),
    Grant(CONTROL_PLANE, "Private DNS Zone Contributor", "var.private_dns_zone_id"),
    Grant(CONTROL_PLANE, "Managed Identity Operator", "azurerm_user_assigned_identity.kubelet.id"),
    Grant(KUBELET, "AcrPull", "var.acr_id"),
    # The operators and the CI apply identity write the vault's secrets (envs/dev's
    # local.key_vault_secrets_officers: test_the_key_vault_secrets_officers_are_a_fixed_set).
    Grant(
        "keyvault:var.secrets_officer_principal_ids",
        "Key Vault Secrets Officer",
        "azurerm_key_vault.this.id",
    ),
    # GitHub Actions: build pushes (and opens the registry for its IP), plan reads, apply
    # changes behind an approved environment.
    Grant("github:build", "AcrPush", "var.acr_id"),
    Grant(
        GH_BUILD,
        "azurerm_role_definition.acr_network_rule_editor.role_definition_resource_id",
        "var.acr_id",
    ),
    Grant("github:plan", "Reader", SUBSCRIPTION),
    Grant("github:plan", "Key Vault Secrets User", "var.key_vault_id"),
    Grant("github:plan", "Storage Blob Data Reader", "var.tfstate_storage_account_id"),
    Grant("github:apply", "Contributor", SUBSCRIPTION),
    Grant("github:apply", "Storage Blob Data Contributor", "var.tfstate_storage_account_id"),
    Grant(GH_APPLY, "Role Based Access Control Administrator", SUBSCRIPTION),
}

# What envs/dev passes for the module variables that are scopes or principals above.
EXPECTED_SCOPE_INPUTS = {
    ("aks", "acr_id"): "module.acr.id",
    ("aks", "vnet_id"): "module.network.spoke_vnet_id",
    ("aks", "route_table_id"): "module.network.aks_route_table_id",
    ("aks", "private_dns_zone_id"): 'module.network.private_dns_zone_ids["aks"]',
    ("keyvault", "secrets_officer_principal_ids"): "local.key_vault_secrets_officers",
    ("github_oidc", "acr_id"): "module.acr.id",
    ("github_oidc", "key_vault_id"): "module.keyvault.id",
    ("github_oidc", "tfstate_storage_account_id"): "var.tfstate_storage_account_id",
}

# Who writes the vault's secrets: the operators the variables name and the CI apply identity,
# a fixed set (not the object id of whoever runs Terraform, which moved the grant to each
# caller: a CI apply took it from the operators), with keys known at plan time.
EXPECTED_SECRETS_OFFICERS = (
    "merge({for id in var.key_vault_secrets_officer_object_ids : id => id}, "
    '{for m in module.github_oidc : "github-apply" => m.principal_ids["apply"]})'
)

EXPECTED_SUBJECTS = {
    ("workload:catalog", AKS_ISSUER, "system:serviceaccount:tinyshop:catalog"),
    ("workload:orders", AKS_ISSUER, "system:serviceaccount:tinyshop:orders"),
    ("workload:worker", AKS_ISSUER, "system:serviceaccount:tinyshop:worker"),
    ("workload:ui", AKS_ISSUER, "system:serviceaccount:tinyshop:ui"),
    ("workload:migrations", AKS_ISSUER, "system:serviceaccount:tinyshop:migrations"),
    ("workload:keda", AKS_ISSUER, "system:serviceaccount:keda:keda-operator"),
    ("workload:cloudflared", AKS_ISSUER, "system:serviceaccount:cloudflared:cloudflared"),
    # The durable task hub's database identity (no Azure role): the worker's host and KEDA's
    # operator log in to the task hub database as the same user (docs/infra.md).
    ("workload:durable", AKS_ISSUER, "system:serviceaccount:tinyshop:worker"),
    ("workload:durable", AKS_ISSUER, "system:serviceaccount:keda:keda-operator"),
    ("github:build", GITHUB_ISSUER, "repo:${var.github_repository}:ref:refs/heads/main"),
    ("github:plan", GITHUB_ISSUER, "repo:${var.github_repository}:pull_request"),
    (
        "github:apply",
        GITHUB_ISSUER,
        "repo:${var.github_repository}:environment:${var.apply_environment}",
    ),
}


def _scope_inputs(tf_dir: Path) -> dict[tuple[str, str], str]:
    return {
        (module, argument): expr(env_module(tf_dir, module).get(argument))
        for module, argument in EXPECTED_SCOPE_INPUTS
    }


def _access_problems(tf_dir: Path) -> list[str]:
    """Everything that differs from the specification above (empty = as intended)."""
    grants = role_matrix(tf_dir)
    problems = [f"unexpected grant {g}" for g in sorted(grants - EXPECTED_GRANTS)]
    problems += [f"missing grant {g}" for g in sorted(EXPECTED_GRANTS - grants)]
    problems += generic_wiring_problems(tf_dir)
    for key, value in _scope_inputs(tf_dir).items():
        if value != EXPECTED_SCOPE_INPUTS[key]:
            problems.append(f"module {key[0]} gets {key[1]} = {value!r}")
    officers = expr(locals_of(parse_dir(tf_dir / "envs" / "dev")).get("key_vault_secrets_officers"))
    if officers != EXPECTED_SECRETS_OFFICERS:
        problems.append(f"local.key_vault_secrets_officers = {officers!r}")
    subjects = federated_subjects(tf_dir)
    problems += [f"unexpected subject {s}" for s in sorted(subjects - EXPECTED_SUBJECTS)]
    problems += [f"missing subject {s}" for s in sorted(EXPECTED_SUBJECTS - subjects)]
    return problems


def test_role_matrix_and_federated_subjects_are_exactly_the_specification() -> None:
    assert _access_problems(TF_DIR) == []


def test_no_workload_gets_a_control_plane_role() -> None:
    control_plane = {"Owner", "Contributor", "User Access Administrator", "Key Vault Administrator"}
    for grant in role_matrix(TF_DIR):
        if grant.principal.startswith("workload:"):
            assert grant.role not in control_plane, grant
            assert not grant.scope.startswith(("azurerm_resource_group", "data.azurerm_subscr"))


MUTATIONS = [
    pytest.param(
        "envs/dev/main.tf",
        """      workload             = "orders"
      scope                = module.servicebus.queue_id""",
        """      workload             = "orders"
      scope                = module.servicebus.namespace_id""",
        "unexpected grant Grant(principal='workload:orders', role='Azure Service Bus Data Sender'",
        id="widen-a-workload-scope",
    ),
    pytest.param(
        "envs/dev/main.tf",
        """      workload             = "worker"
      scope                = module.servicebus.queue_id
      role_definition_name = "Azure Service Bus Data Receiver\"""",
        """      workload             = "worker"
      scope                = module.servicebus.queue_id
      role_definition_name = "Azure Service Bus Data Owner\"""",
        "missing grant Grant(principal='workload:worker', role='Azure Service Bus Data Receiver'",
        id="swap-a-role",
    ),
    pytest.param(
        "envs/dev/main.tf",
        """      workload             = "catalog"
      scope                = module.keyvault.secret_resource_ids["postgres-catalog-password"]""",
        """      workload             = "catalog"
      scope                = module.keyvault.secret_resource_ids["postgres-admin-password"]""",
        "unexpected grant Grant(principal='workload:catalog', role='Key Vault Secrets User', "
        "scope='module.keyvault.secret_resource_ids[\"postgres-admin-password\"]')",
        id="an-app-reads-the-postgres-admin-password",
    ),
    pytest.param(
        "envs/dev/main.tf",
        'orders  = { namespace = var.kubernetes_namespace, service_account = "orders" }',
        'orders  = { namespace = var.kubernetes_namespace, service_account = "order" }',
        "system:serviceaccount:tinyshop:order'",
        id="rename-a-subject",
    ),
    pytest.param(
        "modules/github_oidc/main.tf",
        'plan  = "repo:${var.github_repository}:pull_request"',
        'plan  = "repo:${var.github_repository}:ref:refs/heads/main"',
        "unexpected subject ('github:plan'",
        id="rename-a-github-subject",
    ),
    pytest.param(
        "envs/dev/main.tf",
        "  acr_id                     = module.acr.id\n  log_analytics_workspace_id",
        "  acr_id                     = azurerm_resource_group.this.id\n"
        "  log_analytics_workspace_id",
        "module aks gets acr_id = 'azurerm_resource_group.this.id'",
        id="widen-a-module-scope",
    ),
    pytest.param(
        "modules/identity/main.tf",
        "  scope                = each.value.scope",
        "  scope                = var.resource_group_name",
        "identity.this.scope = 'var.resource_group_name'",
        id="bypass-the-map-in-the-generic-assignment",
    ),
    pytest.param(
        "modules/aks/main.tf",
        '  role_definition_name = "AcrPull"',
        '  role_definition_name = "AcrPush"',
        "missing grant Grant(principal='aks:azurerm_user_assigned_identity.kubelet.principal_id'",
        id="swap-a-module-role",
    ),
    pytest.param(
        "envs/dev/main.tf",
        'workload = "durable", namespace = "keda", service_account = "keda-operator" }',
        'workload = "durable", namespace = "keda", service_account = "default" }',
        "unexpected subject ('workload:durable', 'aks-oidc-issuer', "
        "'system:serviceaccount:keda:default')",
        id="federate-the-durable-identity-with-another-account",
    ),
    pytest.param(
        "envs/dev/main.tf",
        "  additional_federations = local.durable_federations\n",
        "",
        "missing subject ('workload:durable', 'aks-oidc-issuer', "
        "'system:serviceaccount:keda:keda-operator')",
        id="drop-kedas-federation-with-the-durable-identity",
    ),
    pytest.param(
        "envs/dev/main.tf",
        "secrets_officer_principal_ids = local.key_vault_secrets_officers",
        "secrets_officer_principal_ids = { caller = data.azurerm_client_config.current.object_id }",
        "module keyvault gets secrets_officer_principal_ids",
        id="secrets-officer-follows-whoever-runs-terraform",
    ),
    pytest.param(
        "envs/dev/main.tf",
        '    { for m in module.github_oidc : "github-apply" => m.principal_ids["apply"] },\n',
        "",
        "local.key_vault_secrets_officers",
        id="ci-apply-cannot-write-the-secrets",
    ),
    pytest.param(
        "modules/keyvault/main.tf",
        "  principal_id         = each.value\n",
        "  principal_id         = each.key\n",
        "keyvault.secrets_officer.principal_id = 'each.key'",
        id="secrets-officer-granted-to-the-map-key",
    ),
]


@pytest.mark.parametrize(("path", "old", "new", "complaint"), MUTATIONS)
def test_access_check_notices_a_careless_change(
    tmp_path: Path, path: str, old: str, new: str, complaint: str
) -> None:
    copy = mutated_copy(tmp_path, path, old, new)
    problems = _access_problems(copy)
    assert any(complaint in p for p in problems), problems
