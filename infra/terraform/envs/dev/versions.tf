terraform {
  # 1.11: write-only arguments (the apps' Postgres passwords, modules/keyvault).
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
      source  = "hashicorp/random"
      version = ">= 3.7.1, < 4.0.0" # 3.7.1: ephemeral random_password
    }
  }
}
