"""Liveness and readiness endpoints.

Liveness says only that the process serves HTTP (a restart would not fix a database outage);
readiness says whether the app's own dependencies answer, so Kubernetes stops routing to a pod
that cannot serve and routes to it again, without a restart, once they are back.
"""

import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from functions.shared.problems import documented, problem_response

# A check raises when unhealthy; an async one is awaited on the loop, a sync one (it may block
# on a pool) runs in the thread pool.
Check = Callable[[], None] | Callable[[], Awaitable[None]]
_log = logging.getLogger(__name__)
_PROBE = re.compile(r".*/health/(live|ready)$")


def is_probe(path: str) -> bool:
    """A request to one of the probes below: kubelet calls them every few seconds, so they are
    neither traced, measured nor logged per request (telemetry.py, access_log.py)."""
    return _PROBE.match(path) is not None


def health_router(prefix: str, checks: Mapping[str, Check]) -> APIRouter:
    """`{prefix}/health/live` and `{prefix}/health/ready`; each check raises when unhealthy."""
    router = APIRouter(prefix=f"{prefix}/health", tags=["health"])

    @router.get("/live", summary="Liveness probe")
    async def live() -> dict[str, str]:  # async: never waits for a busy threadpool
        return {"status": "ok"}

    @router.get(
        "/ready",
        summary="Readiness probe: checks the app's own dependencies",
        responses=documented({503: "A dependency is unavailable (`checks` says which)."}),
    )
    async def ready() -> JSONResponse:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                if inspect.iscoroutinefunction(check):
                    await check()
                else:
                    await run_in_threadpool(check)
                results[name] = "ok"
            except Exception as exc:  # any failure means not ready; the reason goes to the log
                _log.warning("readiness check %s failed: %s", name, exc)
                results[name] = "unavailable"
        if all(v == "ok" for v in results.values()):
            return JSONResponse({"status": "ok", "checks": results})
        return problem_response(
            503, "A dependency is unavailable.", title="Not ready", checks=results
        )

    return router
