variable "subscription_id" {
  description = "Azure subscription that receives every resource of the environment."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[0-9a-fA-F-]{36}$", var.subscription_id))
    error_message = "subscription_id must be a GUID."
  }
}

variable "location" {
  description = "Azure region, e.g. westeurope."
  type        = string
  default     = "westeurope"

  validation {
    condition     = can(regex("^[a-z]+[a-z0-9]*$", var.location))
    error_message = "location must be a region name such as westeurope (lowercase, no spaces)."
  }
}

variable "location_short" {
  description = "Short region code used in resource names, e.g. weu."
  type        = string
  default     = "weu"

  validation {
    condition     = can(regex("^[a-z0-9]{2,5}$", var.location_short))
    error_message = "location_short must be 2-5 lowercase letters or digits."
  }
}

variable "workload" {
  description = "Workload name used in resource names and tags."
  type        = string
  default     = "tinyshop"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.workload))
    error_message = "workload must be 2-10 lowercase letters or digits (it ends up in 24-character Key Vault names)."
  }
}

variable "environment" {
  description = "Environment name used in resource names and tags."
  type        = string
  default     = "dev"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,4}$", var.environment))
    error_message = "environment must be 2-5 lowercase letters or digits."
  }
}

variable "tags" {
  description = "Extra tags merged into the standard ones (workload, environment, managed-by)."
  type        = map(string)
  default     = {}
}

variable "aks_admin_group_object_ids" {
  description = "Entra ID (workforce tenant) groups whose members are cluster admins."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for g in var.aks_admin_group_object_ids : can(regex("^[0-9a-fA-F-]{36}$", g))])
    error_message = "aks_admin_group_object_ids must contain GUIDs."
  }
}

variable "aks_sku_tier" {
  description = "AKS control-plane tier (Standard = uptime SLA; Free is cheaper for throw-away clusters)."
  type        = string
  default     = "Standard"

  validation {
    condition     = contains(["Free", "Standard"], var.aks_sku_tier)
    error_message = "aks_sku_tier must be Free or Standard."
  }
}

variable "kubernetes_version" {
  description = "AKS Kubernetes version (null = the region's default)."
  type        = string
  default     = null
}

variable "aks_user_node_max_count" {
  description = "Maximum node count of the workload (user) pool."
  type        = number
  default     = 3

  validation {
    condition     = var.aks_user_node_max_count >= 1
    error_message = "aks_user_node_max_count must be at least 1."
  }
}

variable "operator_ip_ranges" {
  description = "Public IPs/CIDRs of whoever runs Terraform; allowed through the Key Vault firewall to write secrets."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.operator_ip_ranges : can(cidrhost(strcontains(c, "/") ? c : "${c}/32", 0))])
    error_message = "operator_ip_ranges must contain IPv4 addresses or CIDR blocks."
  }
}

variable "bastion_enabled" {
  description = "Deploy Azure Bastion in the hub (adds cost; `az aks command invoke` works without it)."
  type        = bool
  default     = false
}

variable "acr_public_network_access_enabled" {
  description = "Open the registry's public endpoint (needed when GitHub-hosted runners push images)."
  type        = bool
  default     = false
}

variable "servicebus_sku" {
  description = "Service Bus tier: Standard (public endpoint via the firewall) or Premium (private endpoint, ~20x the price)."
  type        = string
  default     = "Standard"

  validation {
    condition     = contains(["Standard", "Premium"], var.servicebus_sku)
    error_message = "servicebus_sku must be Standard or Premium."
  }
}

variable "storage_replication_type" {
  description = "Replication of the Functions hosts' storage account (AzureWebJobsStorage): LRS is enough for disposable host state in dev; ZRS/GZRS for production."
  type        = string
  default     = "LRS"

  validation {
    condition     = contains(["LRS", "ZRS", "GRS", "GZRS", "RAGRS", "RAGZRS"], var.storage_replication_type)
    error_message = "storage_replication_type must be one of LRS, ZRS, GRS, GZRS, RAGRS, RAGZRS."
  }
}

variable "kubernetes_namespace" {
  description = "Namespace of the TinyShop workloads (service accounts catalog, orders, worker, ui)."
  type        = string
  default     = "tinyshop"
}

variable "external_tenant_id" {
  description = "Id of the Entra External ID tenant created by hand (docs/infra.md, manual step 1)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[0-9a-fA-F-]{36}$", var.external_tenant_id))
    error_message = "external_tenant_id must be a GUID."
  }
}

variable "external_tenant_subdomain" {
  description = "Subdomain of the external tenant (<subdomain>.ciamlogin.com)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9]{1,26}$", var.external_tenant_subdomain))
    error_message = "external_tenant_subdomain must be 1-26 lowercase letters and digits."
  }
}

variable "ui_redirect_path" {
  description = "Path of the UI's OIDC redirect endpoint on the shop hostname."
  type        = string
  default     = "/auth/callback"

  validation {
    condition     = startswith(var.ui_redirect_path, "/")
    error_message = "ui_redirect_path must start with /."
  }
}

variable "cloudflare_account_id" {
  description = "Cloudflare account id."
  type        = string
  nullable    = false
}

variable "cloudflare_zone_id" {
  description = "Cloudflare zone id of the shop's domain."
  type        = string
  nullable    = false
}

variable "shop_hostname" {
  description = "Public hostname of the shop, e.g. shop.example.com."
  type        = string
  nullable    = false
}

variable "github_repository" {
  description = "GitHub repository (<owner>/<name>) whose workflows get OIDC identities (images push, terraform plan/apply); null = none are created."
  type        = string
  default     = null

  validation {
    condition     = var.github_repository == null || can(regex("^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$", var.github_repository))
    error_message = "github_repository must be <owner>/<name>."
  }
}

variable "tfstate_storage_account_id" {
  description = "Resource id of the remote-state storage account (docs/infra.md, \"Remote state\"); the GitHub plan/apply identities get blob read/write on it. null = no state roles."
  type        = string
  default     = null
}

variable "external_tenant_client_id" {
  description = "Client id of the app Terraform uses in the Entra External ID tenant when it runs in GitHub Actions (OIDC); null = the signed-in Azure CLI user."
  type        = string
  default     = null
}
