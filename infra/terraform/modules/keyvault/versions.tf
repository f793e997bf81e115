terraform {
  # 1.11: write-only arguments (value_wo); 1.10: ephemeral resources.
  required_version = ">= 1.11.0, < 2.0.0"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = ">= 4.79.0, < 5.0.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.7.1, < 4.0.0" # ephemeral random_password (3.7.1)
    }
  }
}
