output "hub_vnet_id" {
  description = "Resource id of the hub VNet."
  value       = azurerm_virtual_network.hub.id
}

output "spoke_vnet_id" {
  description = "Resource id of the spoke VNet."
  value       = azurerm_virtual_network.spoke.id
}

output "aks_subnet_id" {
  description = "Resource id of the AKS node subnet (already associated with the firewall route table)."
  # Consumers (AKS) must not start before the UDR is in place.
  value = azurerm_subnet.aks.id
  # Nodes must boot with their egress in place: default route, NSG, DNS via
  # the firewall's proxy and the allow-list (without the rule collection group
  # the firewall denies everything and node bootstrap fails).
  depends_on = [
    azurerm_subnet_route_table_association.aks,
    azurerm_subnet_network_security_group_association.spoke,
    azurerm_virtual_network_dns_servers.spoke,
    azurerm_firewall_policy_rule_collection_group.aks,
  ]
}

output "aks_route_table_id" {
  description = "Resource id of the route table of the AKS subnet (the AKS identity needs Network Contributor on it)."
  value       = azurerm_route_table.aks.id
}

output "private_endpoints_subnet_id" {
  description = "Resource id of the private endpoint subnet."
  value       = azurerm_subnet.private_endpoints.id
}

output "postgres_subnet_id" {
  description = "Resource id of the subnet delegated to Postgres Flexible Server."
  value       = azurerm_subnet.postgres.id
}

output "firewall_private_ip" {
  description = "Private IP of Azure Firewall (next hop of the AKS default route)."
  value       = azurerm_firewall.this.ip_configuration[0].private_ip_address
}

output "firewall_public_ip" {
  description = "Public egress IP of the cluster (allow-list it where needed)."
  value       = azurerm_public_ip.firewall.ip_address
}

output "bastion_name" {
  description = "Name of the Bastion host, or null when Bastion is disabled."
  value       = var.bastion_enabled ? azurerm_bastion_host.this[0].name : null
}

output "private_dns_zone_ids" {
  description = "Private DNS zone ids keyed like var.private_dns_zones; available only once the zones are linked to the VNets."
  value       = { for k, z in azurerm_private_dns_zone.this : k => z.id }
  depends_on  = [azurerm_private_dns_zone_virtual_network_link.spoke, azurerm_private_dns_zone_virtual_network_link.hub]
}
