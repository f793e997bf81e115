# Every provider names its tenant: after the walkthrough's
# `az login --tenant <external tenant>` the Azure CLI's default tenant is the
# external one, and a provider without tenant_id would follow it.
provider "azurerm" {
  subscription_id     = var.subscription_id
  tenant_id           = var.tenant_id
  storage_use_azuread = true

  features {
    key_vault {
      # Purge protection is on: a destroyed vault stays soft-deleted and is
      # recovered by the next apply instead of failing on the name.
      purge_soft_delete_on_destroy    = false
      recover_soft_deleted_key_vaults = true
    }

    resource_group {
      prevent_deletion_if_contains_resources = true
    }

    # The Functions storage account is private and key-less: manage it through
    # Azure Resource Manager only (no queue_properties/static_website), so
    # plan/apply work from a machine outside the VNets.
    storage {
      data_plane_available = false
    }
  }
}

# Entra External ID tenant (the shoppers' directory). Its credentials are its
# own arguments, never ARM_* variables: those belong to azurerm (workforce
# tenant) and would be picked up by both providers.
#   locally:  `az login --tenant <external tenant> --allow-no-subscriptions`
#             (external_tenant_client_id = null -> Azure CLI)
#   CI:       the external tenant's own app (TF_VAR_external_tenant_client_id)
#             with the workflow's GitHub OIDC token (federated credential).
provider "azuread" {
  alias     = "external"
  tenant_id = var.external_tenant_id
  client_id = var.external_tenant_client_id
  use_oidc  = var.external_tenant_client_id != null
  use_cli   = var.external_tenant_client_id == null
}

# Reads CLOUDFLARE_API_TOKEN from the environment (never put it in tfvars).
# The token needs Account > Cloudflare Tunnel: Edit and Zone > DNS: Edit.
provider "cloudflare" {}
