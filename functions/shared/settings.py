"""Settings every app with a Postgres database shares; each app gives them its own prefix.

The Functions host runs all apps in one process under `func start`, so every app reads its own
prefixed variables (`CATALOG_DATABASE_URL`, `ORDERS_DATABASE_URL`, ...). The same names are used
in `local.settings.json.example`, in `make dev` and in the Helm values.
"""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Database and pool settings; subclasses set `env_prefix` and a default database URL."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    database_url: str = Field(
        description="libpq URL of the app's own database. The password may come from PGPASSWORD.",
    )
    db_pool_min_size: int = Field(default=1, ge=0, le=50)
    db_pool_max_size: int = Field(default=10, ge=1, le=100)
    db_pool_timeout: float = Field(
        default=3.0, gt=0, description="Seconds a request waits for a connection before a 503."
    )
    db_connect_timeout: int = Field(default=3, ge=1, le=60)
    db_statement_timeout_ms: int = Field(default=5000, ge=100)
    db_check_after_idle: float = Field(
        default=30.0,
        ge=0,
        description="Seconds a pooled connection may sit idle before its next checkout checks "
        "it with a round trip (a closed socket is noticed without one: functions/shared/db.py).",
    )
