"""catalog's dependencies: built once in `create_app` (api.py), kept on `app.state`, and reached
by the routes through one typed accessor, `dependencies(request)`.

Not a FastAPI `Depends`, unlike orders (whose routes need the caller's token, a real dependency
with its own OpenAPI security scheme): catalog's routes are anonymous reads, and resolving even
one `Depends` level is a `solve_dependencies` pass per request (with three other trims, 14% of a
product read's CPU; docs/performance.md). To swap the bundle, set `app.state.dependencies`."""

from dataclasses import dataclass

from starlette.requests import Request

from functions.catalog.settings import CatalogSettings
from functions.shared.db import AsyncDatabase


@dataclass(frozen=True)
class CatalogDependencies:
    settings: CatalogSettings
    db: AsyncDatabase


def dependencies(request: Request) -> CatalogDependencies:
    return request.app.state.dependencies
