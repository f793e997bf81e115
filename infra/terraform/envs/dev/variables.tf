variable "subscription_id" {
  description = "Azure subscription that receives every resource of the environment."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[0-9a-fA-F-]{36}$", var.subscription_id))
    error_message = "subscription_id must be a GUID."
  }
}

variable "tenant_id" {
  description = "Workforce Entra ID tenant of the subscription. Set explicitly: after `az login --tenant <external tenant>` the CLI's default tenant is the external one."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[0-9a-fA-F-]{36}$", var.tenant_id))
    error_message = "tenant_id must be a GUID."
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
    # kv-<workload>-<environment>-<5-char suffix> must fit Key Vault's 24
    # characters: 3 + 9 + 1 + 5 + 1 + 5 = 24 (tests/infra checks the sum).
    condition     = can(regex("^[a-z][a-z0-9]{1,8}$", var.workload))
    error_message = "workload must be 2-9 lowercase letters or digits (kv-<workload>-<environment>-<suffix> must fit Key Vault's 24 characters)."
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
  description = "Entra ID (workforce tenant) groups whose members are cluster admins; at least one (local accounts are disabled)."
  type        = list(string)
  nullable    = false

  validation {
    condition     = length(var.aks_admin_group_object_ids) > 0
    error_message = "aks_admin_group_object_ids needs at least one group: local accounts are disabled, nobody could administer the cluster otherwise."
  }

  validation {
    condition     = alltrue([for g in var.aks_admin_group_object_ids : can(regex("^[0-9a-fA-F-]{36}$", g))])
    error_message = "aks_admin_group_object_ids must contain GUIDs."
  }
}

variable "key_vault_secrets_officer_object_ids" {
  description = "Entra ID (workforce tenant) users or groups that run Terraform by hand (your object id: az ad signed-in-user show --query id -o tsv): Key Vault Secrets Officer on the vault, to write and refresh its secrets. The CI apply identity gets it as well once github_repository is set. At least one."
  type        = set(string)
  nullable    = false

  validation {
    condition     = length(var.key_vault_secrets_officer_object_ids) > 0
    error_message = "key_vault_secrets_officer_object_ids needs at least one principal: whoever applies first writes the secrets."
  }

  validation {
    condition     = alltrue([for id in var.key_vault_secrets_officer_object_ids : can(regex("^[0-9a-fA-F-]{36}$", id))])
    error_message = "key_vault_secrets_officer_object_ids must contain GUIDs."
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

variable "aks_zones" {
  description = "Availability zones of the node pools ([] in regions without zones)."
  type        = list(string)
  default     = ["1", "2", "3"]

  validation {
    condition     = alltrue([for z in var.aks_zones : contains(["1", "2", "3"], z)])
    error_message = "aks_zones may only contain \"1\", \"2\" and \"3\"."
  }
}

variable "aks_system_node_vm_size" {
  description = "VM size of the system pool (its cache/temp disk must hold the 128 GiB ephemeral OS disk)."
  type        = string
  default     = "Standard_D4ds_v5"

  validation {
    condition     = can(regex("^Standard_[A-Za-z0-9_]+$", var.aks_system_node_vm_size))
    error_message = "aks_system_node_vm_size must be an Azure VM size such as Standard_D4ds_v5."
  }
}

variable "aks_user_node_vm_size" {
  description = "VM size of the user pool."
  type        = string
  default     = "Standard_D4ds_v5"

  validation {
    condition     = can(regex("^Standard_[A-Za-z0-9_]+$", var.aks_user_node_vm_size))
    error_message = "aks_user_node_vm_size must be an Azure VM size such as Standard_D4ds_v5."
  }
}

variable "aks_user_pool_enabled" {
  description = "The node pool split switch: true = system pool tainted for critical add-ons only + an autoscaling user pool for the workloads; false = one system pool runs everything (cheapest)."
  type        = bool
  default     = true
}

variable "aks_user_node_min_count" {
  description = "Minimum node count of the user pool (cluster autoscaler lower bound; 0 lets it scale to zero)."
  type        = number
  default     = 1

  validation {
    condition     = var.aks_user_node_min_count >= 0 && var.aks_user_node_min_count <= var.aks_user_node_max_count
    error_message = "aks_user_node_min_count must be between 0 and aks_user_node_max_count."
  }
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
  description = "Public IPs/CIDRs of whoever runs Terraform; allowed through the Key Vault firewall to write secrets. At least one."
  type        = list(string)
  nullable    = false

  validation {
    condition     = length(var.operator_ip_ranges) > 0
    error_message = "operator_ip_ranges needs at least one address (your public IP): the Key Vault firewall is default-deny and Terraform writes the secrets from your machine."
  }

  validation {
    # Key Vault IP rules take public addresses only; 0.0.0.0/0 would open it.
    condition     = alltrue([for c in var.operator_ip_ranges : !startswith(c, "10.") && !startswith(c, "192.168.") && !startswith(c, "0.") && !can(regex("^172\\.(1[6-9]|2[0-9]|3[01])\\.", c))])
    error_message = "operator_ip_ranges must be public addresses (not private, not 0.0.0.0/x)."
  }

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
  description = "Keep the registry's public endpoint open permanently. Leave false: the images workflow opens it for its runner's IP only while it pushes (docs/infra.md, \"Images into ACR\")."
  type        = bool
  default     = false
}

variable "acr_cache_rules" {
  description = "ACR cache rules (name => {source, target}) through which the cluster pulls the public images of the platform add-ons: the firewall does not open Docker Hub, quay.io, ghcr.io or registry.k8s.io."
  type = map(object({
    source = string
    target = string
  }))
  default = {
    cloudflared       = { source = "docker.io/cloudflare/cloudflared", target = "cache/cloudflare/cloudflared" }
    otel-collector    = { source = "docker.io/otel/opentelemetry-collector-contrib", target = "cache/otel/opentelemetry-collector-contrib" }
    ingress-nginx     = { source = "ghcr.io/nginx/nginx-ingress", target = "cache/nginx/nginx-ingress" }
    kedacore          = { source = "ghcr.io/kedacore/*", target = "cache/kedacore/*" }
    argocd            = { source = "quay.io/argoproj/*", target = "cache/argoproj/*" }
    prometheus        = { source = "quay.io/prometheus/*", target = "cache/prometheus/*" }
    prometheus-op     = { source = "quay.io/prometheus-operator/*", target = "cache/prometheus-operator/*" }
    kube-state-metric = { source = "registry.k8s.io/kube-state-metrics/*", target = "cache/kube-state-metrics/*" }
    grafana           = { source = "docker.io/grafana/*", target = "cache/grafana/*" }
    redis             = { source = "docker.io/library/redis", target = "cache/library/redis" }
    k8s-sidecar       = { source = "quay.io/kiwigrid/k8s-sidecar", target = "cache/kiwigrid/k8s-sidecar" }
    webhook-certgen   = { source = "ghcr.io/jkroepke/kube-webhook-certgen", target = "cache/jkroepke/kube-webhook-certgen" }
  }

  validation {
    condition     = alltrue([for k, r in var.acr_cache_rules : can(regex("^(docker\\.io|ghcr\\.io|quay\\.io|registry\\.k8s\\.io|mcr\\.microsoft\\.com)/", r.source)) && startswith(r.target, "cache/")])
    error_message = "acr_cache_rules sources must be on docker.io, ghcr.io, quay.io, registry.k8s.io or mcr.microsoft.com, targets under cache/."
  }
}

variable "firewall_sku_tier" {
  description = "Azure Firewall tier: Standard (FQDN filtering + DNS proxy) or Premium (adds TLS inspection and IDPS)."
  type        = string
  default     = "Standard"

  validation {
    condition     = contains(["Standard", "Premium"], var.firewall_sku_tier)
    error_message = "firewall_sku_tier must be Standard or Premium (Basic has no DNS proxy)."
  }
}

variable "firewall_zones" {
  description = "Availability zones of the firewall and its public IP ([] in regions without zones)."
  type        = list(string)
  default     = ["1", "2", "3"]

  validation {
    condition     = alltrue([for z in var.firewall_zones : contains(["1", "2", "3"], z)])
    error_message = "firewall_zones may only contain \"1\", \"2\" and \"3\"."
  }
}

variable "postgres_sku_name" {
  description = "Postgres Flexible Server compute SKU (B_Standard_B1ms burstable for dev; GP_Standard_D2ds_v5 and up for production)."
  type        = string
  default     = "B_Standard_B1ms"

  validation {
    condition     = can(regex("^(B|GP|MO)_Standard_[A-Za-z0-9_]+$", var.postgres_sku_name))
    error_message = "postgres_sku_name must look like B_Standard_B1ms, GP_Standard_D2ds_v5 or MO_Standard_E4ds_v5."
  }
}

variable "postgres_zone" {
  description = "Availability zone of the Postgres server (null = no preference)."
  type        = string
  default     = null

  validation {
    condition     = var.postgres_zone == null || contains(["1", "2", "3"], coalesce(var.postgres_zone, "1"))
    error_message = "postgres_zone must be null, \"1\", \"2\" or \"3\"."
  }
}

variable "postgres_admin_password_version" {
  description = "Version of the write-only Postgres admin password (server and Key Vault secret); bump it to rotate."
  type        = number
  default     = 1

  validation {
    condition     = var.postgres_admin_password_version >= 1
    error_message = "postgres_admin_password_version starts at 1."
  }
}

variable "flask_secret_key_version" {
  description = "Version of the write-only flask-secret-key Key Vault secret; bump it to rotate (signs the UI's session cookies)."
  type        = number
  default     = 1

  validation {
    condition     = var.flask_secret_key_version >= 1
    error_message = "flask_secret_key_version starts at 1."
  }
}

variable "log_pseudonym_key_version" {
  description = "Version of the write-only log-pseudonym-key Key Vault secret; bump it to rotate (keys the worker's log pseudonyms of users; earlier pseudonyms no longer match)."
  type        = number
  default     = 1

  validation {
    condition     = var.log_pseudonym_key_version >= 1
    error_message = "log_pseudonym_key_version starts at 1."
  }
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

  validation {
    # An empty string (an unset CI variable) would make the provider fall back
    # to ARM_CLIENT_ID: the workforce identity, in the wrong tenant.
    condition     = var.external_tenant_client_id == null || can(regex("^[0-9a-fA-F-]{36}$", coalesce(var.external_tenant_client_id, "-")))
    error_message = "external_tenant_client_id must be null or a GUID (not an empty string)."
  }
}

variable "postgres_app_passwords_version" {
  description = "Version of the apps' generated Postgres passwords (write-only in Key Vault): raise it to rotate them; the next migration Job sets the new ones."
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = var.postgres_app_passwords_version >= 1 && floor(var.postgres_app_passwords_version) == var.postgres_app_passwords_version
    error_message = "postgres_app_passwords_version must be a whole number >= 1."
  }
}

variable "durable_sql_sku_name" {
  description = "Serverless SKU of the durable task hub database, GP_S_Gen5_<max vCores>."
  type        = string
  default     = "GP_S_Gen5_1"

  validation {
    condition     = can(regex("^GP_S_Gen5_[0-9]+$", var.durable_sql_sku_name))
    error_message = "durable_sql_sku_name must be a serverless General Purpose Gen5 SKU, GP_S_Gen5_<vCores>."
  }
}

variable "durable_sql_min_capacity" {
  description = "Minimum vCores of the durable task hub database while it is online."
  type        = number
  default     = 0.5

  validation {
    condition     = var.durable_sql_min_capacity >= 0.5
    error_message = "durable_sql_min_capacity must be at least 0.5."
  }
}

variable "durable_sql_auto_pause_delay_in_minutes" {
  description = "Idle minutes before the durable task hub database pauses (15-10080, or -1 for never)."
  type        = number
  default     = 60

  validation {
    condition     = var.durable_sql_auto_pause_delay_in_minutes == -1 || (var.durable_sql_auto_pause_delay_in_minutes >= 15 && var.durable_sql_auto_pause_delay_in_minutes <= 10080)
    error_message = "durable_sql_auto_pause_delay_in_minutes must be -1 or between 15 and 10080."
  }
}
