# App registrations in the Entra External ID (CIAM) tenant. The caller passes
# the provider configured for that tenant:
#   providers = { azuread = azuread.external }
# The tenant itself, the Google identity provider and the sign-up/sign-in user
# flow cannot be managed with the azuread provider: see docs/infra.md.

locals {
  msgraph_app_id = "00000003-0000-0000-c000-000000000000"
  # Well-known Microsoft Graph delegated permission ids.
  msgraph_openid_id         = "37f7f235-527c-4136-accd-4a02d197296e"
  msgraph_offline_access_id = "7427e0e9-2fba-42fe-b0c0-848c9e6a8182"
  scope_name                = "Orders.ReadWrite"
}

resource "random_uuid" "orders_scope" {}

# ---------------------------------------------------------------- the API ---

resource "azuread_application" "api" {
  display_name     = "${var.display_name_prefix} orders API"
  sign_in_audience = "AzureADMyOrg"

  api {
    requested_access_token_version = 2

    oauth2_permission_scope {
      id                         = random_uuid.orders_scope.result
      value                      = local.scope_name
      type                       = "User"
      enabled                    = true
      admin_consent_display_name = "Read and write TinyShop carts and orders"
      admin_consent_description  = "Lets the app manage the signed-in shopper's cart, checkout and order history."
      user_consent_display_name  = "Manage your TinyShop cart and orders"
      user_consent_description   = "Lets the app manage your cart, place orders and read your order history."
    }
  }

  lifecycle {
    # Managed by azuread_application_identifier_uri (it needs the client id).
    ignore_changes = [identifier_uris]
  }
}

resource "azuread_application_identifier_uri" "api" {
  application_id = azuread_application.api.id
  identifier_uri = "api://${azuread_application.api.client_id}"
}

resource "azuread_service_principal" "api" {
  client_id = azuread_application.api.client_id
}

# ----------------------------------------------------------------- the UI ---

resource "azuread_application" "ui" {
  display_name     = "${var.display_name_prefix} shop UI"
  sign_in_audience = "AzureADMyOrg"

  web {
    redirect_uris = var.ui_redirect_uris
    logout_url    = var.ui_logout_url

    implicit_grant {
      access_token_issuance_enabled = false
      id_token_issuance_enabled     = false
    }
  }

  required_resource_access {
    resource_app_id = local.msgraph_app_id

    resource_access {
      id   = local.msgraph_openid_id
      type = "Scope"
    }

    resource_access {
      id   = local.msgraph_offline_access_id
      type = "Scope"
    }
  }

  required_resource_access {
    resource_app_id = azuread_application.api.client_id

    resource_access {
      id   = random_uuid.orders_scope.result
      type = "Scope"
    }
  }
}

resource "azuread_service_principal" "ui" {
  client_id = azuread_application.ui.client_id
}

# Confidential client secret of the UI (auth code flow + PKCE). Stored in Key
# Vault by the environment; bump ui_client_secret_rotation to rotate it.
resource "azuread_application_password" "ui" {
  application_id = azuread_application.ui.id
  display_name   = "tinyshop-ui"

  rotate_when_changed = {
    rotation = var.ui_client_secret_rotation
  }
}

# The UI may request Orders.ReadWrite without a consent prompt.
resource "azuread_application_pre_authorized" "ui" {
  application_id       = azuread_application.api.id
  authorized_client_id = azuread_application.ui.client_id
  permission_ids       = [random_uuid.orders_scope.result]
}

# Tenant-wide admin consent for the UI's delegated permissions, so shoppers
# signing up through the user flow are never asked to consent.
data "azuread_service_principal" "msgraph" {
  client_id = local.msgraph_app_id
}

resource "azuread_service_principal_delegated_permission_grant" "ui_msgraph" {
  service_principal_object_id          = azuread_service_principal.ui.object_id
  resource_service_principal_object_id = data.azuread_service_principal.msgraph.object_id
  claim_values                         = ["openid", "offline_access"]
}

resource "azuread_service_principal_delegated_permission_grant" "ui_api" {
  service_principal_object_id          = azuread_service_principal.ui.object_id
  resource_service_principal_object_id = azuread_service_principal.api.object_id
  claim_values                         = [local.scope_name]
}
