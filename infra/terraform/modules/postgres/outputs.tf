output "id" {
  description = "Resource id of the server."
  value       = azurerm_postgresql_flexible_server.this.id
}

output "fqdn" {
  description = "Private FQDN of the server."
  value       = azurerm_postgresql_flexible_server.this.fqdn
}

output "administrator_login" {
  description = "Administrator login name."
  value       = azurerm_postgresql_flexible_server.this.administrator_login
}

output "database_names" {
  description = "Names of the databases created on the server."
  value       = sort([for d in azurerm_postgresql_flexible_server_database.this : d.name])
}
