# Key Vault in RBAC mode with purge protection, reached by the cluster through
# a private endpoint. Terraform writes the application secrets; pods read them
# through the Key Vault CSI driver with their workload identity.

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

# The principals that run Terraform write (and on destroy delete) the secrets.
resource "azurerm_role_assignment" "secrets_officer" {
  for_each = var.secrets_officer_principal_ids

  scope                = azurerm_key_vault.this.id
  role_definition_name = "Key Vault Secrets Officer"
  principal_id         = each.value
}

# Azure RBAC is eventually consistent: a new role assignment can take minutes
# to reach Key Vault's data plane, and a secret written before then fails with
# 403 ForbiddenByRbac ("Troubleshoot Azure RBAC": changes can take up to 10
# minutes; https://learn.microsoft.com/azure/role-based-access-control/troubleshooting).
# time_sleep (hashicorp/time, registry.terraform.io/providers/hashicorp/time/latest/docs/resources/sleep)
# holds the secrets back until the assignment has propagated; a new principal
# (triggers) waits again.
resource "time_sleep" "rbac_propagation" {
  create_duration = var.rbac_propagation_wait

  triggers = {
    role_assignment_ids = join(",", sort([for a in azurerm_role_assignment.secrets_officer : a.id]))
  }
}

resource "azurerm_key_vault_secret" "this" {
  #checkov:skip=CKV_AZURE_41:Secrets are rotated by Terraform (new random value / new client secret) and re-read by the CSI driver; a hard expiry would make Key Vault refuse reads and break running pods.
  for_each = var.secret_names

  name         = each.key
  value        = var.secret_values[each.key]
  key_vault_id = azurerm_key_vault.this.id
  content_type = "text/plain"
  tags         = var.tags

  depends_on = [time_sleep.rbac_propagation]
}

# Secrets whose value never reaches plan or state: value_wo is a write-only
# argument (azurerm 4.x, Terraform >= 1.11), written again only when its
# version number changes (bump it to rotate).
resource "azurerm_key_vault_secret" "write_only" {
  #checkov:skip=CKV_AZURE_41:Secrets are rotated by bumping their write-only version and re-read by the CSI driver; a hard expiry would make Key Vault refuse reads and break running pods.
  for_each = var.write_only_secret_versions

  name             = each.key
  value_wo         = var.write_only_secret_values[each.key]
  value_wo_version = each.value
  key_vault_id     = azurerm_key_vault.this.id
  content_type     = "text/plain"
  tags             = var.tags

  depends_on = [time_sleep.rbac_propagation]
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
