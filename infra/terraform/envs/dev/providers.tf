provider "azurerm" {
  subscription_id     = var.subscription_id
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

# Entra External ID tenant (the shoppers' directory). Authenticate with
# `az login --tenant <external tenant> --allow-no-subscriptions` or set
# ARM_CLIENT_ID/ARM_CLIENT_SECRET for an app registered in that tenant.
provider "azuread" {
  alias     = "external"
  tenant_id = var.external_tenant_id
  # In GitHub Actions: the external tenant's own CI app, logged in with the
  # workflow's OIDC token (ARM_USE_OIDC); locally null = the Azure CLI login.
  client_id = var.external_tenant_client_id
}

# Reads CLOUDFLARE_API_TOKEN from the environment (never put it in tfvars).
# The token needs Account > Cloudflare Tunnel: Edit and Zone > DNS: Edit.
provider "cloudflare" {}
