variable "name" {
  description = "Globally unique registry name (5-50 alphanumerics)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-zA-Z0-9]{5,50}$", var.name))
    error_message = "ACR names are 5-50 letters and digits."
  }
}

variable "location" {
  description = "Azure region of the registry."
  type        = string
  nullable    = false
}

variable "resource_group_name" {
  description = "Resource group that holds the registry."
  type        = string
  nullable    = false
}

variable "sku" {
  description = "Registry SKU. Only Premium supports private endpoints, zone redundancy and retention policies; Basic/Standard are reached over the public endpoint."
  type        = string
  default     = "Premium"

  validation {
    condition     = contains(["Basic", "Standard", "Premium"], var.sku)
    error_message = "sku must be Basic, Standard or Premium."
  }
}

variable "public_network_access_enabled" {
  description = "Keep the public endpoint open (e.g. for GitHub-hosted runners pushing images). The cluster always pulls through the private endpoint on Premium."
  type        = bool
  default     = false
}

variable "cache_rules" {
  description = "Artifact cache rules keyed by name: upstream source repository (docker.io/..., a trailing /* for a namespace) and target repository in this registry."
  type = map(object({
    source = string
    target = string
  }))
  default = {}

  validation {
    condition     = alltrue([for k, r in var.cache_rules : can(regex("^[a-zA-Z0-9-]{5,50}$", k)) && can(regex("^[a-z0-9.-]+\\.[a-z]+/", r.source))])
    error_message = "Cache rule names are 5-50 letters, digits or hyphens; sources are <registry host>/<repository>."
  }
}

variable "untagged_retention_days" {
  description = "Days after which untagged manifests are purged (Premium only)."
  type        = number
  default     = 7

  validation {
    condition     = var.untagged_retention_days >= 0 && var.untagged_retention_days <= 365
    error_message = "untagged_retention_days must be between 0 and 365."
  }
}

variable "private_endpoint_subnet_id" {
  description = "Subnet of the private endpoint (used with the Premium SKU)."
  type        = string
  nullable    = false
}

variable "private_dns_zone_id" {
  description = "Id of the privatelink.azurecr.io private DNS zone."
  type        = string
  nullable    = false
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
