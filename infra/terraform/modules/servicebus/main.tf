# Service Bus namespace + the orders queue. Entra-only (SAS keys disabled).
# Private endpoints exist only on the Premium tier: with Basic/Standard the
# namespace is reached over its public endpoint (through the hub firewall,
# which allows exactly this namespace).

locals {
  premium = var.sku == "Premium"
}

resource "azurerm_servicebus_namespace" "this" {
  #checkov:skip=CKV_AZURE_204:Public network access is disabled exactly when the tier supports private endpoints (Premium). Standard has no private endpoint; SAS auth is off and egress is pinned to this namespace by the hub firewall.
  #checkov:skip=CKV_AZURE_201:Customer-managed keys need the Premium tier plus a Key Vault key; messages are encrypted at rest with Microsoft-managed keys.
  #checkov:skip=CKV_AZURE_199:Double encryption (infrastructure_encryption) is only available with a customer-managed key on Premium.
  name                          = var.name
  location                      = var.location
  resource_group_name           = var.resource_group_name
  sku                           = var.sku
  capacity                      = local.premium ? var.premium_capacity : 0
  premium_messaging_partitions  = local.premium ? 1 : 0
  local_auth_enabled            = false
  public_network_access_enabled = !local.premium
  minimum_tls_version           = "1.2"
  tags                          = var.tags

  identity {
    type = "SystemAssigned"
  }
}

resource "azurerm_servicebus_queue" "this" {
  name                                    = var.queue_name
  namespace_id                            = azurerm_servicebus_namespace.this.id
  requires_duplicate_detection            = true
  duplicate_detection_history_time_window = var.duplicate_detection_window
  dead_lettering_on_message_expiration    = true
  max_delivery_count                      = var.max_delivery_count
  lock_duration                           = var.lock_duration
  default_message_ttl                     = var.default_message_ttl
  partitioning_enabled                    = false
}

resource "azurerm_private_endpoint" "this" {
  count = local.premium ? 1 : 0

  name                = "pe-${var.name}"
  location            = var.location
  resource_group_name = var.resource_group_name
  subnet_id           = var.private_endpoint_subnet_id
  tags                = var.tags

  private_service_connection {
    name                           = "psc-${var.name}"
    private_connection_resource_id = azurerm_servicebus_namespace.this.id
    subresource_names              = ["namespace"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "default"
    private_dns_zone_ids = [var.private_dns_zone_id]
  }
}
