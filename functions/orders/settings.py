"""orders settings, read from `ORDERS_*` environment variables.

There is deliberately no setting that relaxes token validation: tests and `make dev` use a real
OIDC server (docs/architecture.md, "Local stand-ins") instead of a bypass.
"""

from pydantic import Field, HttpUrl
from pydantic_settings import SettingsConfigDict

from functions.shared.settings import ServiceSettings


class OrdersSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERS_", extra="ignore", frozen=True)

    database_url: str = "postgresql://postgres@127.0.0.1:5432/orders"
    catalog_url: HttpUrl = Field(
        default=HttpUrl("http://127.0.0.1:7071"), description="Base URL of the catalog API."
    )
    catalog_timeout: float = Field(
        default=2.0, gt=0, le=30, description="Seconds per catalog request attempt."
    )
    catalog_attempts: int = Field(
        default=3, ge=1, le=5, description="Attempts per idempotent catalog call (with backoff)."
    )
    oidc_issuer: str = Field(
        default="https://127.0.0.1:8443/tinyshop/v2.0",
        description="Token issuer; its OpenID configuration names the JWKS.",
    )
    oidc_audience: str = Field(default="api://tinyshop-orders", description="Expected `aud`.")
    oidc_required_scope: str = Field(
        default="Orders.ReadWrite", description="Delegated scope every token must carry (`scp`)."
    )
    oidc_jwks_refresh_cooldown: float = Field(
        default=30,
        ge=0,
        le=3600,
        description="Minimum seconds between JWKS refetches caused by unknown key ids (limits "
        "the load that tokens with made-up `kid`s can put on the issuer).",
    )
    outbox_sweep_seconds: float = Field(
        default=5,
        ge=0,
        le=3600,
        description="Interval of the in-process outbox sweep under uvicorn (0: off). Under the "
        "Functions host the timer function `orders_outbox_sweep` sweeps instead.",
    )
    relay_pool_max_size: int = Field(
        default=3,
        ge=1,
        le=20,
        description="Connections of the outbox relay's own pool (publish after commit, sweep): "
        "apart from the requests' pool, so neither can starve the other.",
    )
    outbox_retention_hours: float = Field(
        default=168, gt=0, description="Published outbox rows are kept this long, then pruned."
    )
    timeline_timeout: float = Field(
        default=2, gt=0, le=30, description="Seconds the order page waits for Cosmos DB."
    )
    max_cart_items: int = Field(default=50, ge=1, le=500, description="Distinct items per cart.")
