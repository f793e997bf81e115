output "client_ids" {
  description = "Client ids keyed by workload (azure.workload.identity/client-id annotation of each service account)."
  value       = { for k, i in azurerm_user_assigned_identity.this : k => i.client_id }
}

output "principal_ids" {
  description = "Object (principal) ids keyed by workload."
  value       = { for k, i in azurerm_user_assigned_identity.this : k => i.principal_id }
}

output "ids" {
  description = "Resource ids keyed by workload."
  value       = { for k, i in azurerm_user_assigned_identity.this : k => i.id }
}

output "names" {
  description = "Identity (resource) names keyed by workload: a managed identity's display name in Entra ID."
  value       = { for k, i in azurerm_user_assigned_identity.this : k => i.name }
}
