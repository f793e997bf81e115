"""catalog's dependencies: built once in `create_app` (api.py), kept on `app.state`, and reached
by the routes through typed aliases (`Annotated[X, Depends(...)]`), like orders'."""

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


async def get_settings(deps: Dependencies) -> CatalogSettings:
    return deps.settings


async def get_db(deps: Dependencies) -> AsyncDatabase:
    return deps.db


SettingsDep = Annotated[CatalogSettings, Depends(get_settings)]
DatabaseDep = Annotated[AsyncDatabase, Depends(get_db)]
