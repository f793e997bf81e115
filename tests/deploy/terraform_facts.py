"""What the Terraform of an environment says the cluster must match, parsed from the HCL with
python-hcl2 (no text search): federated ServiceAccount subjects, the Service Bus queue, the Key
Vault secret names, which ServiceAccount may read which secret, the apps' Postgres logins and
the outputs the values generator reads."""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2

TERRAFORM = Path(__file__).resolve().parents[2] / "infra" / "terraform"
_LIST_LITERAL = re.compile(r"^\$\{toset\(\[(.*)\]\)\}$", re.S)
_SECRET_SCOPE = re.compile(r'^\$\{module\.keyvault\.secret_resource_ids\["([^"]+)"\]\}$')
KEY_VAULT_READER_ROLE = "Key Vault Secrets User"
# locals.generated_secret_names: the app logins' password secrets, one home (postgres_app_roles).
GENERATED_FROM_APP_ROLES = (
    "${toset([for login in values(local.postgres_app_roles) : login.password_secret])}"
)


def _load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return hcl2.load(handle)


def _unquote(value: str) -> str:
    """python-hcl2 keeps string literals quoted ('"orders"'); expressions stay '${...}'."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _blocks(parsed: dict[str, Any], kind: str) -> dict[str, Any]:
    """{name: body} of every `kind "name" {}` block (variable, output, module, ...)."""
    return {_unquote(k): v for block in parsed.get(kind, []) for k, v in block.items()}


@dataclass(frozen=True)
class EnvironmentFacts:
    federated_subjects: frozenset[str]
    servicebus_queue: str
    key_vault_secrets: frozenset[str]
    outputs: dict[str, str]  # output name -> its value expression
    # federated subject (system:serviceaccount:<ns>:<name>) -> Key Vault secrets its identity
    # may read (Key Vault Secrets User scoped to that secret)
    secret_readers: dict[str, frozenset[str]]
    # app -> (its Postgres role, the Key Vault secret of that role's password)
    postgres_app_roles: dict[str, tuple[str, str]]
    # secrets Terraform generates write-only (never in state): the app logins' passwords
    generated_secrets: frozenset[str]
    # federated subjects of the durable task hub's database identity (workloads + the
    # identity module's additional_federations)
    durable_subjects: frozenset[str]
    # CIDR of the spoke's private-endpoint subnet (the Azure SQL private endpoint)
    private_endpoints_cidr: str


def _secret_set(expr: str, name: str) -> frozenset[str]:
    match = _LIST_LITERAL.match(expr)
    if not match:
        raise ValueError(f"{name} is not a toset([...]) literal: {expr}")
    return frozenset(re.findall(r'"([^"]+)"', match.group(1)))


def secret_readers(
    role_assignments: dict[str, Any], subject_of: dict[str, str]
) -> dict[str, frozenset[str]]:
    """Federated subject -> secrets it may read, from the identity module's role_assignments
    (workload, scope, role). A Key Vault reader role on anything but one secret is refused: a
    vault-wide scope would let the identity read every secret."""
    readers: dict[str, set[str]] = {subject: set() for subject in subject_of.values()}
    for name, grant in role_assignments.items():
        if _unquote(grant["role_definition_name"]) != KEY_VAULT_READER_ROLE:
            continue
        scope = _SECRET_SCOPE.match(grant["scope"])
        if not scope:
            raise ValueError(f"{name}: {KEY_VAULT_READER_ROLE} on {grant['scope']}, not a secret")
        readers[subject_of[_unquote(grant["workload"])]].add(scope.group(1))
    return {subject: frozenset(secrets) for subject, secrets in readers.items()}


def environment_facts(env: str = "dev", main_text: str | None = None) -> EnvironmentFacts:
    """The facts of `env`; `main_text` replaces its main.tf (mutation tests)."""
    root = TERRAFORM / "envs" / env
    main = hcl2.loads(main_text) if main_text is not None else _load(root / "main.tf")
    variables = _blocks(_load(root / "variables.tf"), "variable")
    locals_: dict[str, Any] = {}
    for block in main.get("locals", []):
        locals_.update(block)

    def resolve(expr: str) -> str:
        match = re.fullmatch(r"\$\{var\.(\w+)\}", expr)
        if match:
            return _unquote(variables[match.group(1)]["default"])
        if expr.startswith("${"):
            raise ValueError(f"cannot resolve {expr}")
        return _unquote(expr)

    subject_template = _federated_subject_template()
    subject_of = {
        key: subject_template.format(
            namespace=resolve(workload["namespace"]),
            service_account=resolve(workload["service_account"]),
        )
        for key, workload in locals_["workloads"].items()
    }
    app_roles = {
        app: (_unquote(login["role"]), _unquote(login["password_secret"]))
        for app, login in locals_["postgres_app_roles"].items()
    }
    if locals_["generated_secret_names"] != GENERATED_FROM_APP_ROLES:
        raise ValueError(f"generated_secret_names is {locals_['generated_secret_names']}")
    generated = frozenset(secret for _, secret in app_roles.values())
    secrets = _secret_set(locals_["secret_names"], "secret_names") | generated
    modules = _blocks(main, "module")
    queue = _unquote(modules["servicebus"]["queue_name"])
    outputs = {
        name: body["value"] for name, body in _blocks(_load(root / "outputs.tf"), "output").items()
    }
    durable_subjects = {subject_of["durable"]} | {
        subject_template.format(
            namespace=resolve(f["namespace"]), service_account=resolve(f["service_account"])
        )
        for f in locals_.get("durable_federations", {}).values()
        if _unquote(f["workload"]) == "durable"
    }
    if modules["identity"].get("additional_federations") != "${local.durable_federations}":
        durable_subjects = {subject_of["durable"]}
    return EnvironmentFacts(
        federated_subjects=frozenset(subject_of.values()),
        servicebus_queue=queue,
        key_vault_secrets=secrets,
        outputs=outputs,
        secret_readers=secret_readers(modules["identity"]["role_assignments"], subject_of),
        postgres_app_roles=app_roles,
        generated_secrets=generated,
        durable_subjects=frozenset(durable_subjects),
        private_endpoints_cidr=_private_endpoints_cidr(modules["network"]),
    )


def _private_endpoints_cidr(network_module: dict[str, Any]) -> str:
    """What envs/dev passes as the network module's private_endpoints_subnet_prefix, or the
    module's default."""
    if "private_endpoints_subnet_prefix" in network_module:
        return _unquote(network_module["private_endpoints_subnet_prefix"])
    variables = _blocks(_load(TERRAFORM / "modules" / "network" / "variables.tf"), "variable")
    return _unquote(variables["private_endpoints_subnet_prefix"]["default"])


def _federated_subject_template() -> str:
    """The identity module's subject expression as a format string."""
    resources = _load(TERRAFORM / "modules" / "identity" / "main.tf")["resource"]
    for block in resources:
        body = block.get('"azurerm_federated_identity_credential"')
        if body:
            subject = _unquote(body['"this"']["subject"])
            return subject.replace("${each.value.namespace}", "{namespace}").replace(
                "${each.value.service_account}", "{service_account}"
            )
    raise ValueError("modules/identity declares no azurerm_federated_identity_credential")
