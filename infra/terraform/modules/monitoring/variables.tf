variable "name" {
  description = "Name of the Log Analytics workspace (e.g. log-tinyshop-dev-weu)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9-]{2,61}[A-Za-z0-9]$", var.name))
    error_message = "The workspace name must be 4-63 characters of letters, digits and hyphens, starting and ending with a letter or digit."
  }
}

variable "location" {
  description = "Azure region of the workspace."
  type        = string
  nullable    = false
}

variable "resource_group_name" {
  description = "Resource group that holds the workspace."
  type        = string
  nullable    = false
}

variable "retention_in_days" {
  description = "How long logs are kept (30-730 days)."
  type        = number
  default     = 30

  validation {
    condition     = var.retention_in_days >= 30 && var.retention_in_days <= 730
    error_message = "retention_in_days must be between 30 and 730."
  }
}

variable "daily_quota_gb" {
  description = "Daily ingestion cap in GB (-1 = unlimited). Keeps a forgotten dev environment cheap."
  type        = number
  default     = 5

  validation {
    condition     = var.daily_quota_gb == -1 || var.daily_quota_gb > 0
    error_message = "daily_quota_gb must be -1 (unlimited) or a positive number."
  }
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
