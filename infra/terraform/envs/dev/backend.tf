# Remote state from the first apply: an Azure Storage blob, reached with Entra
# ID (no access keys), locked with a blob lease during every plan/apply that
# writes, encrypted at rest by the storage service (plus infrastructure
# encryption, versioning and soft delete on the account: docs/infra.md,
# "Remote state"). The account itself is created once by hand, before the first
# `terraform init`; its names come from a backend config file:
#
#   cp backend.hcl.example backend.hcl     # git-ignored; fill in the names
#   terraform init -backend-config=backend.hcl
#
# CI passes the same two names with -backend-config (.github/workflows/terraform.yml).
terraform {
  backend "azurerm" {
    container_name   = "tfstate"
    key              = "envs/dev.terraform.tfstate"
    use_azuread_auth = true
  }
}
