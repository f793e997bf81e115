output "id" {
  description = "Resource id of the logical server."
  value       = azurerm_mssql_server.this.id
}

output "fqdn" {
  description = "FQDN of the server (<name>.database.windows.net; resolves to the private endpoint inside the VNets)."
  value       = azurerm_mssql_server.this.fully_qualified_domain_name
}

output "database_name" {
  description = "Name of the task hub database."
  value       = azurerm_mssql_database.this.name
}

output "database_id" {
  description = "Resource id of the task hub database."
  value       = azurerm_mssql_database.this.id
}
