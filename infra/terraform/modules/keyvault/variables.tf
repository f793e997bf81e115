variable "name" {
  description = "Globally unique Key Vault name (3-24 characters)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$", var.name))
    error_message = "Key Vault names are 3-24 letters, digits and hyphens, starting with a letter."
  }
}

variable "location" {
  description = "Azure region of the vault."
  type        = string
  nullable    = false
}

variable "resource_group_name" {
  description = "Resource group that holds the vault."
  type        = string
  nullable    = false
}

variable "tenant_id" {
  description = "Entra ID tenant of the vault (the subscription's tenant)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[0-9a-fA-F-]{36}$", var.tenant_id))
    error_message = "tenant_id must be a GUID."
  }
}

variable "soft_delete_retention_days" {
  description = "Soft-delete retention (7-90 days). Purge protection is always on."
  type        = number
  default     = 90

  validation {
    condition     = var.soft_delete_retention_days >= 7 && var.soft_delete_retention_days <= 90
    error_message = "soft_delete_retention_days must be between 7 and 90."
  }
}

variable "allowed_ip_ranges" {
  description = "Public IPs/CIDRs allowed through the vault firewall (the machine or runner that applies Terraform); at least one, or nobody outside the VNets can write the secrets."
  type        = list(string)
  nullable    = false

  validation {
    condition     = length(var.allowed_ip_ranges) > 0
    error_message = "allowed_ip_ranges needs at least one address: the vault is default-deny and Terraform writes its secrets from outside the VNets."
  }

  validation {
    condition     = alltrue([for c in var.allowed_ip_ranges : can(cidrhost(strcontains(c, "/") ? c : "${c}/32", 0))])
    error_message = "allowed_ip_ranges must contain IPv4 addresses or CIDR blocks."
  }
}

variable "secrets_officer_principal_ids" {
  description = "Principals that run Terraform, by a key fixed in the configuration (for_each needs keys known at plan time; an id may not be, e.g. an identity created in the same apply): each gets Key Vault Secrets Officer to write the secrets. At least one."
  type        = map(string)
  nullable    = false

  validation {
    condition     = length(var.secrets_officer_principal_ids) > 0
    error_message = "secrets_officer_principal_ids needs at least one principal: nobody could write the secrets otherwise."
  }
}

variable "secret_names" {
  description = "Names of the secrets to create (non-sensitive so they can drive for_each)."
  type        = set(string)
  default     = []

  validation {
    condition     = alltrue([for n in var.secret_names : can(regex("^[0-9a-zA-Z-]{1,127}$", n))])
    error_message = "Secret names are 1-127 letters, digits and hyphens."
  }
}

variable "secret_values" {
  description = "Secret values keyed by secret name; must have a value for every entry of secret_names."
  type        = map(string)
  default     = {}
  sensitive   = true
}

variable "write_only_secret_versions" {
  description = "Secrets written through the write-only value_wo (never stored in state), keyed by name, with the version number that triggers a rewrite."
  type        = map(number)
  default     = {}
  nullable    = false

  validation {
    condition     = alltrue([for n, v in var.write_only_secret_versions : can(regex("^[0-9a-zA-Z-]{1,127}$", n)) && v >= 1])
    error_message = "Write-only secret names are 1-127 letters, digits and hyphens; versions start at 1."
  }
}

variable "write_only_secret_values" {
  description = "Values of write_only_secret_versions, keyed by name (ephemeral: never stored in plan or state)."
  type        = map(string)
  default     = {}
  ephemeral   = true
}

variable "rbac_propagation_wait" {
  description = "How long to wait after granting Key Vault Secrets Officer before writing secrets (Azure RBAC propagation)."
  type        = string
  default     = "120s"

  validation {
    condition     = can(regex("^[0-9]+(s|m)$", var.rbac_propagation_wait))
    error_message = "rbac_propagation_wait must be a duration like 90s or 2m."
  }
}

variable "private_endpoint_subnet_id" {
  description = "Subnet of the private endpoint."
  type        = string
  nullable    = false
}

variable "private_dns_zone_id" {
  description = "Id of the privatelink.vaultcore.azure.net private DNS zone."
  type        = string
  nullable    = false
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
