variable "name" {
  description = "Globally unique logical server name (1-63 lowercase letters, digits, hyphens; not starting or ending with a hyphen)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", var.name))
    error_message = "SQL server names are 1-63 lowercase letters, digits and hyphens, not starting or ending with a hyphen."
  }
}

variable "location" {
  description = "Azure region of the server."
  type        = string
  nullable    = false
}

variable "resource_group_name" {
  description = "Resource group that holds the server."
  type        = string
  nullable    = false
}

variable "tenant_id" {
  description = "Entra ID tenant of the server's administrator."
  type        = string
  nullable    = false
}

variable "entra_admin_login" {
  description = "Display name of the server's Microsoft Entra administrator (the migrations identity's name)."
  type        = string
  nullable    = false
}

variable "entra_admin_object_id" {
  description = "Object (principal) id of the server's Microsoft Entra administrator."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[0-9a-fA-F-]{36}$", var.entra_admin_object_id))
    error_message = "entra_admin_object_id must be an object id (UUID)."
  }
}

variable "database_name" {
  description = "Name of the task hub database."
  type        = string
  default     = "durable"
}

variable "sku_name" {
  description = "Serverless General Purpose SKU, GP_S_Gen5_<max vCores> (the maximum compute the database scales to)."
  type        = string
  default     = "GP_S_Gen5_1"

  validation {
    condition     = can(regex("^GP_S_Gen5_(1|2|4|6|8|10|12|14|16|18|20|24|32|40|80)$", var.sku_name))
    error_message = "sku_name must be a serverless General Purpose Gen5 SKU, GP_S_Gen5_<vCores>."
  }
}

variable "min_capacity" {
  description = "Minimum vCores of the serverless database while it is online (0.5 is the smallest)."
  type        = number
  default     = 0.5

  validation {
    condition     = var.min_capacity >= 0.5
    error_message = "min_capacity must be at least 0.5 vCores."
  }
}

variable "auto_pause_delay_in_minutes" {
  description = "Minutes without activity before the database pauses (15-10080; -1 never pauses)."
  type        = number
  default     = 60

  validation {
    condition     = var.auto_pause_delay_in_minutes == -1 || (var.auto_pause_delay_in_minutes >= 15 && var.auto_pause_delay_in_minutes <= 10080)
    error_message = "auto_pause_delay_in_minutes must be -1 or between 15 and 10080."
  }
}

variable "max_size_gb" {
  description = "Maximum data size of the database in GB."
  type        = number
  default     = 5

  validation {
    condition     = var.max_size_gb >= 1
    error_message = "max_size_gb must be at least 1."
  }
}

variable "zone_redundant" {
  description = "Spread the database over availability zones (production)."
  type        = bool
  default     = false
}

variable "backup_storage_redundancy" {
  description = "Redundancy of the backup storage: Local, Zone, Geo or GeoZone."
  type        = string
  default     = "Local"

  validation {
    condition     = contains(["Local", "Zone", "Geo", "GeoZone"], var.backup_storage_redundancy)
    error_message = "backup_storage_redundancy must be Local, Zone, Geo or GeoZone."
  }
}

variable "backup_retention_days" {
  description = "Point-in-time restore window in days (1-35)."
  type        = number
  default     = 7

  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be between 1 and 35."
  }
}

variable "private_endpoint_subnet_id" {
  description = "Subnet of the private endpoint."
  type        = string
  nullable    = false
}

variable "private_dns_zone_id" {
  description = "Id of the privatelink.database.windows.net private DNS zone."
  type        = string
  nullable    = false
}

variable "log_analytics_workspace_id" {
  description = "Log Analytics workspace that receives the server's audit records."
  type        = string
  nullable    = false
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
