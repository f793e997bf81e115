output "id" {
  description = "Resource id of the registry."
  value       = azurerm_container_registry.this.id
}

output "name" {
  description = "Name of the registry."
  value       = azurerm_container_registry.this.name
}

output "login_server" {
  description = "Login server of the registry (image prefix, e.g. <name>.azurecr.io)."
  value       = azurerm_container_registry.this.login_server
}

output "cache_repositories" {
  description = "Target repositories of the cache rules keyed by rule name (image repository = <login server>/<target>)."
  value       = { for k, r in azurerm_container_registry_cache_rule.this : k => r.target_repo }
}
