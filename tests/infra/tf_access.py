"""Who may do what, read from the parsed Terraform (python-hcl2), not from text patterns.

* :func:`role_matrix` lists every Azure role assignment the configuration can create as a
  ``Grant(principal, role, scope)``: the workload grants of ``envs/dev`` (``module "identity"``
  ``role_assignments`` / ``cosmos_role_assignments``), the GitHub identities' grants
  (``modules/github_oidc`` locals) and every fixed ``azurerm_role_assignment`` of a module
  (``module:<name>`` principals). Generic ``for_each`` assignments must pass their map entry
  through unchanged (:func:`generic_wiring_problems`), so the maps are the whole truth.
* :func:`federated_subjects` lists ``(identity, issuer, subject)`` of every federated credential.

Expressions are kept as Terraform wrote them (``module.servicebus.queue_id``), so a wider
scope, another role or another subject changes the result and fails the comparison with the
expected matrix in ``test_access_matrix.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tf_schema_check import HCL_INTERNAL, parse_hcl

AKS_ISSUER = "aks-oidc-issuer"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"


@dataclass(frozen=True, order=True)
class Grant:
    """One role assignment: who, which role (name or id expression), on what scope."""

    principal: str
    role: str
    scope: str


def expr(value: Any) -> str:
    """``${module.x.y}`` -> ``module.x.y``; literals stay as they are."""
    text = str(value)
    if text.startswith("${") and text.endswith("}"):
        return text[2:-1]
    return text


def blocks(parsed: dict[str, Any], kind: str) -> dict[str, Any]:
    return {
        name: body
        for entry in parsed.get(kind, [])
        for name, body in entry.items()
        if name not in HCL_INTERNAL
    }


def locals_of(parsed: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for entry in parsed.get("locals", []):
        merged.update({k: v for k, v in entry.items() if k not in HCL_INTERNAL})
    return merged


def resources(parsed: dict[str, Any], type_name: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for entry in parsed.get("resource", []):
        for name, body in entry.get(type_name, {}).items():
            if name not in HCL_INTERNAL:
                found[name] = body
    return found


def parse_dir(path: Path) -> dict[str, list[Any]]:
    """All blocks of the .tf files directly in ``path``, concatenated per kind."""
    merged: dict[str, list[Any]] = {}
    for tf in sorted(path.glob("*.tf")):
        for kind, entries in parse_hcl(tf).items():
            merged.setdefault(kind, []).extend(entries if isinstance(entries, list) else [entries])
    return merged


def env_module(tf_dir: Path, name: str) -> dict[str, Any]:
    return blocks(parse_dir(tf_dir / "envs" / "dev"), "module")[name]


def _variable_default(tf_dir: Path, name: str) -> str:
    variables = blocks(parse_dir(tf_dir / "envs" / "dev"), "variable")
    return str(variables[name]["default"])


def role_matrix(tf_dir: Path) -> set[Grant]:
    """Every (principal, role, scope) the configuration assigns."""
    grants: set[Grant] = set()
    identity = env_module(tf_dir, "identity")
    for entry in identity.get("role_assignments", {}).values():
        grants.add(
            Grant(
                f"workload:{entry['workload']}",
                expr(entry["role_definition_name"]),
                expr(entry["scope"]),
            )
        )
    for entry in identity.get("cosmos_role_assignments", {}).values():
        grants.add(
            Grant(
                f"workload:{entry['workload']}",
                expr(entry["role_definition_id"]),
                expr(entry["scope"]),
            )
        )
    github = locals_of(parse_dir(tf_dir / "modules" / "github_oidc"))
    for map_name in ("base_role_assignments", "tfstate_role_assignments"):
        for entry in github[map_name].values():
            grants.add(Grant(f"github:{entry['identity']}", entry["role"], expr(entry["scope"])))
    for module in sorted(p for p in (tf_dir / "modules").iterdir() if p.is_dir()):
        parsed = parse_dir(module)
        for body in resources(parsed, "azurerm_role_assignment").values():
            role = body.get("role_definition_name") or body.get("role_definition_id")
            principal = expr(body["principal_id"])
            if "for_each" in body:
                # Generic (checked by generic_wiring_problems); one role for every principal of
                # a map is one grant to that map.
                if principal == "each.value":
                    principal = expr(body["for_each"])
                else:
                    continue
            grants.add(Grant(f"{module.name}:{principal}", expr(role), expr(body["scope"])))
    return grants


# The for_each role assignments must hand their map entry through unchanged: then the maps
# read by role_matrix are exactly what Azure gets.
GENERIC_WIRING = {
    ("identity", "this"): {
        "scope": "each.value.scope",
        "role_definition_name": "each.value.role_definition_name",
        "principal_id": "azurerm_user_assigned_identity.this[each.value.workload].principal_id",
        "for_each": "var.role_assignments",
    },
    ("keyvault", "secrets_officer"): {
        "scope": "azurerm_key_vault.this.id",
        "role_definition_name": "Key Vault Secrets Officer",
        "principal_id": "each.value",
        "for_each": "var.secrets_officer_principal_ids",
    },
    ("github_oidc", "this"): {
        "scope": "each.value.scope",
        "role_definition_name": "each.value.role",
        "principal_id": "azurerm_user_assigned_identity.this[each.value.identity].principal_id",
        "for_each": "local.role_assignments",
    },
}


def generic_wiring_problems(tf_dir: Path) -> list[str]:
    """Differences between the generic (for_each) assignments and GENERIC_WIRING."""
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    for module in sorted(p for p in (tf_dir / "modules").iterdir() if p.is_dir()):
        for name, body in resources(parse_dir(module), "azurerm_role_assignment").items():
            if "for_each" not in body:
                continue
            key = (module.name, name)
            seen.add(key)
            wanted = GENERIC_WIRING.get(key)
            if wanted is None:
                problems.append(f"{module.name}: unexpected for_each role assignment {name!r}")
                continue
            for argument, expected in wanted.items():
                if expr(body.get(argument)) != expected:
                    problems.append(
                        f"{module.name}.{name}.{argument} = {expr(body.get(argument))!r},"
                        f" expected {expected!r}"
                    )
    for missing in sorted(set(GENERIC_WIRING) - seen):
        problems.append(f"{missing[0]}: role assignment {missing[1]!r} is gone")
    return problems


def federated_subjects(tf_dir: Path) -> set[tuple[str, str, str]]:
    """(identity, issuer, subject) of every federated credential.

    The workload credentials are built by modules/identity from ``local.workloads`` of
    envs/dev with the subject template checked here; the namespace variable is resolved to
    its default.
    """
    subjects: set[tuple[str, str, str]] = set()
    identity = parse_dir(tf_dir / "modules" / "identity")
    credential = resources(identity, "azurerm_federated_identity_credential")["this"]
    template = expr(credential["subject"])
    issuer = AKS_ISSUER if expr(credential["issuer"]) == "var.oidc_issuer_url" else "?"
    env = locals_of(parse_dir(tf_dir / "envs" / "dev"))
    namespace = _variable_default(tf_dir, "kubernetes_namespace")
    for name, workload in env["workloads"].items():
        ns = expr(workload["namespace"]).replace("var.kubernetes_namespace", namespace)
        subject = template.replace("${each.value.namespace}", ns).replace(
            "${each.value.service_account}", expr(workload["service_account"])
        )
        subjects.add((f"workload:{name}", issuer, subject))
    # Further subjects of a shared identity: the identity module's `additional` credentials,
    # built from what envs/dev passes as additional_federations (a local map).
    additional = resources(identity, "azurerm_federated_identity_credential").get("additional")
    passed = expr(env_module(tf_dir, "identity").get("additional_federations", "{}"))
    if additional is not None and passed.startswith("local."):
        extra_template = expr(additional["subject"])
        extra_issuer = AKS_ISSUER if expr(additional["issuer"]) == "var.oidc_issuer_url" else "?"
        for federation in env[passed.removeprefix("local.")].values():
            ns = expr(federation["namespace"]).replace("var.kubernetes_namespace", namespace)
            subject = extra_template.replace("${each.value.namespace}", ns).replace(
                "${each.value.service_account}", expr(federation["service_account"])
            )
            subjects.add((f"workload:{expr(federation['workload'])}", extra_issuer, subject))
    elif additional is not None or passed != "{}":
        subjects.add(("identity:additional_federations", "?", passed))
    github = parse_dir(tf_dir / "modules" / "github_oidc")
    gh_credential = resources(github, "azurerm_federated_identity_credential")["this"]
    gh_issuer = (
        locals_of(github)["issuer"] if expr(gh_credential["issuer"]) == "local.issuer" else "?"
    )
    for name, subject in locals_of(github)["subjects"].items():
        subjects.add((f"github:{name}", gh_issuer, subject))
    return subjects
