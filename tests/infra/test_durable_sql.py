"""The durable task hub's Azure SQL is private and Entra-only, its administrator is the
migration Jobs' identity, and the durable identity holds no Azure role (docs/infra.md, "Durable
task hub"). Read from the parsed HCL; each rule has a mutation test that re-creates a careless
change on a copy of infra/terraform and sees the check fail.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tf_access import env_module, expr, parse_dir, resources, role_matrix
from tf_mutation import TF_DIR, mutated_copy


def sql_problems(tf: Path) -> list[str]:
    """Everything that differs from the durable task hub's security rules."""
    problems: list[str] = []
    module = parse_dir(tf / "modules" / "sql")
    server = resources(module, "azurerm_mssql_server")["this"]
    expected = {
        "public_network_access_enabled": "False",
        "minimum_tls_version": "1.2",
        "connection_policy": "Proxy",
    }
    for argument, value in expected.items():
        if str(server.get(argument)) != value:
            problems.append(f"azurerm_mssql_server.{argument} = {server.get(argument)!r}")
    for secret in ("administrator_login_password", "administrator_login_password_wo"):
        if secret in server:
            problems.append(f"azurerm_mssql_server sets {secret}: Entra-only has no password")
    [admin] = server.get("azuread_administrator", [{}])
    if str(admin.get("azuread_authentication_only")) != "True":
        problems.append("azurerm_mssql_server accepts SQL authentication")
    for endpoint in resources(module, "azurerm_private_endpoint").values():
        [connection] = endpoint["private_service_connection"]
        if connection["subresource_names"] != ["sqlServer"]:
            problems.append(f"private endpoint for {connection['subresource_names']}")
    sql = env_module(tf, "sql")
    if expr(sql.get("entra_admin_object_id")) != 'module.identity.principal_ids["migrations"]':
        problems.append(f"the SQL admin is {expr(sql.get('entra_admin_object_id'))}")
    if expr(sql.get("private_dns_zone_id")) != 'module.network.private_dns_zone_ids["sql"]':
        problems.append("the private endpoint is not in the privatelink.database zone")
    if any(g.principal == "workload:durable" for g in role_matrix(tf)):
        problems.append("the durable identity holds an Azure role")
    return problems


def test_the_task_hub_database_is_private_entra_only_and_administered_by_migrations() -> None:
    assert sql_problems(TF_DIR) == []


MUTATIONS = [
    pytest.param(
        "modules/sql/main.tf",
        "public_network_access_enabled        = false",
        "public_network_access_enabled        = true",
        "public_network_access_enabled",
        id="public-endpoint",
    ),
    pytest.param(
        "modules/sql/main.tf",
        "azuread_authentication_only = true",
        "azuread_authentication_only = false",
        "accepts SQL authentication",
        id="sql-authentication",
    ),
    pytest.param(
        "envs/dev/main.tf",
        'entra_admin_object_id       = module.identity.principal_ids["migrations"]',
        'entra_admin_object_id       = module.identity.principal_ids["worker"]',
        "the SQL admin is module.identity.principal_ids",
        id="the-worker-administers-sql",
    ),
    pytest.param(
        "envs/dev/main.tf",
        """    worker-storage-blob-owner = {
      workload             = "worker\"""",
        """    worker-storage-blob-owner = {
      workload             = "durable\"""",
        "the durable identity holds an Azure role",
        id="durable-identity-gets-a-role",
    ),
]


@pytest.mark.parametrize(("path", "old", "new", "complaint"), MUTATIONS)
def test_the_sql_check_notices_a_careless_change(
    tmp_path: Path, path: str, old: str, new: str, complaint: str
) -> None:
    copy = mutated_copy(tmp_path, path, old, new)
    assert any(complaint in p for p in sql_problems(copy)), sql_problems(copy)
