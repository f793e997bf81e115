variable "name_suffix" {
  description = "Suffix of the identity names (id-github-<build|plan|apply>-<suffix>)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,40}[a-z0-9]$", var.name_suffix))
    error_message = "name_suffix must be 3-42 lowercase letters, digits or hyphens."
  }
}

variable "location" {
  description = "Azure region of the identities."
  type        = string
  nullable    = false
}

variable "resource_group_name" {
  description = "Resource group of the identities."
  type        = string
  nullable    = false
}

variable "github_repository" {
  description = "GitHub repository whose workflows may log in, as <owner>/<name> (the subject of every federated credential)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$", var.github_repository))
    error_message = "github_repository must be <owner>/<name>."
  }
}

variable "apply_environment" {
  description = "GitHub environment (with required reviewers) whose jobs may run terraform apply."
  type        = string
  default     = "infrastructure"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{1,255}$", var.apply_environment))
    error_message = "apply_environment must be a GitHub environment name."
  }
}

variable "acr_id" {
  description = "Resource id of the container registry the build identity pushes to (AcrPush)."
  type        = string
  nullable    = false
}

variable "key_vault_id" {
  description = "Resource id of the Key Vault whose secrets terraform plan reads during refresh (Key Vault Secrets User)."
  type        = string
  nullable    = false
}

variable "tfstate_storage_account_id" {
  description = "Resource id of the storage account of the remote state (created outside this configuration, docs/infra.md); null = no state roles."
  type        = string
  default     = null
}

variable "assignable_role_names" {
  description = "Built-in roles the apply identity may assign and unassign (the roles this configuration assigns)."
  type        = list(string)
  nullable    = false

  validation {
    condition = length(setintersection(toset(var.assignable_role_names), toset([
      "Owner", "Contributor", "User Access Administrator", "Role Based Access Control Administrator",
    ]))) == 0
    error_message = "assignable_role_names must not contain roles that grant control-plane or role-assignment rights."
  }
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
  nullable    = false
}
