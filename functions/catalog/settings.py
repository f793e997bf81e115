"""catalog settings, read from `CATALOG_*` environment variables."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from functions.shared.settings import ServiceSettings


class CatalogSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CATALOG_", extra="ignore", frozen=True)

    database_url: str = "postgresql://postgres@127.0.0.1:5432/catalog"
    cache_max_age: int = Field(
        default=60, ge=0, le=86400, description="Seconds NGINX/Cloudflare may cache product reads."
    )
