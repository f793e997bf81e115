variable "name_suffix" {
  description = "Suffix of every resource name, e.g. tinyshop-dev-weu (names become vnet-hub-<suffix>, afw-<suffix>, ...)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,40}[a-z0-9]$", var.name_suffix))
    error_message = "name_suffix must be 3-42 lowercase letters, digits or hyphens."
  }
}

variable "location" {
  description = "Azure region of the network resources."
  type        = string
  nullable    = false
}

variable "resource_group_name" {
  description = "Resource group that holds the network resources."
  type        = string
  nullable    = false
}

variable "zones" {
  description = "Availability zones for the firewall and public IPs ([] for regions without zones)."
  type        = list(string)
  default     = ["1", "2", "3"]

  validation {
    condition     = alltrue([for z in var.zones : contains(["1", "2", "3"], z)])
    error_message = "zones may only contain \"1\", \"2\" and \"3\"."
  }
}

variable "hub_address_space" {
  description = "Address space of the hub VNet."
  type        = list(string)
  default     = ["10.0.0.0/22"]

  validation {
    condition     = length(var.hub_address_space) > 0 && alltrue([for c in var.hub_address_space : can(cidrhost(c, 0))])
    error_message = "hub_address_space must be a non-empty list of CIDR blocks."
  }
}

variable "firewall_subnet_prefix" {
  description = "Prefix of AzureFirewallSubnet (at least /26)."
  type        = string
  default     = "10.0.0.0/26"

  validation {
    condition     = can(cidrhost(var.firewall_subnet_prefix, 0)) && tonumber(split("/", var.firewall_subnet_prefix)[1]) <= 26
    error_message = "firewall_subnet_prefix must be a CIDR block of /26 or larger."
  }
}

variable "bastion_enabled" {
  description = "Deploy Azure Bastion (Standard, tunneling enabled) in the hub for reaching the private cluster from a jump host."
  type        = bool
  default     = false
}

variable "bastion_subnet_prefix" {
  description = "Prefix of AzureBastionSubnet (at least /26); only used when bastion_enabled is true."
  type        = string
  default     = "10.0.1.0/26"

  validation {
    condition     = can(cidrhost(var.bastion_subnet_prefix, 0)) && tonumber(split("/", var.bastion_subnet_prefix)[1]) <= 26
    error_message = "bastion_subnet_prefix must be a CIDR block of /26 or larger."
  }
}

variable "spoke_address_space" {
  description = "Address space of the spoke VNet."
  type        = list(string)
  default     = ["10.1.0.0/16"]

  validation {
    condition     = length(var.spoke_address_space) > 0 && alltrue([for c in var.spoke_address_space : can(cidrhost(c, 0))])
    error_message = "spoke_address_space must be a non-empty list of CIDR blocks."
  }
}

variable "aks_nodes_subnet_prefix" {
  description = "Prefix of the AKS node subnet (Azure CNI overlay: pods do not consume VNet IPs, so /22 is plenty)."
  type        = string
  default     = "10.1.0.0/22"

  validation {
    condition     = can(cidrhost(var.aks_nodes_subnet_prefix, 0))
    error_message = "aks_nodes_subnet_prefix must be a CIDR block."
  }
}

variable "private_endpoints_subnet_prefix" {
  description = "Prefix of the private endpoint subnet."
  type        = string
  default     = "10.1.4.0/24"

  validation {
    condition     = can(cidrhost(var.private_endpoints_subnet_prefix, 0))
    error_message = "private_endpoints_subnet_prefix must be a CIDR block."
  }
}

variable "postgres_subnet_prefix" {
  description = "Prefix of the subnet delegated to Postgres Flexible Server."
  type        = string
  default     = "10.1.5.0/24"

  validation {
    condition     = can(cidrhost(var.postgres_subnet_prefix, 0))
    error_message = "postgres_subnet_prefix must be a CIDR block."
  }
}

variable "firewall_sku_tier" {
  description = "Azure Firewall tier: Standard (FQDN filtering, DNS proxy) or Premium (adds TLS inspection/IDPS)."
  type        = string
  default     = "Standard"

  validation {
    condition     = contains(["Standard", "Premium"], var.firewall_sku_tier)
    error_message = "firewall_sku_tier must be Standard or Premium (Basic lacks the DNS proxy the FQDN network rules need)."
  }
}

variable "allowed_egress_fqdns" {
  description = "FQDNs (HTTPS/443) beyond the AKS, Entra, Azure Monitor and Azure Policy rules: the GitOps source, the Helm chart repositories of the platform add-ons and the hosts their charts download from, and the Cloudflare API. No container registry: images come through ACR cache rules."
  type        = list(string)
  default = [
    # GitOps source (ArgoCD clones the repository) and GitHub release assets,
    # where the GitHub Pages chart indexes below point their .tgz downloads.
    "github.com",
    "release-assets.githubusercontent.com",
    "objects.githubusercontent.com",
    # Helm chart indexes (argocd/apps): argo-cd, kube-prometheus-stack,
    # opentelemetry-collector, keda.
    "argoproj.github.io",
    "prometheus-community.github.io",
    "open-telemetry.github.io",
    "kedacore.github.io",
    # nginx-ingress is an OCI chart on ghcr.io/nginx/charts; its blobs come
    # from pkg-containers.githubusercontent.com.
    "ghcr.io",
    "pkg-containers.githubusercontent.com",
    # cloudflared control plane.
    "api.cloudflare.com",
  ]

  validation {
    condition     = alltrue([for f in var.allowed_egress_fqdns : can(regex("^(\\*\\.)?[a-z0-9.-]+$", f))])
    error_message = "allowed_egress_fqdns entries must be lowercase FQDNs, optionally starting with \"*.\"."
  }

  validation {
    # Docker Hub and general GitHub content hosts stay closed: images come
    # through the registry's cache rules, charts from the hosts above.
    condition = length(setintersection(toset(var.allowed_egress_fqdns), toset([
      "registry-1.docker.io", "auth.docker.io", "production.cloudflare.docker.com", "*.docker.io",
      "raw.githubusercontent.com", "*.githubusercontent.com", "*.github.com", "*",
    ]))) == 0
    error_message = "allowed_egress_fqdns must not open Docker Hub or general GitHub content hosts (use ACR cache rules)."
  }
}

variable "cloudflare_tunnel_edge_fqdns" {
  description = "Cloudflare edge FQDNs cloudflared connects to on port 7844 (TCP and UDP/QUIC)."
  type        = list(string)
  default     = ["region1.v2.argotunnel.com", "region2.v2.argotunnel.com"]
}

variable "servicebus_namespace_fqdn" {
  description = "FQDN of the Service Bus namespace when it is reached over its public endpoint (Basic/Standard tier); null when it has a private endpoint (Premium)."
  type        = string
  default     = null
}

variable "log_analytics_workspace_id" {
  description = "Resource id of the Log Analytics workspace that receives the firewall logs."
  type        = string
  nullable    = false
}

variable "private_dns_zones" {
  description = "Private DNS zones to create and link to both VNets, keyed by a short name (acr, keyvault, cosmos, servicebus, postgres, blob, queue, table)."
  type        = map(string)
  default     = {}
}

variable "hub_only_dns_zones" {
  description = "Keys of private_dns_zones linked to the hub only, because their service links the spoke itself (aks: AKS links its API server zone to the cluster VNet)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
