"""The Functions side of the apps, without a host: requests through `func.AsgiMiddleware` exactly
as the Python worker hands them over, and an import of `function_app.py` that survives one
app's bad configuration."""

import asyncio
import json
import os
import subprocess
import sys

import azure.functions as func
from fastapi import FastAPI

from functions.catalog.api import create_app as create_catalog
from functions.shared.asgi_function import LazyApp, handle
from functions.shared.problems import install_problem_handlers
from tests.conftest import REPO, catalog_settings

# The Python worker runs every async invocation on its one event loop for the process's life
# (Dispatcher._loop: https://github.com/Azure/azure-functions-python-worker/blob/dev/
# azure_functions_worker/dispatcher.py); so do these calls (catalog's asyncio pool lives on it).
_WORKER_LOOP = asyncio.Runner()


def call(app: LazyApp, method: str, path: str) -> func.HttpResponse:
    request = func.HttpRequest(method, f"http://localhost{path}", body=b"", headers={})
    return _WORKER_LOOP.run(handle(app, request, None))


def test_catalog_answers_through_the_asgi_middleware(catalog_db: str):
    catalog = LazyApp(lambda: create_catalog(catalog_settings(catalog_db)))

    product = call(catalog, "GET", "/products/tea-infuser")
    missing = call(catalog, "GET", "/products/no-such-thing")

    assert product.status_code == 200
    assert json.loads(product.get_body())["price"] == "0.10"
    assert product.headers["etag"].startswith('"')
    assert missing.status_code == 404
    assert missing.mimetype == "application/problem+json"


def test_an_unhandled_error_is_a_problem_not_the_hosts_own_500():
    def broken() -> FastAPI:
        app = FastAPI()
        install_problem_handlers(app)

        @app.get("/boom")
        def boom() -> None:
            raise RuntimeError("internal detail that must not leak")

        return app

    response = call(LazyApp(broken), "GET", "/boom")

    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    assert json.loads(response.get_body())["status"] == 500
    assert b"internal detail" not in response.get_body()


def test_apps_are_built_on_first_use_not_at_import():
    built: list[str] = []
    app = LazyApp(lambda: built.append("built") or FastAPI())
    assert built == []
    app.get()
    app.get()
    assert built == ["built"]


def test_one_apps_bad_configuration_does_not_stop_the_host_indexing_functions():
    """Every Deployment imports every app: orders' broken bus settings must not take down
    catalog's or the worker's pods."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "EVENT_BUS": "servicebus",  # with neither a namespace nor a connection string
        "LOG_LEVEL": "info",
        "ORDERS_CATALOG_TIMEOUT": "not-a-number",
    }
    done = subprocess.run(
        [sys.executable, "-c", "import function_app; print(len(function_app.app.get_functions()))"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "12"
