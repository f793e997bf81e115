# Terraform >= 1.11: write-only arguments (value_wo, administrator_password_wo)
# and ephemeral resources keep generated secrets out of plan and state.
terraform {
  required_version = ">= 1.11.0, < 2.0.0"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.79"
    }
    azuread = {
      source  = "hashicorp/azuread"
      version = "~> 3.7"
    }
    cloudflare = {
      source  = "cloudflare/cloudflare"
      version = "~> 5.11"
    }
    random = {
      source = "hashicorp/random"
      # 3.7: the ephemeral random_password (never stored in plan or state).
      version = "~> 3.7"
    }
    # time_sleep: waits for Azure RBAC propagation before data-plane writes.
    time = {
      source  = "hashicorp/time"
      version = "~> 0.13"
    }
  }
}
