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
        description="Pause after a failed message (doubling while failures last, up to 30 s), so "
        "an outage is not a tight redelivery loop that burns the max delivery count.",
    )
    idle_seconds: float = Field(
        default=0.5, gt=0, le=10, description="Pause when the local queue is empty."
    )
