variable "name_suffix" {
  description = "Suffix of the identity names (id-<workload>-<suffix>)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,40}[a-z0-9]$", var.name_suffix))
    error_message = "name_suffix must be 3-42 lowercase letters, digits or hyphens."
  }
}

variable "location" {
  description = "Azure region of the identities."
  type        = string
  nullable    = false
}

variable "resource_group_name" {
  description = "Resource group of the identities (and of the Cosmos DB account)."
  type        = string
  nullable    = false
}

variable "oidc_issuer_url" {
  description = "OIDC issuer URL of the AKS cluster."
  type        = string
  nullable    = false
}

variable "workloads" {
  description = "Identities to create, keyed by short name, with the Kubernetes service account each one is federated with."
  type = map(object({
    namespace       = string
    service_account = string
  }))
  nullable = false

  validation {
    condition = alltrue([
      for k, w in var.workloads :
      can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", w.namespace)) && can(regex("^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", w.service_account)) && can(regex("^[a-z0-9-]{2,30}$", k))
    ])
    error_message = "Keys must be short lowercase names; namespace and service_account must be valid Kubernetes names."
  }
}

variable "additional_federations" {
  description = "Further Kubernetes service accounts federated with an identity of workloads, keyed by a static name: the workload (a key of var.workloads), namespace and service account."
  type = map(object({
    workload        = string
    namespace       = string
    service_account = string
  }))
  default = {}

  validation {
    condition = alltrue([
      for k, f in var.additional_federations :
      contains(keys(var.workloads), f.workload) && can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", f.namespace)) && can(regex("^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", f.service_account)) && can(regex("^[a-z0-9-]{2,40}$", k))
    ])
    error_message = "Each entry names a key of workloads and a valid Kubernetes namespace and service account."
  }
}

variable "role_assignments" {
  description = "Azure RBAC role assignments, keyed by a static name: the workload (a key of var.workloads), the scope and the built-in role name."
  type = map(object({
    workload             = string
    scope                = string
    role_definition_name = string
  }))
  default = {}
}

variable "cosmos_account_name" {
  description = "Name of the Cosmos DB account the cosmos_role_assignments apply to (null when there are none)."
  type        = string
  default     = null
}

variable "cosmos_role_assignments" {
  description = "Cosmos DB data-plane role assignments, keyed by a static name: workload, role definition id and scope (account or /dbs/<db>)."
  type = map(object({
    workload           = string
    role_definition_id = string
    scope              = string
  }))
  default = {}
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
