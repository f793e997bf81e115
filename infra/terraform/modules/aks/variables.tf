variable "name_suffix" {
  description = "Suffix of every resource name, e.g. tinyshop-dev-weu (cluster aks-<suffix>, node RG rg-<suffix>-aks-nodes)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,40}[a-z0-9]$", var.name_suffix))
    error_message = "name_suffix must be 3-42 lowercase letters, digits or hyphens."
  }
}

variable "location" {
  description = "Azure region of the cluster."
  type        = string
  nullable    = false
}

variable "resource_group_name" {
  description = "Resource group that holds the cluster and its identities."
  type        = string
  nullable    = false
}

variable "tenant_id" {
  description = "Entra ID (workforce) tenant used for Kubernetes RBAC."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[0-9a-fA-F-]{36}$", var.tenant_id))
    error_message = "tenant_id must be a GUID."
  }
}

variable "admin_group_object_ids" {
  description = "Entra ID groups whose members are cluster admins (Azure RBAC for Kubernetes is enabled too); at least one: local accounts are disabled."
  type        = list(string)
  nullable    = false

  validation {
    condition     = length(var.admin_group_object_ids) > 0
    error_message = "admin_group_object_ids needs at least one group: local accounts are disabled, so nobody could administer the cluster otherwise."
  }

  validation {
    condition     = alltrue([for g in var.admin_group_object_ids : can(regex("^[0-9a-fA-F-]{36}$", g))])
    error_message = "admin_group_object_ids must contain GUIDs."
  }
}

variable "kubernetes_version" {
  description = "Kubernetes minor version (e.g. 1.33); null lets AKS pick the default."
  type        = string
  default     = null

  validation {
    condition     = var.kubernetes_version == null || can(regex("^1\\.[0-9]+(\\.[0-9]+)?$", var.kubernetes_version))
    error_message = "kubernetes_version must look like 1.33 or 1.33.2."
  }
}

variable "sku_tier" {
  description = "AKS control-plane tier: Standard (uptime SLA, recommended) or Free (no SLA, dev only)."
  type        = string
  default     = "Standard"

  validation {
    condition     = contains(["Free", "Standard", "Premium"], var.sku_tier)
    error_message = "sku_tier must be Free, Standard or Premium."
  }
}

variable "subnet_id" {
  description = "Resource id of the node subnet (its route table must send 0.0.0.0/0 to the firewall)."
  type        = string
  nullable    = false
}

variable "route_table_id" {
  description = "Resource id of the route table associated with the node subnet."
  type        = string
  nullable    = false
}

variable "vnet_id" {
  description = "Resource id of the VNet of the node subnet (the control-plane identity links the private DNS zone to it)."
  type        = string
  nullable    = false
}

variable "private_dns_zone_id" {
  description = "Id of the privatelink.<region>.azmk8s.io private DNS zone of the API server (linked to the spoke and the hub)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("/privateDnsZones/privatelink\\.[a-z0-9]+\\.azmk8s\\.io$", var.private_dns_zone_id))
    error_message = "private_dns_zone_id must be the id of a privatelink.<region>.azmk8s.io zone."
  }
}

variable "acr_id" {
  description = "Resource id of the container registry the kubelet identity gets AcrPull on."
  type        = string
  nullable    = false
}

variable "log_analytics_workspace_id" {
  description = "Resource id of the Log Analytics workspace for Container Insights and control-plane logs."
  type        = string
  nullable    = false
}

variable "zones" {
  description = "Availability zones of the node pools ([] for regions without zones)."
  type        = list(string)
  default     = ["1", "2", "3"]

  validation {
    condition     = alltrue([for z in var.zones : contains(["1", "2", "3"], z)])
    error_message = "zones may only contain \"1\", \"2\" and \"3\"."
  }
}

variable "pod_cidr" {
  description = "Overlay pod CIDR (must not overlap the VNets)."
  type        = string
  default     = "192.168.0.0/16"

  validation {
    condition     = can(cidrhost(var.pod_cidr, 0))
    error_message = "pod_cidr must be a CIDR block."
  }
}

variable "service_cidr" {
  description = "Kubernetes service CIDR (must not overlap the VNets); the DNS service IP is its 10th address."
  type        = string
  default     = "172.16.0.0/16"

  validation {
    condition     = can(cidrhost(var.service_cidr, 10))
    error_message = "service_cidr must be a CIDR block with at least 11 addresses."
  }
}

variable "system_node_vm_size" {
  description = "VM size of the system pool (needs a temp/cache disk of at least os_disk_size_gb for ephemeral OS disks)."
  type        = string
  default     = "Standard_D4ds_v5"

  validation {
    condition     = can(regex("^Standard_[A-Za-z0-9_]+$", var.system_node_vm_size))
    error_message = "system_node_vm_size must be an Azure VM size such as Standard_D4ds_v5."
  }
}

variable "system_node_min_count" {
  description = "Minimum node count of the autoscaling system pool."
  type        = number
  default     = 1

  validation {
    condition     = var.system_node_min_count >= 1
    error_message = "The system pool needs at least one node."
  }
}

variable "system_node_max_count" {
  description = "Maximum node count of the autoscaling system pool."
  type        = number
  default     = 3

  validation {
    condition     = var.system_node_max_count >= 1 && var.system_node_max_count <= 100
    error_message = "system_node_max_count must be between 1 and 100."
  }

  validation {
    condition     = var.system_node_max_count >= var.system_node_min_count
    error_message = "system_node_max_count must be >= system_node_min_count."
  }
}

variable "user_node_vm_size" {
  description = "VM size of the user (workload) pool."
  type        = string
  default     = "Standard_D4ds_v5"

  validation {
    condition     = can(regex("^Standard_[A-Za-z0-9_]+$", var.user_node_vm_size))
    error_message = "user_node_vm_size must be an Azure VM size such as Standard_D4ds_v5."
  }
}

variable "user_pool_enabled" {
  description = "Split system and user pools: the system pool is tainted CriticalAddonsOnly and an autoscaling user pool runs the workloads. false = one pool runs everything."
  type        = bool
  default     = true
}

variable "autoscaler_scale_down_unneeded" {
  description = "How long a node must be unneeded before the cluster autoscaler removes it (Go duration)."
  type        = string
  default     = "10m"

  validation {
    condition     = can(regex("^[0-9]+(s|m|h)$", var.autoscaler_scale_down_unneeded))
    error_message = "autoscaler_scale_down_unneeded must be a duration like 10m."
  }
}

variable "container_insights_streams" {
  description = "Container Insights streams the data collection rule sends to Log Analytics (Microsoft-ContainerInsights-Group-Default = the recommended set)."
  type        = list(string)
  default     = ["Microsoft-ContainerInsights-Group-Default"]

  validation {
    condition     = length(var.container_insights_streams) > 0 && alltrue([for s in var.container_insights_streams : startswith(s, "Microsoft-")])
    error_message = "container_insights_streams needs at least one Microsoft-* stream."
  }
}

variable "user_node_min_count" {
  description = "Minimum node count of the autoscaling user pool (0 allowed: KEDA scales the worker to zero)."
  type        = number
  default     = 1

  validation {
    condition     = var.user_node_min_count >= 0
    error_message = "user_node_min_count must be >= 0."
  }
}

variable "user_node_max_count" {
  description = "Maximum node count of the autoscaling user pool."
  type        = number
  default     = 5

  validation {
    condition     = var.user_node_max_count >= 1 && var.user_node_max_count <= 1000
    error_message = "user_node_max_count must be between 1 and 1000."
  }

  validation {
    condition     = var.user_node_max_count >= var.user_node_min_count
    error_message = "user_node_max_count must be >= user_node_min_count."
  }
}

variable "os_disk_size_gb" {
  description = "Ephemeral OS disk size; must fit the VM size's cache/temp disk (Standard_D4ds_v5: 150 GiB)."
  type        = number
  default     = 128

  validation {
    condition     = var.os_disk_size_gb >= 30
    error_message = "os_disk_size_gb must be at least 30."
  }
}

variable "secret_rotation_interval" {
  description = "How often the Key Vault CSI driver re-reads mounted secrets (Go duration, e.g. 2m)."
  type        = string
  default     = "2m"

  validation {
    condition     = can(regex("^[0-9]+(s|m|h)$", var.secret_rotation_interval))
    error_message = "secret_rotation_interval must be a duration like 30s, 2m or 1h."
  }
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
