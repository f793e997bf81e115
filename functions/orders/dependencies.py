"""orders' dependencies: built once in `create_app` (api.py), kept on `app.state`, and reached by
the routes through one typed alias, `Dependencies` (`Annotated[X, Depends(...)]`), and the
caller through `CurrentUser`. A test overrides them as a whole (`app.dependency_overrides[
get_dependencies]`, with `dataclasses.replace` of the ones it changes).

One dependency rather than one per part: FastAPI resolves every dependency of every request
anew, and five small ones (settings, database, catalog, relay, timelines) beside the user cost
about a sixth of a cart update's CPU in orders (issue 17, docs/performance.md)."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from functions.orders.auth import REALM, OidcUnavailable, Principal, TokenValidator
from functions.orders.catalog_client import CatalogClient
from functions.orders.relay import PublishAfterCommit
from functions.orders.settings import OrdersSettings
from functions.orders.timeline import TimelineReader
from functions.shared.db import AsyncDatabase, Database
from functions.shared.eventbus import EventPublisher
from functions.shared.problems import Problem


@dataclass(frozen=True)
class OrdersDependencies:
    settings: OrdersSettings
    db: AsyncDatabase  # the routes' pool (asyncio)
    relay_db: Database  # the outbox relay's own pool, used from threads (see create_app)
    catalog: CatalogClient
    publisher: EventPublisher
    after_commit: PublishAfterCommit
    timelines: TimelineReader
    token_validator: TokenValidator

    @property
    def outbox_retention(self) -> timedelta:
        return timedelta(hours=self.settings.outbox_retention_hours)


# async: reading app.state needs no worker thread (sync dependencies run in the threadpool).
async def get_dependencies(request: Request) -> OrdersDependencies:
    return request.app.state.dependencies


Dependencies = Annotated[OrdersDependencies, Depends(get_dependencies)]


_bearer = HTTPBearer(auto_error=False, description="Access token for the orders API scope.")


async def current_user(
    deps: Dependencies,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The authenticated caller, or a 401/403 problem. A token accepted moments ago is known
    at once (auth.py); any other is validated in the thread pool, since validation may fetch
    the JWKS over the network and must not block the event loop."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Problem(
            401,
            "An Authorization: Bearer <access token> header is required.",
            title="Unauthorized",
            headers={"WWW-Authenticate": REALM},
        )
    validator = deps.token_validator
    remembered = validator.remembered(credentials.credentials)
    if remembered is not None:
        return remembered
    try:
        return await run_in_threadpool(validator.validate, credentials.credentials)
    except OidcUnavailable as exc:
        raise Problem(
            503,
            "Tokens cannot be validated right now: the identity provider is unreachable.",
            title="Service unavailable",
            headers={"Retry-After": "5"},
        ) from exc


CurrentUser = Annotated[Principal, Depends(current_user)]
