# Azure SQL for the Durable Functions task hub (the Microsoft SQL storage
# provider, docs/infra.md "Durable task hub"): a logical server that accepts
# Microsoft Entra authentication only and no public traffic, one serverless
# database that pauses when the shop is idle, a private endpoint in the
# spoke's private-endpoint subnet, and server auditing to Log Analytics.
#
# The Entra administrator is the migration Jobs' workload identity (tinyshop/
# migrations), not a person or a group: the chart's durable-sql-grants Job
# logs in as it to create the task hub's database user. A user-assigned
# identity is a single principal whose only federated subject is that
# ServiceAccount, it needs no Entra group (whose membership would be managed
# outside this configuration), and no human holds standing admin rights.
#
# Sources: azurerm 4.79.0 azurerm_mssql_server / azurerm_mssql_database
# (schema vendored in schemas/terraform); serverless compute tier
# (https://learn.microsoft.com/azure/azure-sql/database/serverless-tier-overview):
# GP_S_Gen5_<max vCores>, min_capacity >= 0.5 vCores, auto-pause delay >= 15
# minutes (-1 disables it); Entra-only authentication
# (https://learn.microsoft.com/azure/azure-sql/database/authentication-azure-ad-only-authentication).

resource "azurerm_mssql_server" "this" {
  #checkov:skip=CKV_AZURE_24:Audit records go to Log Analytics (azurerm_mssql_server_extended_auditing_policy.this), whose workspace retention applies; the storage-account retention this check reads is not used.
  #checkov:skip=CKV2_AZURE_2:Vulnerability assessment needs Microsoft Defender for SQL (a paid plan) and a storage account for its scans, for a server that holds only the task hub's orchestration state; enable Defender for production.
  name                                 = var.name
  location                             = var.location
  resource_group_name                  = var.resource_group_name
  version                              = "12.0"
  minimum_tls_version                  = "1.2"
  public_network_access_enabled        = false
  outbound_network_restriction_enabled = true
  # Proxy: every connection goes through the gateway on 1433 (Redirect would need
  # 11000-11999 to the database nodes behind the private endpoint as well).
  connection_policy = "Proxy"
  tags              = var.tags

  azuread_administrator {
    login_username              = var.entra_admin_login
    object_id                   = var.entra_admin_object_id
    tenant_id                   = var.tenant_id
    azuread_authentication_only = true
  }
}

resource "azurerm_mssql_database" "this" {
  #checkov:skip=CKV_AZURE_224:Ledger makes the task hub's tables append-only history; the provider updates and purges its rows, which a ledger table would keep forever.
  #checkov:skip=CKV_AZURE_229:Zone redundancy is a production choice (var.zone_redundant); the dev task hub is disposable orchestration state.
  name      = var.database_name
  server_id = azurerm_mssql_server.this.id
  # The Durable Task SQL provider's preferred collation: binary, so task hub
  # names and instance ids compare exactly (microsoft/durabletask-mssql
  # docs/taskhubs.md, "Case sensitivity").
  collation                   = "Latin1_General_100_BIN2_UTF8"
  sku_name                    = var.sku_name
  min_capacity                = var.min_capacity
  auto_pause_delay_in_minutes = var.auto_pause_delay_in_minutes
  max_size_gb                 = var.max_size_gb
  zone_redundant              = var.zone_redundant
  storage_account_type        = var.backup_storage_redundancy
  tags                        = var.tags

  short_term_retention_policy {
    retention_days = var.backup_retention_days
  }
}

resource "azurerm_private_endpoint" "this" {
  name                = "pe-${var.name}"
  location            = var.location
  resource_group_name = var.resource_group_name
  subnet_id           = var.private_endpoint_subnet_id
  tags                = var.tags

  private_service_connection {
    name                           = "psc-${var.name}"
    private_connection_resource_id = azurerm_mssql_server.this.id
    subresource_names              = ["sqlServer"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "default"
    private_dns_zone_ids = [var.private_dns_zone_id]
  }
}

# Server auditing to Azure Monitor: log_monitoring_enabled sends the audit
# records through the master database's diagnostic setting below
# (azurerm_mssql_server_extended_auditing_policy, "log_monitoring_enabled").
resource "azurerm_mssql_server_extended_auditing_policy" "this" {
  server_id              = azurerm_mssql_server.this.id
  log_monitoring_enabled = true
}

resource "azurerm_monitor_diagnostic_setting" "audit" {
  name                       = "audit-to-log-analytics"
  target_resource_id         = "${azurerm_mssql_server.this.id}/databases/master"
  log_analytics_workspace_id = var.log_analytics_workspace_id

  enabled_log {
    category = "SQLSecurityAuditEvents"
  }
}
