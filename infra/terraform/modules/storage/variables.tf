variable "name" {
  description = "Globally unique storage account name, st<workload><env><suffix> (3-24 lowercase letters and digits)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9]{3,24}$", var.name))
    error_message = "Storage account names are 3-24 lowercase letters and digits (no hyphens)."
  }
}

variable "location" {
  description = "Azure region of the account and its private endpoints."
  type        = string
  nullable    = false
}

variable "resource_group_name" {
  description = "Resource group that holds the account."
  type        = string
  nullable    = false
}

variable "account_replication_type" {
  description = "Replication of the Standard (StorageV2) account: LRS (dev default; the Functions host state is disposable), ZRS, GRS, GZRS, RAGRS or RAGZRS."
  type        = string
  default     = "LRS"

  validation {
    condition     = contains(["LRS", "ZRS", "GRS", "GZRS", "RAGRS", "RAGZRS"], var.account_replication_type)
    error_message = "account_replication_type must be one of LRS, ZRS, GRS, GZRS, RAGRS, RAGZRS."
  }
}

variable "blob_soft_delete_retention_days" {
  description = "Days deleted blobs stay recoverable (blob soft delete)."
  type        = number
  default     = 7

  validation {
    condition     = var.blob_soft_delete_retention_days >= 1 && var.blob_soft_delete_retention_days <= 365
    error_message = "blob_soft_delete_retention_days must be between 1 and 365."
  }
}

variable "container_soft_delete_retention_days" {
  description = "Days deleted containers stay recoverable (container soft delete)."
  type        = number
  default     = 7

  validation {
    condition     = var.container_soft_delete_retention_days >= 1 && var.container_soft_delete_retention_days <= 365
    error_message = "container_soft_delete_retention_days must be between 1 and 365."
  }
}

variable "private_endpoint_subnet_id" {
  description = "Subnet of the blob, queue and table private endpoints."
  type        = string
  nullable    = false
}

variable "private_dns_zone_ids" {
  description = "Ids of the private DNS zones keyed by sub-resource: blob (privatelink.blob.core.windows.net), queue (privatelink.queue...) and table (privatelink.table...)."
  type        = map(string)
  nullable    = false

  validation {
    condition     = alltrue([for k in ["blob", "queue", "table"] : contains(keys(var.private_dns_zone_ids), k)])
    error_message = "private_dns_zone_ids must have the keys blob, queue and table."
  }
}

variable "log_analytics_workspace_id" {
  description = "Resource id of the Log Analytics workspace that receives the blob/queue/table resource logs."
  type        = string
  nullable    = false
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
