"""The first `terraform apply` succeeds and leaves a working environment (issue: "Terraform that
applies on the first try"). Each rule is read from the parsed HCL; a mutation test per rule
edits a copy of infra/terraform the way the original mistake looked and sees the check fail.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from tf_access import blocks, expr, locals_of, parse_dir, resources
from tf_mutation import TF_DIR, mutated_copy

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "schemas" / "terraform"
TERRAFORM_WORKFLOW = REPO / ".github" / "workflows" / "terraform.yml"


def _deps(body: dict[str, Any]) -> set[str]:
    return {expr(d) for d in body.get("depends_on", [])}


# ------------------------------------------------------------------ ordering ----


def key_vault_waits_for_rbac(tf: Path) -> list[str]:
    """Secrets are written only after a time_sleep that follows the Secrets Officer grant."""
    kv = parse_dir(tf / "modules" / "keyvault")
    problems = []
    sleep = resources(kv, "time_sleep").get("rbac_propagation")
    if sleep is None:
        return ["modules/keyvault has no time_sleep.rbac_propagation"]
    triggers = json.dumps(sleep.get("triggers", {}))
    if "azurerm_role_assignment.secrets_officer" not in triggers:
        problems.append("time_sleep.rbac_propagation is not triggered by the Secrets Officer grant")
    for name, secret in resources(kv, "azurerm_key_vault_secret").items():
        if "time_sleep.rbac_propagation" not in _deps(secret):
            problems.append(f"azurerm_key_vault_secret.{name} does not wait for RBAC propagation")
    return problems


def postgres_changes_are_serial(tf: Path) -> list[str]:
    """Configurations form one depends_on chain; the databases come after its end."""
    pg = parse_dir(tf / "modules" / "postgres")
    prefix = "azurerm_postgresql_flexible_server_configuration."
    configs = resources(pg, "azurerm_postgresql_flexible_server_configuration")
    after = {
        name: {d.removeprefix(prefix) for d in _deps(body) if d.startswith(prefix)}
        for name, body in configs.items()
    }
    problems = []
    roots = [n for n, d in after.items() if not d]
    if len(roots) != 1:
        problems.append(f"configurations start {len(roots)} parallel chains: {sorted(roots)}")
    followers = [d for deps in after.values() for d in deps]
    if any(followers.count(n) > 1 for n in configs):
        problems.append("two configurations wait for the same one (they would run in parallel)")
    ends = [n for n in configs if n not in followers]
    for name, db in resources(pg, "azurerm_postgresql_flexible_server_database").items():
        if not any(prefix + end in _deps(db) for end in ends):
            problems.append(f"database {name} does not wait for the last configuration")
    return problems


def aks_subnet_waits_for_egress(tf: Path) -> list[str]:
    """Nodes may only boot once the route, DNS proxy and allow-list exist."""
    network = parse_dir(tf / "modules" / "network")
    output = blocks(network, "output")["aks_subnet_id"]
    needed = {
        "azurerm_subnet_route_table_association.aks",
        "azurerm_firewall_policy_rule_collection_group.aks",
        "azurerm_virtual_network_dns_servers.spoke",
    }
    problems = [f"aks_subnet_id does not depend on {n}" for n in sorted(needed - _deps(output))]
    dns = resources(network, "azurerm_virtual_network_dns_servers").get("spoke", {})
    if expr(dns.get("dns_servers", [""])[0]) != (
        "azurerm_firewall.this.ip_configuration[0].private_ip_address"
    ):
        problems.append("the spoke does not resolve through the firewall's DNS proxy")
    aks = blocks(parse_dir(tf / "envs" / "dev"), "module")["aks"]
    if expr(aks["subnet_id"]) != "module.network.aks_subnet_id":
        problems.append("module aks does not take the subnet from module.network.aks_subnet_id")
    return problems


# ----------------------------------------------------------- inputs & tenants ----


def required_lists_are_validated(tf: Path) -> list[str]:
    """operator_ip_ranges and the AKS admin groups can be neither empty nor defaulted."""
    problems = []
    env = blocks(parse_dir(tf / "envs" / "dev"), "variable")
    for name in ("operator_ip_ranges", "aks_admin_group_object_ids"):
        body = env[name]
        conditions = [expr(v["condition"]) for v in body.get("validation", [])]
        if "default" in body:
            problems.append(f"{name} has a default")
        if f"length(var.{name}) > 0" not in conditions:
            problems.append(f"{name} may be empty")
    return problems


def providers_name_their_tenant(tf: Path, workflow: Path) -> list[str]:
    """Every Entra-authenticated provider names its tenant; the external tenant's CI app id
    reaches only azuread.external (a Terraform variable), never an ARM_* variable."""
    problems = []
    for entry in parse_dir(tf / "envs" / "dev").get("provider", []):
        for name, body in entry.items():
            if name in {"azurerm", "azuread"} and "tenant_id" not in body:
                problems.append(f"provider {name} {body.get('alias', '')} has no tenant_id")
            if name == "azuread":
                if expr(body.get("tenant_id")) != "var.external_tenant_id":
                    problems.append("azuread.external is not pinned to the external tenant")
                if expr(body.get("client_id")) != "var.external_tenant_client_id":
                    problems.append("azuread.external does not use its own client id")
    flow = yaml.safe_load(workflow.read_text(encoding="utf-8"))
    envs = [flow.get("env", {})] + [job.get("env", {}) for job in flow["jobs"].values()]
    for env in envs:
        for key, value in env.items():
            if key.startswith("ARM_") and "EXTERNAL" in str(value):
                problems.append(f"{key} carries the external tenant's credentials")
    top = flow.get("env", {})
    if top.get("TF_VAR_external_tenant_client_id") != "${{ vars.EXTERNAL_TENANT_CLIENT_ID }}":
        problems.append("the workflow does not pass TF_VAR_external_tenant_client_id")
    if top.get("TF_VAR_tenant_id") != top.get("ARM_TENANT_ID"):
        problems.append("TF_VAR_tenant_id is not the workforce tenant of ARM_TENANT_ID")
    return problems


def _max_length(variable: dict[str, Any]) -> int:
    """Longest value a `^[a-z][a-z0-9]{m,n}$` validation admits."""
    for validation in variable["validation"]:
        found = re.search(r"\{(\d+),(\d+)\}\$", expr(validation["condition"]))
        if found:
            return 1 + int(found.group(2))
    raise AssertionError("no length-bounded regex validation")


def longest_names_fit(tf: Path) -> list[str]:
    """The longest workload/environment still give names that pass each module's validation."""
    env = parse_dir(tf / "envs" / "dev")
    variables = blocks(env, "variable")
    suffix_length = resources(env, "random_string")["suffix"]["length"]
    fill = {
        "${var.workload}": "w" * _max_length(variables["workload"]),
        "${var.environment}": "e" * _max_length(variables["environment"]),
        "${local.unique}": "u" * suffix_length,
    }
    names = locals_of(env)["names"]
    checks = {"key_vault": "keyvault", "storage": "storage", "acr": "acr"}
    problems = []
    for key, module in checks.items():
        name = names[key]
        for placeholder, value in fill.items():
            name = name.replace(placeholder, value)
        rule = blocks(parse_dir(tf / "modules" / module), "variable")["name"]["validation"][0]
        pattern = re.search(r'regex\("(.+?)", var\.name\)', expr(rule["condition"])).group(1)
        if not re.fullmatch(pattern.replace("\\\\", "\\"), name):
            problems.append(f"{key} name {name!r} ({len(name)} chars) fails modules/{module}")
    return problems


# ---------------------------------------------------------- secrets & state ----


def secrets_stay_out_of_state(tf: Path) -> list[str]:
    """Generated secrets are ephemeral and reach Azure only through write-only arguments."""
    problems = []
    env = parse_dir(tf / "envs" / "dev")
    if resources(env, "random_password"):
        problems.append("envs/dev stores a random_password in state (use ephemeral)")
    schema = json.loads((SCHEMAS / "azurerm-4.79.0.json").read_text(encoding="utf-8"))
    used = {
        ("modules/keyvault", "azurerm_key_vault_secret", "write_only", "value_wo"),
        (
            "modules/postgres",
            "azurerm_postgresql_flexible_server",
            "this",
            "administrator_password_wo",
        ),
    }
    for path, type_name, name, argument in used:
        body = resources(parse_dir(tf / path), type_name).get(name, {})
        attributes = schema["resource_schemas"][type_name]["block"]["attributes"]
        if argument not in body:
            problems.append(f"{type_name}.{name} does not use {argument}")
        if not attributes[argument].get("write_only"):
            problems.append(f"{argument} is not write-only in azurerm 4.79.0")
        if argument.removesuffix("_wo") in body:
            problems.append(f"{type_name}.{name} also sets {argument.removesuffix('_wo')}")
    for block in env.get("terraform", []):
        for backend in block.get("backend", []):
            if "azurerm" not in backend or backend["azurerm"].get("use_azuread_auth") is not True:
                problems.append("state is not in the azurerm backend with Entra auth")
    return problems


def container_insights_has_a_dcr(tf: Path) -> list[str]:
    aks = parse_dir(tf / "modules" / "aks")
    association = resources(aks, "azurerm_monitor_data_collection_rule_association")
    dcr = resources(aks, "azurerm_monitor_data_collection_rule").get("container_insights")
    problems = []
    if dcr is None or not association:
        return ["no Container Insights data collection rule + association"]
    (assoc,) = association.values()
    if expr(assoc["target_resource_id"]) != "azurerm_kubernetes_cluster.this.id":
        problems.append("the DCR is not associated with the cluster")
    extension = dcr["data_sources"][0]["extension"][0]
    if extension["extension_name"] != "ContainerInsights":
        problems.append("the DCR has no ContainerInsights extension")
    return problems


# Microsoft's AKS egress doc and the AKS baseline (cited next to the rules in
# modules/network/main.tf): what the cluster's own add-ons and GitOps need ...
REQUIRED_EGRESS = {
    "tag:AzureKubernetesService",  # AKS required FQDNs (control plane, MCR, packages)
    "login.microsoftonline.com",  # workload identity token exchange
    "data.policy.core.windows.net",  # Azure Policy add-on
    "store.policy.core.windows.net",
    "dc.services.visualstudio.com",  # Container Insights
    "global.handler.control.monitor.azure.com",
    "*.ingest.monitor.azure.com",
    "github.com",  # GitOps source
    "release-assets.githubusercontent.com",  # Helm chart release assets
}
# ... and what stays closed: images come through ACR cache rules.
FORBIDDEN_EGRESS = {
    "registry-1.docker.io",
    "auth.docker.io",
    "production.cloudflare.docker.com",
    "raw.githubusercontent.com",
    "*.githubusercontent.com",
    "registry.k8s.io",
    "quay.io",
    "*",
}
EGRESS_SOURCES = (
    "https://learn.microsoft.com/azure/aks/outbound-rules-control-egress",
    "https://github.com/mspnp/aks-baseline",
)


def egress_follows_the_docs(tf: Path) -> list[str]:
    """The allow-list holds what AKS needs, cites where that comes from, and nothing wider."""
    network = parse_dir(tf / "modules" / "network")
    default_fqdns = blocks(network, "variable")["allowed_egress_fqdns"]["default"]
    group = resources(network, "azurerm_firewall_policy_rule_collection_group")["aks"]
    allowed: set[str] = set()
    for collection in group.get("application_rule_collection", []):
        for rule in collection.get("rule", []):
            allowed.update(f"tag:{t}" for t in rule.get("destination_fqdn_tags", []))
            fqdns = rule.get("destination_fqdns", [])
            if isinstance(fqdns, str):  # an expression: only the variable is expected here
                assert expr(fqdns) == "var.allowed_egress_fqdns", fqdns
                fqdns = default_fqdns
            allowed.update(expr(f) for f in fqdns)
    problems = [f"egress misses {f}" for f in sorted(REQUIRED_EGRESS - allowed)]
    problems += [f"egress opens {f}" for f in sorted(FORBIDDEN_EGRESS & allowed)]
    text = (tf / "modules" / "network" / "main.tf").read_text(encoding="utf-8")
    problems += [f"the rules do not cite {url}" for url in EGRESS_SOURCES if url not in text]
    return problems


CHECKS: dict[str, Callable[[Path], list[str]]] = {
    "egress_follows_the_docs": egress_follows_the_docs,
    "key_vault_waits_for_rbac": key_vault_waits_for_rbac,
    "postgres_changes_are_serial": postgres_changes_are_serial,
    "aks_subnet_waits_for_egress": aks_subnet_waits_for_egress,
    "required_lists_are_validated": required_lists_are_validated,
    "longest_names_fit": longest_names_fit,
    "secrets_stay_out_of_state": secrets_stay_out_of_state,
    "container_insights_has_a_dcr": container_insights_has_a_dcr,
}


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_the_configuration_is_ready_to_apply(check: str) -> None:
    assert CHECKS[check](TF_DIR) == []


def test_providers_name_their_tenant() -> None:
    assert providers_name_their_tenant(TF_DIR, TERRAFORM_WORKFLOW) == []


MUTATIONS = [
    pytest.param(
        "egress_follows_the_docs",
        "modules/network/variables.tf",
        '    "github.com",\n',
        '    "github.com",\n    "registry-1.docker.io",\n',
        id="docker-hub-opened",
    ),
    pytest.param(
        "egress_follows_the_docs",
        "modules/network/main.tf",
        'destination_fqdns = ["data.policy.core.windows.net", "store.policy.core.windows.net"]',
        'destination_fqdns = ["store.policy.core.windows.net"]',
        id="azure-policy-data-plane-missing",
    ),
    pytest.param(
        "key_vault_waits_for_rbac",
        "modules/keyvault/main.tf",
        '  depends_on = [time_sleep.rbac_propagation]\n}\n\nresource "azurerm_private_endpoint"',
        "  depends_on = [azurerm_role_assignment.secrets_officer]\n}\n\n"
        'resource "azurerm_private_endpoint"',
        id="secret-written-right-after-the-grant",
    ),
    pytest.param(
        "postgres_changes_are_serial",
        "modules/postgres/main.tf",
        "  depends_on = [azurerm_postgresql_flexible_server_configuration.log_connections]\n",
        "",
        id="configurations-in-parallel",
    ),
    pytest.param(
        "postgres_changes_are_serial",
        "modules/postgres/main.tf",
        "  depends_on = [azurerm_postgresql_flexible_server_configuration.connection_throttling]\n",
        "",
        id="databases-beside-configurations",
    ),
    pytest.param(
        "aks_subnet_waits_for_egress",
        "modules/network/outputs.tf",
        "    azurerm_firewall_policy_rule_collection_group.aks,\n",
        "",
        id="nodes-boot-before-the-allow-list",
    ),
    pytest.param(
        "required_lists_are_validated",
        "envs/dev/variables.tf",
        "    condition     = length(var.operator_ip_ranges) > 0\n",
        "    condition     = length(var.operator_ip_ranges) >= 0\n",
        id="operator-ip-ranges-may-be-empty",
    ),
    pytest.param(
        "longest_names_fit",
        "envs/dev/variables.tf",
        'regex("^[a-z][a-z0-9]{1,8}$", var.workload)',
        'regex("^[a-z][a-z0-9]{1,9}$", var.workload)',
        id="key-vault-name-off-by-one",
    ),
    pytest.param(
        "secrets_stay_out_of_state",
        "envs/dev/main.tf",
        'ephemeral "random_password" "flask_secret_key" {',
        'resource "random_password" "flask_secret_key" {',
        id="generated-secret-in-state",
    ),
    pytest.param(
        "secrets_stay_out_of_state",
        "modules/postgres/main.tf",
        "  administrator_password_wo         = var.administrator_password\n",
        "  administrator_password            = var.administrator_password\n",
        id="admin-password-stored",
    ),
    pytest.param(
        "container_insights_has_a_dcr",
        "modules/aks/main.tf",
        "  target_resource_id      = azurerm_kubernetes_cluster.this.id\n",
        "  target_resource_id      = var.log_analytics_workspace_id\n",
        id="dcr-not-associated",
    ),
]


@pytest.mark.parametrize(("check", "path", "old", "new"), MUTATIONS)
def test_each_readiness_check_notices_the_original_mistake(
    tmp_path: Path, check: str, path: str, old: str, new: str
) -> None:
    assert CHECKS[check](mutated_copy(tmp_path, path, old, new)) != []


@pytest.mark.parametrize(
    ("path", "old", "new"),
    [
        ("envs/dev/providers.tf", "  tenant_id           = var.tenant_id\n", ""),
        ("envs/dev/providers.tf", "  client_id = var.external_tenant_client_id\n", ""),
    ],
    ids=["azurerm-follows-the-cli-tenant", "azuread-external-without-own-app"],
)
def test_tenant_check_notices_a_provider_without_tenant(
    tmp_path: Path, path: str, old: str, new: str
) -> None:
    copy = mutated_copy(tmp_path, path, old, new)
    assert providers_name_their_tenant(copy, TERRAFORM_WORKFLOW) != []


def test_tenant_check_notices_external_credentials_in_arm_variables(tmp_path: Path) -> None:
    text = TERRAFORM_WORKFLOW.read_text(encoding="utf-8")
    old = "      ARM_CLIENT_ID: ${{ vars.AZURE_CLIENT_ID_TF_PLAN }}"
    assert old in text
    workflow = tmp_path / "terraform.yml"
    workflow.write_text(
        text.replace(old, "      ARM_CLIENT_ID: ${{ vars.EXTERNAL_TENANT_CLIENT_ID }}"),
        encoding="utf-8",
    )
    assert providers_name_their_tenant(TF_DIR, workflow) != []


# ------------------------------------------------------- the ACR push path ----

IMAGES_WORKFLOW = REPO / ".github" / "workflows" / "images.yml"


def acr_push_path_problems(tf: Path, workflow_text: str) -> list[str]:
    """Terraform and the images workflow agree on one path: a closed registry that the build
    identity opens for its runner's IP only, pushes, and always closes again."""
    problems = []
    env_vars = blocks(parse_dir(tf / "envs" / "dev"), "variable")
    if env_vars["acr_public_network_access_enabled"].get("default") is not False:
        problems.append("the registry's public endpoint is not closed by default")
    github = parse_dir(tf / "modules" / "github_oidc")
    role = resources(github, "azurerm_role_definition").get("acr_network_rule_editor", {})
    actions = sorted(role.get("permissions", [{}])[0].get("actions", []))
    if actions != [
        "Microsoft.ContainerRegistry/registries/read",
        "Microsoft.ContainerRegistry/registries/write",
    ]:
        problems.append(f"the network-rule role grants {actions}")
    job = yaml.safe_load(workflow_text)["jobs"]["build"]
    if job["strategy"].get("max-parallel") != 1:
        problems.append("pushes run in parallel: one job's close cuts off another's push")
    steps = job["steps"]
    runs = [str(s.get("run", "")) for s in steps]
    opened = next((i for i, r in enumerate(runs) if "az acr network-rule add" in r), None)
    pushed = max(
        (i for i, s in enumerate(steps) if s.get("with", {}).get("push") is True), default=None
    )
    closed = next((i for i, r in enumerate(runs) if "--public-network-enabled false" in r), None)
    if None in (opened, pushed, closed) or not opened < pushed < closed:
        return [*problems, "the workflow does not open, push, then close the registry"]
    if not str(steps[closed].get("if", "")).startswith("always()"):
        problems.append("closing the registry does not run always()")
    if "--default-action Deny" not in runs[opened]:
        problems.append("the public endpoint is opened without default action Deny")
    return problems


def test_terraform_and_the_images_workflow_agree_on_the_acr_push_path() -> None:
    assert acr_push_path_problems(TF_DIR, IMAGES_WORKFLOW.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("if: always() && steps.open.outcome != 'skipped'", "if: success()"),
        ("      max-parallel: 1\n", ""),
        ("--default-action Deny", "--default-action Allow"),
    ],
    ids=["close-only-on-success", "parallel-pushes", "open-to-everyone"],
)
def test_acr_push_path_check_notices_a_leaky_window(old: str, new: str) -> None:
    text = IMAGES_WORKFLOW.read_text(encoding="utf-8")
    assert text.count(old) == 1
    assert acr_push_path_problems(TF_DIR, text.replace(old, new)) != []


def test_acr_push_path_check_notices_a_wider_role(tmp_path: Path) -> None:
    copy = mutated_copy(
        tmp_path,
        "modules/github_oidc/main.tf",
        '      "Microsoft.ContainerRegistry/registries/write",\n',
        '      "Microsoft.ContainerRegistry/registries/write",\n'
        '      "Microsoft.ContainerRegistry/*",\n',
    )
    text = IMAGES_WORKFLOW.read_text(encoding="utf-8")
    assert acr_push_path_problems(copy, text) != []


def cache_rule_defaults_problems(tf: Path) -> list[str]:
    """The default cache rules of envs/dev pass modules/acr's validation (names 5-50
    letters, digits, hyphens; sources <registry host>/<repository>)."""
    defaults = blocks(parse_dir(tf / "envs" / "dev"), "variable")["acr_cache_rules"]["default"]
    rule = blocks(parse_dir(tf / "modules" / "acr"), "variable")["cache_rules"]["validation"][0]
    name_re, source_re = re.findall(r'regex\("(.+?)", ', expr(rule["condition"]))
    problems = []
    for name, entry in defaults.items():
        if not re.fullmatch(name_re.replace("\\\\", "\\"), name):
            problems.append(f"cache rule name {name!r} fails modules/acr")
        if not re.match(source_re.replace("\\\\", "\\"), entry["source"]):
            problems.append(f"cache rule source {entry['source']!r} fails modules/acr")
        if not entry["target"].startswith("cache/"):
            problems.append(f"cache rule target {entry['target']!r} is not under cache/")
    return problems


def test_default_cache_rules_pass_the_module_validation() -> None:
    assert cache_rule_defaults_problems(TF_DIR) == []


def test_cache_rule_check_notices_a_short_name(tmp_path: Path) -> None:
    copy = mutated_copy(
        tmp_path,
        "envs/dev/variables.tf",
        "    kedacore          = {",
        "    keda              = {",
    )
    assert cache_rule_defaults_problems(copy) == ["cache rule name 'keda' fails modules/acr"]
