variable "account_id" {
  description = "Cloudflare account id that owns the tunnel."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[0-9a-f]{32}$", var.account_id))
    error_message = "account_id must be a 32-character hex id."
  }
}

variable "zone_id" {
  description = "Cloudflare zone id of the shop's domain."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[0-9a-f]{32}$", var.zone_id))
    error_message = "zone_id must be a 32-character hex id."
  }
}

variable "tunnel_name" {
  description = "Name of the tunnel, e.g. tinyshop-dev."
  type        = string
  nullable    = false
}

variable "hostname" {
  description = "Public hostname of the shop, e.g. shop.example.com (must be in the zone)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^([a-z0-9]([-a-z0-9]*[a-z0-9])?\\.)+[a-z]{2,}$", var.hostname))
    error_message = "hostname must be a lowercase DNS name."
  }
}

variable "origin_service" {
  description = "In-cluster origin cloudflared forwards to (the NGINX ingress controller service)."
  type        = string
  default     = "http://ingress-nginx-controller.ingress-nginx.svc.cluster.local:80"

  validation {
    condition     = can(regex("^(http|https)://", var.origin_service))
    error_message = "origin_service must be an http(s):// URL."
  }
}
