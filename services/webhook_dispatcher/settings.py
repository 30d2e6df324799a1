"""The dispatcher's settings: the shared ones plus delivery timing (env prefix WEBHOOKS_)."""

from pydantic import Field

from shared.settings import ServiceSettings


class DispatcherSettings(ServiceSettings):
    # Delays after the 1st, 2nd, ... failed attempt; when spent, the message is marked failed.
    retry_schedule_seconds: list[float] = Field(default=[5, 300, 1800, 7200, 18000, 36000, 36000], min_length=1)
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    total_timeout_seconds: float = Field(default=15.0, gt=0)
    sender_batch_size: int = Field(default=100, ge=1)
    sender_concurrency: int = Field(default=50, ge=1)
    sender_poll_interval_seconds: float = Field(default=0.25, gt=0)
