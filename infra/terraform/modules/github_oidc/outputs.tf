output "client_ids" {
  description = "Client ids keyed by build, plan, apply (the AZURE_CLIENT_ID_* repository variables of the workflows)."
  value       = { for k, i in azurerm_user_assigned_identity.this : k => i.client_id }
}

output "principal_ids" {
  description = "Object (principal) ids keyed by build, plan, apply."
  value       = { for k, i in azurerm_user_assigned_identity.this : k => i.principal_id }
}

output "subjects" {
  description = "Federated credential subjects keyed by build, plan, apply."
  value       = local.subjects
}
