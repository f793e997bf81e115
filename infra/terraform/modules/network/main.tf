# Hub/spoke network: the hub holds Azure Firewall (and optionally Bastion), the
# spoke holds the AKS nodes, the private endpoints and the Postgres delegated
# subnet. All AKS egress is forced through the firewall by a route table.

locals {
  # Subnets of the spoke that get an NSG (AzureFirewallSubnet/AzureBastionSubnet
  # in the hub must not have one / need a very specific one).
  spoke_subnets = {
    aks               = var.aks_nodes_subnet_prefix
    private-endpoints = var.private_endpoints_subnet_prefix
    postgres          = var.postgres_subnet_prefix
  }
}

# ---------------------------------------------------------------- hub VNet ---

resource "azurerm_virtual_network" "hub" {
  name                = "vnet-hub-${var.name_suffix}"
  location            = var.location
  resource_group_name = var.resource_group_name
  address_space       = var.hub_address_space
  tags                = var.tags
}

resource "azurerm_subnet" "firewall" {
  # The name is mandated by Azure Firewall.
  name                 = "AzureFirewallSubnet"
  resource_group_name  = var.resource_group_name
  virtual_network_name = azurerm_virtual_network.hub.name
  address_prefixes     = [var.firewall_subnet_prefix]
}

resource "azurerm_subnet" "bastion" {
  #checkov:skip=CKV2_AZURE_31:AzureBastionSubnet is platform-hardened; an NSG there must carry Bastion's full mandatory rule set, and Bastion is an optional, off-by-default jump path.
  count = var.bastion_enabled ? 1 : 0

  # The name is mandated by Azure Bastion.
  name                 = "AzureBastionSubnet"
  resource_group_name  = var.resource_group_name
  virtual_network_name = azurerm_virtual_network.hub.name
  address_prefixes     = [var.bastion_subnet_prefix]
}

# -------------------------------------------------------------- spoke VNet ---

resource "azurerm_virtual_network" "spoke" {
  name                = "vnet-spoke-${var.name_suffix}"
  location            = var.location
  resource_group_name = var.resource_group_name
  address_space       = var.spoke_address_space
  tags                = var.tags
}

resource "azurerm_subnet" "aks" {
  name                            = "snet-aks-nodes"
  resource_group_name             = var.resource_group_name
  virtual_network_name            = azurerm_virtual_network.spoke.name
  address_prefixes                = [var.aks_nodes_subnet_prefix]
  default_outbound_access_enabled = false
}

resource "azurerm_subnet" "private_endpoints" {
  name                              = "snet-private-endpoints"
  resource_group_name               = var.resource_group_name
  virtual_network_name              = azurerm_virtual_network.spoke.name
  address_prefixes                  = [var.private_endpoints_subnet_prefix]
  default_outbound_access_enabled   = false
  private_endpoint_network_policies = "Enabled"
}

resource "azurerm_subnet" "postgres" {
  name                            = "snet-postgres"
  resource_group_name             = var.resource_group_name
  virtual_network_name            = azurerm_virtual_network.spoke.name
  address_prefixes                = [var.postgres_subnet_prefix]
  default_outbound_access_enabled = false

  delegation {
    name = "postgres-flexible-server"

    service_delegation {
      name    = "Microsoft.DBforPostgreSQL/flexibleServers"
      actions = ["Microsoft.Network/virtualNetworks/subnets/join/action"]
    }
  }
}

# One NSG per spoke subnet. The platform default rules already allow
# VNet-internal traffic and deny inbound from the internet; there is no public
# ingress at all (Cloudflare Tunnel dials out), so no extra allow rules.
resource "azurerm_network_security_group" "spoke" {
  for_each = local.spoke_subnets

  name                = "nsg-${each.key}-${var.name_suffix}"
  location            = var.location
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

resource "azurerm_subnet_network_security_group_association" "spoke" {
  for_each = {
    aks               = azurerm_subnet.aks.id
    private-endpoints = azurerm_subnet.private_endpoints.id
    postgres          = azurerm_subnet.postgres.id
  }

  subnet_id                 = each.value
  network_security_group_id = azurerm_network_security_group.spoke[each.key].id
}

# ----------------------------------------------------------------- peering ---

resource "azurerm_virtual_network_peering" "hub_to_spoke" {
  name                         = "peer-hub-to-spoke"
  resource_group_name          = var.resource_group_name
  virtual_network_name         = azurerm_virtual_network.hub.name
  remote_virtual_network_id    = azurerm_virtual_network.spoke.id
  allow_virtual_network_access = true
  allow_forwarded_traffic      = true
}

resource "azurerm_virtual_network_peering" "spoke_to_hub" {
  name                         = "peer-spoke-to-hub"
  resource_group_name          = var.resource_group_name
  virtual_network_name         = azurerm_virtual_network.spoke.name
  remote_virtual_network_id    = azurerm_virtual_network.hub.id
  allow_virtual_network_access = true
  allow_forwarded_traffic      = true
}

# ---------------------------------------------------------------- firewall ---

resource "azurerm_public_ip" "firewall" {
  name                = "pip-afw-${var.name_suffix}"
  location            = var.location
  resource_group_name = var.resource_group_name
  allocation_method   = "Static"
  sku                 = "Standard"
  zones               = var.zones
  tags                = var.tags
}

resource "azurerm_firewall_policy" "this" {
  #checkov:skip=CKV_AZURE_220:IDPS (intrusion_detection) exists only on the Premium tier; the dev firewall is Standard (set firewall_sku_tier = Premium and add intrusion_detection for production).
  name                     = "afwp-${var.name_suffix}"
  location                 = var.location
  resource_group_name      = var.resource_group_name
  sku                      = var.firewall_sku_tier
  threat_intelligence_mode = "Deny"
  tags                     = var.tags

  # DNS proxy lets network rules match FQDNs (NTP, Cloudflare Tunnel edge,
  # Service Bus AMQP when it has no private endpoint).
  dns {
    proxy_enabled = true
  }
}

resource "azurerm_firewall" "this" {
  #checkov:skip=CKV_AZURE_216:Threat intelligence is configured on the attached firewall policy (threat_intelligence_mode = Deny), which is what applies when a policy is attached.
  name                = "afw-${var.name_suffix}"
  location            = var.location
  resource_group_name = var.resource_group_name
  sku_name            = "AZFW_VNet"
  sku_tier            = var.firewall_sku_tier
  firewall_policy_id  = azurerm_firewall_policy.this.id
  zones               = var.zones
  tags                = var.tags

  ip_configuration {
    name                 = "ipconfig"
    subnet_id            = azurerm_subnet.firewall.id
    public_ip_address_id = azurerm_public_ip.firewall.id
  }
}

# Egress allow-list for the cluster. Everything not listed is denied by the
# firewall's implicit deny. Sources are restricted to the AKS node subnet.
#
# Sources of the list (each rule cites its section):
#   [egress]   Microsoft, "Outbound network and FQDN rules for AKS clusters",
#              https://learn.microsoft.com/azure/aks/outbound-rules-control-egress
#   [fw]       Microsoft, "Limit network traffic with Azure Firewall in AKS",
#              https://learn.microsoft.com/azure/aks/limit-egress-traffic
#   [baseline] AKS baseline reference implementation (mspnp/aks-baseline,
#              networking/hub-regionA.bicep: AKS FQDN tag, Azure Monitor,
#              Azure Policy, GitOps source rules),
#              https://github.com/mspnp/aks-baseline
# Not allowed on purpose: Docker Hub, quay.io, registry.k8s.io and general
# GitHub content hosts (raw./gist./*.githubusercontent.com). Container images
# of the platform come through the registry's cache rules (modules/acr,
# docs/infra.md "Egress"), i.e. over the private endpoint.
resource "azurerm_firewall_policy_rule_collection_group" "aks" {
  name               = "rcg-aks-egress"
  firewall_policy_id = azurerm_firewall_policy.this.id
  priority           = 200

  network_rule_collection {
    name     = "aks-network"
    priority = 200
    action   = "Allow"

    # [egress] "Azure Global required network rules": ntp.ubuntu.com:123/UDP
    # (FQDN network rules need the firewall as the VNet's DNS proxy: see
    # azurerm_virtual_network_dns_servers.spoke). The *:1194/UDP and
    # *:9000/TCP rules to AzureCloud.<region> are "not required for private
    # clusters" [egress], so they are absent.
    rule {
      name              = "ntp"
      protocols         = ["UDP"]
      source_addresses  = [var.aks_nodes_subnet_prefix]
      destination_fqdns = ["ntp.ubuntu.com"]
      destination_ports = ["123"]
    }

    # cloudflared's outbound tunnel connections to the Cloudflare edge
    # (Cloudflare, "Tunnel with firewall": region1/region2.v2.argotunnel.com,
    # 7844 TCP and UDP/QUIC;
    # https://developers.cloudflare.com/cloudflare-one/connections/connect-networks/configure-tunnels/tunnel-with-firewall/).
    rule {
      name              = "cloudflare-tunnel-edge"
      protocols         = ["TCP", "UDP"]
      source_addresses  = [var.aks_nodes_subnet_prefix]
      destination_fqdns = var.cloudflare_tunnel_edge_fqdns
      destination_ports = ["7844"]
    }

    dynamic "rule" {
      # Service Bus Standard has no private endpoint: AMQP goes over the
      # internet, through the firewall, to this namespace only.
      for_each = var.servicebus_namespace_fqdn == null ? [] : [var.servicebus_namespace_fqdn]

      content {
        name              = "servicebus-amqp"
        protocols         = ["TCP"]
        source_addresses  = [var.aks_nodes_subnet_prefix]
        destination_fqdns = [rule.value]
        destination_ports = ["5671", "5672"]
      }
    }
  }

  application_rule_collection {
    name     = "aks-application"
    priority = 300
    action   = "Allow"

    # [egress] "Azure Global required FQDN / application rules" through the
    # AzureKubernetesService FQDN tag [fw]: *.hcp.<region>.azmk8s.io,
    # mcr.microsoft.com, *.data.mcr.microsoft.com, mcr-0001.mcr-msedge.net,
    # management.azure.com, login.microsoftonline.com, packages.microsoft.com,
    # acs-mirror.azureedge.net, packages.aks.azure.com (HTTPS 443; HTTP 80 for
    # the node image's package mirrors).
    rule {
      name                  = "aks-fqdn-tag"
      source_addresses      = [var.aks_nodes_subnet_prefix]
      destination_fqdn_tags = ["AzureKubernetesService"]

      protocols {
        type = "Https"
        port = 443
      }

      protocols {
        type = "Http"
        port = 80
      }
    }

    # [egress] "Microsoft Entra Workload ID": login.microsoftonline.com (the
    # token exchange of every workload identity); Entra External ID for the
    # UI's MSAL calls and the orders API's OpenID discovery/JWKS:
    # <subdomain>.ciamlogin.com and <tenant-id>.ciamlogin.com.
    rule {
      name              = "entra"
      source_addresses  = [var.aks_nodes_subnet_prefix]
      destination_fqdns = ["login.microsoftonline.com", "*.ciamlogin.com"]

      protocols {
        type = "Https"
        port = 443
      }
    }

    # [egress] "Azure Monitor for containers" (Container Insights with managed
    # identity auth and a data collection rule): the legacy ingestion hosts
    # plus the DCR control/ingestion endpoints of the cluster's region.
    rule {
      name             = "azure-monitor"
      source_addresses = [var.aks_nodes_subnet_prefix]
      destination_fqdns = [
        "dc.services.visualstudio.com",
        "*.ods.opinsights.azure.com",
        "*.oms.opinsights.azure.com",
        "*.monitoring.azure.com",
        "global.handler.control.monitor.azure.com",
        "${var.location}.handler.control.monitor.azure.com",
        "*.ingest.monitor.azure.com",
      ]

      protocols {
        type = "Https"
        port = 443
      }
    }

    # [egress] "Azure Policy": data.policy.core.windows.net (policies and
    # compliance reports) and store.policy.core.windows.net (Gatekeeper
    # artifacts of the built-in policies); [baseline] allows the same.
    rule {
      name              = "azure-policy"
      source_addresses  = [var.aks_nodes_subnet_prefix]
      destination_fqdns = ["data.policy.core.windows.net", "store.policy.core.windows.net"]

      protocols {
        type = "Https"
        port = 443
      }
    }

    # GitOps source and Helm charts of the platform add-ons (var.allowed_egress_fqdns):
    # the Git repository ArgoCD syncs, the chart repositories' index.yaml
    # hosts and the GitHub release-asset hosts their chart .tgz files
    # redirect to; the Cloudflare API for cloudflared. [baseline] allows
    # github.com for its GitOps source the same way.
    rule {
      name              = "gitops-and-charts"
      source_addresses  = [var.aks_nodes_subnet_prefix]
      destination_fqdns = var.allowed_egress_fqdns

      protocols {
        type = "Https"
        port = 443
      }
    }

    dynamic "rule" {
      for_each = var.servicebus_namespace_fqdn == null ? [] : [var.servicebus_namespace_fqdn]

      content {
        # KEDA's scaler reads queue runtime properties over HTTPS.
        name              = "servicebus-https"
        source_addresses  = [var.aks_nodes_subnet_prefix]
        destination_fqdns = [rule.value]

        protocols {
          type = "Https"
          port = 443
        }
      }
    }
  }
}

# The spoke resolves DNS through the firewall's DNS proxy. Two reasons:
# FQDN *network* rules (ntp, the Cloudflare edge, Service Bus AMQP) only match
# when the firewall resolved the name itself ("Azure Firewall DNS proxy",
# https://learn.microsoft.com/azure/firewall/dns-settings), and the answers
# the nodes get are the ones the firewall filters on. The firewall forwards to
# Azure DNS from the hub, so every private DNS zone (privatelink.* and the
# cluster's privatelink.<region>.azmk8s.io) is linked to the hub too.
resource "azurerm_virtual_network_dns_servers" "spoke" {
  #checkov:skip=CKV_AZURE_182:The one DNS server is Azure Firewall's DNS proxy, itself highly available across zones; a second server (e.g. Azure DNS) would let nodes resolve around the proxy and break the FQDN network rules.
  virtual_network_id = azurerm_virtual_network.spoke.id
  dns_servers        = [azurerm_firewall.this.ip_configuration[0].private_ip_address]
}

resource "azurerm_monitor_diagnostic_setting" "firewall" {
  name                           = "diag-afw"
  target_resource_id             = azurerm_firewall.this.id
  log_analytics_workspace_id     = var.log_analytics_workspace_id
  log_analytics_destination_type = "Dedicated"

  enabled_log {
    category_group = "allLogs"
  }
}

# ------------------------------------------------------------- route table ---

resource "azurerm_route_table" "aks" {
  name                          = "rt-aks-${var.name_suffix}"
  location                      = var.location
  resource_group_name           = var.resource_group_name
  bgp_route_propagation_enabled = false
  tags                          = var.tags
}

resource "azurerm_route" "default_via_firewall" {
  name                   = "default-via-firewall"
  resource_group_name    = var.resource_group_name
  route_table_name       = azurerm_route_table.aks.name
  address_prefix         = "0.0.0.0/0"
  next_hop_type          = "VirtualAppliance"
  next_hop_in_ip_address = azurerm_firewall.this.ip_configuration[0].private_ip_address
}

resource "azurerm_subnet_route_table_association" "aks" {
  subnet_id      = azurerm_subnet.aks.id
  route_table_id = azurerm_route_table.aks.id

  # AKS with outboundType=userDefinedRouting checks for the default route at
  # cluster creation.
  depends_on = [azurerm_route.default_via_firewall]
}

# ----------------------------------------------------------------- bastion ---

resource "azurerm_public_ip" "bastion" {
  count = var.bastion_enabled ? 1 : 0

  name                = "pip-bas-${var.name_suffix}"
  location            = var.location
  resource_group_name = var.resource_group_name
  allocation_method   = "Static"
  sku                 = "Standard"
  zones               = var.zones
  tags                = var.tags
}

resource "azurerm_bastion_host" "this" {
  count = var.bastion_enabled ? 1 : 0

  name                = "bas-${var.name_suffix}"
  location            = var.location
  resource_group_name = var.resource_group_name
  sku                 = "Standard"
  tunneling_enabled   = true
  tags                = var.tags

  ip_configuration {
    name                 = "ipconfig"
    subnet_id            = azurerm_subnet.bastion[0].id
    public_ip_address_id = azurerm_public_ip.bastion[0].id
  }
}

# ------------------------------------------------------- private DNS zones ---

resource "azurerm_private_dns_zone" "this" {
  for_each = var.private_dns_zones

  name                = each.value
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

# Zones are linked to both VNets: the spoke resolves its private endpoints,
# the hub lets the firewall's DNS proxy (and a Bastion jump host) resolve them.
resource "azurerm_private_dns_zone_virtual_network_link" "spoke" {
  # Zones whose owner links the spoke itself (AKS links its API server zone
  # to the cluster VNet) are linked to the hub only.
  for_each = { for k, z in var.private_dns_zones : k => z if !contains(var.hub_only_dns_zones, k) }

  name                  = "link-spoke"
  resource_group_name   = var.resource_group_name
  private_dns_zone_name = azurerm_private_dns_zone.this[each.key].name
  virtual_network_id    = azurerm_virtual_network.spoke.id
  registration_enabled  = false
  tags                  = var.tags
}

resource "azurerm_private_dns_zone_virtual_network_link" "hub" {
  for_each = var.private_dns_zones

  name                  = "link-hub"
  resource_group_name   = var.resource_group_name
  private_dns_zone_name = azurerm_private_dns_zone.this[each.key].name
  virtual_network_id    = azurerm_virtual_network.hub.id
  registration_enabled  = false
  tags                  = var.tags
}
