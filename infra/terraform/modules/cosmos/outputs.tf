output "id" {
  description = "Resource id of the account."
  value       = azurerm_cosmosdb_account.this.id
}

output "name" {
  description = "Name of the account."
  value       = azurerm_cosmosdb_account.this.name
}

output "endpoint" {
  description = "Document endpoint, e.g. https://<name>.documents.azure.com:443/."
  value       = azurerm_cosmosdb_account.this.endpoint
}

output "database_name" {
  description = "Name of the SQL database."
  value       = azurerm_cosmosdb_sql_database.this.name
}

output "database_scope" {
  description = "Data-plane scope of the database for azurerm_cosmosdb_sql_role_assignment (<account id>/dbs/<database>)."
  value       = "${azurerm_cosmosdb_account.this.id}/dbs/${azurerm_cosmosdb_sql_database.this.name}"
}

output "container_name" {
  description = "Name of the order events container."
  value       = azurerm_cosmosdb_sql_container.this.name
}

output "builtin_role_definition_ids" {
  description = "Ids of the built-in data-plane roles (reader = 00000000-0000-0000-0000-000000000001, contributor = ...002)."
  value = {
    data_reader      = "${azurerm_cosmosdb_account.this.id}/sqlRoleDefinitions/00000000-0000-0000-0000-000000000001"
    data_contributor = "${azurerm_cosmosdb_account.this.id}/sqlRoleDefinitions/00000000-0000-0000-0000-000000000002"
  }
}
