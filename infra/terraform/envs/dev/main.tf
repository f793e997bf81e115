# TinyShop dev environment: wires the modules together.
#
# Naming: <abbreviation>-<workload>-<environment>-<region> (Cloud Adoption
# Framework abbreviations); globally unique names get a 5-character random
# suffix. Every resource carries local.tags.

data "azurerm_client_config" "current" {}

resource "random_string" "suffix" {
  length  = 5
  lower   = true
  upper   = false
  numeric = true
  special = false
}

locals {
  # Who writes the vault's secrets: the operators named in the variables and, once it exists,
  # the CI apply identity. A fixed set, not "whoever runs Terraform" (the caller's object id):
  # that moved the grant to each apply's caller, so a CI apply took it from the operators and
  # every pull request's plan showed it moving.
  key_vault_secrets_officers = merge(
    { for id in var.key_vault_secrets_officer_object_ids : id => id },
    { for m in module.github_oidc : "github-apply" => m.principal_ids["apply"] },
  )

  name_suffix = "${var.workload}-${var.environment}-${var.location_short}"
  unique      = random_string.suffix.result

  names = {
    resource_group = "rg-${local.name_suffix}"
    log_analytics  = "log-${local.name_suffix}"
    acr            = "acr${var.workload}${var.environment}${local.unique}"
    key_vault      = "kv-${var.workload}-${var.environment}-${local.unique}"
    postgres       = "psql-${var.workload}-${var.environment}-${local.unique}"
    cosmos         = "cosno-${var.workload}-${var.environment}-${local.unique}"
    servicebus     = "sbns-${var.workload}-${var.environment}-${local.unique}"
    sql            = "sql-${var.workload}-${var.environment}-${local.unique}"
    # Storage account names allow only lowercase letters and digits (3-24):
    # st + workload (<= 10) + environment (<= 5) + suffix (5) <= 22.
    storage = "st${var.workload}${var.environment}${local.unique}"
  }

  tags = merge(var.tags, {
    workload    = var.workload
    environment = var.environment
    managed-by  = "terraform"
    repository  = "tinyshop"
  })

  private_dns_zones = {
    acr        = "privatelink.azurecr.io"
    keyvault   = "privatelink.vaultcore.azure.net"
    cosmos     = "privatelink.documents.azure.com"
    servicebus = "privatelink.servicebus.windows.net"
    postgres   = "${local.name_suffix}.private.postgres.database.azure.com"
    sql        = "privatelink.database.windows.net"
    blob       = "privatelink.blob.core.windows.net"
    queue      = "privatelink.queue.core.windows.net"
    table      = "privatelink.table.core.windows.net"
    # The private API server's zone (our own instead of AKS's "System" zone,
    # so it is linked to the hub, where the firewall's DNS proxy resolves).
    aks = "privatelink.${var.location}.azmk8s.io"
  }

  # Kubernetes service accounts federated with their own identity. KEDA's
  # operator gets a separate identity: it only reads queue metrics.
  workloads = {
    catalog = { namespace = var.kubernetes_namespace, service_account = "catalog" }
    orders  = { namespace = var.kubernetes_namespace, service_account = "orders" }
    worker  = { namespace = var.kubernetes_namespace, service_account = "worker" }
    ui      = { namespace = var.kubernetes_namespace, service_account = "ui" }
    # The migration Jobs (charts/tinyshop): the only pods that get the Postgres
    # administrator's password; they create and update the apps' own logins.
    migrations = { namespace = var.kubernetes_namespace, service_account = "migrations" }
    keda       = { namespace = "keda", service_account = "keda-operator" }
    # cloudflared (argocd/platform/cloudflared) reads the tunnel token from
    # Key Vault through the CSI driver as itself.
    cloudflared = { namespace = "cloudflared", service_account = "cloudflared" }
    # The durable task hub's database identity (docs/infra.md, "Durable task
    # hub"): no Azure role at all, only the task hub database's user. The
    # worker's Functions host logs in to Azure SQL with it (federated with
    # tinyshop/worker here) and KEDA's operator runs the scale query with it
    # (durable_federations below): the SQL provider's task hub is the database
    # user's name, so both must be the same user.
    durable = { namespace = var.kubernetes_namespace, service_account = "worker" }
  }
  durable_federations = {
    durable-keda = { workload = "durable", namespace = "keda", service_account = "keda-operator" }
  }

  # The Durable Functions task hub: host.json hubName (%DURABLE_TASK_HUB%), and
  # the name of the task hub's database user, which the SQL provider's default
  # TaskHubMode 1 uses as the task hub (USER_NAME()).
  durable_task_hub = "tinyshop"

  # Key Vault secrets mounted by the Helm chart's SecretProviderClasses.
  secret_names = toset([
    "postgres-admin-password",
    "ui-client-secret",
    "flask-secret-key",
    "cloudflare-tunnel-token",
    "log-pseudonym-key",
  ])
  # Generated here and written write-only (never in state); the others keep a
  # regular value because their source keeps them in state anyway.
  write_only_secret_names = toset(["postgres-admin-password", "flask-secret-key", "log-pseudonym-key"])
  stored_secret_names     = setsubtract(local.secret_names, local.write_only_secret_names)

  # Each app's own Postgres login (least privilege: its own database, no DDL).
  # Terraform only generates the passwords (write-only into Key Vault, like the
  # ones above); the migration Job creates or updates the roles with them
  # (functions/shared/db_roles.py). Role names are lowercase identifiers.
  postgres_app_roles = {
    catalog = { role = "catalog_app", password_secret = "postgres-catalog-password" }
    orders  = { role = "orders_app", password_secret = "postgres-orders-password" }
    ui      = { role = "ui_app", password_secret = "postgres-ui-password" }
  }
  generated_secret_names = toset([for login in values(local.postgres_app_roles) : login.password_secret])
}

resource "azurerm_resource_group" "this" {
  name     = local.names.resource_group
  location = var.location
  tags     = local.tags
}

# ------------------------------------------------------------- foundation ---

module "monitoring" {
  source = "../../modules/monitoring"

  name                = local.names.log_analytics
  location            = var.location
  resource_group_name = azurerm_resource_group.this.name
  tags                = local.tags
}

module "network" {
  source = "../../modules/network"

  name_suffix                = local.name_suffix
  location                   = var.location
  resource_group_name        = azurerm_resource_group.this.name
  bastion_enabled            = var.bastion_enabled
  zones                      = var.firewall_zones
  firewall_sku_tier          = var.firewall_sku_tier
  log_analytics_workspace_id = module.monitoring.id
  private_dns_zones          = local.private_dns_zones
  hub_only_dns_zones         = ["aks"]
  # Standard Service Bus has no private endpoint: allow exactly this namespace.
  servicebus_namespace_fqdn = var.servicebus_sku == "Premium" ? null : "${local.names.servicebus}.servicebus.windows.net"
  tags                      = local.tags
}

# ------------------------------------------------------------------ data ---

module "acr" {
  source = "../../modules/acr"

  name                          = local.names.acr
  location                      = var.location
  resource_group_name           = azurerm_resource_group.this.name
  public_network_access_enabled = var.acr_public_network_access_enabled
  cache_rules                   = var.acr_cache_rules
  private_endpoint_subnet_id    = module.network.private_endpoints_subnet_id
  private_dns_zone_id           = module.network.private_dns_zone_ids["acr"]
  tags                          = local.tags
}

# Ephemeral (random >= 3.7): a fresh value in every run that is never stored in
# plan or state. It reaches Azure only through write-only arguments, which
# send it when their version changes: the Postgres server's
# administrator_password_wo and the Key Vault secret's value_wo carry the
# same version (var.postgres_admin_password_version), so both get the value
# of the same run. Bump the version to rotate.
ephemeral "random_password" "postgres_admin" {
  length           = 32
  special          = true
  override_special = "-_.~"
  min_lower        = 2
  min_upper        = 2
  min_numeric      = 2
}

ephemeral "random_password" "flask_secret_key" {
  length  = 64
  special = false
}

# Keys the worker's log pseudonyms of users (functions/shared/pseudonym.py): without it they
# could be reversed by hashing candidate user ids.
ephemeral "random_password" "log_pseudonym_key" {
  length  = 64
  special = false
}

# The apps' own Postgres passwords: only Key Vault gets them (value_wo, version
# var.postgres_app_passwords_version); the migration Jobs read them there and
# set them on the apps' roles, so no other copy has to match.
ephemeral "random_password" "postgres_app" {
  for_each = local.postgres_app_roles

  length           = 32
  special          = true
  override_special = "-_.~"
  min_lower        = 2
  min_upper        = 2
  min_numeric      = 2
}

module "postgres" {
  source = "../../modules/postgres"

  name                   = local.names.postgres
  location               = var.location
  resource_group_name    = azurerm_resource_group.this.name
  tenant_id              = data.azurerm_client_config.current.tenant_id
  delegated_subnet_id    = module.network.postgres_subnet_id
  private_dns_zone_id    = module.network.private_dns_zone_ids["postgres"]
  administrator_password = ephemeral.random_password.postgres_admin.result
  databases              = ["catalog", "orders", "ui"]
  tags                   = local.tags

  # Same version as the Key Vault secret: both are written in one run.
  administrator_password_version = var.postgres_admin_password_version
  sku_name                       = var.postgres_sku_name
  zone                           = var.postgres_zone
}

module "cosmos" {
  source = "../../modules/cosmos"

  name                       = local.names.cosmos
  location                   = var.location
  resource_group_name        = azurerm_resource_group.this.name
  database_name              = "tinyshop"
  container_name             = "order-events"
  partition_key_path         = "/orderId"
  private_endpoint_subnet_id = module.network.private_endpoints_subnet_id
  private_dns_zone_id        = module.network.private_dns_zone_ids["cosmos"]
  tags                       = local.tags
}

# The Durable Functions task hub (Microsoft SQL storage provider): Entra-only,
# private, serverless. The migration Jobs' identity is its Entra administrator;
# it creates the task hub's database user (charts/tinyshop durable-sql-grants).
module "sql" {
  source = "../../modules/sql"

  name                        = local.names.sql
  location                    = var.location
  resource_group_name         = azurerm_resource_group.this.name
  tenant_id                   = data.azurerm_client_config.current.tenant_id
  entra_admin_login           = module.identity.names["migrations"]
  entra_admin_object_id       = module.identity.principal_ids["migrations"]
  sku_name                    = var.durable_sql_sku_name
  min_capacity                = var.durable_sql_min_capacity
  auto_pause_delay_in_minutes = var.durable_sql_auto_pause_delay_in_minutes
  private_endpoint_subnet_id  = module.network.private_endpoints_subnet_id
  private_dns_zone_id         = module.network.private_dns_zone_ids["sql"]
  log_analytics_workspace_id  = module.monitoring.id
  tags                        = local.tags
}

module "servicebus" {
  source = "../../modules/servicebus"

  name                       = local.names.servicebus
  location                   = var.location
  resource_group_name        = azurerm_resource_group.this.name
  sku                        = var.servicebus_sku
  queue_name                 = "orders"
  max_delivery_count         = 10
  private_endpoint_subnet_id = module.network.private_endpoints_subnet_id
  private_dns_zone_id        = module.network.private_dns_zone_ids["servicebus"]
  tags                       = local.tags
}

# AzureWebJobsStorage of the Functions hosts (catalog, orders, worker): keys,
# host lock and timer schedule leases. Key-less and private; the hosts use
# AzureWebJobsStorage__accountName + their workload identity.
module "storage" {
  source = "../../modules/storage"

  name                       = local.names.storage
  location                   = var.location
  resource_group_name        = azurerm_resource_group.this.name
  account_replication_type   = var.storage_replication_type
  private_endpoint_subnet_id = module.network.private_endpoints_subnet_id
  private_dns_zone_ids = {
    blob  = module.network.private_dns_zone_ids["blob"]
    queue = module.network.private_dns_zone_ids["queue"]
    table = module.network.private_dns_zone_ids["table"]
  }
  log_analytics_workspace_id = module.monitoring.id
  tags                       = local.tags
}

# ------------------------------------------------------- edge & identity ---

module "entra" {
  source = "../../modules/entra"
  # An explicit providers map replaces implicit inheritance: list them all.
  providers = {
    azuread = azuread.external
    random  = random
  }

  tenant_id           = var.external_tenant_id
  tenant_subdomain    = var.external_tenant_subdomain
  display_name_prefix = "TinyShop ${var.environment}"
  ui_redirect_uris    = ["https://${var.shop_hostname}${var.ui_redirect_path}"]
  ui_logout_url       = "https://${var.shop_hostname}/"
}

module "cloudflare" {
  source = "../../modules/cloudflare"

  account_id  = var.cloudflare_account_id
  zone_id     = var.cloudflare_zone_id
  tunnel_name = "${var.workload}-${var.environment}"
  hostname    = var.shop_hostname
}

module "keyvault" {
  source = "../../modules/keyvault"

  name                          = local.names.key_vault
  location                      = var.location
  resource_group_name           = azurerm_resource_group.this.name
  tenant_id                     = data.azurerm_client_config.current.tenant_id
  allowed_ip_ranges             = var.operator_ip_ranges
  secrets_officer_principal_ids = local.key_vault_secrets_officers
  secret_names                  = local.stored_secret_names
  # Values that already live in state at their source (the azuread client
  # secret, the Cloudflare token data source) are stored here as well.
  secret_values = {
    "ui-client-secret"        = module.entra.ui_client_secret
    "cloudflare-tunnel-token" = module.cloudflare.tunnel_token
  }
  # Generated secrets: write-only, never in state (docs/infra.md, "Secrets").
  write_only_secret_versions = merge(
    {
      "postgres-admin-password" = var.postgres_admin_password_version
      "flask-secret-key"        = var.flask_secret_key_version
      "log-pseudonym-key"       = var.log_pseudonym_key_version
    },
    { for name in local.generated_secret_names : name => var.postgres_app_passwords_version },
  )
  write_only_secret_values = merge(
    {
      "postgres-admin-password" = ephemeral.random_password.postgres_admin.result
      "flask-secret-key"        = ephemeral.random_password.flask_secret_key.result
      "log-pseudonym-key"       = ephemeral.random_password.log_pseudonym_key.result
    },
    {
      for app, login in local.postgres_app_roles :
      login.password_secret => ephemeral.random_password.postgres_app[app].result
    },
  )
  private_endpoint_subnet_id = module.network.private_endpoints_subnet_id
  private_dns_zone_id        = module.network.private_dns_zone_ids["keyvault"]
  tags                       = local.tags
}

# --------------------------------------------------------------- cluster ---

module "aks" {
  source = "../../modules/aks"

  name_suffix                = local.name_suffix
  location                   = var.location
  resource_group_name        = azurerm_resource_group.this.name
  tenant_id                  = data.azurerm_client_config.current.tenant_id
  admin_group_object_ids     = var.aks_admin_group_object_ids
  kubernetes_version         = var.kubernetes_version
  sku_tier                   = var.aks_sku_tier
  subnet_id                  = module.network.aks_subnet_id
  vnet_id                    = module.network.spoke_vnet_id
  private_dns_zone_id        = module.network.private_dns_zone_ids["aks"]
  zones                      = var.aks_zones
  system_node_vm_size        = var.aks_system_node_vm_size
  user_node_vm_size          = var.aks_user_node_vm_size
  user_pool_enabled          = var.aks_user_pool_enabled
  user_node_min_count        = var.aks_user_node_min_count
  route_table_id             = module.network.aks_route_table_id
  acr_id                     = module.acr.id
  log_analytics_workspace_id = module.monitoring.id
  user_node_max_count        = var.aks_user_node_max_count
  tags                       = local.tags
}

# Least privilege, data plane only, scoped to the single queue / database /
# secret each workload uses:
#   orders -> Service Bus Data Sender (queue), Cosmos Data Reader (db), its own
#             Postgres password (postgres-orders-password)
#   worker -> Service Bus Data Receiver (queue), Cosmos Data Contributor (db)
#   catalog-> its own Postgres password (postgres-catalog-password)
#   ui     -> its own Postgres password (its `ui` session database), its client
#             secret and Flask key
#   migrations -> the Postgres administrator's password and the three app
#             passwords it sets on the apps' roles; nothing else. No app reads
#             the administrator's password.
#   catalog, orders, worker (the Functions hosts) -> Storage Blob Data Owner on
#             the AzureWebJobsStorage account: Microsoft's documented minimum for
#             host storage and timer triggers (keys, host lock, schedule leases:
#             read/write blobs, create containers). No queue/table roles: no
#             blob/queue trigger and no Durable Functions (see docs/infra.md).
#   keda   -> Service Bus Data Owner (queue): KEDA's scaler reads the queue's
#             runtime properties (message counts), a management read that the
#             Sender/Receiver roles do not include; its docs require "Manage"
#             (= Data Owner with Entra auth). Scoped to the queue, not the namespace.
module "identity" {
  source = "../../modules/identity"

  name_suffix         = local.name_suffix
  location            = var.location
  resource_group_name = azurerm_resource_group.this.name
  oidc_issuer_url     = module.aks.oidc_issuer_url
  workloads           = local.workloads
  # The durable identity is shared by the worker and KEDA (see local.workloads).
  additional_federations = local.durable_federations

  role_assignments = {
    orders-servicebus-sender = {
      workload             = "orders"
      scope                = module.servicebus.queue_id
      role_definition_name = "Azure Service Bus Data Sender"
    }
    worker-servicebus-receiver = {
      workload             = "worker"
      scope                = module.servicebus.queue_id
      role_definition_name = "Azure Service Bus Data Receiver"
    }
    keda-servicebus-owner = {
      workload             = "keda"
      scope                = module.servicebus.queue_id
      role_definition_name = "Azure Service Bus Data Owner"
    }
    catalog-kv-postgres-password = {
      workload             = "catalog"
      scope                = module.keyvault.secret_resource_ids["postgres-catalog-password"]
      role_definition_name = "Key Vault Secrets User"
    }
    orders-kv-postgres-password = {
      workload             = "orders"
      scope                = module.keyvault.secret_resource_ids["postgres-orders-password"]
      role_definition_name = "Key Vault Secrets User"
    }
    ui-kv-postgres-password = {
      workload             = "ui"
      scope                = module.keyvault.secret_resource_ids["postgres-ui-password"]
      role_definition_name = "Key Vault Secrets User"
    }
    migrations-kv-postgres-admin-password = {
      workload             = "migrations"
      scope                = module.keyvault.secret_resource_ids["postgres-admin-password"]
      role_definition_name = "Key Vault Secrets User"
    }
    migrations-kv-postgres-catalog-password = {
      workload             = "migrations"
      scope                = module.keyvault.secret_resource_ids["postgres-catalog-password"]
      role_definition_name = "Key Vault Secrets User"
    }
    migrations-kv-postgres-orders-password = {
      workload             = "migrations"
      scope                = module.keyvault.secret_resource_ids["postgres-orders-password"]
      role_definition_name = "Key Vault Secrets User"
    }
    migrations-kv-postgres-ui-password = {
      workload             = "migrations"
      scope                = module.keyvault.secret_resource_ids["postgres-ui-password"]
      role_definition_name = "Key Vault Secrets User"
    }
    catalog-storage-blob-owner = {
      workload             = "catalog"
      scope                = module.storage.id
      role_definition_name = "Storage Blob Data Owner"
    }
    orders-storage-blob-owner = {
      workload             = "orders"
      scope                = module.storage.id
      role_definition_name = "Storage Blob Data Owner"
    }
    worker-storage-blob-owner = {
      workload             = "worker"
      scope                = module.storage.id
      role_definition_name = "Storage Blob Data Owner"
    }
    ui-kv-client-secret = {
      workload             = "ui"
      scope                = module.keyvault.secret_resource_ids["ui-client-secret"]
      role_definition_name = "Key Vault Secrets User"
    }
    ui-kv-flask-secret-key = {
      workload             = "ui"
      scope                = module.keyvault.secret_resource_ids["flask-secret-key"]
      role_definition_name = "Key Vault Secrets User"
    }
    worker-kv-log-pseudonym-key = {
      workload             = "worker"
      scope                = module.keyvault.secret_resource_ids["log-pseudonym-key"]
      role_definition_name = "Key Vault Secrets User"
    }
    cloudflared-kv-tunnel-token = {
      workload             = "cloudflared"
      scope                = module.keyvault.secret_resource_ids["cloudflare-tunnel-token"]
      role_definition_name = "Key Vault Secrets User"
    }
  }

  cosmos_account_name = module.cosmos.name
  cosmos_role_assignments = {
    worker-cosmos-data-contributor = {
      workload           = "worker"
      role_definition_id = module.cosmos.builtin_role_definition_ids["data_contributor"]
      scope              = module.cosmos.database_scope
    }
    orders-cosmos-data-reader = {
      workload           = "orders"
      role_definition_id = module.cosmos.builtin_role_definition_ids["data_reader"]
      scope              = module.cosmos.database_scope
    }
  }

  tags = local.tags
}

# ------------------------------------------------------------ GitHub CI ---

# Identities of the GitHub Actions workflows (OIDC, no secrets): build pushes
# images, plan reads, apply changes Azure behind an approved environment.
# Created only once github_repository is set (docs/infra.md, "Terraform in
# GitHub Actions"): a federated credential for the wrong repository would let
# that repository's workflows push to this registry.
module "github_oidc" {
  source = "../../modules/github_oidc"
  count  = var.github_repository == null ? 0 : 1

  name_suffix                = local.name_suffix
  location                   = var.location
  resource_group_name        = azurerm_resource_group.this.name
  github_repository          = var.github_repository
  acr_id                     = module.acr.id
  key_vault_id               = module.keyvault.id
  tfstate_storage_account_id = var.tfstate_storage_account_id
  # Every role this configuration assigns (workloads, AKS, Key Vault):
  # `terraform apply` in CI may create exactly these assignments.
  assignable_role_names = [
    "AcrPull",
    "AcrPush",
    "Azure Service Bus Data Owner",
    "Azure Service Bus Data Receiver",
    "Azure Service Bus Data Sender",
    "Key Vault Secrets Officer",
    "Key Vault Secrets User",
    "Managed Identity Operator",
    "Network Contributor",
    "Private DNS Zone Contributor",
    "Storage Blob Data Owner",
  ]
  tags = local.tags
}
