# Postgres Flexible Server with private access (VNet injection into a
# delegated subnet + private DNS zone) and the application databases
# (default catalog/orders; envs/dev adds ui for the shopper UI's sessions).

resource "azurerm_postgresql_flexible_server" "this" {
  #checkov:skip=CKV2_AZURE_57:The server uses private access (VNet injection into a delegated subnet + private DNS zone), the alternative to a private endpoint; public access is disabled.
  #checkov:skip=CKV_AZURE_136:Geo-redundant backups are a production decision (and unavailable in some regions); dev keeps locally redundant backups for backup_retention_days.
  name                          = var.name
  location                      = var.location
  resource_group_name           = var.resource_group_name
  version                       = var.postgres_version
  sku_name                      = var.sku_name
  storage_mb                    = var.storage_mb
  auto_grow_enabled             = true
  backup_retention_days         = var.backup_retention_days
  geo_redundant_backup_enabled  = false
  zone                          = var.zone
  delegated_subnet_id           = var.delegated_subnet_id
  private_dns_zone_id           = var.private_dns_zone_id
  public_network_access_enabled = false
  administrator_login           = var.administrator_login
  # Write-only (Terraform >= 1.11): the password is sent to Azure but never
  # stored in plan or state; it is sent again only when the version changes.
  administrator_password_wo         = var.administrator_password
  administrator_password_wo_version = var.administrator_password_version
  tags                              = var.tags

  authentication {
    active_directory_auth_enabled = true
    password_auth_enabled         = true
    tenant_id                     = var.tenant_id
  }

  lifecycle {
    # Azure may move the server to the standby zone after a failover.
    ignore_changes = [zone]
  }
}

# One change at a time on the server: parallel configuration/database
# operations on one Flexible Server fail intermittently with ServerBusy. The
# configurations form an explicit depends_on chain and the databases come after
# the last one. Instances of one for_each cannot be ordered by Terraform; the
# azurerm provider serialises them itself (its database Create takes a lock on
# the server name: internal/services/postgres/
# postgresql_flexible_server_database_resource.go, locks.ByName).
resource "azurerm_postgresql_flexible_server_database" "this" {
  for_each = var.databases

  name      = each.key
  server_id = azurerm_postgresql_flexible_server.this.id
  charset   = "UTF8"
  collation = "en_US.utf8"

  depends_on = [azurerm_postgresql_flexible_server_configuration.connection_throttling]
}

# TLS is enforced (the server default, pinned here so drift is visible).
resource "azurerm_postgresql_flexible_server_configuration" "require_secure_transport" {
  name      = "require_secure_transport"
  server_id = azurerm_postgresql_flexible_server.this.id
  value     = "on"
}

resource "azurerm_postgresql_flexible_server_configuration" "log_connections" {
  name      = "log_connections"
  server_id = azurerm_postgresql_flexible_server.this.id
  value     = "on"

  depends_on = [azurerm_postgresql_flexible_server_configuration.require_secure_transport]
}

resource "azurerm_postgresql_flexible_server_configuration" "log_checkpoints" {
  name      = "log_checkpoints"
  server_id = azurerm_postgresql_flexible_server.this.id
  value     = "on"

  depends_on = [azurerm_postgresql_flexible_server_configuration.log_connections]
}

resource "azurerm_postgresql_flexible_server_configuration" "connection_throttling" {
  name      = "connection_throttle.enable"
  server_id = azurerm_postgresql_flexible_server.this.id
  value     = "on"

  depends_on = [azurerm_postgresql_flexible_server_configuration.log_checkpoints]
}
