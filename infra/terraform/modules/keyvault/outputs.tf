output "id" {
  description = "Resource id of the vault."
  value       = azurerm_key_vault.this.id
}

output "name" {
  description = "Name of the vault (SecretProviderClass keyvaultName)."
  value       = azurerm_key_vault.this.name
}

output "uri" {
  description = "Vault URI, e.g. https://<name>.vault.azure.net/."
  value       = azurerm_key_vault.this.vault_uri
}

output "secret_resource_ids" {
  description = "Versionless ARM resource ids of the secrets keyed by name (scopes for per-secret role assignments)."
  value = merge(
    { for k, s in azurerm_key_vault_secret.this : k => s.resource_versionless_id },
    { for k, s in azurerm_key_vault_secret.write_only : k => s.resource_versionless_id },
  )
}
