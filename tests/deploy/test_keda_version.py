"""The KEDA that Argo CD installs supports what the keda/ chart's triggers ask of it.

The worker's `mssql` trigger logs in to Azure SQL with `podIdentity.provider: azure-workload`.
KEDA's mssql scaler gained workload identity in v2.20 (keda.sh docs, scalers/mssql, "Azure AD
Workload Identity authentication: Available in v2.20+"; kedacore/keda#7673, fixing #6104,
where an older KEDA logged in with an empty user: "Login failed for user ''"). With an older
KEDA the trigger fails and the worker is scaled only by its queue, so orchestration work (a
durable timer, an activity retry) that is due while the queue is empty would wait for the next
message. KEDA's chart version is its app version (kedacore/charts).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pytest
import yaml

from tests.deploy import render

KEDA_APP = render.REPO / "argocd" / "apps" / "keda.yaml"
# scaler type -> (pod identity provider, first KEDA version that supports it for that scaler)
MINIMUM_FOR = {("mssql", "azure-workload"): (2, 20, 0)}


def keda_chart_version(app: Mapping[str, Any]) -> tuple[int, ...]:
    """targetRevision of the Application's kedacore chart source, as a version tuple."""
    [source] = [s for s in app["spec"]["sources"] if s.get("chart") == "keda"]
    return tuple(int(part) for part in str(source["targetRevision"]).split("."))


def version_problems(keda_objects: Iterable[Mapping[str, Any]], version: tuple[int, ...]) -> list:
    """Triggers whose authentication the given KEDA version does not support."""
    objects = list(keda_objects)
    auths = {m["metadata"]["name"]: m for m in objects if m["kind"] == "TriggerAuthentication"}
    problems = []
    for so in (m for m in objects if m["kind"] == "ScaledObject"):
        for trigger in so["spec"]["triggers"]:
            auth = auths.get(trigger.get("authenticationRef", {}).get("name", ""), {})
            provider = auth.get("spec", {}).get("podIdentity", {}).get("provider")
            needed = MINIMUM_FOR.get((trigger["type"], provider))
            if needed and version < needed:
                problems.append(
                    f"{trigger['type']} with {provider} needs KEDA >= "
                    f"{'.'.join(map(str, needed))}, Argo CD installs {'.'.join(map(str, version))}"
                )
    return problems


@pytest.fixture(scope="module")
def keda_objects(dev) -> list[dict]:
    return dev["tinyshop-keda"]


def test_the_check_refuses_an_old_keda_and_accepts_a_new_one(keda_objects):
    assert version_problems(keda_objects, (2, 18, 1)) == [
        "mssql with azure-workload needs KEDA >= 2.20.0, Argo CD installs 2.18.1"
    ]
    assert version_problems(keda_objects, (2, 20, 2)) == []


def test_argo_cd_installs_a_keda_that_supports_the_charts_triggers(keda_objects):
    app = yaml.safe_load(KEDA_APP.read_text(encoding="utf-8"))
    assert version_problems(keda_objects, keda_chart_version(app)) == []
