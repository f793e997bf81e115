# Cosmos DB for NoSQL: Entra-only data plane (local/key auth disabled),
# private endpoint only, database tinyshop / container order-events.

resource "azurerm_cosmosdb_account" "this" {
  #checkov:skip=CKV_AZURE_140:False positive: local (key) auth IS disabled via local_authentication_enabled = false; the check only knows the deprecated local_authentication_disabled argument.
  #checkov:skip=CKV_AZURE_100:Encryption at rest uses Microsoft-managed keys; a customer-managed key needs a Key Vault key + identity lifecycle this reference does not need.
  name                               = var.name
  location                           = var.location
  resource_group_name                = var.resource_group_name
  offer_type                         = "Standard"
  kind                               = "GlobalDocumentDB"
  local_authentication_enabled       = false
  access_key_metadata_writes_enabled = false
  public_network_access_enabled      = false
  minimal_tls_version                = "Tls12"
  automatic_failover_enabled         = false
  tags                               = var.tags

  consistency_policy {
    consistency_level = "Session"
  }

  geo_location {
    location          = var.location
    failover_priority = 0
    zone_redundant    = false
  }

  dynamic "capabilities" {
    for_each = var.serverless ? ["EnableServerless"] : []

    content {
      name = capabilities.value
    }
  }

  backup {
    type = "Continuous"
    tier = "Continuous7Days"
  }
}

resource "azurerm_cosmosdb_sql_database" "this" {
  name                = var.database_name
  resource_group_name = var.resource_group_name
  account_name        = azurerm_cosmosdb_account.this.name
}

resource "azurerm_cosmosdb_sql_container" "this" {
  name                  = var.container_name
  resource_group_name   = var.resource_group_name
  account_name          = azurerm_cosmosdb_account.this.name
  database_name         = azurerm_cosmosdb_sql_database.this.name
  partition_key_paths   = [var.partition_key_path]
  partition_key_kind    = "Hash"
  partition_key_version = 2

  indexing_policy {
    indexing_mode = "consistent"

    included_path {
      path = "/*"
    }
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
    private_connection_resource_id = azurerm_cosmosdb_account.this.id
    subresource_names              = ["Sql"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "default"
    private_dns_zone_ids = [var.private_dns_zone_id]
  }
}
