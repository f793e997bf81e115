# State is local for now (terraform.tfstate next to this file, git-ignored).
terraform {
  backend "local" {
    path = "terraform.tfstate"
  }
}

# Ready-to-use remote state. To migrate (see docs/infra.md, "Remote state"):
#   1. create the storage account/container (az CLI commands in the docs),
#   2. replace the backend "local" block above with the block below,
#   3. run `terraform init -migrate-state` and confirm the copy.
#
# terraform {
#   backend "azurerm" {
#     resource_group_name  = "rg-tinyshop-tfstate"
#     storage_account_name = "sttinyshoptfstate"   # globally unique
#     container_name       = "tfstate"
#     key                  = "envs/dev.terraform.tfstate"
#     use_azuread_auth     = true                  # Entra ID, no access keys
#   }
# }
