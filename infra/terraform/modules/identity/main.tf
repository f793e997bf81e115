# Workload identities: one user-assigned identity per Kubernetes service
# account, federated with the cluster's OIDC issuer, plus the Azure RBAC and
# Cosmos DB data-plane role assignments the environment grants them.

resource "azurerm_user_assigned_identity" "this" {
  for_each = var.workloads

  name                = "id-${each.key}-${var.name_suffix}"
  location            = var.location
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

resource "azurerm_federated_identity_credential" "this" {
  for_each = var.workloads

  name                      = "fic-${each.key}"
  user_assigned_identity_id = azurerm_user_assigned_identity.this[each.key].id
  issuer                    = var.oidc_issuer_url
  audience                  = ["api://AzureADTokenExchange"]
  subject                   = "system:serviceaccount:${each.value.namespace}:${each.value.service_account}"
}

# Further service accounts federated with an identity of var.workloads: an
# identity that two workloads share (the durable task hub's database identity:
# the worker's Functions host and KEDA's operator log in as the same database
# user). A user-assigned identity accepts up to 20 federated credentials.
resource "azurerm_federated_identity_credential" "additional" {
  for_each = var.additional_federations

  name                      = "fic-${each.key}"
  user_assigned_identity_id = azurerm_user_assigned_identity.this[each.value.workload].id
  issuer                    = var.oidc_issuer_url
  audience                  = ["api://AzureADTokenExchange"]
  subject                   = "system:serviceaccount:${each.value.namespace}:${each.value.service_account}"
}

resource "azurerm_role_assignment" "this" {
  for_each = var.role_assignments

  scope                = each.value.scope
  role_definition_name = each.value.role_definition_name
  principal_id         = azurerm_user_assigned_identity.this[each.value.workload].principal_id
  principal_type       = "ServicePrincipal"
  description          = "tinyshop: ${each.key}"
}

# Cosmos DB data-plane RBAC is separate from Azure RBAC: built-in roles are
# "Cosmos DB Built-in Data Reader" (...0001) and "Data Contributor" (...0002).
resource "azurerm_cosmosdb_sql_role_assignment" "this" {
  for_each = var.cosmos_role_assignments

  resource_group_name = var.resource_group_name
  account_name        = var.cosmos_account_name
  role_definition_id  = each.value.role_definition_id
  scope               = each.value.scope
  principal_id        = azurerm_user_assigned_identity.this[each.value.workload].principal_id
}
