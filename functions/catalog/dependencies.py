"""catalog's dependencies: built once in `create_app` (api.py), kept on `app.state`, and reached
by the routes through a typed alias (`Annotated[X, Depends(...)]`), like orders'.

One dependency for the whole bundle (routes read `deps.db`, `deps.settings`): each level of
`Depends` costs FastAPI a `solve_dependencies` pass per request, and three levels were a fifth
of a product read's CPU (docs/performance.md)."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from functions.catalog.settings import CatalogSettings
from functions.shared.db import AsyncDatabase


@dataclass(frozen=True)
class CatalogDependencies:
    settings: CatalogSettings
    db: AsyncDatabase


# async: reading app.state needs no worker thread (sync dependencies run in the threadpool).
async def get_dependencies(request: Request) -> CatalogDependencies:
    return request.app.state.dependencies


Dependencies = Annotated[CatalogDependencies, Depends(get_dependencies)]
