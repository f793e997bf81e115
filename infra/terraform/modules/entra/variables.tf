variable "tenant_id" {
  description = "Id of the Entra External ID (external/CIAM) tenant."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[0-9a-fA-F-]{36}$", var.tenant_id))
    error_message = "tenant_id must be a GUID."
  }
}

variable "tenant_subdomain" {
  description = "Subdomain of the external tenant: <subdomain>.ciamlogin.com / <subdomain>.onmicrosoft.com."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9]{1,26}$", var.tenant_subdomain))
    error_message = "tenant_subdomain must be 1-26 lowercase letters and digits."
  }
}

variable "display_name_prefix" {
  description = "Prefix of the app registration display names, e.g. \"TinyShop dev\"."
  type        = string
  default     = "TinyShop"
}

variable "ui_redirect_uris" {
  description = "Redirect URIs of the UI web app (https, or http://localhost for development)."
  type        = list(string)
  nullable    = false

  validation {
    condition     = length(var.ui_redirect_uris) > 0 && alltrue([for u in var.ui_redirect_uris : can(regex("^(https://|http://localhost[:/])", u))])
    error_message = "Redirect URIs must use https (http is only allowed for localhost)."
  }
}

variable "ui_logout_url" {
  description = "Front-channel logout URL of the UI (null for none)."
  type        = string
  default     = null
}

variable "ui_client_secret_rotation" {
  description = "Any value; changing it creates a new UI client secret (and Key Vault secret version)."
  type        = string
  default     = "1"
}
