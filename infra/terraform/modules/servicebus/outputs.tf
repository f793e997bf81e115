output "namespace_id" {
  description = "Resource id of the namespace."
  value       = azurerm_servicebus_namespace.this.id
}

output "namespace_name" {
  description = "Name of the namespace (KEDA trigger metadata 'namespace')."
  value       = azurerm_servicebus_namespace.this.name
}

output "namespace_fqdn" {
  description = "Fully qualified namespace, e.g. <name>.servicebus.windows.net (azure-servicebus fully_qualified_namespace)."
  value       = "${azurerm_servicebus_namespace.this.name}.servicebus.windows.net"
}

output "queue_id" {
  description = "Resource id of the queue (scope of the per-queue role assignments)."
  value       = azurerm_servicebus_queue.this.id
}

output "queue_name" {
  description = "Name of the queue."
  value       = azurerm_servicebus_queue.this.name
}
