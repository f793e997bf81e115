output "id" {
  description = "Resource id of the storage account (scope of the Functions hosts' data-plane role assignments)."
  value       = azurerm_storage_account.this.id
}

output "name" {
  description = "Name of the storage account (AzureWebJobsStorage__accountName)."
  value       = azurerm_storage_account.this.name
}

output "primary_blob_endpoint" {
  description = "Blob endpoint, https://<name>.blob.core.windows.net/ (resolves to the private endpoint inside the VNets)."
  value       = azurerm_storage_account.this.primary_blob_endpoint
}

output "private_endpoint_ids" {
  description = "Resource ids of the private endpoints keyed by sub-resource (blob, queue, table)."
  value       = { for k, pe in azurerm_private_endpoint.this : k => pe.id }
}
