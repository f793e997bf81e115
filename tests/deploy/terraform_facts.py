"""What the Terraform of an environment says the cluster must match, parsed from the HCL with
python-hcl2 (no text search): federated ServiceAccount subjects, the Service Bus queue, the Key
Vault secret names and the outputs the values generator reads."""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2

TERRAFORM = Path(__file__).resolve().parents[2] / "infra" / "terraform"
_LIST_LITERAL = re.compile(r"^\$\{toset\(\[(.*)\]\)\}$", re.S)


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


def environment_facts(env: str = "dev") -> EnvironmentFacts:
    root = TERRAFORM / "envs" / env
    main = _load(root / "main.tf")
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
    subjects = frozenset(
        subject_template.format(
            namespace=resolve(workload["namespace"]),
            service_account=resolve(workload["service_account"]),
        )
        for workload in locals_["workloads"].values()
    )
    secrets_match = _LIST_LITERAL.match(locals_["secret_names"])
    if not secrets_match:
        raise ValueError(f"secret_names is not a toset([...]) literal: {locals_['secret_names']}")
    secrets = frozenset(re.findall(r'"([^"]+)"', secrets_match.group(1)))
    queue = _unquote(_blocks(main, "module")["servicebus"]["queue_name"])
    outputs = {
        name: body["value"] for name, body in _blocks(_load(root / "outputs.tf"), "output").items()
    }
    return EnvironmentFacts(subjects, queue, secrets, outputs)


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
