# Container registry: admin user off, no anonymous pull, reachable from the
# cluster through a private endpoint (Premium is the SKU that allows one).

resource "azurerm_container_registry" "this" {
  #checkov:skip=CKV_AZURE_233:zone_redundancy_enabled is true whenever sku is Premium (the default); Basic/Standard cannot be zone redundant. Checkov does not evaluate the conditional.
  #checkov:skip=CKV_AZURE_164:Docker Content Trust is being retired by ACR; image provenance is meant to come from signed builds in CI (notation), not the deprecated trust policy.
  #checkov:skip=CKV_AZURE_165:Single-region dev environment; geo-replication only adds cost here. Enable georeplications in a multi-region production env.
  #checkov:skip=CKV_AZURE_166:Quarantine blocks pulls until a scanner marks each image verified; no such scanner is deployed, so every rollout would hang.
  name                          = var.name
  location                      = var.location
  resource_group_name           = var.resource_group_name
  sku                           = var.sku
  admin_enabled                 = false
  anonymous_pull_enabled        = false
  public_network_access_enabled = var.public_network_access_enabled
  network_rule_bypass_option    = "AzureServices"
  data_endpoint_enabled         = var.sku == "Premium"
  zone_redundancy_enabled       = var.sku == "Premium"
  export_policy_enabled         = var.sku == "Premium" ? var.public_network_access_enabled : true
  retention_policy_in_days      = var.sku == "Premium" ? var.untagged_retention_days : null
  trust_policy_enabled          = false
  quarantine_policy_enabled     = false
  tags                          = var.tags
}

resource "azurerm_private_endpoint" "this" {
  count = var.sku == "Premium" ? 1 : 0

  name                = "pe-${var.name}"
  location            = var.location
  resource_group_name = var.resource_group_name
  subnet_id           = var.private_endpoint_subnet_id
  tags                = var.tags

  private_service_connection {
    name                           = "psc-${var.name}"
    private_connection_resource_id = azurerm_container_registry.this.id
    subresource_names              = ["registry"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "default"
    private_dns_zone_ids = [var.private_dns_zone_id]
  }
}

# Artifact cache: the cluster pulls the platform add-ons' public images as
# <registry>/cache/... over the private endpoint; the registry fetches them
# from the upstream on first pull. The firewall therefore opens no public
# registry ("Artifact cache in Azure Container Registry",
# https://learn.microsoft.com/azure/container-registry/artifact-cache-overview).
resource "azurerm_container_registry_cache_rule" "this" {
  for_each = var.cache_rules

  name                  = each.key
  container_registry_id = azurerm_container_registry.this.id
  source_repo           = each.value.source
  target_repo           = each.value.target
}
