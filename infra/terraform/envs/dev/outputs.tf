# Values the Helm chart, the KEDA objects and ArgoCD need (docs/infra.md maps
# each output to the value it feeds). No secret is output: secrets live in
# Key Vault and reach the pods through the CSI driver.

output "resource_group_name" {
  description = "Resource group of the environment."
  value       = azurerm_resource_group.this.name
}

output "aks_cluster_name" {
  description = "Name of the AKS cluster (az aks get-credentials / command invoke)."
  value       = module.aks.name
}

output "aks_oidc_issuer_url" {
  description = "OIDC issuer of the cluster (federated credentials are bound to it)."
  value       = module.aks.oidc_issuer_url
}

output "acr_login_server" {
  description = "Registry login server; image repository prefix."
  value       = module.acr.login_server
}

output "acr_cache_repositories" {
  description = "Repositories of the registry's cache rules keyed by rule name; platform add-ons pull <acr_login_server>/<repository> (the firewall opens no public registry)."
  value       = module.acr.cache_repositories
}

output "key_vault_name" {
  description = "Key Vault name (SecretProviderClass keyvaultName)."
  value       = module.keyvault.name
}

output "key_vault_uri" {
  description = "Key Vault URI."
  value       = module.keyvault.uri
}

output "key_vault_secret_names" {
  description = "Names of the secrets Terraform wrote to Key Vault (given and generated)."
  value       = sort(tolist(setunion(local.secret_names, local.generated_secret_names)))
}

output "cloudflared_identity_client_id" {
  description = "Workload identity client id of cloudflared (cloudflared/cloudflared; reads cloudflare-tunnel-token only)."
  value       = module.identity.client_ids["cloudflared"]
}

output "tenant_id" {
  description = "Workforce tenant of the subscription (SecretProviderClass tenantId, workload identity)."
  value       = data.azurerm_client_config.current.tenant_id
}

output "namespace" {
  description = "Kubernetes namespace of the TinyShop workloads."
  value       = var.kubernetes_namespace
}

output "catalog_identity_client_id" {
  description = "Workload identity client id of the catalog service account."
  value       = module.identity.client_ids["catalog"]
}

output "orders_identity_client_id" {
  description = "Workload identity client id of the orders service account."
  value       = module.identity.client_ids["orders"]
}

output "worker_identity_client_id" {
  description = "Workload identity client id of the worker service account."
  value       = module.identity.client_ids["worker"]
}

output "ui_identity_client_id" {
  description = "Workload identity client id of the ui service account."
  value       = module.identity.client_ids["ui"]
}

output "keda_identity_client_id" {
  description = "Workload identity client id of KEDA's operator (keda/keda-operator)."
  value       = module.identity.client_ids["keda"]
}

output "servicebus_namespace_name" {
  description = "Service Bus namespace name (KEDA trigger metadata namespace)."
  value       = module.servicebus.namespace_name
}

output "servicebus_namespace_fqdn" {
  description = "Fully qualified Service Bus namespace for azure-servicebus with DefaultAzureCredential."
  value       = module.servicebus.namespace_fqdn
}

output "servicebus_queue_name" {
  description = "Name of the orders queue."
  value       = module.servicebus.queue_name
}

output "cosmos_endpoint" {
  description = "Cosmos DB endpoint."
  value       = module.cosmos.endpoint
}

output "cosmos_database_name" {
  description = "Cosmos DB database name."
  value       = module.cosmos.database_name
}

output "cosmos_container_name" {
  description = "Cosmos DB container of the order events."
  value       = module.cosmos.container_name
}

output "storage_account_name" {
  description = "Storage account of the Functions hosts (AzureWebJobsStorage__accountName of catalog, orders and worker)."
  value       = module.storage.name
}

output "durable_sql_server_fqdn" {
  description = "FQDN of the Azure SQL server of the durable task hub (private endpoint; the worker's DURABLE_SQL_CONNECTION and KEDA's mssql trigger host)."
  value       = module.sql.fqdn
}

output "durable_sql_database_name" {
  description = "Database of the durable task hub."
  value       = module.sql.database_name
}

output "durable_task_hub" {
  description = "Durable task hub name: the worker's DURABLE_TASK_HUB and the task hub database user (the SQL provider's task hub is USER_NAME())."
  value       = local.durable_task_hub
}

output "durable_identity_client_id" {
  description = "Client id of the durable task hub's database identity (federated with tinyshop/worker and keda/keda-operator; no Azure role)."
  value       = module.identity.client_ids["durable"]
}

output "postgres_fqdn" {
  description = "Private FQDN of the Postgres server."
  value       = module.postgres.fqdn
}

output "postgres_admin_login" {
  description = "Postgres administrator login (password: Key Vault secret postgres-admin-password); only the migration Jobs use it."
  value       = module.postgres.administrator_login
}

output "postgres_admin_password_secret_name" {
  description = "Key Vault secret of the administrator's password (read by the migrations identity only)."
  value       = "postgres-admin-password"
}

output "postgres_app_roles" {
  description = "Each app's own Postgres login: app -> { role, password_secret } (the Key Vault secret its pods and the migration Job read)."
  value       = local.postgres_app_roles
}

output "migrations_identity_client_id" {
  description = "Workload identity client id of the migration Jobs' service account (tinyshop/migrations)."
  value       = module.identity.client_ids["migrations"]
}

output "postgres_databases" {
  description = "Postgres databases created on the server."
  value       = module.postgres.database_names
}

output "entra_api_client_id" {
  description = "Client id of the orders API registration (expected token audience)."
  value       = module.entra.api_client_id
}

output "entra_api_scope" {
  description = "Scope the UI requests for the orders API."
  value       = module.entra.api_scope
}

output "entra_ui_client_id" {
  description = "Client id of the UI web app registration."
  value       = module.entra.ui_client_id
}

output "entra_authority" {
  description = "Entra External ID authority (MSAL oidc_authority / token issuer base)."
  value       = module.entra.authority
}

output "entra_issuer" {
  description = "Issuer (iss) of the External ID access tokens, https://<tenant-id>.ciamlogin.com/<tenant-id>/v2.0 (orders ORDERS_OIDC_ISSUER)."
  value       = module.entra.issuer
}

output "entra_tenant_id" {
  description = "Id of the Entra External ID tenant."
  value       = module.entra.tenant_id
}

output "shop_hostname" {
  description = "Public hostname of the shop (ingress host)."
  value       = module.cloudflare.hostname
}

output "cloudflare_tunnel_id" {
  description = "Id of the Cloudflare Tunnel."
  value       = module.cloudflare.tunnel_id
}

output "firewall_public_ip" {
  description = "Public egress IP of the cluster."
  value       = module.network.firewall_public_ip
}

output "bastion_name" {
  description = "Bastion host name, or null when disabled."
  value       = module.network.bastion_name
}

output "github_actions_client_ids" {
  description = "Client ids of the GitHub Actions identities (build, plan, apply): repository variables AZURE_CLIENT_ID_IMAGES, AZURE_CLIENT_ID_TF_PLAN, AZURE_CLIENT_ID_TF_APPLY. Empty until github_repository is set."
  value       = try(module.github_oidc[0].client_ids, {})
}
