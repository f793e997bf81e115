variable "name" {
  description = "Globally unique namespace name (6-50 letters, digits, hyphens)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{4,48}[a-zA-Z0-9]$", var.name))
    error_message = "Namespace names are 6-50 letters, digits and hyphens, starting with a letter."
  }
}

variable "location" {
  description = "Azure region of the namespace."
  type        = string
  nullable    = false
}

variable "resource_group_name" {
  description = "Resource group that holds the namespace."
  type        = string
  nullable    = false
}

variable "sku" {
  description = "Tier: Standard (cheap, public endpoint only) or Premium (dedicated capacity, private endpoint). Basic lacks duplicate detection."
  type        = string
  default     = "Standard"

  validation {
    condition     = contains(["Standard", "Premium"], var.sku)
    error_message = "sku must be Standard or Premium (the orders queue needs duplicate detection, which Basic lacks)."
  }
}

variable "premium_capacity" {
  description = "Messaging units for the Premium tier (1, 2, 4, 8 or 16)."
  type        = number
  default     = 1

  validation {
    condition     = contains([1, 2, 4, 8, 16], var.premium_capacity)
    error_message = "premium_capacity must be 1, 2, 4, 8 or 16."
  }
}

variable "queue_name" {
  description = "Name of the queue carrying OrderPlaced events."
  type        = string
  default     = "orders"
}

variable "max_delivery_count" {
  description = "Deliveries before a message is dead-lettered."
  type        = number
  default     = 10

  validation {
    condition     = var.max_delivery_count >= 1 && var.max_delivery_count <= 2000
    error_message = "max_delivery_count must be between 1 and 2000."
  }
}

variable "duplicate_detection_window" {
  description = "Duplicate detection history window (ISO 8601 duration, 20s-7d)."
  type        = string
  default     = "PT10M"
}

variable "lock_duration" {
  description = "Peek-lock duration (ISO 8601, at most PT5M)."
  type        = string
  default     = "PT1M"
}

variable "default_message_ttl" {
  description = "Message time to live (ISO 8601); expired messages are dead-lettered."
  type        = string
  default     = "P14D"
}

variable "private_endpoint_subnet_id" {
  description = "Subnet of the private endpoint (used with the Premium tier)."
  type        = string
  nullable    = false
}

variable "private_dns_zone_id" {
  description = "Id of the privatelink.servicebus.windows.net zone (used with the Premium tier)."
  type        = string
  nullable    = false
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
