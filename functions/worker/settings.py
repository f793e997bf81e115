"""worker settings (`WORKER_*`) for the local consumer; Cosmos and bus settings are shared."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WORKER_", extra="ignore", frozen=True)

    batch_size: int = Field(default=10, ge=1, le=100, description="Messages locked per receive.")
    retry_pause_seconds: float = Field(
        default=1,
        gt=0,
        le=60,
        description="First pause of the retry policy (retry_policy.py): before a failed message "
        "is redelivered, and between retries while an outage is held out (doubling, up to 30 s).",
    )
    idle_seconds: float = Field(
        default=0.5, gt=0, le=10, description="Pause when the local queue is empty."
    )
