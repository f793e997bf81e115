# Private AKS cluster: Azure CNI overlay, egress through the hub firewall
# (userDefinedRouting), Entra ID RBAC only, OIDC issuer + workload identity,
# Key Vault CSI add-on with rotation and Container Insights.

# Control-plane identity. With a bring-your-own subnet and route table it must
# be able to join the subnet and read/write the route table, so it is created
# (and granted) before the cluster.
resource "azurerm_user_assigned_identity" "control_plane" {
  name                = "id-aks-${var.name_suffix}"
  location            = var.location
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

resource "azurerm_user_assigned_identity" "kubelet" {
  name                = "id-aks-kubelet-${var.name_suffix}"
  location            = var.location
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

# With a bring-your-own private DNS zone AKS links the zone to the cluster's
# VNet itself, which needs Network Contributor on the VNet (not only the
# subnet) and Private DNS Zone Contributor on the zone ("Create a private AKS
# cluster" > "Configure a private DNS zone",
# https://learn.microsoft.com/azure/aks/private-clusters).
resource "azurerm_role_assignment" "control_plane_vnet" {
  scope                = var.vnet_id
  role_definition_name = "Network Contributor"
  principal_id         = azurerm_user_assigned_identity.control_plane.principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_role_assignment" "control_plane_private_dns_zone" {
  scope                = var.private_dns_zone_id
  role_definition_name = "Private DNS Zone Contributor"
  principal_id         = azurerm_user_assigned_identity.control_plane.principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_role_assignment" "control_plane_route_table" {
  scope                = var.route_table_id
  role_definition_name = "Network Contributor"
  principal_id         = azurerm_user_assigned_identity.control_plane.principal_id
  principal_type       = "ServicePrincipal"
}

# Required to assign a user-assigned kubelet identity.
resource "azurerm_role_assignment" "control_plane_kubelet_operator" {
  scope                = azurerm_user_assigned_identity.kubelet.id
  role_definition_name = "Managed Identity Operator"
  principal_id         = azurerm_user_assigned_identity.control_plane.principal_id
  principal_type       = "ServicePrincipal"
}

# Nodes pull images from ACR with the kubelet identity; nothing else gets it.
resource "azurerm_role_assignment" "kubelet_acr_pull" {
  scope                = var.acr_id
  role_definition_name = "AcrPull"
  principal_id         = azurerm_user_assigned_identity.kubelet.principal_id
  principal_type       = "ServicePrincipal"
}

# Trivy AZU-0067 (disk encryption set) is accepted for the reason given in
# the checkov CKV_AZURE_117 skip below.
#trivy:ignore:AZU-0067
resource "azurerm_kubernetes_cluster" "this" {
  #checkov:skip=CKV_AZURE_117:Node OS disks are ephemeral (no persisted disk to encrypt with a CMK) and host encryption is on; a disk encryption set would add a CMK key lifecycle this reference does not need.
  name                                = "aks-${var.name_suffix}"
  location                            = var.location
  resource_group_name                 = var.resource_group_name
  dns_prefix                          = "aks-${var.name_suffix}"
  kubernetes_version                  = var.kubernetes_version
  sku_tier                            = var.sku_tier
  node_resource_group                 = "rg-${var.name_suffix}-aks-nodes"
  private_cluster_enabled             = true
  private_cluster_public_fqdn_enabled = false
  # Our own privatelink.<region>.azmk8s.io zone, linked to the spoke AND the
  # hub: the spoke resolves through the firewall's DNS proxy, which asks Azure
  # DNS from the hub. With "System" the zone would be linked to the spoke only
  # and the nodes (and a jump host in the hub) could not resolve the API server.
  private_dns_zone_id               = var.private_dns_zone_id
  local_account_disabled            = true
  role_based_access_control_enabled = true
  oidc_issuer_enabled               = true
  workload_identity_enabled         = true
  azure_policy_enabled              = true
  image_cleaner_enabled             = true
  image_cleaner_interval_hours      = 48
  automatic_upgrade_channel         = "patch"
  node_os_upgrade_channel           = "NodeImage"
  tags                              = var.tags

  default_node_pool {
    # With user_pool_enabled the system pool is tainted CriticalAddonsOnly
    # (only critical add-ons) and the workloads go to the user pool; without
    # it this one pool runs everything (cheaper, the mission's default).
    name                         = "system"
    vm_size                      = var.system_node_vm_size
    vnet_subnet_id               = var.subnet_id
    zones                        = var.zones
    auto_scaling_enabled         = true
    min_count                    = var.system_node_min_count
    max_count                    = var.system_node_max_count
    max_pods                     = 110
    os_sku                       = "AzureLinux"
    os_disk_type                 = "Ephemeral"
    os_disk_size_gb              = var.os_disk_size_gb
    host_encryption_enabled      = true
    only_critical_addons_enabled = var.user_pool_enabled
    temporary_name_for_rotation  = "systemtmp"
    tags                         = var.tags

    upgrade_settings {
      max_surge = "33%"
    }
  }

  # Cluster autoscaler tuning (applies to every autoscaling pool).
  auto_scaler_profile {
    balance_similar_node_groups = true
    expander                    = "least-waste"
    scale_down_unneeded         = var.autoscaler_scale_down_unneeded
    skip_nodes_with_system_pods = true
  }

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.control_plane.id]
  }

  kubelet_identity {
    client_id                 = azurerm_user_assigned_identity.kubelet.client_id
    object_id                 = azurerm_user_assigned_identity.kubelet.principal_id
    user_assigned_identity_id = azurerm_user_assigned_identity.kubelet.id
  }

  network_profile {
    network_plugin      = "azure"
    network_plugin_mode = "overlay"
    network_data_plane  = "cilium"
    network_policy      = "cilium"
    outbound_type       = "userDefinedRouting"
    load_balancer_sku   = "standard"
    pod_cidr            = var.pod_cidr
    service_cidr        = var.service_cidr
    dns_service_ip      = cidrhost(var.service_cidr, 10)
  }

  azure_active_directory_role_based_access_control {
    azure_rbac_enabled     = true
    tenant_id              = var.tenant_id
    admin_group_object_ids = var.admin_group_object_ids
  }

  key_vault_secrets_provider {
    secret_rotation_enabled  = true
    secret_rotation_interval = var.secret_rotation_interval
  }

  oms_agent {
    log_analytics_workspace_id      = var.log_analytics_workspace_id
    msi_auth_for_monitoring_enabled = true
  }

  depends_on = [
    azurerm_role_assignment.control_plane_vnet,
    azurerm_role_assignment.control_plane_private_dns_zone,
    azurerm_role_assignment.control_plane_route_table,
    azurerm_role_assignment.control_plane_kubelet_operator,
  ]
}

# User pool for the TinyShop workloads (var.user_pool_enabled): the cluster
# autoscaler keeps it between user_node_min_count and user_node_max_count.
# Labelled, not tainted, so the workloads need no toleration; a further split
# (e.g. a pool for the KEDA-scaled worker) is another instance of this resource.
resource "azurerm_kubernetes_cluster_node_pool" "user" {
  count = var.user_pool_enabled ? 1 : 0

  name                        = "user"
  kubernetes_cluster_id       = azurerm_kubernetes_cluster.this.id
  mode                        = "User"
  vm_size                     = var.user_node_vm_size
  vnet_subnet_id              = var.subnet_id
  zones                       = var.zones
  auto_scaling_enabled        = true
  min_count                   = var.user_node_min_count
  max_count                   = var.user_node_max_count
  max_pods                    = 110
  os_sku                      = "AzureLinux"
  os_disk_type                = "Ephemeral"
  os_disk_size_gb             = var.os_disk_size_gb
  host_encryption_enabled     = true
  temporary_name_for_rotation = "usertmp"
  node_labels                 = { "tinyshop.io/pool" = "user" }
  tags                        = var.tags

  upgrade_settings {
    max_surge = "33%"
  }
}

# Control-plane logs (API server audit etc.) to Log Analytics.
resource "azurerm_monitor_diagnostic_setting" "aks" {
  name                           = "diag-aks"
  target_resource_id             = azurerm_kubernetes_cluster.this.id
  log_analytics_workspace_id     = var.log_analytics_workspace_id
  log_analytics_destination_type = "Dedicated"

  dynamic "enabled_log" {
    for_each = toset(["kube-audit-admin", "kube-apiserver", "kube-controller-manager", "cluster-autoscaler", "guard"])

    content {
      category = enabled_log.value
    }
  }
}

# Container Insights: the oms_agent add-on collects nothing until a data
# collection rule (DCR) says what to send where and is associated with the
# cluster ("Enable Container insights" with managed identity auth,
# https://learn.microsoft.com/azure/azure-monitor/containers/kubernetes-monitoring-enable;
# the stream and extension names are those of its Terraform sample).
resource "azurerm_monitor_data_collection_rule" "container_insights" {
  name                = "dcr-ci-${var.name_suffix}"
  location            = var.location
  resource_group_name = var.resource_group_name
  kind                = "Linux"
  description         = "Container Insights of aks-${var.name_suffix}"
  tags                = var.tags

  destinations {
    log_analytics {
      name                  = "ciworkspace"
      workspace_resource_id = var.log_analytics_workspace_id
    }
  }

  data_flow {
    streams      = var.container_insights_streams
    destinations = ["ciworkspace"]
  }

  data_sources {
    extension {
      name           = "ContainerInsightsExtension"
      extension_name = "ContainerInsights"
      streams        = var.container_insights_streams
      extension_json = jsonencode({
        dataCollectionSettings = {
          interval               = "1m"
          namespaceFilteringMode = "Off"
          enableContainerLogV2   = true
        }
      })
    }
  }
}

resource "azurerm_monitor_data_collection_rule_association" "container_insights" {
  name                    = "ContainerInsightsExtension"
  target_resource_id      = azurerm_kubernetes_cluster.this.id
  data_collection_rule_id = azurerm_monitor_data_collection_rule.container_insights.id
  description             = "Container Insights data collection of the cluster"
}
