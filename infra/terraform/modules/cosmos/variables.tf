variable "name" {
  description = "Globally unique account name (3-44 lowercase letters, digits, hyphens)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,42}[a-z0-9]$", var.name))
    error_message = "Cosmos DB account names are 3-44 lowercase letters, digits and hyphens."
  }
}

variable "location" {
  description = "Azure region of the account (its single write region)."
  type        = string
  nullable    = false
}

variable "resource_group_name" {
  description = "Resource group that holds the account."
  type        = string
  nullable    = false
}

variable "serverless" {
  description = "Use the serverless capacity mode (pay per request, ideal for dev); false = provisioned throughput."
  type        = bool
  default     = true
}

variable "database_name" {
  description = "Name of the SQL (NoSQL API) database."
  type        = string
  default     = "tinyshop"
}

variable "container_name" {
  description = "Name of the order events container."
  type        = string
  default     = "order-events"
}

variable "partition_key_path" {
  description = "Partition key path of the container."
  type        = string
  default     = "/orderId"

  validation {
    condition     = startswith(var.partition_key_path, "/")
    error_message = "partition_key_path must start with /."
  }
}

variable "private_endpoint_subnet_id" {
  description = "Subnet of the private endpoint."
  type        = string
  nullable    = false
}

variable "private_dns_zone_id" {
  description = "Id of the privatelink.documents.azure.com private DNS zone."
  type        = string
  nullable    = false
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
