# Identities the GitHub Actions workflows log in as (OpenID Connect: GitHub's
# token is exchanged for an Entra token through a federated credential; no
# client secret exists). One identity per trust level, each with one subject:
#
#   build  repo:<owner>/<repo>:ref:refs/heads/main            images.yml on main     AcrPush on the registry
#   plan   repo:<owner>/<repo>:pull_request                   terraform plan on PRs  read-only
#   apply  repo:<owner>/<repo>:environment:<apply env>        terraform apply        Contributor + constrained RBAC admin
#
# A pull request (possibly with a modified workflow) can only ever obtain the
# read-only `plan` identity; pushing images needs a commit on main; changing
# Azure needs an approved run of the protected environment.

data "azurerm_subscription" "current" {}

locals {
  issuer            = "https://token.actions.githubusercontent.com"
  resource_group_id = "${data.azurerm_subscription.current.id}/resourceGroups/${var.resource_group_name}"

  subjects = {
    build = "repo:${var.github_repository}:ref:refs/heads/main"
    plan  = "repo:${var.github_repository}:pull_request"
    apply = "repo:${var.github_repository}:environment:${var.apply_environment}"
  }

  # Roles whose assignments the apply identity may create and delete (the
  # roles infra/terraform assigns to workloads and cluster identities).
  # Owner, Contributor, User Access Administrator and RBAC Administrator
  # are absent: CI cannot widen its own or anyone's control-plane rights.
  assignable_role_ids = sort([for r in data.azurerm_role_definition.assignable : r.role_definition_id])

  role_guid_set = join(", ", local.assignable_role_ids)

  # Microsoft's "constrain roles" condition for Role Based Access Control
  # Administrator (role assignment write/delete only for the listed roles).
  rbac_condition = <<-EOT
    (
     (
      !(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})
     )
     OR
     (
      @Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${local.role_guid_set}}
     )
    )
    AND
    (
     (
      !(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})
     )
     OR
     (
      @Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${local.role_guid_set}}
     )
    )
  EOT

  # Plain maps (not inline in merge()) so tests/infra reads the role matrix
  # from the parsed HCL.
  base_role_assignments = {
    build-acr-push = {
      identity = "build"
      scope    = var.acr_id
      role     = "AcrPush"
    }
    # `terraform plan` refreshes every resource: read access to the
    # subscription's resources and to the Key Vault secrets it manages.
    plan-reader = {
      identity = "plan"
      scope    = data.azurerm_subscription.current.id
      role     = "Reader"
    }
    plan-kv-secrets-user = {
      identity = "plan"
      scope    = var.key_vault_id
      role     = "Key Vault Secrets User"
    }
    apply-contributor = {
      identity = "apply"
      scope    = data.azurerm_subscription.current.id
      role     = "Contributor"
    }
  }

  # Plans run with -lock=false and only read the state.
  tfstate_role_assignments = {
    plan-tfstate-reader = {
      identity = "plan"
      scope    = var.tfstate_storage_account_id
      role     = "Storage Blob Data Reader"
    }
    apply-tfstate-contributor = {
      identity = "apply"
      scope    = var.tfstate_storage_account_id
      role     = "Storage Blob Data Contributor"
    }
  }

  role_assignments = merge(
    local.base_role_assignments,
    var.tfstate_storage_account_id == null ? {} : local.tfstate_role_assignments,
  )
}

data "azurerm_role_definition" "assignable" {
  for_each = toset(var.assignable_role_names)

  name  = each.key
  scope = data.azurerm_subscription.current.id
}

resource "azurerm_user_assigned_identity" "this" {
  for_each = local.subjects

  name                = "id-github-${each.key}-${var.name_suffix}"
  location            = var.location
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

resource "azurerm_federated_identity_credential" "this" {
  for_each = local.subjects

  name                      = "github-${each.key}"
  user_assigned_identity_id = azurerm_user_assigned_identity.this[each.key].id
  issuer                    = local.issuer
  audience                  = ["api://AzureADTokenExchange"]
  subject                   = each.value
}

resource "azurerm_role_assignment" "this" {
  for_each = local.role_assignments

  scope                = each.value.scope
  role_definition_name = each.value.role
  principal_id         = azurerm_user_assigned_identity.this[each.value.identity].principal_id
  principal_type       = "ServicePrincipal"
  description          = "tinyshop github: ${each.key}"
}

# Terraform creates role assignments (workload identities, AKS, Key Vault):
# the apply identity may assign exactly the roles in var.assignable_role_names.
# The images workflow pushes from a GitHub-hosted runner, outside the VNets,
# while the registry's public endpoint is closed. It opens the endpoint for
# its own egress IP only (default action Deny + one IP rule), pushes, and
# closes it again in an always() step (.github/workflows/images.yml;
# docs/infra.md, "Images into ACR"). Changing network rules is a registry
# write: no built-in role carries it without much more (Contributor), so the
# build identity gets this custom role with exactly read + write of
# registries, on this one registry. Custom roles cannot be assignable at
# resource scope, hence the resource group as assignable scope.
resource "azurerm_role_definition" "acr_network_rule_editor" {
  name        = "TinyShop ACR network rule editor (${var.name_suffix})"
  scope       = local.resource_group_id
  description = "Open/close the registry's public endpoint for one IP while CI pushes (images workflow)."

  permissions {
    actions = [
      "Microsoft.ContainerRegistry/registries/read",
      "Microsoft.ContainerRegistry/registries/write",
    ]
    not_actions = []
  }

  assignable_scopes = [local.resource_group_id]
}

resource "azurerm_role_assignment" "build_acr_network_rule" {
  scope              = var.acr_id
  role_definition_id = azurerm_role_definition.acr_network_rule_editor.role_definition_resource_id
  principal_id       = azurerm_user_assigned_identity.this["build"].principal_id
  principal_type     = "ServicePrincipal"
  description        = "tinyshop github: build may open the registry for its runner IP while pushing"
}

resource "azurerm_role_assignment" "apply_rbac_admin" {
  scope                = data.azurerm_subscription.current.id
  role_definition_name = "Role Based Access Control Administrator"
  principal_id         = azurerm_user_assigned_identity.this["apply"].principal_id
  principal_type       = "ServicePrincipal"
  description          = "tinyshop github: apply may assign only the roles infra/terraform uses"
  condition_version    = "2.0"
  condition            = local.rbac_condition
}
