# Storage account of the Azure Functions hosts (AzureWebJobsStorage): host
# keys, the primary-host lock and the timer triggers' schedule singletons are
# blob leases here. Entra-only (shared keys disabled: the hosts connect with
# AzureWebJobsStorage__accountName + their workload identity), no public
# network access, private endpoints for blob, queue and table.
#
# Terraform only talks to the ARM control plane: the root sets the provider
# feature storage.data_plane_available = false, so nothing here may need the
# data plane (no queue_properties / static_website blocks). Resource logs go
# to Log Analytics through diagnostic settings instead.

locals {
  # Sub-resources the Functions host uses: blob (keys, leases, locks); queue
  # and table for the queue/blob-trigger and diagnostic-event features.
  subresources = toset(["blob", "queue", "table"])
}

# Accepted trivy findings, for the reasons of the checkov skips below:
# AZU-0057 only recognises classic Storage Analytics logging (the blob, queue
# and table resource logs go to Log Analytics through diagnostic settings, see
# CKV_AZURE_33); AZU-0058 geo-redundancy: LRS in dev (see CKV_AZURE_206).
#trivy:ignore:AZU-0057
#trivy:ignore:AZU-0058
resource "azurerm_storage_account" "this" {
  #checkov:skip=CKV_AZURE_33:Classic Storage Analytics queue logging (queue_properties.logging) is a data-plane setting Terraform cannot reach (private account, provider data_plane_available = false); queue resource logs go to Log Analytics through azurerm_monitor_diagnostic_setting.services["queue"] instead.
  #checkov:skip=CKV_AZURE_206:LRS is the dev default: the account only holds Functions host state (keys, leases, locks) that the hosts recreate; set account_replication_type = ZRS or GZRS for production.
  #checkov:skip=CKV2_AZURE_1:Encrypted at rest with Microsoft-managed keys plus infrastructure (double) encryption; a customer-managed key needs a Key Vault key + identity lifecycle this reference does not need.
  name                              = var.name
  location                          = var.location
  resource_group_name               = var.resource_group_name
  account_kind                      = "StorageV2"
  account_tier                      = "Standard"
  account_replication_type          = var.account_replication_type
  access_tier                       = "Hot"
  https_traffic_only_enabled        = true
  min_tls_version                   = "TLS1_2"
  shared_access_key_enabled         = false
  default_to_oauth_authentication   = true
  public_network_access_enabled     = false
  allow_nested_items_to_be_public   = false
  cross_tenant_replication_enabled  = false
  allowed_copy_scope                = "PrivateLink"
  infrastructure_encryption_enabled = true
  queue_encryption_key_type         = "Account"
  table_encryption_key_type         = "Account"
  local_user_enabled                = false
  sftp_enabled                      = false
  is_hns_enabled                    = false
  nfsv3_enabled                     = false
  tags                              = var.tags

  # Public access is disabled outright; the rules are the second line of
  # defence should someone re-enable it.
  network_rules {
    default_action = "Deny"
    bypass         = ["AzureServices"]
  }

  blob_properties {
    delete_retention_policy {
      days = var.blob_soft_delete_retention_days
    }

    container_delete_retention_policy {
      days = var.container_soft_delete_retention_days
    }
  }

  # Shared keys are off, so key-signed (account/service) SAS cannot be used at
  # all; the policy still flags any SAS asking for more than an hour.
  sas_policy {
    expiration_period = "00.01:00:00"
    expiration_action = "Log"
  }
}

resource "azurerm_private_endpoint" "this" {
  for_each = local.subresources

  name                = "pe-${var.name}-${each.key}"
  location            = var.location
  resource_group_name = var.resource_group_name
  subnet_id           = var.private_endpoint_subnet_id
  tags                = var.tags

  private_service_connection {
    name                           = "psc-${var.name}-${each.key}"
    private_connection_resource_id = azurerm_storage_account.this.id
    subresource_names              = [each.key]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "default"
    private_dns_zone_ids = [var.private_dns_zone_ids[each.key]]
  }
}

# Resource logs (StorageRead/Write/Delete) of each service the hosts use.
resource "azurerm_monitor_diagnostic_setting" "services" {
  for_each = local.subresources

  name                       = "diag-${each.key}"
  target_resource_id         = "${azurerm_storage_account.this.id}/${each.key}Services/default"
  log_analytics_workspace_id = var.log_analytics_workspace_id

  enabled_log {
    category_group = "allLogs"
  }
}
