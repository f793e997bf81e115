output "tenant_id" {
  description = "Id of the external tenant."
  value       = var.tenant_id
}

output "authority" {
  description = "OIDC authority of the external tenant (MSAL oidc_authority), https://<subdomain>.ciamlogin.com/<tenant-id>/v2.0."
  value       = "https://${var.tenant_subdomain}.ciamlogin.com/${var.tenant_id}/v2.0"
}

# External ID issues tokens whose `iss` names the tenant id as host, whatever
# subdomain the authority uses ("Token claims reference" > iss, and the
# issuer in https://<subdomain>.ciamlogin.com/<tenant-id>/v2.0/.well-known/openid-configuration;
# https://learn.microsoft.com/entra/external-id/customers/concept-supported-features-customers).
output "issuer" {
  description = "Token issuer (iss) of the external tenant, https://<tenant-id>.ciamlogin.com/<tenant-id>/v2.0: what the orders API validates."
  value       = "https://${var.tenant_id}.ciamlogin.com/${var.tenant_id}/v2.0"
}

output "api_client_id" {
  description = "Client id of the orders API registration (the access token audience)."
  value       = azuread_application.api.client_id
}

output "api_identifier_uri" {
  description = "Application ID URI of the API."
  value       = azuread_application_identifier_uri.api.identifier_uri
}

output "api_scope" {
  description = "Full scope the UI requests, api://<api client id>/Orders.ReadWrite."
  value       = "${azuread_application_identifier_uri.api.identifier_uri}/${local.scope_name}"
}

output "ui_client_id" {
  description = "Client id of the UI web app registration."
  value       = azuread_application.ui.client_id
}

output "ui_client_secret" {
  description = "Client secret of the UI (goes to Key Vault, never to Helm values)."
  value       = azuread_application_password.ui.value
  sensitive   = true
}
