# Key Vault in RBAC mode with purge protection, reached by the cluster through
# a private endpoint. Terraform writes the application secrets (generated ones
# write-only, never in state); pods read them through the Key Vault CSI driver
# with their workload identity.

resource "azurerm_key_vault" "this" {
  #checkov:skip=CKV_AZURE_189:The public endpoint stays enabled but default-deny: only allowed_ip_ranges (the operator running Terraform, which writes the secrets) get through; the cluster uses the private endpoint.
  name                          = var.name
  location                      = var.location
  resource_group_name           = var.resource_group_name
  tenant_id                     = var.tenant_id
  sku_name                      = "standard"
  rbac_authorization_enabled    = true
  purge_protection_enabled      = true
  soft_delete_retention_days    = var.soft_delete_retention_days
  public_network_access_enabled = true
  tags                          = var.tags

  network_acls {
    default_action = "Deny"
    bypass         = "AzureServices"
    ip_rules       = var.allowed_ip_ranges
  }
}

# The identity running Terraform writes (and on destroy deletes) the secrets.
resource "azurerm_role_assignment" "secrets_officer" {
  scope                = azurerm_key_vault.this.id
  role_definition_name = "Key Vault Secrets Officer"
  principal_id         = var.secrets_officer_principal_id
}

resource "azurerm_key_vault_secret" "this" {
  #checkov:skip=CKV_AZURE_41:Secrets are rotated by Terraform (new random value / new client secret) and re-read by the CSI driver; a hard expiry would make Key Vault refuse reads and break running pods.
  for_each = var.secret_names

  name         = each.key
  value        = var.secret_values[each.key]
  key_vault_id = azurerm_key_vault.this.id
  content_type = "text/plain"
  tags         = var.tags

  depends_on = [azurerm_role_assignment.secrets_officer]
}

# Passwords only the cluster needs (the apps' Postgres logins): generated here and written
# write-only, so neither the value nor anything derived from it is in the plan or the state.
# An ephemeral random_password (hashicorp/random >= 3.7.1) is a new value on every run; Key Vault
# receives it only when value_wo_version changes (first apply, then each rotation: raise
# generated_secrets_version). Write-only arguments need Terraform >= 1.11
# (https://developer.hashicorp.com/terraform/language/resources/ephemeral/write-only).
ephemeral "random_password" "generated" {
  for_each = var.generated_secret_names

  length           = 32
  special          = true
  override_special = "-_.~"
  min_lower        = 2
  min_upper        = 2
  min_numeric      = 2
}

resource "azurerm_key_vault_secret" "generated" {
  #checkov:skip=CKV_AZURE_41:Rotated by raising generated_secrets_version; the migration Job sets the new password in Postgres and a hard expiry would break running pods.
  for_each = var.generated_secret_names

  name             = each.key
  value_wo         = ephemeral.random_password.generated[each.key].result
  value_wo_version = var.generated_secrets_version
  key_vault_id     = azurerm_key_vault.this.id
  content_type     = "text/plain"
  tags             = var.tags

  depends_on = [azurerm_role_assignment.secrets_officer]
}

resource "azurerm_private_endpoint" "this" {
  name                = "pe-${var.name}"
  location            = var.location
  resource_group_name = var.resource_group_name
  subnet_id           = var.private_endpoint_subnet_id
  tags                = var.tags

  private_service_connection {
    name                           = "psc-${var.name}"
    private_connection_resource_id = azurerm_key_vault.this.id
    subresource_names              = ["vault"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "default"
    private_dns_zone_ids = [var.private_dns_zone_id]
  }
}
